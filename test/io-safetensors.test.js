// safetensors reader/writer: round trips, the on-disk layout, hand-made bad files, atomic writes and
// a seeded mutation fuzz that must never crash the process.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');

const rk = require('..');
const { io } = rk;

let dir;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-safetensors-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
const file = (name) => path.join(dir, name);
const tempFilesIn = (d) => fs.readdirSync(d).filter((n) => n.includes('.tmp-'));

// A raw safetensors file: u64 LE header length, header (object -> JSON; a string or Buffer as is), data.
function build(header, data = Buffer.alloc(0), { pad = true } = {}) {
  let h = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  if (pad) h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

function readHeader(p) {
  const buf = fs.readFileSync(p);
  const n = Number(buf.readBigUInt64LE(0));
  return { buf, n, text: buf.subarray(8, 8 + n).toString('utf8') };
}

function roundTrip(name, record, metadata) {
  const p = file(name);
  io.saveSafetensors(p, record, metadata);
  return io.loadSafetensorsWithMetadata(p);
}

describe('io: safetensors round trip', () => {
  const cases = {
    float32: () => rk.randn([3, 4]),
    float64: () => rk.randn([2, 5], { dtype: 'float64' }),
    int64: () => rk.tensor(new BigInt64Array([0n, -1n, 2n ** 62n, -(2n ** 63n), 42n]), { shape: [5] }),
    int32: () => rk.tensor(new Int32Array([-2147483648, 0, 7, 2147483647]), { shape: [2, 2] }),
    uint8: () => rk.tensor(new Uint8Array([0, 1, 128, 255]), { shape: [4, 1] }),
    bool: () => rk.tensor([[true, false], [false, true]]),
  };
  for (const [dtype, make] of Object.entries(cases)) {
    it(`keeps ${dtype} values, dtype and shape`, () => {
      const t = make();
      assert.strictEqual(t.dtype, dtype);
      const back = roundTrip(`${dtype}.safetensors`, { t }).tensors.t;
      assert.strictEqual(back.dtype, dtype);
      assert.deepStrictEqual(back.shape, t.shape);
      assert.deepStrictEqual(back.toArray(), t.toArray());
    });
  }

  for (const dtype of ['float16', 'bfloat16']) {
    it(`keeps ${dtype} bit patterns`, () => {
      const t = rk.randn([4, 3], { dtype });
      const back = roundTrip(`${dtype}.safetensors`, { t }).tensors.t;
      assert.strictEqual(back.dtype, dtype);
      assert.deepStrictEqual(back.shape, [4, 3]);
      assert.deepStrictEqual(back.rawBits16(), t.rawBits16());
    });
  }

  it('keeps a 0-d scalar and an empty tensor', () => {
    const { tensors } = roundTrip('shapes.safetensors', { scalar: rk.full([], 2.5), empty: rk.zeros([0, 3]) });
    assert.deepStrictEqual(tensors.scalar.shape, []);
    assert.strictEqual(tensors.scalar.item(), 2.5);
    assert.deepStrictEqual(tensors.empty.shape, [0, 3]);
    assert.strictEqual(tensors.empty.numel, 0);
  });

  it('writes a non-contiguous tensor as its logical (row-major) values', () => {
    const base = rk.arange(0, 6).reshape([2, 3]);
    const t = base.transpose(0, 1);
    assert.strictEqual(t.isContiguous, false);
    const back = roundTrip('transposed.safetensors', { t }).tensors.t;
    assert.deepStrictEqual(back.shape, [3, 2]);
    assert.deepStrictEqual(Array.from(back.toArray()), [0, 3, 1, 4, 2, 5]);
  });

  it('keeps metadata, and returns {} when there is none', () => {
    const metadata = { model: 'resnet8x4', note: 'quote " backslash \\ newline \n unicode é 🙂' };
    const back = roundTrip('meta.safetensors', { w: rk.ones([2]) }, metadata);
    assert.deepStrictEqual({ ...back.metadata }, metadata);
    assert.deepStrictEqual(roundTrip('nometa.safetensors', { w: rk.ones([2]) }).metadata, {});
    assert.deepStrictEqual(roundTrip('nothing.safetensors', {}).tensors, {});
  });

  it('keeps unusual names as plain keys ("__proto__", unicode, quotes)', () => {
    const record = { ['__proto__']: rk.ones([1]), 'layer.0/"x"': rk.zeros([1]), 'é🙂': rk.full([1], 3) };
    const { tensors } = roundTrip('names.safetensors', record);
    assert.deepStrictEqual(Object.keys(tensors).sort(), Object.keys(record).sort());
    assert.strictEqual(Object.getPrototypeOf(tensors), Object.prototype);
    assert.strictEqual(tensors['é🙂'].item(), 3);
  });
});

describe('io: safetensors layout', () => {
  it('pads the header to 8 bytes, orders by alignment then name, aligns and tiles the buffer', () => {
    const p = file('layout.safetensors');
    io.saveSafetensors(p, {
      a_u8: rk.tensor(new Uint8Array([1, 2, 3]), { shape: [3] }),
      b_f16: rk.ones([3], { dtype: 'float16' }),
      c_f32: rk.ones([2, 1]),
      d_i64: rk.tensor(new BigInt64Array([5n]), { shape: [1] }),
      e_f64: rk.ones([2], { dtype: 'float64' }),
      f_bool: rk.tensor([true]),
      g_i32: rk.tensor(new Int32Array([1, 2, 3]), { shape: [3] }),
    }, { source: 'test' });
    const { buf, n, text } = readHeader(p);
    assert.strictEqual(n % 8, 0, 'header length is a multiple of 8');
    assert.match(text, /^\{.*\} *$/s);
    assert.strictEqual(text.trimEnd().length > n - 8, true, 'at most 7 padding spaces');
    const header = JSON.parse(text);
    assert.deepStrictEqual(header.__metadata__, { source: 'test' });
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    assert.deepStrictEqual(names, ['d_i64', 'e_f64', 'c_f32', 'g_i32', 'b_f16', 'a_u8', 'f_bool']);
    const size = { I64: 8, F64: 8, F32: 4, I32: 4, F16: 2, U8: 1, BOOL: 1 };
    let offset = 0;
    for (const name of names) {
      const { dtype, shape, data_offsets: [begin, end] } = header[name];
      assert.strictEqual(begin, offset, `${name} begins where the previous tensor ended`);
      assert.strictEqual(end - begin, shape.reduce((x, y) => x * y, 1) * size[dtype]);
      assert.strictEqual((8 + n + begin) % size[dtype], 0, `${name} is aligned in the file`);
      offset = end;
    }
    assert.strictEqual(offset, buf.length - 8 - n, 'the tensors cover the whole buffer');
    assert.deepStrictEqual(header.c_f32, { dtype: 'F32', shape: [2, 1], data_offsets: [header.c_f32.data_offsets[0], header.c_f32.data_offsets[0] + 8] });
    assert.strictEqual(buf.readBigInt64LE(8 + n + header.d_i64.data_offsets[0]), 5n);
  });

  it('reads a file written by hand, unpadded, with whitespace and escapes', () => {
    const data = Buffer.alloc(8);
    data.writeFloatLE(1.5, 0);
    data.writeFloatLE(-2, 4);
    const header = ' {"w\\u00e9\\ud83d\\ude42" : { "shape": [2], "data_offsets": [0, 8], "dtype": "F32" }, "__metadata__": {"k": "v\\n"}}';
    const p = file('handmade.safetensors');
    // A leading space is not allowed (the header must start with '{'); without it the file is valid.
    fs.writeFileSync(p, build(header, data, { pad: false }));
    assert.throws(() => io.loadSafetensors(p), /object/);
    fs.writeFileSync(p, build(header.trimStart(), data, { pad: false }));
    const { tensors, metadata } = io.loadSafetensorsWithMetadata(p);
    assert.deepStrictEqual(Array.from(tensors['wé🙂'].toArray()), [1.5, -2]);
    assert.deepStrictEqual({ ...metadata }, { k: 'v\n' });
  });
});

describe('io: safetensors rejects bad files', () => {
  const f32 = (shape, begin, end) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const valid = () => build({ w: f32([2], 0, 8) }, Buffer.alloc(8));

  // Each bad file must throw an Error naming the file and containing `word`.
  function rejects(name, bytes, word) {
    const p = file(`bad-${name}.safetensors`);
    fs.writeFileSync(p, bytes);
    assert.throws(
      () => io.loadSafetensors(p),
      (e) => {
        assert.ok(e instanceof Error, 'an Error');
        assert.ok(e.message.includes(p), `message names the file: ${e.message}`);
        assert.ok(e.message.includes(word), `message contains '${word}': ${e.message}`);
        return true;
      },
    );
  }

  it('a valid base file loads', () => {
    const p = file('valid.safetensors');
    fs.writeFileSync(p, valid());
    assert.deepStrictEqual(io.loadSafetensors(p).w.shape, [2]);
  });
  it('a file shorter than the header length field', () => rejects('tiny', Buffer.alloc(5), 'truncated'));
  it('a file truncated in the header', () => rejects('cut-header', valid().subarray(0, 20), 'truncated'));
  it('a file truncated in the data', () => rejects('cut-data', valid().subarray(0, valid().length - 1), 'out of range'));
  it('a header length larger than the file', () => {
    const b = valid();
    b.writeBigUInt64LE(BigInt(b.length - 7), 0);
    rejects('long-header', b, 'header length');
  });
  it('a header length of 1 TB, refused before reading', () => {
    const b = valid();
    b.writeBigUInt64LE(2n ** 40n, 0);
    const t0 = process.hrtime.bigint();
    rejects('terabyte', b, 'limit');
    assert.ok(process.hrtime.bigint() - t0 < 1_000_000_000n, 'refused fast');
  });
  it('invalid JSON', () => rejects('json', build('{"w": {"dtype": "F32",'), 'invalid JSON'));
  it('a trailing comma', () => rejects('comma', build('{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8],}}', Buffer.alloc(8)), 'invalid JSON'));
  it('a header that is not an object', () => {
    rejects('array', build('[1, 2]'), 'object');
    rejects('string', build('"w"'), 'object');
    rejects('empty', build(''), 'object');
  });
  it('data after the top-level object', () => rejects('after', build('{} {}'), 'after the top-level object'));
  it('offsets out of range', () => rejects('range', build({ w: f32([4], 0, 16) }, Buffer.alloc(8)), 'out of range'));
  it('an unknown dtype, naming tensor and dtype', () => {
    rejects('dtype', build({ w: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, Buffer.alloc(8)), "tensor 'w': unsupported dtype 'F8_E4M3'");
  });
  it('overlapping tensors', () => rejects('overlap', build({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, Buffer.alloc(12)), 'overlap'));
  it('a hole in the buffer', () => rejects('hole', build({ a: f32([2], 0, 8), b: f32([2], 12, 20) }, Buffer.alloc(20)), 'hole'));
  it('trailing bytes no tensor covers', () => rejects('trailing', build({ a: f32([2], 0, 8) }, Buffer.alloc(12)), 'cover only 8'));
  it('a byte length that is not numel * itemsize', () => rejects('size', build({ w: f32([3], 0, 8) }, Buffer.alloc(8)), 'needs 12 bytes'));
  it('end before begin', () => rejects('backwards', build({ w: f32([0], 8, 0) }, Buffer.alloc(8)), 'end before'));
  it('duplicate keys', () => {
    rejects('dup', build('{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', Buffer.alloc(8)), "duplicate key 'w'");
    rejects('dup-field', build('{"w": {"dtype": "F32", "dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', Buffer.alloc(8)), 'duplicate field');
  });
  it('metadata with a non-string value', () => {
    rejects('meta', build({ __metadata__: { epoch: 3 }, w: f32([2], 0, 8) }, Buffer.alloc(8)), '__metadata__');
    rejects('meta-kind', build({ __metadata__: { epoch: 3 }, w: f32([2], 0, 8) }, Buffer.alloc(8)), 'must be a string');
  });
  it('non-integers where a tensor entry needs integers', () => {
    rejects('float', build('{"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}', Buffer.alloc(8)), 'fraction');
    rejects('negative', build('{"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}', Buffer.alloc(8)), 'negative');
    rejects('bool', build('{"w": {"dtype": "F32", "shape": [true], "data_offsets": [0, 8]}}', Buffer.alloc(8)), 'boolean');
    rejects('null', build('{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, null]}}', Buffer.alloc(8)), 'null');
    rejects('huge', build('{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 99999999999999999999]}}', Buffer.alloc(8)), 'too large');
    rejects('overflow', build({ w: f32([2 ** 40, 2 ** 40], 0, 8) }, Buffer.alloc(8)), 'overflow');
  });
  it('entries with missing or extra fields', () => {
    rejects('missing', build({ w: { dtype: 'F32', shape: [2] } }, Buffer.alloc(8)), "missing field 'data_offsets'");
    rejects('extra', build({ w: { ...f32([2], 0, 8), stride: [1] } }, Buffer.alloc(8)), "unexpected field 'stride'");
    rejects('offsets3', build({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8, 8] } }, Buffer.alloc(8)), 'data_offsets');
  });
  it('BOOL bytes other than 0 and 1', () => rejects('boolbyte', build({ b: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, Buffer.from([1, 2])), 'BOOL'));
  it('bad UTF-8 and lone surrogates in names', () => {
    rejects('utf8', build(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x7b, 0x7d, 0x7d])), 'UTF-8');
    rejects('surrogate', build('{"\\ud800": {}}'), 'surrogate');
  });
  it('a missing file and a directory', () => {
    assert.throws(() => io.loadSafetensors(file('does-not-exist.safetensors')), /cannot open/);
    assert.throws(() => io.loadSafetensors(dir), /not a regular file/);
  });
});

describe('io: safetensors argument checks and atomic writes', () => {
  it('checks argument kinds, naming the argument', () => {
    assert.throws(() => io.loadSafetensors(42), (e) => e instanceof TypeError && /'path'/.test(e.message));
    assert.throws(() => io.saveSafetensors('', {}), (e) => e instanceof TypeError && /'path'/.test(e.message));
    assert.throws(() => io.saveSafetensors(file('x'), [rk.ones([1])]), (e) => e instanceof TypeError && /'record'/.test(e.message));
    assert.throws(() => io.saveSafetensors(file('x'), rk.ones([1])), (e) => e instanceof TypeError && /'record'/.test(e.message));
    assert.throws(() => io.saveSafetensors(file('x'), { w: [1, 2] }), (e) => e instanceof TypeError && /entry 'w'/.test(e.message));
    assert.throws(() => io.saveSafetensors(file('x'), {}, { k: 1 }), (e) => e instanceof TypeError && /'metadata' entry 'k'/.test(e.message));
    assert.throws(() => io.saveSafetensors(file('x'), { '': rk.ones([1]) }), /must not be empty/);
    assert.throws(() => io.saveSafetensors(file('x'), { __metadata__: rk.ones([1]) }), /reserved/);
    const disposed = rk.ones([1]);
    disposed.dispose();
    assert.throws(() => io.saveSafetensors(file('x'), { d: disposed }), Error);
    assert.strictEqual(fs.existsSync(file('x')), false);
  });

  it('the native functions reject bad arguments with TypeError/RangeError, never a crash', () => {
    const { native } = require('../dist/native');
    const n = native();
    assert.throws(() => n.safetensorsRead(), TypeError);
    assert.throws(() => n.safetensorsRead('a\0b'), RangeError);
    assert.throws(() => n.safetensorsWrite(file('y'), null), TypeError);
    assert.throws(() => n.safetensorsWrite(file('y'), { w: 1 }), /entry 'w' must be a Tensor/);
    assert.throws(() => n.safetensorsWrite(file('y'), {}, 5), /'metadata' must be a plain object/);
    assert.throws(() => n.safetensorsWrite(file('y'), {}, { k: 1 }), /'metadata' entry 'k' must be a string/);
    assert.throws(() => n.safetensorsWrite(dir + '/', {}), /directory/);
    assert.strictEqual(fs.existsSync(file('y')), false);
  });

  it('writing into a missing directory throws and leaves no temp file', () => {
    const target = path.join(dir, 'missing', 'w.safetensors');
    assert.throws(() => io.saveSafetensors(target, { w: rk.ones([2]) }), /cannot create a temporary file/);
    assert.strictEqual(fs.existsSync(path.join(dir, 'missing')), false);
    assert.deepStrictEqual(tempFilesIn(dir), []);
  });

  it('leaves an existing file untouched when a write fails', () => {
    const p = file('keep.safetensors');
    io.saveSafetensors(p, { w: rk.ones([4]) });
    const before = fs.readFileSync(p);
    assert.throws(() => io.saveSafetensors(p, { w: rk.zeros([4]), bad: 'not a tensor' }), TypeError);
    assert.throws(() => io.saveSafetensors(p, { w: rk.zeros([4]) }, { k: null }), TypeError);
    assert.deepStrictEqual(fs.readFileSync(p), before);
    assert.deepStrictEqual(tempFilesIn(dir), []);
  });

  it('removes its temp file when the final rename fails', () => {
    // Renaming a file over a non-empty directory fails after all data was written.
    const target = file('a-directory');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'x');
    assert.throws(() => io.saveSafetensors(target, { w: rk.ones([2]) }), /cannot rename/);
    assert.deepStrictEqual(tempFilesIn(dir), []);
    assert.deepStrictEqual(fs.readdirSync(target), ['inside']);
  });

  it('overwrites an existing file atomically with the new contents', () => {
    const p = file('replace.safetensors');
    io.saveSafetensors(p, { w: rk.ones([3]) });
    io.saveSafetensors(p, { v: rk.zeros([2]) });
    assert.deepStrictEqual(Object.keys(io.loadSafetensors(p)), ['v']);
    assert.deepStrictEqual(tempFilesIn(dir), []);
  });
});

describe('io: safetensors mutation fuzz', () => {
  // mulberry32: a tiny seeded PRNG so every run mutates the same way.
  function prng(seed) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('every mutated file either loads or throws an Error (no crash)', function () {
    this.timeout(60000);
    const seedFile = file('fuzz-seed.safetensors');
    io.saveSafetensors(
      seedFile,
      {
        'conv.weight': rk.randn([4, 3, 2, 2]),
        'bn.num_batches_tracked': rk.tensor(new BigInt64Array([7n]), { shape: [] }),
        'fc.half': rk.randn([3], { dtype: 'float16' }),
        mask: rk.tensor([true, false, true]),
        empty: rk.zeros([0, 2]),
      },
      { model: 'fuzz', epoch: '1' },
    );
    const original = fs.readFileSync(seedFile);
    const headerEnd = 8 + Number(original.readBigUInt64LE(0));
    const rand = prng(20261127);
    const int = (n) => Math.floor(rand() * n);
    const jsonBytes = Buffer.from('{}[]":,0123456789-.eE \\u');
    const p = file('fuzz-case.safetensors');
    const deadline = Date.now() + 10_000;
    const counts = { cases: 0, loaded: 0, rejected: 0 };
    while (counts.cases < 1000 && Date.now() < deadline) {
      let b = Buffer.from(original);
      switch (int(5)) {
        case 0: // truncation
          b = b.subarray(0, int(b.length));
          break;
        case 1: // bit flips, mostly in the header where the parser works
          for (let k = 1 + int(8); k > 0; --k) {
            const at = rand() < 0.8 ? int(headerEnd) : int(b.length);
            b[at] ^= 1 << int(8);
          }
          break;
        case 2: // a random or nearly right header length
          b.writeBigUInt64LE(rand() < 0.5 ? BigInt(headerEnd - 8 + int(33) - 16) : BigInt(int(2 ** 32)) * BigInt(int(2 ** 32)), 0);
          break;
        case 3: // a JSON-significant byte in the header
          for (let k = 1 + int(3); k > 0; --k) b[8 + int(headerEnd - 8)] = jsonBytes[int(jsonBytes.length)];
          break;
        default: // bytes appended or cut in the middle
          b = rand() < 0.5 ? Buffer.concat([b, Buffer.alloc(1 + int(16), int(256))]) : Buffer.concat([b.subarray(0, int(b.length)), b.subarray(int(b.length))]);
      }
      fs.writeFileSync(p, b);
      counts.cases += 1;
      try {
        const tensors = io.loadSafetensors(p);
        for (const t of Object.values(tensors)) t.dispose();
        counts.loaded += 1;
      } catch (e) {
        assert.ok(e instanceof Error, `case ${counts.cases} threw a non-Error: ${e}`);
        assert.ok(e.message.includes(p), `case ${counts.cases}: message names the file: ${e.message}`);
        counts.rejected += 1;
      }
    }
    console.log(`      fuzz: ${counts.cases} cases, ${counts.loaded} loaded, ${counts.rejected} rejected`);
    assert.ok(counts.cases >= 200, 'enough cases ran');
    assert.ok(counts.rejected > 0 && counts.loaded > 0);
  });
});
