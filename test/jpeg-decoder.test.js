'use strict';
// The addon's crop-only JPEG decoder (native/data/, libjpeg-turbo opened at run time) against sharp on the
// same crops of JPEGs made here: plain, DCT-scaled (shrink-on-load), EXIF 6/8, CMYK and greyscale; broken
// bytes rejected with a message; bad arguments refused; the streams' `decoder` option and the fallback.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const sharp = require('sharp');
const rk = require('..');
const { native } = require('../dist/native');
const { decodeImage } = require('../dist/data/image-decoder');
const { decodeJpegInto } = require('../dist/data/jpeg-decoder');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-jpeg-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const { pixels, raw } = require('./pixel-helpers');
// A photo-like picture: slow waves plus an edge. Resamplers agree on it to a few grey levels; on pixel
// noise they would differ by their filters' whole difference, which says nothing about correctness.
const scene = (seed) => (x, y) => {
  const edge = x + 0.5 * y > 300 ? 40 : 0;
  const c = (a, b) => Math.max(0, Math.min(255, Math.round(128 + 90 * Math.sin(x / a + seed) * Math.cos(y / b - seed) + edge)));
  return [c(23, 31), c(37, 19), c(29, 43)];
};

const meanAbs = (a, b) => {
  assert.strictEqual(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

/** The same crop by both decoders: [ours, sharp's]. */
async function both(bytes, size, plan) {
  const placement = () => plan;
  const ours = new Uint8Array(size * size * 3 + 5);
  await decodeJpegInto(bytes, size, placement, ours, 5);
  return [ours.subarray(5), await decodeImage(bytes, size, placement)];
}

// Bounds on the mean absolute difference (grey levels) from sharp, measured here with margin: sharp
// (libvips) reduces with its own kernel and rounding and shrinks on load only by 2, 4 or 8; ours follows
// PIL's filter after a DCT scale of any M/8, which blurs a little differently.
const PLAIN_BOUND = 0.5;
const SCALED_BOUND = 3;

describe('JPEG crop decoder (libjpeg-turbo in the addon)', function () {
  this.timeout(120000);
  let photo;
  let folder;
  before(async () => {
    photo = await raw(500, 375, 3, scene(1)).jpeg({ quality: 90 }).toBuffer();
    folder = path.join(tmp, 'folder');
    for (const c of ['a', 'b']) fs.mkdirSync(path.join(folder, c), { recursive: true });
    fs.writeFileSync(path.join(folder, 'a', 'photo.jpg'), photo);
    await raw(375, 500, 3, scene(2)).jpeg({ quality: 85, progressive: true }).toFile(path.join(folder, 'a', 'progressive.jpg'));
    await raw(333, 211, 3, scene(3)).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toFile(path.join(folder, 'a', 'odd.jpg'));
    await raw(300, 200, 1, (x, y) => [scene(4)(x, y)[0]]).jpeg({ quality: 90 }).toFile(path.join(folder, 'b', 'grey.jpg'));
    await raw(240, 160, 3, scene(5)).png().toFile(path.join(folder, 'b', 'picture.png'));
    fs.writeFileSync(path.join(folder, 'b', 'truncated.jpg'), photo.subarray(0, Math.floor(photo.length * 0.6)));
    fs.writeFileSync(path.join(folder, 'b', 'garbage.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(300, 0x5a)]));
  });

  it('is available on this machine and names its library', () => {
    const d = rk.data.jpegDecoder();
    assert.strictEqual(d.available, true, d.reason);
    assert.match(d.library, /libjpeg\.so\.62/);
    assert.strictEqual(d.reason, '');
  });

  it('equals sharp on the same crops: without DCT scaling, and with it', async () => {
    // Resized to 96 % of the picture: the decoder keeps the full scale (8/8).
    for (const flip of [false, true]) {
      const [a, b] = await both(photo, 224, { resized: [480, 360], left: 100, top: 50, flip });
      assert.ok(meanAbs(a, b) < PLAIN_BOUND, `full scale, flip ${flip}: mean |ours - sharp| ${meanAbs(a, b).toFixed(2)}`);
    }
    // Strong reductions: 1/4, 3/8 (no power of two) and 1/8 of the picture before resampling.
    for (const [resized, size, left, top] of [[[125, 94], 64, 10, 20], [[180, 135], 96, 40, 30], [[60, 45], 32, 5, 6]]) {
      const [a, b] = await both(photo, size, { resized, left, top, flip: false });
      assert.ok(meanAbs(a, b) < SCALED_BOUND, `resized to ${resized}: mean |ours - sharp| ${meanAbs(a, b).toFixed(2)}`);
    }
    // Random-resized crops as a stream draws them, progressive and 4:4:4 files included.
    for (const file of ['photo.jpg', 'progressive.jpg', 'odd.jpg']) {
      const bytes = fs.readFileSync(path.join(folder, 'a', file));
      const { width, height } = await sharp(bytes).metadata();
      for (let k = 0; k < 6; k++) {
        const rng = new rk.data.Rng(11, k);
        const plan = { ...rk.data.cropPlan(width, height, rk.data.randomResizedCrop(width, height, rng), 112), flip: k % 2 === 1 };
        const [a, b] = await both(bytes, 112, plan);
        assert.ok(meanAbs(a, b) < SCALED_BOUND, `${file} crop ${k} ${JSON.stringify(plan)}: mean |ours - sharp| ${meanAbs(a, b).toFixed(2)}`);
      }
    }
  });

  it('applies EXIF orientation 6 and 8 and converts CMYK and greyscale to RGB as sharp does', async () => {
    // Stored 300 wide x 200 high; displayed 200 x 300 after the rotation.
    const stored = raw(300, 200, 3, scene(6)).jpeg({ quality: 92 });
    for (const orientation of [3, 6, 8]) {
      const bytes = await stored.clone().withMetadata({ orientation }).toBuffer();
      const swapped = orientation >= 5;
      const plan = swapped ? { resized: [180, 270], left: 20, top: 40, flip: false } : { resized: [270, 180], left: 40, top: 20, flip: true };
      const [a, b] = await both(bytes, 128, plan);
      assert.ok(meanAbs(a, b) < PLAIN_BOUND, `orientation ${orientation}: mean |ours - sharp| ${meanAbs(a, b).toFixed(2)}`);
    }
    const grey = fs.readFileSync(path.join(folder, 'b', 'grey.jpg'));
    const [g, gs] = await both(grey, 96, { resized: [144, 96], left: 30, top: 0, flip: false });
    for (let i = 0; i < g.length; i += 3) assert.ok(g[i] === g[i + 1] && g[i] === g[i + 2], 'grey is R = G = B');
    assert.ok(meanAbs(g, gs) < SCALED_BOUND, `greyscale: mean |ours - sharp| ${meanAbs(g, gs).toFixed(2)}`);
    // CMYK (sharp writes Adobe-inverted inks; this file holds C, M, Y, K = 0, 224, 244, 40): converted as
    // PIL's convert('RGB') does, without a colour profile, which gives (215, 26, 9) (Pillow 12.3 on this very
    // file); sharp converts through a CMYK profile and gives about (200, 48, 13).
    const cmyk = await raw(64, 48, 3, () => [200, 60, 40]).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    const [c, cs] = await both(cmyk, 32, { resized: [42, 32], left: 5, top: 0, flip: false });
    const mid = (img) => [...img.subarray((16 * 32 + 16) * 3, (16 * 32 + 16) * 3 + 3)];
    assert.ok(mid(c).every((v, i) => Math.abs(v - [215, 26, 9][i]) <= 2), `CMYK as PIL converts it, (215, 26, 9); got ${mid(c)}`);
    assert.ok(mid(c).every((v, i) => Math.abs(v - mid(cs)[i]) < 40), `CMYK near sharp's profile conversion; got ${mid(c)}, sharp ${mid(cs)}`);
  });

  it('rejects truncated and garbage bytes with a message, also when the crop ends above the cut', async () => {
    const truncated = fs.readFileSync(path.join(folder, 'b', 'truncated.jpg'));
    const out = new Uint8Array(64 * 64 * 3);
    // Full scale, the top 64 rows: they lie in the part that is there, and the decoder must still see that
    // the file is cut. Then a box in the missing part.
    await assert.rejects(decodeJpegInto(truncated, 64, () => ({ resized: [500, 375], left: 0, top: 0, flip: false }), out, 0), /libjpeg: Premature end of JPEG file/);
    await assert.rejects(decodeJpegInto(truncated, 64, () => ({ resized: [250, 188], left: 100, top: 100, flip: false }), out, 0), /Premature end/);
    const garbage = fs.readFileSync(path.join(folder, 'b', 'garbage.jpg'));
    await assert.rejects(decodeJpegInto(garbage, 64, () => ({ resized: [64, 64], left: 0, top: 0, flip: false }), out, 0), /not a JPEG image|libjpeg: /);
    const plan = { resizedWidth: 64, resizedHeight: 64, left: 0, top: 0, size: 64, flip: false, orientation: 1 };
    await assert.rejects(native().jpegDecodeCrop(Buffer.from('this is text, not a JPEG'), out, 0, plan), /libjpeg: Not a JPEG file/);
  });

  it('refuses bad arguments with TypeError and RangeError', () => {
    const n = native();
    const out = new Uint8Array(16 * 16 * 3);
    const plan = { resizedWidth: 20, resizedHeight: 16, left: 4, top: 0, size: 16, flip: false, orientation: 1 };
    assert.throws(() => n.jpegDecodeCrop('bytes', out, 0, plan), (e) => e instanceof TypeError && /'bytes' must be a Uint8Array/.test(e.message));
    assert.throws(() => n.jpegDecodeCrop(photo, new Float32Array(768), 0, plan), TypeError);
    assert.throws(() => n.jpegDecodeCrop(photo, out, 1, plan), (e) => e instanceof RangeError && /holds 768 bytes/.test(e.message));
    assert.throws(() => n.jpegDecodeCrop(photo, out, -1, plan), RangeError);
    assert.throws(() => n.jpegDecodeCrop(photo, out, 0, null), TypeError);
    assert.throws(() => n.jpegDecodeCrop(new Uint8Array(0), out, 0, plan), /is empty/);
    assert.throws(() => n.jpegDecodeCrop(photo, out, 0, { ...plan, left: 5 }), (e) => e instanceof RangeError && /field 'left'/.test(e.message));
    assert.throws(() => n.jpegDecodeCrop(photo, out, 0, { ...plan, orientation: 9 }), /field 'orientation'/);
    assert.throws(() => n.jpegDecodeCrop(photo, out, 0, { ...plan, flip: 1 }), /field 'flip' must be a boolean/);
    assert.throws(() => n.jpegDecodeCrop(photo, out, 0, { ...plan, size: NaN }), RangeError);
    assert.throws(() => n.jpegDecoderLoad(42), TypeError);
    assert.throws(() => n.jpegDecoderLoad(''), RangeError);
  });

  it("streams decode JPEGs with it by default; decoder: 'sharp' gives the same batches within the bound; PNGs and broken files as before", async () => {
    const auto = await rk.data.openImageStream(folder, { size: 64, indexCache: false, onWarning: () => {} });
    const viaSharp = await rk.data.openImageStream(folder, { size: 64, indexCache: false, decoder: 'sharp', onWarning: () => {} });
    const viaLib = await rk.data.openImageStream(folder, { size: 64, indexCache: false, decoder: 'libjpeg', onWarning: () => {} });
    assert.strictEqual(auto.decoder, 'libjpeg');
    assert.strictEqual(viaLib.decoder, 'libjpeg');
    assert.strictEqual(viaSharp.decoder, 'sharp');
    assert.deepStrictEqual(auto.identity, viaSharp.identity, 'the identity does not depend on the decoder');
    const all = [...Array(auto.count).keys()];
    const a = await auto.loadBatch(all, { epoch: 1, seed: 3 });
    const b = await viaSharp.loadBatch(all, { epoch: 1, seed: 3 });
    assert.deepStrictEqual([...a.indices], [...b.indices]);
    assert.strictEqual(a.count, 5);
    const plane = 64 * 64 * 3;
    for (let k = 0; k < a.count; k++) {
      const d = meanAbs(a.images.subarray(k * plane, (k + 1) * plane), b.images.subarray(k * plane, (k + 1) * plane));
      assert.ok(d < SCALED_BOUND, `sample ${a.indices[k]}: mean |libjpeg - sharp| ${d.toFixed(2)}`);
    }
    assert.deepStrictEqual(auto.skippedFiles.map((f) => path.basename(f.split(':')[0])), ['garbage.jpg', 'truncated.jpg']);
    assert.deepStrictEqual(viaSharp.skippedFiles.map((f) => path.basename(f.split(':')[0])), ['garbage.jpg', 'truncated.jpg']);
    await assert.rejects(rk.data.openImageStream(folder, { decoder: 'pil' }), (e) => e instanceof TypeError && /option 'decoder' must be one of 'auto', 'libjpeg', 'sharp'/.test(e.message));
  });

  it("falls back to sharp when libjpeg-turbo cannot be used, and decoder: 'libjpeg' then says why", () => {
    const code = `
      const rk = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      const { native } = require(${JSON.stringify(path.resolve(__dirname, '../dist/native'))});
      (async () => {
        const info = rk.data.jpegDecoder();
        const s = await rk.data.openImageStream(${JSON.stringify(folder)}, { size: 32, indexCache: false, onWarning: () => {} });
        const b = await s.loadBatch([0, 1]);
        let refused = '';
        await rk.data.openImageStream(${JSON.stringify(folder)}, { decoder: 'libjpeg', indexCache: false }).catch((e) => { refused = e.message; });
        const notJpeg = native().jpegDecoderLoad('libz.so.1');
        console.log(JSON.stringify({ info, decoder: s.decoder, count: b.count, refused, notJpeg }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { ...process.env, REVIEWKD_LIBJPEG: path.join(tmp, 'no-such-libjpeg.so.62') } });
    assert.strictEqual(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.strictEqual(got.info.available, false);
    assert.match(got.info.reason, /cannot open .*no-such-libjpeg\.so\.62/);
    assert.strictEqual(got.decoder, 'sharp');
    assert.strictEqual(got.count, 2);
    assert.match(got.refused, /decoder 'libjpeg' is unavailable: cannot open/);
    assert.strictEqual(got.notJpeg.available, false);
    assert.match(got.notJpeg.reason, /libz\.so\.1.* has no jpeg_\w+: the fast JPEG decoder needs libjpeg-turbo >= 1\.5/);
    const off = spawnSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(path.resolve(__dirname, '..'))}).data.jpegDecoder()))`], {
      encoding: 'utf8', env: { ...process.env, REVIEWKD_LIBJPEG: '0' },
    });
    assert.strictEqual(off.status, 0, off.stderr);
    assert.deepStrictEqual(JSON.parse(off.stdout), { available: false, library: null, reason: 'turned off by REVIEWKD_LIBJPEG=0' });
  });
});
