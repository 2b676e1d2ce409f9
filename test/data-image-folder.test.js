'use strict';
// Image-folder loader: PNG and JPEG files written here with sharp in the one-subfolder-per-class
// layout; resizing, CHW order, class lists checked against a saved list, unreadable files by path.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const sharp = require('sharp');
const rk = require('..');

/** A w x h image filled with one colour, written as PNG or JPEG. */
async function solid(file, w, h, [r, g, b], format = 'png') {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } });
  await (format === 'png' ? img.png() : img.jpeg({ quality: 100 })).toFile(file);
}

/** A PNG whose pixel (y, x) is (x*40, y*40, 200): checks row/column/channel order. */
async function gradient(file, w, h) {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([x * 40, y * 40, 200], (y * w + x) * 3);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
}

describe('data: image folders', function () {
  let tmp;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-imgs-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function threeClasses() {
    await solid(path.join(tmp, 'zebra', 'a.png'), 8, 6, [255, 0, 0]);
    await solid(path.join(tmp, 'cat', 'b.jpg'), 10, 10, [0, 255, 0], 'jpeg');
    await solid(path.join(tmp, 'cat', 'a.PNG'), 4, 4, [0, 0, 255]);
    await solid(path.join(tmp, 'dog', 'x.jpeg'), 5, 7, [10, 20, 30], 'jpeg');
    fs.writeFileSync(path.join(tmp, 'dog', 'notes.txt'), 'ignored');
    fs.writeFileSync(path.join(tmp, 'README'), 'ignored');
  }

  it('sorted classes, sorted files, resized to [h, w], CHW uint8, computed statistics', async () => {
    await threeClasses();
    const ds = await rk.data.loadImageFolder(tmp, { size: [3, 5] });
    assert.deepStrictEqual(ds.classNames, ['cat', 'dog', 'zebra']);
    assert.deepStrictEqual([ds.count, ds.channels, ds.height, ds.width, ds.numClasses], [4, 3, 3, 5, 3]);
    assert.deepStrictEqual(Array.from(ds.labels), [0, 0, 1, 2]); // cat/a.PNG, cat/b.jpg, dog/x.jpeg, zebra/a.png
    const plane = 15;
    const at = (i, c, k = 7) => ds.images[(i * 3 + c) * plane + k];
    assert.deepStrictEqual([at(0, 0), at(0, 1), at(0, 2)], [0, 0, 255]); // PNG: exact
    assert.deepStrictEqual([at(3, 0), at(3, 1), at(3, 2)], [255, 0, 0]);
    assert.ok(Math.abs(at(1, 1) - 255) <= 3 && at(1, 0) <= 3, 'JPEG green'); // JPEG: lossy
    assert.strictEqual(ds.mean.length, 3);
    assert.ok(ds.mean.every((m) => m > 0 && m < 1) && ds.std.every((s) => s > 0));
    const { images, labels } = rk.data.toTensors(ds);
    assert.deepStrictEqual(images.shape, [4, 3, 3, 5]);
    assert.deepStrictEqual(labels.shape, [4]);
    images.dispose();
    labels.dispose();
  });

  it('keeps row/column/channel order (HWC decoded, stored as CHW)', async () => {
    await gradient(path.join(tmp, 'only', 'g.png'), 4, 3);
    const ds = await rk.data.loadImageFolder(tmp);
    assert.deepStrictEqual([ds.height, ds.width, ds.channels], [3, 4, 3]);
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 4; x++) {
        assert.strictEqual(ds.images[0 * 12 + y * 4 + x], x * 40);
        assert.strictEqual(ds.images[1 * 12 + y * 4 + x], y * 40);
        assert.strictEqual(ds.images[2 * 12 + y * 4 + x], 200);
      }
    }
  });

  it('channels: 1 converts to greyscale', async () => {
    await solid(path.join(tmp, 'a', '1.png'), 2, 2, [255, 255, 255]);
    const ds = await rk.data.loadImageFolder(tmp, { channels: 1 });
    assert.strictEqual(ds.channels, 1);
    assert.deepStrictEqual(Array.from(ds.images), [255, 255, 255, 255]);
  });

  it('the class list saved with a model must match exactly; differences are listed', async () => {
    await threeClasses();
    const ok = await rk.data.loadImageFolder(tmp, { size: [2, 2], classNames: ['cat', 'dog', 'zebra'] });
    assert.strictEqual(ok.numClasses, 3);
    await assert.rejects(rk.data.loadImageFolder(tmp, { size: [2, 2], classNames: ['cat', 'dog', 'horse'] }), (e) => {
      assert.match(e.message, /do not match the saved class list.*missing from the data: "horse".*not in the saved list: "zebra"/);
      return true;
    });
    await assert.rejects(rk.data.loadImageFolder(tmp, { size: [2, 2], classNames: ['dog', 'cat', 'zebra'] }), /same names in a different order: "dog" is class 0 in the saved list but 1 in the data/);
    assert.throws(() => rk.data.checkClassNames(['a'], ['a', 'b'], 'model.safetensors'), /model\.safetensors: .*not in the saved list: "b"/);
  });

  it('unreadable images are reported by path, all of them', async () => {
    await threeClasses();
    fs.writeFileSync(path.join(tmp, 'cat', 'broken.png'), Buffer.from('not a png at all'));
    const good = fs.readFileSync(path.join(tmp, 'zebra', 'a.png'));
    fs.writeFileSync(path.join(tmp, 'zebra', 'cut.png'), good.subarray(0, good.length - 20));
    await assert.rejects(rk.data.loadImageFolder(tmp, { size: [4, 4] }), (e) => {
      assert.ok(e instanceof rk.data.DataFormatError);
      assert.match(e.message, /2 images could not be read/);
      assert.ok(e.message.includes(path.join(tmp, 'cat', 'broken.png')), e.message);
      assert.ok(e.message.includes(path.join(tmp, 'zebra', 'cut.png')), e.message);
      return true;
    });
  });

  it('without size, images of different sizes are an error naming the file', async () => {
    await threeClasses();
    await assert.rejects(rk.data.loadImageFolder(tmp), (e) => {
      assert.ok(e.message.includes(path.join(tmp, 'cat', 'b.jpg')), e.message);
      assert.match(e.message, /is 10x10 but the first image is 4x4; pass the 'size' option/);
      return true;
    });
  });

  it('empty folders and bad arguments', async () => {
    await assert.rejects(rk.data.loadImageFolder(tmp), /has no class subfolders/);
    fs.mkdirSync(path.join(tmp, 'empty'));
    await assert.rejects(rk.data.loadImageFolder(tmp), /class folder .*empty has no \.png\/\.jpg\/\.jpeg images/);
    await assert.rejects(rk.data.loadImageFolder(path.join(tmp, 'missing')), /cannot read folder/);
    await assert.rejects(rk.data.loadImageFolder(tmp, { size: 32 }), (e) => e instanceof TypeError && /option 'size'/.test(e.message));
    await assert.rejects(rk.data.loadImageFolder(tmp, { size: [0, 4] }), (e) => e instanceof RangeError && /option 'size\[0\]'/.test(e.message));
    await assert.rejects(rk.data.loadImageFolder(tmp, { channels: 2 }), (e) => e instanceof RangeError && /option 'channels'/.test(e.message));
    await assert.rejects(rk.data.loadImageFolder(tmp, { classNames: 'cat' }), (e) => e instanceof TypeError && /option 'classNames'/.test(e.message));
  });
});
