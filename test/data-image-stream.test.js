'use strict';
// Image streams (rk.data.openImageStream): folders and tar shards made here, odd and broken images, the
// crop rule, the evaluation transform against a hand computation, seeded order and resume, bounded memory.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const sharp = require('sharp');
const rk = require('..');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-stream-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const { pixels, raw } = require('./pixel-helpers');
const noise = (seed) => (x, y) => [(x * 37 + y * 11 + seed * 53) % 256, (x * 7 + y * 29 + seed * 17) % 256, (x * 3 + y * 5 + seed * 91) % 256];

/** A ustar tar of [name, bytes] members. */
function tar(members) {
  const blocks = [];
  for (const [name, data] of members) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h[156] = 0x30;
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += h[i];
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** Collects the warning lines of a stream. */
function collector() {
  const lines = [];
  return { lines, onWarning: (l) => lines.push(l) };
}

describe('image streams', function () {
  this.timeout(120000);
  let odd;
  before(async () => {
    // An ILSVRC-like folder with every odd case.
    odd = path.join(tmp, 'odd');
    const a = path.join(odd, 'n0001');
    const b = path.join(odd, 'n0002');
    fs.mkdirSync(a, { recursive: true });
    fs.mkdirSync(b, { recursive: true });
    await raw(33, 77, 3, noise(1)).jpeg({ quality: 90 }).toFile(path.join(a, 'odd-size.JPEG'));
    await raw(640, 480, 3, noise(2)).jpeg({ quality: 85 }).toFile(path.join(a, 'big.JPEG'));
    await raw(50, 40, 1, (x) => [x * 5]).jpeg().toFile(path.join(a, 'grey.jpg'));
    await raw(48, 48, 3, () => [200, 60, 40]).toColourspace('cmyk').jpeg().toFile(path.join(a, 'cmyk.jpg'));
    // Stored 40 wide x 20 high, left half red, right half blue; orientation 6 shows it rotated 90 degrees clockwise.
    const halves = (x) => (x < 20 ? [255, 0, 0] : [0, 0, 255]);
    await raw(40, 20, 3, halves).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(path.join(b, 'exif6.jpg'));
    await raw(40, 20, 3, halves).jpeg({ quality: 95 }).withMetadata({ orientation: 8 }).toFile(path.join(b, 'exif8.jpg'));
    await raw(30, 30, 4, () => [10, 200, 30, 128]).png().toFile(path.join(b, 'alpha.png'));
    const whole = await raw(64, 64, 3, noise(3)).jpeg().toBuffer();
    fs.writeFileSync(path.join(b, 'truncated.jpg'), whole.subarray(0, Math.floor(whole.length / 2)));
    fs.writeFileSync(path.join(b, 'not-an-image.jpg'), 'this is text, not a JPEG\n');
    fs.writeFileSync(path.join(b, 'notes.txt'), 'ignored: not an image extension\n');
  });

  it('reads odd images as RGB (greyscale, CMYK, EXIF 6/8, PNG alpha), skips broken ones, names them in one warning line', async () => {
    const w = collector();
    const s = await rk.data.openImageStream(odd, { transform: 'eval', size: 16, resize: 16, onWarning: w.onWarning, indexCache: false });
    assert.strictEqual(s.count, 9);
    assert.deepStrictEqual(s.classNames, ['n0001', 'n0002']);
    const batches = [];
    for await (const bt of s.batches({ batchSize: 4 })) batches.push(bt);
    const total = batches.reduce((n, bt) => n + bt.count, 0);
    assert.strictEqual(total, 7);
    assert.strictEqual(s.skipped, 2);
    assert.strictEqual(w.lines.length, 1, w.lines.join('\n'));
    assert.match(w.lines[0], /skipped 2 unreadable images/);
    assert.match(w.lines[0], /truncated\.jpg/);
    assert.match(w.lines[0], /not-an-image\.jpg/);
    // A second epoch reports nothing new.
    for await (const bt of s.batches({ batchSize: 4, epoch: 1 })) assert.ok(bt.count >= 0);
    assert.strictEqual(w.lines.length, 1);

    const one = async (i) => (await s.loadBatch([i])).images;
    // Files in sorted order: n0001: big, cmyk, grey, odd-size; n0002: alpha, exif6, exif8, not-an-image, truncated.
    const px = (img, x, y) => [...img.subarray((y * 16 + x) * 3, (y * 16 + x) * 3 + 3)];
    const grey = await one(2);
    for (let k = 0; k < 16 * 16; k++) assert.ok(grey[3 * k] === grey[3 * k + 1] && grey[3 * k] === grey[3 * k + 2], 'greyscale expands to equal R, G, B');
    const cmyk = px(await one(1), 8, 8);
    // sharp wrote the CMYK through a colour profile; the addon's decoder converts back as PIL does, without
    // one ((215, 26, 9), test/jpeg-decoder.test.js), sharp through the profile ((200, 48, 13)).
    assert.ok(Math.abs(cmyk[0] - 200) < 40 && Math.abs(cmyk[1] - 60) < 40 && Math.abs(cmyk[2] - 40) < 40, `CMYK converts to about (200, 60, 40); got ${cmyk}`);
    const alpha = px(await one(4), 8, 8);
    assert.ok(Math.abs(alpha[0] - 10) <= 2 && Math.abs(alpha[1] - 200) <= 2 && Math.abs(alpha[2] - 30) <= 2, `PNG alpha dropped, colour kept; got ${alpha}`);
    // Displayed 20 wide x 40 high: resize to 16 x 32, centre 16 x 16 = rows 8..23 of it; row 8+2 is in the top half, row 8+13 in the bottom.
    const e6 = await one(5);
    const e8 = await one(6);
    const red = (p) => p[0] > 180 && p[2] < 80;
    const blue = (p) => p[2] > 180 && p[0] < 80;
    assert.ok(red(px(e6, 8, 2)) && blue(px(e6, 8, 13)), `orientation 6: top red, bottom blue; got ${px(e6, 8, 2)} / ${px(e6, 8, 13)}`);
    assert.ok(blue(px(e8, 8, 2)) && red(px(e8, 8, 13)), `orientation 8: top blue, bottom red; got ${px(e8, 8, 2)} / ${px(e8, 8, 13)}`);
  });

  it("onBadImage: 'fail' throws a DataFormatError naming the file", async () => {
    const s = await rk.data.openImageStream(odd, { transform: 'eval', size: 16, onBadImage: 'fail', indexCache: false });
    await assert.rejects(s.loadBatch([...Array(s.count).keys()]), (err) => err instanceof rk.data.DataFormatError && /truncated\.jpg|not-an-image\.jpg/.test(err.message));
  });

  it('draws crops by the torchvision rule (area and log-ratio distribution, bounds, centre fallback)', () => {
    // The rule written out again from torchvision's get_params, driven by another generator: the two
    // distributions must agree (area fraction, log aspect ratio, position), and every box must fit.
    let s = 12345;
    const u = () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = Math.imul(s ^ (s >>> 15), s | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const reference = (W, H) => {
      for (let k = 0; k < 10; k++) {
        const target = W * H * (0.08 + 0.92 * u());
        const ar = Math.exp(Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * u());
        const w = Math.round(Math.sqrt(target * ar));
        const h = Math.round(Math.sqrt(target / ar));
        if (w > 0 && w <= W && h > 0 && h <= H) return { top: Math.floor(u() * (H - h + 1)), left: Math.floor(u() * (W - w + 1)), height: h, width: w };
      }
      return null;
    };
    const stats = (draw, W, H, n) => {
      const st = { area: 0, logr: 0, cx: 0, bins: [0, 0, 0, 0] };
      for (let k = 0; k < n; k++) {
        const b = draw(k);
        assert.ok(b.left >= 0 && b.top >= 0 && b.left + b.width <= W && b.top + b.height <= H, `box inside: ${JSON.stringify(b)}`);
        st.area += (b.width * b.height) / (W * H) / n;
        const r = Math.log(b.width / b.height);
        st.logr += r / n;
        st.cx += (b.left + b.width / 2) / W / n;
        st.bins[Math.min(3, Math.max(0, Math.floor(((r - Math.log(3 / 4)) / (Math.log(4 / 3) - Math.log(3 / 4))) * 4)))] += 1 / n;
      }
      return st;
    };
    for (const [W, H] of [[500, 375], [375, 500], [640, 640]]) {
      const n = 20000;
      const ours = stats((k) => rk.data.randomResizedCrop(W, H, new rk.data.Rng(7, k)), W, H, n);
      const ref = stats(() => reference(W, H) ?? { top: 0, left: 0, width: W, height: H }, W, H, n);
      const what = `${W}x${H}: ours ${JSON.stringify(ours)}, reference ${JSON.stringify(ref)}`;
      assert.ok(Math.abs(ours.area - ref.area) < 0.01, `mean area fraction, ${what}`);
      assert.ok(Math.abs(ours.logr - ref.logr) < 0.01, `mean log ratio, ${what}`);
      assert.ok(Math.abs(ours.cx - 0.5) < 0.01, `mean centre, ${what}`);
      ours.bins.forEach((b, i) => assert.ok(Math.abs(b - ref.bins[i]) < 0.02, `log-ratio bin ${i}, ${what}`));
    }
    // Nothing fits a 1000 x 10 strip: the centre box with the ratio clamped to 4/3 (torchvision's fallback).
    assert.deepStrictEqual(rk.data.randomResizedCrop(1000, 10, new rk.data.Rng(1)), { top: 0, left: 493, height: 10, width: 13 });
  });

  it('the evaluation transform equals a hand-computed resize + centre crop', async () => {
    const dir = path.join(tmp, 'eval');
    fs.mkdirSync(path.join(dir, 'a'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'b'), { recursive: true });
    // 1: shorter side already 256: no resize, the crop is exact. 256 wide x 320 high: left (256-224)/2 = 16, top (320-224)/2 = 48.
    const f1 = noise(5);
    await raw(256, 320, 3, f1).png().toFile(path.join(dir, 'a', 'exact.png'));
    // 2: a ramp 48 wide x 64 high (R = 4x, G = 3y) halved to 24 x 32, centre 16 x 16 at (4, 8): output (c, r) samples the
    // input around (2(c+4) + 0.5, 2(r+8) + 0.5), where any symmetric resampling filter gives the ramp's value.
    await raw(48, 64, 3, (x, y) => [4 * x, 3 * y, 100]).png().toFile(path.join(dir, 'b', 'ramp.png'));
    const s224 = await rk.data.openImageStream(dir, { transform: 'eval', indexCache: false });
    const exact = (await s224.loadBatch([0])).images;
    for (let y = 0; y < 224; y++) {
      for (let x = 0; x < 224; x++) {
        const want = f1(x + 16, y + 48);
        for (let c = 0; c < 3; c++) assert.strictEqual(exact[(y * 224 + x) * 3 + c], want[c], `pixel (${x}, ${y}) channel ${c}`);
      }
    }
    const s16 = await rk.data.openImageStream(dir, { transform: 'eval', size: 16, resize: 24, indexCache: false });
    const ramp = (await s16.loadBatch([1])).images;
    for (let r = 1; r < 15; r++) {
      for (let c = 1; c < 15; c++) {
        const p = ramp.subarray((r * 16 + c) * 3, (r * 16 + c) * 3 + 3);
        assert.ok(Math.abs(p[0] - 4 * (2 * (c + 4) + 0.5)) <= 1.5, `R at (${c}, ${r}): ${p[0]} vs ${4 * (2 * (c + 4) + 0.5)}`);
        assert.ok(Math.abs(p[1] - 3 * (2 * (r + 8) + 0.5)) <= 1.5, `G at (${c}, ${r}): ${p[1]} vs ${3 * (2 * (r + 8) + 0.5)}`);
        assert.strictEqual(p[2], 100);
      }
    }
    assert.deepStrictEqual(rk.data.centerPlan(48, 64, 24, 16), { resized: [24, 32], left: 4, top: 8 });
    // CenterCrop rounds halves to even, as Python's round(): (25 - 16) / 2 = 4.5 -> 4.
    assert.deepStrictEqual(rk.data.centerPlan(25, 30, 25, 16).left, 4);
  });

  describe('order, seeds and resume', () => {
    let dir;
    before(async () => {
      dir = path.join(tmp, 'small');
      for (let c = 0; c < 3; c++) {
        fs.mkdirSync(path.join(dir, `c${c}`), { recursive: true });
        for (let k = 0; k < 12; k++) await raw(40 + 3 * k, 30 + 2 * c, 3, noise(c * 100 + k)).jpeg().toFile(path.join(dir, `c${c}`, `${k}.jpg`));
      }
    });
    const collect = async (s, o) => {
      const out = [];
      for await (const b of s.batches(o)) out.push(b);
      return out;
    };
    it('same seed -> same batches; another seed or epoch -> others; resumed mid-epoch -> the same remaining batches', async () => {
      const s = await rk.data.openImageStream(dir, { size: 24 });
      const a = await collect(s, { batchSize: 5, epoch: 2, seed: 3 });
      const b = await collect(s, { batchSize: 5, epoch: 2, seed: 3 });
      assert.strictEqual(a.length, 8);
      a.forEach((x, i) => {
        assert.deepStrictEqual(x.indices, b[i].indices);
        assert.ok(Buffer.from(x.images).equals(Buffer.from(b[i].images)), `batch ${i} pixels`);
      });
      const c = await collect(s, { batchSize: 5, epoch: 2, seed: 4 });
      assert.notDeepStrictEqual(c[0].indices, a[0].indices);
      const d = await collect(s, { batchSize: 5, epoch: 3, seed: 3 });
      assert.notDeepStrictEqual(d[0].indices, a[0].indices);
      const resumed = await collect(s, { batchSize: 5, epoch: 2, seed: 3, from: 3 });
      assert.strictEqual(resumed.length, 5);
      resumed.forEach((x, i) => {
        assert.deepStrictEqual(x.indices, a[i + 3].indices);
        assert.ok(Buffer.from(x.images).equals(Buffer.from(a[i + 3].images)));
      });
      // The order is the BatchSampler's for the same seed and epoch (what Trainer.fit draws).
      const sampler = new rk.data.BatchSampler(s.count, { batchSize: 5, seed: 3 });
      assert.deepStrictEqual([...sampler.epoch(2)[0]], [...a[0].indices]);
    });

    it('rank/worldSize parts are disjoint and cover the epoch', async () => {
      const s = await rk.data.openImageStream(dir, { size: 24 });
      const p0 = s.order(1, { seed: 2, rank: 0, worldSize: 2 });
      const p1 = s.order(1, { seed: 2, rank: 1, worldSize: 2 });
      assert.strictEqual(p0.length, 18);
      assert.strictEqual(new Set([...p0, ...p1]).size, 36);
    });

    it('tar shards give the same samples as the folder, and the index cache is invalidated by a changed shard', async () => {
      const folder = await rk.data.openImageStream(dir, { transform: 'eval', size: 24, indexCache: false });
      const shardDir = path.join(tmp, 'shards');
      fs.mkdirSync(shardDir, { recursive: true });
      const order = folder.order(0, { shuffle: false });
      const files = fs.readdirSync(dir).filter((c) => !c.startsWith('.')).sort().flatMap((c) => fs.readdirSync(path.join(dir, c)).sort((x, y) => (x < y ? -1 : 1)).map((f) => path.join(c, f)));
      for (let s = 0; s < 3; s++) {
        const members = [];
        for (let k = s * 12; k < (s + 1) * 12; k++) {
          const key = `sample${String(k).padStart(4, '0')}`;
          members.push([`${key}.jpg`, fs.readFileSync(path.join(dir, files[k]))], [`${key}.cls`, Buffer.from(`${folder.labels[order[k]]}\n`)]);
        }
        fs.writeFileSync(path.join(shardDir, `shard-${s}.tar`), tar(members));
      }
      const shards = await rk.data.openImageStream(shardDir, { transform: 'eval', size: 24 });
      assert.strictEqual(shards.count, 36);
      assert.strictEqual(shards.numClasses, 3);
      assert.strictEqual(shards.indexCached, false);
      const fromFolder = await folder.loadBatch(order);
      const fromShards = await shards.loadBatch(shards.order(0, { shuffle: false }));
      assert.deepStrictEqual([...fromShards.labels], [...fromFolder.labels]);
      assert.ok(Buffer.from(fromShards.images).equals(Buffer.from(fromFolder.images)), 'same pixels from shards and folder');
      assert.strictEqual((await rk.data.openImageStream(shardDir, { transform: 'eval', size: 24 })).indexCached, true);
      const later = new Date(Date.now() + 5000);
      fs.utimesSync(path.join(shardDir, 'shard-1.tar'), later, later);
      assert.strictEqual((await rk.data.openImageStream(shardDir, { transform: 'eval', size: 24 })).indexCached, false);
    });

    it('Trainer.fit on a stream, stopped mid-epoch and resumed, ends on the uninterrupted run\'s weights', async () => {
      const run = async (runDir, stopAfter) => {
        const train = await rk.data.openImageStream(dir, { size: 16 });
        rk.manualSeed(0);
        const fresh = rk.models.create('resnet8', { numClasses: 3 });
        const trainer = await rk.train.Trainer.create({ student: fresh, train, seed: 5 });
        const ctl = new AbortController();
        let steps = 0;
        const first = await trainer.fit({ epochs: 2, batchSize: 8, runDir, progress: 'none', checkpointEvery: 1, onStep: () => { if (++steps === stopAfter) ctl.abort(); }, signal: ctl.signal });
        assert.strictEqual(first.aborted, stopAfter > 0);
        if (stopAfter) {
          const again = await rk.train.Trainer.create({ student: fresh, train, seed: 5 });
          await again.fit({ epochs: 2, batchSize: 8, runDir, progress: 'none', checkpointEvery: 1, resume: true });
        }
        return fresh.stateDict();
      };
      const whole = await run(path.join(tmp, 'run-whole'), 0);
      const resumed = await run(path.join(tmp, 'run-resumed'), 7);
      for (const [k, v] of Object.entries(whole)) {
        const a = v.toArray();
        const b = resumed[k].toArray();
        assert.ok(a.every((x, i) => x === b[i]), `parameter ${k} differs after the resume`);
      }
    });
  });

  it('memory stays bounded over 3 epochs of a few thousand images', async function () {
    const dir = path.join(tmp, 'many');
    const n = 3000;
    for (let c = 0; c < 4; c++) fs.mkdirSync(path.join(dir, `c${c}`), { recursive: true });
    const png = await raw(20, 16, 3, noise(9)).png().toBuffer();
    const jpg = await raw(24, 18, 3, noise(8)).jpeg().toBuffer();
    for (let k = 0; k < n; k++) fs.writeFileSync(path.join(dir, `c${k % 4}`, `${k}.${k % 2 ? 'png' : 'jpg'}`), k % 2 ? png : jpg);
    const s = await rk.data.openImageStream(dir, { size: 32 });
    const rss = [];
    for (let e = 0; e < 3; e++) {
      let seen = 0;
      for await (const b of s.batches({ batchSize: 100, epoch: e })) seen += b.count;
      assert.strictEqual(seen, n);
      global.gc?.();
      rss.push(process.memoryUsage().rss);
    }
    const growth = (rss[2] - rss[0]) / 2 ** 20;
    assert.ok(growth < 40, `RSS grew ${growth.toFixed(1)} MB from epoch 1 to 3 (${rss.map((r) => (r / 2 ** 20).toFixed(0)).join(', ')} MB)`);
  });

  it('refuses bad arguments with clear errors', async () => {
    await assert.rejects(rk.data.openImageStream(42), /argument 'source' must be a folder/);
    await assert.rejects(rk.data.openImageStream(odd, { sizes: 3 }), /unknown option|'sizes'/);
    await assert.rejects(rk.data.openImageStream(odd, { scale: [0.5, 0.1] }), /option 'scale'/);
    await assert.rejects(rk.data.openImageStream(path.join(tmp, 'nope')), /does not exist/);
    const s = await rk.data.openImageStream(odd, { size: 16, indexCache: false });
    await assert.rejects(s.loadBatch([0, 99]), /indices\[1\] = 99 is outside/);
    await assert.rejects(rk.data.openImageStream(odd, { classNames: ['x', 'y'] }), /do not match the saved class list/);
  });

  it("require('reviewkd') works without sharp; a stream then fails with the fix in its message", () => {
    const hook = path.join(tmp, 'no-sharp.js');
    fs.writeFileSync(hook, "const M = require('module'); const r = M._resolveFilename; M._resolveFilename = function (req, ...a) { if (req === 'sharp') throw new Error(\"Could not load the 'sharp' module using the linux-x64 runtime\"); return r.call(this, req, ...a); };\n");
    const code = `const rk = require(${JSON.stringify(path.resolve(__dirname, '..'))}); rk.data.openImageStream(${JSON.stringify(odd)}).then(() => process.exit(3), (e) => { console.log(e.message); process.exit(0); });`;
    const r = spawnSync(process.execPath, ['--require', hook, '-e', code], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /image decoder 'sharp' could not be loaded .*npm install sharp/);
  });
});
