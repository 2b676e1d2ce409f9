// Data-parallel Trainer.fit on image streams (Gloo over 127.0.0.1, child processes): each rank decodes its
// slice of every global batch; ranks end bit-identical; without BatchNorm the 2-rank run equals a single
// process on the same global batch; evaluation on a test stream is split over the ranks and summed; ranks
// reading different folders are refused at the start.
'use strict';
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const sharp = require('sharp');

const rk = require('..');
const { runRanks } = require('./distributed-helpers');

const SCRIPT = path.join(__dirname, 'distributed', 'stream-rank.js');

/** An image folder of 4 classes x `per` JPEGs of assorted sizes; each class has its own tint. */
async function imageFolder(dir, per, seed) {
  for (let c = 0; c < 4; c++) {
    const classDir = path.join(dir, `class${c}`);
    fs.mkdirSync(classDir, { recursive: true });
    for (let i = 0; i < per; i++) {
      const width = 36 + ((i * 7 + c * 5 + seed) % 23);
      const height = 34 + ((i * 11 + c * 3 + seed) % 19);
      const px = Buffer.alloc(width * height * 3);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const o = (y * width + x) * 3;
          px[o] = (x * 37 + y * 11 + i * 53 + seed) % 128 + (c === 0 || c === 3 ? 120 : 0);
          px[o + 1] = (x * 7 + y * 29 + i * 17) % 128 + (c === 1 || c === 3 ? 120 : 0);
          px[o + 2] = (x * 3 + y * 5 + i * 91) % 128 + (c === 2 ? 120 : 0);
        }
      }
      await sharp(px, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(path.join(classDir, `img${seed}-${i}.jpg`));
    }
  }
}

function weights(file) {
  const record = rk.io.loadSafetensors(file);
  return Object.fromEntries(Object.entries(record).map(([k, t]) => [k, t.toArray()]));
}

describe('data-parallel Trainer.fit on image streams (2 ranks, Gloo)', function () {
  this.timeout(180000);
  let data;
  let dir;
  before(async () => {
    data = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-ddp-stream-data-'));
    await imageFolder(path.join(data, 'train'), 8, 0);
    await imageFolder(path.join(data, 'other'), 8, 1);
    await imageFolder(path.join(data, 'val'), 3, 2);
    // The last sample of the test stream (index 12 of 13) is unreadable: rank 1's part holds it, rank 0's not.
    fs.writeFileSync(path.join(data, 'val', 'class3', 'zz-broken.jpg'), 'not a JPEG\n');
  });
  after(() => fs.rmSync(data, { recursive: true, force: true }));
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-ddp-stream-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('2 ranks of resnet8 at 32 px end with bit-identical weights; the test stream is split over the ranks and summed', async () => {
    const job = { model: 'resnet8', train: path.join(data, 'train'), test: path.join(data, 'val'), size: 32, batchSize: 8, epochs: 2, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, out: dir };
    const runs = await runRanks(2, SCRIPT, [JSON.stringify(job)]);
    for (const run of runs) assert.strictEqual(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const a = fs.readFileSync(path.join(dir, 'rank-0.safetensors'));
    assert.ok(a.equals(fs.readFileSync(path.join(dir, 'rank-1.safetensors'))), 'the two ranks saved byte-identical weights (parameters and BatchNorm buffers)');
    const [r0, r1] = runs.map((r) => r.json);
    assert.strictEqual(r0.history.length, 2);
    for (const key of ['loss', 'trainTop1', 'testTop1', 'testLoss']) assert.deepStrictEqual(r0.history.map((e) => e[key]), r1.history.map((e) => e[key]), key);
    // 32 images, global batch 8: every image trained once per epoch over the ranks (train top-1 counts all 32).
    const hits = (r0.history[0].trainTop1 * 32) / 100;
    assert.ok(Math.abs(hits - Math.round(hits)) < 1e-9, `train top-1 ${r0.history[0].trainTop1}% is a count out of 32`);
    // Each rank evaluated its contiguous part (samples 0-6 and 7-12): only rank 1 met the broken image.
    assert.deepStrictEqual([r0.testSkipped, r1.testSkipped], [0, 1]);
    // The last epoch's evaluation (7 + 5 readable test images, summed) equals one process evaluating all 12
    // with the same final weights; the loss sums in another order, so fp32 tolerance.
    const last = r0.history[1];
    assert.strictEqual(r0.alone.count, 12);
    assert.strictEqual(last.testTop1, r0.alone.top1);
    assert.ok(Math.abs(last.testLoss - r0.alone.loss) <= 1e-5 * Math.max(1, Math.abs(r0.alone.loss)), `test loss over the ranks ${last.testLoss} vs one process ${r0.alone.loss}`);
  });

  it('without BatchNorm, 2 ranks on a stream equal one process with the same global batch (same crops, fp32 tolerance)', async () => {
    const job = { model: 'nobn', train: path.join(data, 'train'), size: 16, batchSize: 16, epochs: 1, lr: 0.5, momentum: 0, out: dir };
    const runs = await runRanks(2, SCRIPT, [JSON.stringify(job)]);
    for (const run of runs) assert.strictEqual(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const single = spawnSync(process.execPath, [SCRIPT, JSON.stringify(job)], { encoding: 'utf8', env: { ...process.env, RANK: '', WORLD_SIZE: '' } });
    assert.strictEqual(single.status, 0, single.stdout + single.stderr);
    const init = rk.models.loadTorchScript(path.join(__dirname, 'fixtures', 'distributed', 'nobn.pt'), { trustCode: true }).stateDict();
    const [w0, w1, s] = ['rank-0', 'rank-1', 'single'].map((t) => weights(path.join(dir, `${t}.safetensors`)));
    for (const [name, before] of Object.entries(init)) {
      const start = before.toArray();
      let moved = 0;
      for (let i = 0; i < start.length; i++) {
        assert.strictEqual(w0[name][i], w1[name][i], `${name}[${i}] equal on both ranks`);
        moved = Math.max(moved, Math.abs(s[name][i] - start[i]));
        // 2 steps of 16 images (8 per rank); fp32 sums in another order differ in the last bits only.
        assert.ok(Math.abs(w0[name][i] - s[name][i]) <= 1e-5, `${name}[${i}]: data-parallel ${w0[name][i]} vs single ${s[name][i]}`);
      }
      assert.ok(moved > 1e-4, `${name} moved (${moved}): the steps did something`);
    }
  });

  it('a step where one rank has fewer than 2 readable images is skipped by every rank together', async () => {
    // The training folder plus 4 unreadable files: global batch 4 is 2 per rank, so each rank slice holding
    // one of them decodes a single image; that rank cannot step alone (the other would wait in the gradient
    // averaging), so both skip the step.
    const holes = path.join(dir, 'holes');
    fs.cpSync(path.join(data, 'train'), holes, { recursive: true });
    for (let c = 0; c < 4; c++) fs.writeFileSync(path.join(holes, `class${c}`, 'broken.jpg'), 'not a JPEG\n');
    const job = { model: 'resnet8', train: holes, size: 32, batchSize: 4, epochs: 1, lr: 0.05, momentum: 0.9, out: dir };
    const runs = await runRanks(2, SCRIPT, [JSON.stringify(job)]);
    for (const run of runs) assert.strictEqual(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.ok(fs.readFileSync(path.join(dir, 'rank-0.safetensors')).equals(fs.readFileSync(path.join(dir, 'rank-1.safetensors'))), 'bit-identical weights');
    const skipped = runs.map((r) => Number(/skipped (\d+) unreadable image/.exec(r.stderr)?.[1] ?? 0));
    assert.strictEqual(skipped[0] + skipped[1], 4, `the ranks decoded disjoint slices and met the 4 broken files once in all: ${runs.map((r) => r.stderr).join('\n')}`);
    assert.deepStrictEqual(runs[0].json.history.map((e) => [e.loss, e.trainTop1]), runs[1].json.history.map((e) => [e.loss, e.trainTop1]));
  });

  it('a rank reading another folder (same shape and count) is refused at the start, naming the difference', async () => {
    const job = { model: 'resnet8', train: path.join(data, 'train'), size: 32, batchSize: 8, epochs: 1, lr: 0.05, momentum: 0.9, out: dir };
    const runs = await runRanks(2, SCRIPT, [], { argsFor: (r) => [JSON.stringify({ ...job, train: path.join(data, r === 1 ? 'other' : 'train') })] });
    for (const run of runs) {
      assert.strictEqual(run.code, 1, `${run.stdout}\n${run.stderr}`);
      assert.match(run.json.fatal, /different configurations/);
      assert.match(run.json.fatal, /train: rank 0 has .*"source":"train".*rank 1 has .*"source":"other"/);
    }
    assert.ok(!fs.existsSync(path.join(dir, 'rank-0.safetensors')), 'nothing was trained');
  });
});
