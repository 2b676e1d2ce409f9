'use strict';
// CIFAR-10/100 binary-version loaders and the strict tar reader: small batches written here in the
// exact official record formats, as extracted folders and as .tar.gz archives (ustar headers made
// here), plus malformed files and archives with the promised errors.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const rk = require('..');

const PIX = 3072;

/** One tar header block; `gnu` writes GNU tar's "ustar  \0" magic, else POSIX "ustar\0" + "00". */
function tarHeader(name, size, { type = '0', gnu = false } = {}) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0001750\0', 108);
  h.write('0001750\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('14723445160\0', 136);
  h.fill(0x20, 148, 156);
  h.write(type, 156);
  if (gnu) h.write('ustar  \0', 257, 'latin1');
  else {
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263);
  }
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** A tar archive of [name, Buffer|null] pairs (null = directory), with the two-block end marker. */
function tar(entries, opts = {}) {
  const parts = [];
  for (const [name, data] of entries) {
    if (data === null) {
      parts.push(tarHeader(name, 0, { ...opts, type: '5' }));
      continue;
    }
    parts.push(tarHeader(name, data.length, opts), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Pixel byte j of image k, distinct enough to catch any reordering. */
const pix = (k, j) => (k * 37 + j * 11 + (j >> 10) * 5) & 255;

/** CIFAR-10 batch: per record 1 label byte then 3072 pixels (R plane, G plane, B plane). */
function cifar10Batch(labels, first = 0) {
  const b = Buffer.alloc(labels.length * (1 + PIX));
  labels.forEach((l, i) => {
    const at = i * (1 + PIX);
    b[at] = l;
    for (let j = 0; j < PIX; j++) b[at + 1 + j] = pix(first + i, j);
  });
  return b;
}

/** CIFAR-100 file: per record coarse byte, fine byte, then 3072 pixels. */
function cifar100File(pairs) {
  const b = Buffer.alloc(pairs.length * (2 + PIX));
  pairs.forEach(([coarse, fine], i) => {
    const at = i * (2 + PIX);
    b[at] = coarse;
    b[at + 1] = fine;
    for (let j = 0; j < PIX; j++) b[at + 2 + j] = pix(i, j);
  });
  return b;
}

const C10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
// Two records per training batch, three in the test batch.
const C10_TRAIN = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]];
const C10_TEST = [9, 4, 0];

function cifar10Members() {
  const m = [['cifar-10-batches-bin/', null], ['cifar-10-batches-bin/batches.meta.txt', Buffer.from(`${C10_NAMES.join('\n')}\n\n`)]];
  C10_TRAIN.forEach((labels, i) => m.push([`cifar-10-batches-bin/data_batch_${i + 1}.bin`, cifar10Batch(labels, 2 * i)]));
  m.push(['cifar-10-batches-bin/test_batch.bin', cifar10Batch(C10_TEST)]);
  m.push(['cifar-10-batches-bin/readme.html', Buffer.from('<html></html>')]);
  return m;
}

const FINE = Array.from({ length: 100 }, (_, i) => `fine${i}`);
const COARSE = Array.from({ length: 20 }, (_, i) => `coarse${i}`);
const C100_TRAIN = [[19, 99], [0, 0], [7, 42], [3, 5]];
const C100_TEST = [[1, 2]];

function cifar100Members() {
  return [
    ['cifar-100-binary/', null],
    ['cifar-100-binary/coarse_label_names.txt', Buffer.from(COARSE.join('\n'))],
    ['cifar-100-binary/fine_label_names.txt', Buffer.from(FINE.join('\n'))],
    ['cifar-100-binary/train.bin', cifar100File(C100_TRAIN)],
    ['cifar-100-binary/test.bin', cifar100File(C100_TEST)],
  ];
}

/** Writes members below root (directories for null entries). */
function writeTree(root, members) {
  for (const [name, data] of members) {
    const p = path.join(root, name);
    if (data === null) fs.mkdirSync(p, { recursive: true });
    else fs.writeFileSync(p, data);
  }
}

function checkImages(ds, firstIndex = 0) {
  for (let k = 0; k < ds.count; k++) {
    for (const j of [0, 1, 1023, 1024, 2047, 2048, 3071]) {
      assert.strictEqual(ds.images[k * PIX + j], pix(firstIndex + k, j), `image ${k} byte ${j}`);
    }
  }
}

async function rejectsWith(promise, pattern, check) {
  await assert.rejects(promise, (err) => {
    assert.match(err.message, pattern);
    if (check) check(err);
    return true;
  });
}

describe('data: CIFAR-10 / CIFAR-100 binary version', function () {
  let tmp;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-cifar-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('CIFAR-10', function () {
    it('loads the extracted folder: 5 training batches in order, CHW pixels, class names, statistics', async () => {
      writeTree(tmp, cifar10Members());
      const ds = await rk.data.loadCifar10(path.join(tmp, 'cifar-10-batches-bin'), { split: 'train' });
      assert.strictEqual(ds.name, 'cifar10-train');
      assert.deepStrictEqual([ds.count, ds.channels, ds.height, ds.width, ds.numClasses], [10, 3, 32, 32, 10]);
      assert.deepStrictEqual(Array.from(ds.labels), C10_TRAIN.flat());
      assert.strictEqual(ds.images.length, 10 * PIX);
      checkImages(ds);
      assert.deepStrictEqual(ds.classNames, C10_NAMES);
      assert.deepStrictEqual(ds.mean.map((m) => +(m * 255).toFixed(6)), [125.3, 123, 113.9]);
      assert.deepStrictEqual(ds.std.map((s) => +(s * 255).toFixed(6)), [63, 62.1, 66.7]);
    });

    it('loads the test split from the parent folder', async () => {
      writeTree(tmp, cifar10Members());
      const ds = await rk.data.loadCifar10(tmp, { split: 'test' });
      assert.deepStrictEqual(Array.from(ds.labels), C10_TEST);
      checkImages(ds);
    });

    it('reads cifar-10-binary.tar.gz directly (GNU tar headers) and from its folder, same data as extracted', async () => {
      const archive = path.join(tmp, 'cifar-10-binary.tar.gz');
      fs.writeFileSync(archive, zlib.gzipSync(tar(cifar10Members(), { gnu: true })));
      const a = await rk.data.loadCifar10(archive);
      const b = await rk.data.loadCifar10(tmp, { split: 'train' });
      writeTree(path.join(tmp, 'x'), cifar10Members());
      const c = await rk.data.loadCifar10(path.join(tmp, 'x'));
      for (const ds of [a, b]) {
        assert.deepStrictEqual(Buffer.from(ds.images), Buffer.from(c.images));
        assert.deepStrictEqual(Array.from(ds.labels), Array.from(c.labels));
        assert.deepStrictEqual(ds.classNames, C10_NAMES);
      }
    });

    it('a batch whose length is not a multiple of 3073 bytes: names the file and offset', async () => {
      writeTree(tmp, cifar10Members());
      const f = path.join(tmp, 'cifar-10-batches-bin', 'data_batch_3.bin');
      fs.writeFileSync(f, cifar10Batch([1, 2]).subarray(0, 3073 + 100));
      await rejectsWith(rk.data.loadCifar10(tmp), /data_batch_3\.bin: at byte offset 3073: file is 3173 bytes, not a positive multiple of the 3073-byte record/, (err) => {
        assert.ok(err instanceof rk.data.DataFormatError);
        assert.strictEqual(err.file, f);
      });
    });

    it('a label >= 10 inside an archive: names archive:member and the offset of the record', async () => {
      const members = cifar10Members();
      members[members.findIndex(([n]) => n.endsWith('test_batch.bin'))][1] = cifar10Batch([1, 2, 10]);
      const archive = path.join(tmp, 'c10.tar.gz');
      fs.writeFileSync(archive, zlib.gzipSync(tar(members)));
      await rejectsWith(rk.data.loadCifar10(archive, { split: 'test' }), /c10\.tar\.gz:cifar-10-batches-bin\/test_batch\.bin: at byte offset 6146: label 10 of record 2 is out of range \[0, 10\)/);
    });

    it('a missing batch, a bad class-name file, a path that does not exist', async () => {
      writeTree(tmp, cifar10Members());
      fs.rmSync(path.join(tmp, 'cifar-10-batches-bin', 'data_batch_5.bin'));
      await rejectsWith(rk.data.loadCifar10(tmp), /cifar-10-batches-bin has no data_batch_5\.bin/);
      fs.writeFileSync(path.join(tmp, 'cifar-10-batches-bin', 'batches.meta.txt'), 'cat\ndog\n');
      await rejectsWith(rk.data.loadCifar10(tmp, { split: 'test' }), /batches\.meta\.txt: lists 2 class names, expected 10/);
      await rejectsWith(rk.data.loadCifar10(path.join(tmp, 'nope')), /does not exist/);
      const empty = path.join(tmp, 'empty');
      fs.mkdirSync(empty);
      await rejectsWith(rk.data.loadCifar10(empty), /holds none of .*no cifar-10-batches-bin\/ folder and no cifar-10-binary\.tar\.gz/);
    });

    it('bad arguments throw TypeErrors naming them', async () => {
      await assert.rejects(rk.data.loadCifar10(undefined), (e) => e instanceof TypeError && /argument 'pathOrArchive'/.test(e.message));
      await assert.rejects(rk.data.loadCifar10(tmp, { split: 'val' }), (e) => e instanceof TypeError && /option 'split'/.test(e.message));
      await assert.rejects(rk.data.loadCifar10(tmp, 'train'), (e) => e instanceof TypeError && /argument 'options'/.test(e.message));
    });
  });

  describe('CIFAR-100', function () {
    it('fine labels (default) and coarse labels from the extracted folder', async () => {
      writeTree(tmp, cifar100Members());
      const fine = await rk.data.loadCifar100(path.join(tmp, 'cifar-100-binary'));
      assert.strictEqual(fine.name, 'cifar100-train');
      assert.deepStrictEqual([fine.count, fine.numClasses], [4, 100]);
      assert.deepStrictEqual(Array.from(fine.labels), C100_TRAIN.map(([, f]) => f));
      assert.deepStrictEqual(fine.classNames, FINE);
      checkImages(fine);
      const coarse = await rk.data.loadCifar100(tmp, { labels: 'coarse' });
      assert.deepStrictEqual([coarse.count, coarse.numClasses], [4, 20]);
      assert.deepStrictEqual(Array.from(coarse.labels), C100_TRAIN.map(([c]) => c));
      assert.deepStrictEqual(coarse.classNames, COARSE);
      assert.deepStrictEqual(Buffer.from(coarse.images), Buffer.from(fine.images));
      assert.deepStrictEqual(coarse.mean, fine.mean); // CIFAR-10 statistics, as the reference uses
    });

    it('reads cifar-100-binary.tar.gz (POSIX ustar) from the archive or its parent folder', async () => {
      fs.writeFileSync(path.join(tmp, 'cifar-100-binary.tar.gz'), zlib.gzipSync(tar(cifar100Members())));
      const ds = await rk.data.loadCifar100(tmp, { split: 'test', labels: 'fine' });
      assert.deepStrictEqual(Array.from(ds.labels), [2]);
      checkImages(ds);
      const ds2 = await rk.data.loadCifar100(path.join(tmp, 'cifar-100-binary.tar.gz'), { split: 'test', labels: 'coarse' });
      assert.deepStrictEqual(Array.from(ds2.labels), [1]);
    });

    it('fine label >= 100 and coarse label >= 20 are errors whichever labels are kept', async () => {
      writeTree(tmp, cifar100Members());
      const f = path.join(tmp, 'cifar-100-binary', 'train.bin');
      fs.writeFileSync(f, cifar100File([[1, 1], [2, 100]]));
      await rejectsWith(rk.data.loadCifar100(tmp, { labels: 'coarse' }), /train\.bin: at byte offset 3075: fine label 100 of record 1 is out of range \[0, 100\)/, (e) => assert.strictEqual(e.offset, 3075));
      fs.writeFileSync(f, cifar100File([[20, 1]]));
      await rejectsWith(rk.data.loadCifar100(tmp), /train\.bin: at byte offset 0: coarse label 20 of record 0 is out of range \[0, 20\)/);
    });

    it('a truncated file and an empty file', async () => {
      writeTree(tmp, cifar100Members());
      const f = path.join(tmp, 'cifar-100-binary', 'test.bin');
      fs.writeFileSync(f, cifar100File([[1, 1], [2, 2]]).subarray(0, 5000));
      await rejectsWith(rk.data.loadCifar100(tmp, { split: 'test' }), /test\.bin: at byte offset 3074: file is 5000 bytes, not a positive multiple of the 3074-byte record/);
      fs.writeFileSync(f, Buffer.alloc(0));
      await rejectsWith(rk.data.loadCifar100(tmp, { split: 'test' }), /test\.bin: at byte offset 0: file is 0 bytes/);
      await assert.rejects(rk.data.loadCifar100(tmp, { labels: 'both' }), (e) => e instanceof TypeError && /option 'labels'/.test(e.message));
    });
  });

  describe('the tar reader', function () {
    it('lists regular files with their offsets, skipping directories', () => {
      const entries = rk.data.readTar(tar([['d/', null], ['d/a.txt', Buffer.from('hello')], ['d/b.bin', Buffer.alloc(600, 7)]]), 't.tar');
      assert.deepStrictEqual(entries.map((e) => [e.name, e.data.length, e.offset]), [['d/a.txt', 5, 1024], ['d/b.bin', 600, 2048]]);
      assert.strictEqual(Buffer.from(entries[0].data).toString(), 'hello');
    });

    it('a bad header checksum: names the archive and the header offset', async () => {
      const t = tar(cifar10Members());
      t[512 + 10] ^= 0x01; // a byte of the second header's name (the first is the folder)
      const archive = path.join(tmp, 'cifar-10-binary.tar.gz');
      fs.writeFileSync(archive, zlib.gzipSync(t));
      await rejectsWith(rk.data.loadCifar10(archive), /cifar-10-binary\.tar\.gz: at byte offset 512: tar header checksum mismatch/, (e) => {
        assert.ok(e instanceof rk.data.DataFormatError);
        assert.strictEqual(e.offset, 512);
      });
    });

    it('a bad magic, a truncated member, a missing end marker, and gzip data that is not a tar', () => {
      const h = tarHeader('x', 3);
      h.write('tarus', 257, 'latin1');
      let sum = 0;
      h.fill(0x20, 148, 156);
      for (const b of h) sum += b;
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      assert.throws(() => rk.data.readTar(Buffer.concat([h, Buffer.alloc(1536)]), 'm.tar'), /m\.tar: at byte offset 0: tar header has magic "tarus"/);
      const t = tar([['a.bin', Buffer.alloc(2000, 1)]]);
      assert.throws(() => rk.data.readTar(t.subarray(0, 1500), 'cut.tar'), /cut\.tar: at byte offset 0: tar member needs 2000 bytes but the archive ends after 988: the archive is truncated/);
      assert.throws(() => rk.data.readTar(t.subarray(0, 512 + 2048), 'noend.tar'), /noend\.tar: at byte offset 2560: tar data ends without the end-of-archive marker/);
      assert.throws(() => rk.data.readTar(Buffer.alloc(512, 65), 'junk.tar'), /junk\.tar: at byte offset 0: tar header checksum mismatch/);
    });

    it('a truncated .tar.gz is reported as corrupt gzip data naming the archive', async () => {
      const gz = zlib.gzipSync(tar(cifar10Members()));
      const archive = path.join(tmp, 'cifar-10-binary.tar.gz');
      fs.writeFileSync(archive, gz.subarray(0, gz.length >> 1));
      await rejectsWith(rk.data.loadCifar10(archive), /cifar-10-binary\.tar\.gz: gzip data is corrupt or truncated/);
    });
  });
});
