'use strict';
// MNIST / Fashion-MNIST IDX loader: small files written here in the exact official format (raw and
// gzipped), the malformed variants with the promised errors, and the real Fashion-MNIST when Debian's
// dataset-fashion-mnist package is installed.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const rk = require('..');

/** An IDX file: magic (0x0000080N), N big-endian uint32 dims, then the bytes. */
function idx(magic, dims, bytes) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(bytes)]);
}

const N = 5;
function pixels(n) {
  const p = new Uint8Array(n * 28 * 28);
  for (let i = 0; i < p.length; i++) p[i] = (i * 31 + 7) & 255;
  return p;
}
const LABELS = [3, 0, 9, 1, 7];

/** Writes the four files of one split pair (train or t10k) into dir; gz or raw. */
function writeMnist(dir, { gz = false, prefix = 'train', images, labels, labelCount, dims } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const img = images ?? idx(2051, dims ?? [N, 28, 28], pixels(N));
  const lab = labels ?? idx(2049, [labelCount ?? N], LABELS.slice(0, labelCount ?? N));
  const ext = gz ? '.gz' : '';
  const enc = (b) => (gz ? zlib.gzipSync(b) : b);
  fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte${ext}`), enc(img));
  fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte${ext}`), enc(lab));
}

async function rejectsWith(promise, pattern, check) {
  await assert.rejects(promise, (err) => {
    assert.match(err.message, pattern);
    if (check) check(err);
    return true;
  });
}

describe('data: MNIST / Fashion-MNIST IDX files', function () {
  let tmp;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-idx-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('loads raw IDX files: shape, pixels, labels, statistics', async () => {
    writeMnist(tmp);
    const ds = await rk.data.loadMnist(tmp, { split: 'train' });
    assert.strictEqual(ds.name, 'mnist-train');
    assert.deepStrictEqual([ds.count, ds.channels, ds.height, ds.width, ds.numClasses], [N, 1, 28, 28, 10]);
    assert.deepStrictEqual(Array.from(ds.labels), LABELS);
    assert.ok(ds.labels instanceof Int32Array);
    assert.deepStrictEqual(Buffer.from(ds.images), Buffer.from(pixels(N)));
    assert.deepStrictEqual(ds.mean, [0.1307]);
    assert.deepStrictEqual(ds.std, [0.3081]);
    assert.strictEqual(ds.classNames[3], '3');
  });

  it('loads gzipped test-split files as fashion-mnist with its class names and statistics', async () => {
    writeMnist(tmp, { gz: true, prefix: 't10k' });
    const ds = await rk.data.loadMnist(tmp, { split: 'test', kind: 'fashion-mnist' });
    assert.strictEqual(ds.name, 'fashion-mnist-test');
    assert.strictEqual(ds.count, N);
    assert.deepStrictEqual(Array.from(ds.labels), LABELS);
    assert.deepStrictEqual(Buffer.from(ds.images), Buffer.from(pixels(N)));
    assert.strictEqual(ds.classNames[9], 'Ankle boot');
    assert.deepStrictEqual([ds.mean[0], ds.std[0]], [0.286, 0.353]);
  });

  it('accepts the dotted names (train-images.idx3-ubyte) some mirrors use', async () => {
    fs.writeFileSync(path.join(tmp, 'train-images.idx3-ubyte'), idx(2051, [N, 28, 28], pixels(N)));
    fs.writeFileSync(path.join(tmp, 'train-labels.idx1-ubyte'), idx(2049, [N], LABELS));
    assert.strictEqual((await rk.data.loadMnist(tmp)).count, N);
  });

  it('bad magic number: names the file and offset 0', async () => {
    writeMnist(tmp, { images: idx(2049, [N, 28, 28], pixels(N)) });
    await rejectsWith(rk.data.loadMnist(tmp), /train-images-idx3-ubyte: at byte offset 0: bad IDX magic number 2049.*expected 2051/, (err) => {
      assert.ok(err instanceof rk.data.DataFormatError);
      assert.strictEqual(err.offset, 0);
      assert.strictEqual(path.basename(err.file), 'train-images-idx3-ubyte');
    });
  });

  it('truncated image file (raw and gzipped): names the file, the offset and the expected length', async () => {
    const full = idx(2051, [N, 28, 28], pixels(N));
    writeMnist(tmp, { images: full.subarray(0, full.length - 100) });
    await rejectsWith(rk.data.loadMnist(tmp), new RegExp(`train-images-idx3-ubyte: at byte offset ${full.length - 100}: file truncated.*needs exactly ${full.length}`));
    const gzdir = path.join(tmp, 'gz');
    writeMnist(gzdir, { gz: true, images: full.subarray(0, 10) });
    await rejectsWith(rk.data.loadMnist(gzdir), /train-images-idx3-ubyte\.gz: at byte offset 10: file truncated/);
  });

  it('trailing bytes are a wrong length too', async () => {
    const full = idx(2049, [N], LABELS);
    writeMnist(tmp, { labels: Buffer.concat([full, Buffer.from([1, 2])]) });
    await rejectsWith(rk.data.loadMnist(tmp), /train-labels-idx1-ubyte: at byte offset 13: file has trailing bytes: it is 15 bytes/);
  });

  it('a truncated gzip stream is reported as corrupt gzip data', async () => {
    writeMnist(tmp, { gz: true });
    const f = path.join(tmp, 'train-labels-idx1-ubyte.gz');
    const gz = fs.readFileSync(f);
    fs.writeFileSync(f, gz.subarray(0, gz.length - 6));
    await rejectsWith(rk.data.loadMnist(tmp), /train-labels-idx1-ubyte\.gz: gzip data is corrupt or truncated/);
  });

  it('label out of range: names the file and the byte offset of the label', async () => {
    writeMnist(tmp, { labels: idx(2049, [N], [3, 0, 9, 12, 7]) });
    await rejectsWith(rk.data.loadMnist(tmp), /train-labels-idx1-ubyte: at byte offset 11: label 12 of item 3 is out of range \[0, 10\)/, (err) => assert.strictEqual(err.offset, 11));
  });

  it('label count different from image count', async () => {
    writeMnist(tmp, { labelCount: 4 });
    await rejectsWith(rk.data.loadMnist(tmp), /train-labels-idx1-ubyte: at byte offset 4: 4 labels for 5 images/);
  });

  it('images that are not 28x28', async () => {
    writeMnist(tmp, { images: idx(2051, [N, 28, 27], new Uint8Array(N * 28 * 27)) });
    await rejectsWith(rk.data.loadMnist(tmp), /train-images-idx3-ubyte: at byte offset 8: images are 28x27/);
  });

  it('missing files and bad arguments', async () => {
    await rejectsWith(rk.data.loadMnist(tmp, { split: 'test' }), /has no t10k-images-idx3-ubyte\[\.gz\] and no t10k-labels-idx1-ubyte\[\.gz\]/);
    await assert.rejects(rk.data.loadMnist(tmp, { split: 'valid' }), (e) => e instanceof TypeError && /option 'split'/.test(e.message));
    await assert.rejects(rk.data.loadMnist(tmp, { kind: 'emnist' }), (e) => e instanceof TypeError && /option 'kind'/.test(e.message));
    await assert.rejects(rk.data.loadMnist(tmp, { splt: 'train' }), (e) => e instanceof TypeError && /unknown option 'splt'/.test(e.message));
    await assert.rejects(rk.data.loadMnist(42), (e) => e instanceof TypeError && /argument 'dir'/.test(e.message));
    await assert.rejects(rk.data.loadMnist(null), /argument 'dir' is required for MNIST/);
    await assert.rejects(rk.data.loadIdx(path.join(tmp, 'x'), 7), (e) => e instanceof RangeError && /expectedMagic/.test(e.message));
  });

  it('loadIdx returns the dimensions and data of one file', async () => {
    const f = path.join(tmp, 'labels.gz');
    fs.writeFileSync(f, zlib.gzipSync(idx(2049, [3], [1, 2, 3])));
    const a = await rk.data.loadIdx(f, rk.data.IDX_LABELS_MAGIC);
    assert.deepStrictEqual(a.dims, [3]);
    assert.deepStrictEqual(Array.from(a.data), [1, 2, 3]);
  });

  const real = rk.data.findFashionMnist();
  it(`loads the real Fashion-MNIST when installed (.ci/run installs it), else explains how to get it (${real ?? 'not installed'})`, async () => {
    if (!real) {
      assert.ok(!process.env.CI, 'CI installs dataset-fashion-mnist, so it must be found there');
      await assert.rejects(rk.data.loadMnist(null, { kind: 'fashion-mnist', split: 'test' }), /apt-get install dataset-fashion-mnist/);
      return;
    }
    const train = await rk.data.loadMnist(null, { kind: 'fashion-mnist', split: 'train' });
    assert.deepStrictEqual([train.count, train.channels, train.height, train.width], [60000, 1, 28, 28]);
    const perClass = new Array(10).fill(0);
    for (const l of train.labels) perClass[l]++;
    assert.deepStrictEqual(perClass, new Array(10).fill(6000));
    const test = await rk.data.loadMnist(real, { kind: 'fashion-mnist', split: 'test' });
    assert.deepStrictEqual([test.count, test.channels, test.height, test.width], [10000, 1, 28, 28]);
    const { images, labels } = rk.data.toTensors(test);
    assert.deepStrictEqual(images.shape, [10000, 1, 28, 28]);
    assert.strictEqual(labels.dtype, 'int64');
    images.dispose();
    labels.dispose();
  });
});
