'use strict';
// The training engine end to end on CPU: learning, distillation, resume bit for bit, a responsive event
// loop, a frozen teacher, and the on-device augmentation statistics.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const rk = require('..');
const { squaresDataset } = require('./train-helpers');

const train = squaresDataset(384, 1);
const test = squaresDataset(256, 2);
const tmp = (name) => fs.mkdtempSync(path.join(os.tmpdir(), `rk-${name}-`));

async function trainedTeacher() {
  rk.manualSeed(1);
  const teacher = rk.models.create('resnet14', { numClasses: 10, inChannels: 1 });
  const t = await rk.train.Trainer.create({ student: teacher, train, test, augment: false, seed: 1 });
  await t.fit({ epochs: 3, batchSize: 64, lr: 0.05, progress: 'none' });
  t.dispose();
  return teacher;
}

describe('train: end to end on CPU', function () {
  this.timeout(300000);
  let teacher;
  before(async () => {
    teacher = await trainedTeacher();
  });

  it('reviewkd lowers CE and HCL and the student passes 90% on the learnable problem; the teacher never changes', async () => {
    const before = Object.fromEntries(Object.entries(teacher.stateDict()).map(([k, v]) => [k, v.clone()]));
    rk.manualSeed(2);
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train, test, augment: false, seed: 2 });
    assert.strictEqual(trainer.head.numParameters(), 114278, 'resnet8 <- resnet14 has the resnet20 <- resnet56 head geometry');
    const { history } = await trainer.fit({ epochs: 4, batchSize: 64, lr: 0.05, lossWarmupEpochs: 1, progress: 'none' });
    assert.strictEqual(history.length, 4);
    assert.deepStrictEqual(trainer.lossNames, ['ce', 'hcl']);
    assert.strictEqual(history[0].losses.hcl > 0, true);
    assert.ok(history[3].losses.ce < history[0].losses.ce, `CE ${history[0].losses.ce} -> ${history[3].losses.ce}`);
    assert.ok(history[3].losses.hcl < history[1].losses.hcl, `HCL ${history[1].losses.hcl} -> ${history[3].losses.hcl}`);
    const ev = await trainer.evaluate();
    assert.ok(ev.top1 >= 90, `student top-1 ${ev.top1}%`);
    assert.strictEqual(ev.perClass.length, 10);
    for (const [k, v] of Object.entries(teacher.stateDict())) {
      assert.strictEqual(v.sub(before[k]).abs().max().item(), 0, `teacher ${k} changed`);
    }
    trainer.dispose();
  });

  it('every method runs and reports its terms', async () => {
    const expected = { vanilla: ['ce'], kd: ['ce', 'kd'], fitnet: ['ce', 'fitnet'], at: ['ce', 'at'], 'reviewkd+kd': ['ce', 'hcl', 'kd'] };
    for (const method of Object.keys(expected)) {
      rk.manualSeed(3);
      const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
      const trainer = await rk.train.Trainer.create({ student, teacher, method, train, augment: { padding: 2 }, seed: 3 });
      const { history } = await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, lossWarmupEpochs: 0, progress: 'none' });
      const h = history[0];
      assert.ok(Number.isFinite(h.loss) && h.loss > 0, `${method}: loss ${h.loss}`);
      assert.deepStrictEqual(Object.keys(h.losses), expected[method], method);
      for (const [name, v] of Object.entries(h.losses)) assert.ok(Number.isFinite(v) && v > 0, `${method}: ${name} ${v}`);
      trainer.dispose();
    }
  });

  it('an interrupted-then-resumed run ends with the same weights as an uninterrupted one, bit for bit', async () => {
    const run = async (dir, abortAt) => {
      rk.manualSeed(4);
      const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
      const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train, seed: 4, teacherBN: 'batch' });
      const controller = new AbortController();
      const fitOptions = { epochs: 3, batchSize: 64, lr: 0.05, lossWarmupEpochs: 2, progress: 'none', runDir: dir, statsEvery: 4 };
      let steps = 0;
      const r = await trainer.fit({ ...fitOptions, signal: controller.signal, onStep: () => { if (++steps === abortAt) controller.abort(); } });
      if (!r.aborted) return { student, trainer, history: r.history };
      trainer.dispose();
      // A new process would start from fresh objects: so do we.
      rk.manualSeed(99);
      const student2 = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
      const trainer2 = await rk.train.Trainer.create({ student: student2, teacher, method: 'reviewkd', train, seed: 4, teacherBN: 'batch' });
      const r2 = await trainer2.fit({ ...fitOptions, resume: true });
      assert.deepStrictEqual(r2.resumedFrom, { epoch: 1, position: 3 });
      return { student: student2, trainer: trainer2, history: r2.history };
    };
    // The teacher's BN statistics move in 'batch' mode: both runs start from the same copy.
    const teacherState = Object.fromEntries(Object.entries(teacher.stateDict()).map(([k, v]) => [k, v.clone()]));
    const a = await run(tmp('a'), -1);
    teacher.loadStateDict(teacherState);
    const b = await run(tmp('b'), 6 + 3); // 6 steps per epoch: stop in the middle of epoch 2
    teacher.loadStateDict(teacherState);
    const sa = a.student.stateDict();
    const sb = b.student.stateDict();
    assert.deepStrictEqual(Object.keys(sb).sort(), Object.keys(sa).sort());
    for (const k of Object.keys(sa)) {
      assert.deepStrictEqual(Buffer.from(sb[k].toArray().buffer), Buffer.from(sa[k].toArray().buffer), `${k} differs`);
    }
    for (const [k, v] of Object.entries(a.trainer.head.stateDict())) {
      assert.deepStrictEqual(Buffer.from(b.trainer.head.stateDict()[k].toArray().buffer), Buffer.from(v.toArray().buffer), `head ${k} differs`);
    }
    assert.strictEqual(b.history.length, 3);
    assert.strictEqual(b.history[2].loss, a.history[2].loss);
  });

  it('keeps the event loop responsive during fit', async () => {
    rk.manualSeed(5);
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const trainer = await rk.train.Trainer.create({ student, train, seed: 5 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = Date.now();
    await trainer.fit({ epochs: 1, batchSize: 32, lr: 0.05, progress: 'none' });
    clearInterval(timer);
    const ms = Date.now() - started;
    assert.ok(ticks >= Math.floor(ms / 5 / 4), `${ticks} ticks in ${ms} ms`);
    await assert.rejects(Promise.all([trainer.evaluate(train), trainer.evaluate(train)]), /busy/);
  });

  it('writes log.jsonl, log.csv, epoch checkpoints (keep-last-k) and best.safetensors', async () => {
    const dir = tmp('logs');
    rk.manualSeed(6);
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const trainer = await rk.train.Trainer.create({ student, train, test, seed: 6 });
    fs.writeFileSync(path.join(dir, '.epoch-0009.safetensors.tmp-1-ab'), 'junk'); // an orphan of an interrupted write
    await trainer.fit({ epochs: 3, batchSize: 64, lr: 0.05, progress: 'none', runDir: dir, keepLast: 1 });
    const lines = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.strictEqual(lines.length, 3);
    assert.ok(lines[0].losses.ce > 0);
    for (const key of ['losses', 'loss', 'trainTop1', 'testTop1', 'lr', 'imagesPerSecond', 'elapsed']) assert.ok(key in lines[0], key);
    assert.strictEqual(fs.readFileSync(path.join(dir, 'log.csv'), 'utf8').trim().split('\n').length, 4);
    const files = fs.readdirSync(dir).sort();
    assert.deepStrictEqual(files.filter((f) => f.startsWith('epoch-')), ['epoch-0003.json', 'epoch-0003.safetensors']);
    assert.ok(files.includes('best.safetensors'));
    assert.ok(!files.some((f) => f.includes('.tmp-')), 'orphan temp file removed');
    const best = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    best.load(path.join(dir, 'best.safetensors'));
  });
});

describe('train: setup-time validation', function () {
  this.timeout(60000);
  it('names the offending item before the first step', async () => {
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const wrongClasses = rk.models.create('resnet8', { numClasses: 5, inChannels: 1 });
    const rgb = rk.models.create('resnet8', { numClasses: 10, inChannels: 3 });
    await assert.rejects(rk.train.Trainer.create({ student: wrongClasses, train }), /5 outputs but the data has 10 classes/);
    await assert.rejects(rk.train.Trainer.create({ student: rgb, train }), /takes 3-channel images but the data has 1/);
    await assert.rejects(rk.train.Trainer.create({ student, train, method: 'reviewkd' }), /needs option 'teacher'/);
    await assert.rejects(rk.train.Trainer.create({ student, teacher: wrongClasses, train, method: 'kd' }), /teacher .* 5 outputs/);
    await assert.rejects(rk.train.Trainer.create({ student, train, method: 'magic' }), /method/);
    const badLabels = { ...train, labels: Int32Array.from(train.labels, (l, i) => (i === 7 ? 12 : l)) };
    await assert.rejects(rk.train.Trainer.create({ student, train: badLabels }), /labels\[7\] = 12 is outside \[0, 10\)/);
    await assert.rejects(rk.train.Trainer.create({ student, train, test: { ...test, numClasses: 11, labels: test.labels } }), /test set/);
    const trainer = await rk.train.Trainer.create({ student, train });
    await assert.rejects(trainer.fit({ epochs: 0 }), /epochs/);
    await assert.rejects(trainer.fit({ epochs: 1, batchSize: 1 }), /batchSize/);
  });
});

describe('train: on-device augmentation', () => {
  it('random crop with zero padding 4 and horizontal flip: every output is a crop of the padded image; offsets uniform, flips ~1/2', () => {
    const n = 3000;
    const side = 8;
    const pixels = new Uint8Array(n * side * side);
    for (let i = 0; i < n; i++) for (let p = 0; p < side * side; p++) pixels[i * side * side + p] = 1 + p; // 1..64, 0 = padding
    const images = rk.tensor(pixels, { shape: [n, 1, side, side] });
    const out = rk.train.augmentImages(images, { padding: 4, flip: true, mean: [0], std: [1 / 255], seed: 7 }).toArray();
    const offsetCounts = new Map();
    let flips = 0;
    let zeroPixels = 0;
    for (let i = 0; i < n; i++) {
      const o = out.subarray(i * 64, (i + 1) * 64);
      let matched = null;
      for (let oy = 0; oy <= 8 && !matched; oy++) {
        for (let ox = 0; ox <= 8 && !matched; ox++) {
          for (const flip of [false, true]) {
            let ok = true;
            for (let y = 0; y < side && ok; y++) {
              for (let x = 0; x < side && ok; x++) {
                const sx = flip ? side - 1 - x : x; // the flip happens after the crop
                const r = y + oy - 4;
                const c = sx + ox - 4;
                const expected = r >= 0 && r < side && c >= 0 && c < side ? 1 + r * side + c : 0;
                ok = Math.round(o[y * side + x]) === expected;
              }
            }
            if (ok) {
              matched = { oy, ox, flip };
              break;
            }
          }
        }
      }
      assert.ok(matched, `sample ${i} is not a (flipped) crop of the zero-padded image`);
      if (matched.flip) flips++;
      for (const key of [`y${matched.oy}`, `x${matched.ox}`]) offsetCounts.set(key, (offsetCounts.get(key) ?? 0) + 1);
      zeroPixels += o.filter((v) => v === 0).length;
    }
    assert.ok(Math.abs(flips / n - 0.5) < 0.04, `flip rate ${flips / n}`);
    for (let k = 0; k <= 8; k++) {
      for (const axis of ['x', 'y']) {
        const freq = (offsetCounts.get(`${axis}${k}`) ?? 0) / n;
        assert.ok(Math.abs(freq - 1 / 9) < 0.03, `offset ${axis}=${k} frequency ${freq}`);
      }
    }
    assert.ok(zeroPixels > 0, 'zero padding appears in crops');
  });

  it('normalises with the given statistics', () => {
    const images = rk.tensor(new Uint8Array([0, 255, 51, 102]), { shape: [1, 1, 2, 2] });
    const out = rk.train.augmentImages(images, { padding: 0, flip: false, mean: [0.2], std: [0.5] });
    assert.deepStrictEqual(Array.from(out.toArray(), (v) => +v.toFixed(5)), [-0.4, 1.6, 0, 0.4]);
  });
});

describe('train: numerical faults', function () {
  this.timeout(120000);
  const weightsOf = (m) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, Buffer.from(v.toArray().buffer)]));

  it('momentum 0 (plain SGD) trains: the fused kernel gets no momentum buffers, which stay zero', async () => {
    rk.manualSeed(4);
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const before = student.stateDict()['conv1.weight'].clone();
    const trainer = await rk.train.Trainer.create({ student, train, augment: false, seed: 4, momentum: 0, nesterov: false });
    const { history } = await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, progress: 'none' });
    assert.ok(Number.isFinite(history[0].loss));
    assert.ok(student.stateDict()['conv1.weight'].sub(before).abs().max().item() > 0, 'the weights moved');
    for (const b of trainer.distiller.momentumBuffers()) if (b) assert.strictEqual(new rk.Tensor(b).abs().max().item(), 0);
    trainer.dispose();
  });

  it('a NaN loss is detected on the device: the step is skipped (weights, momentum and BN statistics untouched) and counted', async () => {
    rk.manualSeed(7);
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const trainer = await rk.train.Trainer.create({ student, train: squaresDataset(64, 3), augment: false, seed: 7 });
    await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, progress: 'none' });
    const before = weightsOf(student);
    trainer.injectLossOffset(NaN);
    const { history } = await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, progress: 'none' });
    assert.strictEqual(history[0].badSteps, 1);
    assert.strictEqual(history[0].trainTop1, 0, 'the skipped step contributes no statistics');
    assert.ok(Number.isFinite(history[0].loss));
    const after = weightsOf(student);
    for (const k of Object.keys(before)) assert.deepStrictEqual(after[k], before[k], `${k} changed by a skipped step`);
    // The next, healthy step trains again.
    const { history: h2 } = await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, progress: 'none' });
    assert.strictEqual(h2[0].badSteps, 0);
    assert.notDeepStrictEqual(weightsOf(student)['conv1.weight'], before['conv1.weight']);
  });

  it('after maxBadSteps consecutive faulty steps training stops with a clear error and the last good checkpoint is kept', async () => {
    const dir = tmp('nan');
    rk.manualSeed(8);
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const trainer = await rk.train.Trainer.create({ student, train, augment: false, seed: 8 });
    await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, progress: 'none', runDir: dir });
    const good = fs.readFileSync(path.join(dir, 'epoch-0001.safetensors'));
    // Poison a weight: every later step is non-finite.
    const [name, w] = Object.entries(student.namedParameters())[0];
    student.loadStateDict({ [name]: w.detach().mul(NaN) }, { strict: false });
    await assert.rejects(
      trainer.fit({ epochs: 3, batchSize: 64, lr: 0.05, progress: 'none', runDir: dir, statsEvery: 1, maxBadSteps: 3 }),
      (e) => e instanceof rk.train.NumericalFaultError && /3 consecutive steps had a non-finite loss or gradient/.test(e.message) && /epoch-0001/.test(e.message),
    );
    assert.deepStrictEqual(fs.readFileSync(path.join(dir, 'epoch-0001.safetensors')), good, 'the last good checkpoint is untouched');
    assert.ok(!fs.existsSync(path.join(dir, 'epoch-0002.json')), 'no checkpoint of the faulty epoch');
  });
});

describe('train: resume picks the newest usable checkpoint', function () {
  this.timeout(120000);
  it('skips a checkpoint whose sidecar fields are garbage and resumes from the previous one; fails clearly when none is usable', async () => {
    const dir = tmp('garbage');
    rk.manualSeed(9);
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const trainer = await rk.train.Trainer.create({ student, train: squaresDataset(128, 4), augment: false, seed: 9 });
    await trainer.fit({ epochs: 2, batchSize: 64, lr: 0.05, progress: 'none', runDir: dir, keepLast: 2 });
    const newest = path.join(dir, 'epoch-0002.json');
    fs.writeFileSync(newest, JSON.stringify({ ...JSON.parse(fs.readFileSync(newest, 'utf8')), history: null, partial: null }));
    const r = await trainer.fit({ epochs: 2, batchSize: 64, lr: 0.05, progress: 'none', runDir: dir, resume: true });
    assert.deepStrictEqual(r.resumedFrom, { epoch: 1, position: 0 }, 'resumed from epoch-0001');
    assert.strictEqual(r.history.length, 2);
    // Now break every checkpoint: a clear error naming them.
    for (const f of fs.readdirSync(dir).filter((x) => /^epoch-.*\.json$/.test(x))) {
      fs.writeFileSync(path.join(dir, f), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')), position: 1e9 }));
    }
    await assert.rejects(trainer.fit({ epochs: 3, batchSize: 64, lr: 0.05, progress: 'none', runDir: dir, resume: true }),
      (e) => /no usable checkpoint to resume from/.test(e.message) && /epoch-0002/.test(e.message));
  });
});

describe('train: random-resized crop (image-folder pipeline)', () => {
  // Pixel value = column index * 8 (0..248 over 32 columns): the crop width shows in the value range.
  const columns = (n) => {
    const px = new Uint8Array(n * 32 * 32);
    for (let i = 0; i < px.length; i++) px[i] = (i % 32) * 8;
    return rk.tensor(px, { shape: [n, 1, 32, 32] });
  };
  const raw = { mean: [0], std: [1 / 255], flip: false };

  it('scale 1 and ratio 1 give the image back exactly', () => {
    const out = rk.train.augmentImages(columns(4), { ...raw, randomResizedCrop: true, scaleMin: 1, scaleMax: 1, ratioMin: 1, ratioMax: 1 });
    const want = Array.from(columns(4).toArray());
    assert.deepStrictEqual(Array.from(out.toArray(), (v) => Math.round(v)), want);
  });

  it('crops a quarter of the area (half the width) when scale is 0.25, at random positions', () => {
    const n = 400;
    const out = rk.train.augmentImages(columns(n), { ...raw, randomResizedCrop: true, scaleMin: 0.25, scaleMax: 0.25, ratioMin: 1, ratioMax: 1, seed: 3 }).toArray();
    const lefts = new Set();
    for (let i = 0; i < n; i++) {
      const row = out.subarray(i * 1024, i * 1024 + 32);
      const span = row[31] - row[0];
      // A 16-pixel-wide box sampled at 32 output pixel centres spans 15.5 input pixels: 15.5 * 8 = 124
      // (a little less when the box touches the image edge, where sampling clamps to the border pixel).
      assert.ok(span > 119.5 && span < 124.5, `sample ${i}: crop spans ${span}`);
      lefts.add(Math.round(row[0] / 8));
    }
    assert.ok(lefts.size >= 12, `only ${lefts.size} distinct crop positions`);
  });

  it('image folders can be resized with a centre crop for evaluation', async () => {
    const sharp = require('sharp');
    const dir = tmp('center');
    fs.mkdirSync(path.join(dir, 'a'));
    // 40 wide x 20 high: left quarter black, middle white, right quarter black.
    const px = Buffer.alloc(40 * 20);
    for (let y = 0; y < 20; y++) for (let x = 10; x < 30; x++) px[y * 40 + x] = 255;
    await sharp(px, { raw: { width: 40, height: 20, channels: 1 } }).png().toFile(path.join(dir, 'a', 'x.png'));
    const ds = await rk.data.loadImageFolder(dir, { size: [10, 10], fit: 'center-crop', channels: 1 });
    assert.ok(ds.images.every((v) => v > 240), 'the centre crop keeps only the white middle');
    const stretched = await rk.data.loadImageFolder(dir, { size: [10, 10], channels: 1 });
    assert.ok(stretched.images.some((v) => v < 15), 'stretching keeps the black sides');
    await assert.rejects(rk.data.loadImageFolder(dir, { size: [10, 10], fit: 'zoom' }), /fit/);
  });
});
