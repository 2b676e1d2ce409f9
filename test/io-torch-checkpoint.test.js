'use strict';
// PyTorch checkpoints (.pth/.pt): fixtures written by torch 2.13 itself (scripts/make-pth-fixtures.py)
// load to PyTorch's bytes in both layouts; containers, prefixes and options; model.load and the CLI
// (convert, eval) take .pth files; a corpus of malicious pickles is refused with the name of what it
// asks for and no side effect; bad arguments throw; a seeded mutation fuzz runs in a child process.
const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const { boundedNode } = require('./helpers');
const os = require('os');
const path = require('path');
const sharp = require('sharp');

const rk = require('..');
const { io } = rk;
const { cli } = require('./cli-helpers');
const { fixture, expected, malicious, unzipStored, withPickle, rawBytes, sha256, loadedDtype } = require('./pth-helpers');

let dir;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-pth-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const tmpFile = (name) => path.join(dir, name);
const disposeAll = (record) => Object.values(record).forEach((t) => t.dispose());

/** Every tensor of `record` has PyTorch's dtype (as reviewkd names it), shape and exact bytes. */
function assertMatches(record, want, what, { ordered = true } = {}) {
  const names = (r) => (ordered ? Object.keys(r) : Object.keys(r).sort());
  assert.deepStrictEqual(names(record), names(want), `${what}: the names${ordered ? ", in the file's order" : ''}`);
  for (const [name, w] of Object.entries(want)) {
    const t = record[name];
    assert.strictEqual(t.dtype, loadedDtype(w.dtype), `${what} ${name}: dtype`);
    assert.deepStrictEqual(t.shape, w.shape, `${what} ${name}: shape`);
    assert.strictEqual(sha256(rawBytes(t, w.dtype)), w.sha256, `${what} ${name}: the bytes PyTorch wrote`);
    if (w.values && w.dtype !== 'bool') {
      const got = Array.from(t.toArray(), Number);
      assert.deepStrictEqual(got, w.values.map(Number), `${what} ${name}: values`);
    }
  }
}

describe('io.loadTorchCheckpoint: fixtures written by PyTorch', () => {
  const files = {
    'resnet8.pth': 'resnet8',
    'resnet8-legacy.pth': 'resnet8',
    'dtypes.pth': 'dtypes',
    'dtypes-legacy.pth': 'dtypes',
    'views.pth': 'views',
    'views-legacy.pth': 'views',
    'views-p4.pth': 'views',
    'views-deflate.pth': 'views',
    'wrap-state_dict.pth': 'wrap',
    'wrap-net.pth': 'wrap',
    'wrap-student.pth': 'wrap',
    'checkpoint.pth': 'checkpoint',
    'attrs.pth': 'attrs',
  };
  for (const [file, key] of Object.entries(files)) {
    it(`${file}: every tensor has PyTorch's dtype, shape and bytes`, () => {
      const record = io.loadTorchCheckpoint(fixture(file));
      assertMatches(record, expected[key].tensors, file);
      disposeAll(record);
    });
  }

  it('loads to the same values as the safetensors files of the same weights', () => {
    for (const [pth, st, options] of [
      ['dtypes.pth', 'dtypes.safetensors'],
      ['dtypes-legacy.pth', 'dtypes.safetensors'],
      ['views.pth', 'views.safetensors'],
      ['views-legacy.pth', 'views.safetensors'],
      ['checkpoint.pth', 'checkpoint-model.safetensors', { key: 'model' }],
    ]) {
      const a = io.loadTorchCheckpoint(fixture(pth), options);
      const b = io.loadSafetensors(fixture(st));
      for (const [name, t] of Object.entries(b)) {
        assert.ok(a[name], `${pth}: has ${name}`);
        assert.strictEqual(a[name].dtype, t.dtype, `${pth} ${name}: dtype`);
        assert.deepStrictEqual(a[name].shape, t.shape, `${pth} ${name}: shape`);
        assert.deepStrictEqual(rawBytes(a[name]), rawBytes(t), `${pth} ${name}: bytes`);
      }
      disposeAll(a);
      disposeAll(b);
    }
  });

  it('reads ZIP64 central directories and end records', () => {
    const { zipStored } = require('./pth-helpers');
    const p = tmpFile('zip64.pth');
    fs.writeFileSync(p, zipStored(unzipStored(fs.readFileSync(fixture('views.pth'))), { zip64: true }));
    const record = io.loadTorchCheckpoint(p);
    assertMatches(record, expected.views.tensors, 'zip64');
    disposeAll(record);
  });

  it("reads big-endian storages when the archive's byteorder record says 'big'", () => {
    // views.pth has two storages: data/0 (float32 grid) and data/1 (bfloat16 grid).
    const widths = { 'views/data/0': 4, 'views/data/1': 2 };
    const entries = unzipStored(fs.readFileSync(fixture('views.pth'))).map((e) => {
      if (e.name === 'views/byteorder') return { name: e.name, data: Buffer.from('big') };
      const w = widths[e.name];
      if (!w) return e;
      const data = Buffer.from(e.data);
      for (let i = 0; i < data.length; i += w) data.subarray(i, i + w).reverse();
      return { name: e.name, data };
    });
    const p = tmpFile('big-endian.pth');
    fs.writeFileSync(p, require('./pth-helpers').zipStored(entries));
    const record = io.loadTorchCheckpoint(p);
    assertMatches(record, expected.views.tensors, 'big-endian');
    disposeAll(record);
  });

  it('copies views out of shared storages: no result aliases another', () => {
    const v = io.loadTorchCheckpoint(fixture('views.pth'));
    assert.deepStrictEqual(Array.from(v.transpose.toArray()).slice(0, 4), [0, 6, 12, 18]);
    assert.deepStrictEqual(Array.from(v.expand.toArray()), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    assert.ok(v.transpose.isContiguous && v.expand.isContiguous);
    const before = Array.from(v.grid.toArray());
    v.row.mul(0).dispose();
    assert.deepStrictEqual(Array.from(v.grid.toArray()), before);
    disposeAll(v);
  });

  it('finds the state dict in containers, strips a prefix on request, and describes files without reading tensors', () => {
    const info = io.inspectTorchCheckpoint(fixture('checkpoint.pth'));
    assert.strictEqual(info.format, 'zip');
    assert.deepStrictEqual(info.container, ['model']);
    assert.deepStrictEqual(info.topLevelKeys, ['model', 'optimizer', 'epoch', 'best_acc']);
    assert.ok(info.tensors.every((t) => t.name.startsWith('module.')));
    const stripped = io.loadTorchCheckpoint(fixture('checkpoint.pth'), { prefix: 'module.' });
    assert.deepStrictEqual(Object.keys(stripped), Object.keys(expected.checkpoint.tensors).map((k) => k.slice('module.'.length)));
    disposeAll(stripped);
    assert.deepStrictEqual(io.inspectTorchCheckpoint(fixture('wrap-student.pth')).container, ['student']);
    assert.deepStrictEqual(io.inspectTorchCheckpoint(fixture('resnet8-legacy.pth')).format, 'legacy');
    assert.deepStrictEqual(io.inspectTorchCheckpoint(fixture('dtypes.pth')).tensors.find((t) => t.name === 'i8'), { name: 'i8', dtype: 'int8', shape: [5] });
    // An explicit key, a missing key, an entry that is not a state dict, a prefix that matches nothing.
    assert.strictEqual(Object.keys(io.inspectTorchCheckpoint(fixture('wrap-net.pth'), { key: 'net' }).tensors).length, 2);
    assert.throws(() => io.loadTorchCheckpoint(fixture('checkpoint.pth'), { key: 'ema' }), (e) => e instanceof io.TorchCheckpointError && /no key 'ema'.*'model', 'optimizer', 'epoch', 'best_acc'/.test(e.message));
    assert.throws(() => io.loadTorchCheckpoint(fixture('checkpoint.pth'), { key: 'optimizer' }), /no state dict .* under 'optimizer'.*'state', 'param_groups'.*pass \{key\}/);
    assert.throws(() => io.loadTorchCheckpoint(fixture('checkpoint.pth'), { key: 'epoch' }), /holds a int\/float 7 under 'epoch', not a dict of tensors/);
    assert.throws(() => io.loadTorchCheckpoint(fixture('resnet8.pth'), { prefix: 'module.' }), /no tensor name starts with prefix 'module.' \(names: 'conv1.weight'/);
  });

  it('tells other files apart: safetensors, TorchScript, text, a missing file', () => {
    const st = fixture('dtypes.safetensors');
    assert.strictEqual(io.isTorchCheckpoint(st), false);
    assert.strictEqual(io.isTorchCheckpoint(fixture('resnet8.pth')), true);
    assert.strictEqual(io.isTorchCheckpoint(fixture('resnet8-legacy.pth')), true);
    assert.strictEqual(io.isTorchCheckpoint(tmpFile('missing.pth')), false);
    assert.throws(() => io.loadTorchCheckpoint(st), (e) => e instanceof io.TorchCheckpointError && /not a PyTorch checkpoint: neither a zip archive nor a legacy-format pickle/.test(e.message));
    assert.throws(() => io.loadTorchCheckpoint(tmpFile('missing.pth')), /cannot open '.*missing.pth'/);
    // A safetensors header of 640 (0x280) bytes starts the file with 80 02, like a pickle: still safetensors.
    const header = Buffer.from(JSON.stringify({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }).padEnd(640, ' '));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(640n);
    const tricky = tmpFile('tricky.safetensors');
    fs.writeFileSync(tricky, Buffer.concat([len, header, Buffer.from(new Float32Array([2.5]).buffer)]));
    assert.deepStrictEqual([...fs.readFileSync(tricky).subarray(0, 2)], [0x80, 0x02]);
    assert.strictEqual(io.isTorchCheckpoint(tricky), false);
    assert.deepStrictEqual(Array.from(io.loadWeightsFile(tricky).t.toArray()), [2.5]);
    // loadWeightsFile picks the reader from the first bytes, not the name.
    const renamed = tmpFile('weights.bin');
    fs.copyFileSync(fixture('views.pth'), renamed);
    const w = io.loadWeightsFile(renamed);
    assert.deepStrictEqual(Object.keys(w), Object.keys(expected.views.tensors));
    disposeAll(w);
    const s = io.loadWeightsFile(st, { prefix: 'f' });
    assert.deepStrictEqual(Object.keys(s).sort(), ['16', '32', '64']);
    disposeAll(s);
    // A TorchScript-like archive (code/ and constants.pkl) is pointed at loadTorchScript.
    const ts = tmpFile('script.pt');
    fs.writeFileSync(ts, require('./pth-helpers').zipStored([{ name: 'm/code/m.py', data: Buffer.from('x') }, { name: 'm/constants.pkl', data: Buffer.from('\x80\x02).') }]));
    assert.throws(() => io.loadTorchCheckpoint(ts), /TorchScript archive .* rk\.models\.loadTorchScript/);
  });

  it('throws a clear TypeError for bad arguments', () => {
    for (const [args, pattern] of [
      [[], /argument 'path' must be a non-empty string; got undefined/],
      [[42], /argument 'path' must be a non-empty string; got a number \(42\)/],
      [[''], /argument 'path' must be a non-empty string/],
      [[fixture('views.pth'), 'model'], /argument 'options' must be an object like \{key, prefix\}; got a string/],
      [[fixture('views.pth'), { key: 3 }], /option 'key' must be a non-empty string; got a number/],
      [[fixture('views.pth'), { key: '' }], /option 'key' must be a non-empty string/],
      [[fixture('views.pth'), { prefix: null }], /option 'prefix' must be a string; got null/],
    ]) {
      assert.throws(() => io.loadTorchCheckpoint(...args), (e) => e instanceof TypeError && pattern.test(e.message), String(pattern));
    }
    assert.throws(() => io.inspectTorchCheckpoint(null), TypeError);
    assert.throws(() => io.loadWeightsFile({}), TypeError);
    assert.throws(() => io.isTorchCheckpoint(7), TypeError);
  });

  it('lists the allowed callables and the container keys', () => {
    assert.deepStrictEqual(io.ALLOWED_GLOBALS.filter((n) => !/Storage$/.test(n)), [
      'collections.OrderedDict',
      'torch.Tensor',
      'torch._tensor._rebuild_from_type_v2',
      'torch._utils._rebuild_parameter',
      'torch._utils._rebuild_parameter_with_state',
      'torch._utils._rebuild_tensor',
      'torch._utils._rebuild_tensor_v2',
      'torch.nn.parameter.Parameter',
    ]);
    assert.strictEqual(io.ALLOWED_GLOBALS.filter((n) => /^torch\.\w+Storage$/.test(n)).length, 10);
    assert.deepStrictEqual(io.STATE_DICT_KEYS, ['state_dict', 'model', 'net', 'student', 'model_state_dict']);
  });
});

describe('io.loadTorchCheckpoint: limits, checked before allocating', () => {
  const zipSeed = () => fs.readFileSync(fixture('views.pth'));
  const pklOf = (buf) => unzipStored(buf).find((e) => e.name.endsWith('/data.pkl')).data;

  function refusedFast(bytes, pattern, name) {
    const p = tmpFile(name);
    fs.writeFileSync(p, bytes);
    const t0 = Date.now();
    assert.throws(() => io.loadTorchCheckpoint(p), (e) => e instanceof io.TorchCheckpointError && pattern.test(e.message), String(pattern));
    assert.ok(Date.now() - t0 < 1000, `${name}: refused in under a second`);
  }

  it('a storage claiming ~1 TB, a tensor larger than its storage, a string of 2^60 bytes', () => {
    const seed = zipSeed();
    const pkl = Buffer.from(pklOf(seed));
    // In dtypes.pth the first storage (15 float32 elements) belongs to one tensor: 'cpu', BINPUT n,
    // BININT1 15, TUPLE end its storage id. Its numel becomes 2^31-1 (a BININT); the record has 60 bytes.
    const dtypes = fs.readFileSync(fixture('dtypes.pth'));
    const dpkl = Buffer.from(pklOf(dtypes));
    const at = dpkl.indexOf(Buffer.from('X\x03\x00\x00\x00cpuq', 'latin1')) + 10;
    assert.deepStrictEqual([...dpkl.subarray(at, at + 3)], [0x4b, 15, 0x74], 'the fixture pickle has the storage id of the 15-element tensor');
    const huge = Buffer.concat([dpkl.subarray(0, at), Buffer.from('J\xff\xff\xff\x7f', 'latin1'), dpkl.subarray(at + 2)]);
    refusedFast(withPickle(dtypes, huge), /storage record '.*\/data\/0' has 60 bytes; 2147483647 float32 elements need 8589934588/, 'huge-storage.pth');
    // The grid's size (4, 6) becomes (4, 600): the view runs past its 24-element storage.
    const size = Buffer.from('K\x04K\x06\x86', 'latin1');
    const s = pkl.indexOf(size);
    assert.ok(s > 0);
    const big = Buffer.concat([pkl.subarray(0, s), Buffer.from('K\x04MX\x02\x86', 'latin1'), pkl.subarray(s + size.length)]);
    refusedFast(withPickle(seed, big), /reaches element \d+ of a 24-element storage/, 'big-view.pth');
    // A BINUNICODE8 length of 2^60.
    const long = Buffer.concat([Buffer.from('\x80\x04\x8d', 'latin1'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x10]), Buffer.from('.')]);
    refusedFast(withPickle(seed, long), /a length of 1152921504606846976 bytes exceeds the 1 bytes left/, 'long-string.pth');
  });

  it('deep nesting, a runaway stack, a huge integer and a stride-0 blow-up', () => {
    const seed = zipSeed();
    refusedFast(withPickle(seed, Buffer.concat([Buffer.from('\x80\x02', 'latin1'), Buffer.alloc(5000, 0x28), Buffer.from('.')])), /more than 4096 nested MARKs/, 'marks.pth');
    refusedFast(withPickle(seed, Buffer.concat([Buffer.from('\x80\x02N', 'latin1'), Buffer.alloc(1 << 21, 0x32), Buffer.from('.')])), /more than 1048576 values on the stack/, 'stack.pth');
    refusedFast(withPickle(seed, Buffer.concat([Buffer.from('\x80\x02\x8b\x00\x00\x01\x00', 'latin1'), Buffer.alloc(65536, 1), Buffer.from('.')])), /an integer of 65536 bytes exceeds the limit of 64/, 'long.pth');
    // A frozenset of 500,000 items is data, not an attack: read without overflowing the call stack, then not a state dict.
    refusedFast(withPickle(seed, Buffer.concat([Buffer.from('\x80\x04(', 'latin1'), Buffer.alloc(500000, 0x4e), Buffer.from('\x91.', 'latin1')])), /holds a frozenset, not a dict of tensors/, 'frozenset.pth');
    // A 1-element storage viewed with stride 0 as 2^40 elements: in bounds, but far beyond the file.
    const pkl = Buffer.from(
      "\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQK\x00\x8a\x06\x00\x00\x00\x00\x00\x01\x85K\x00\x85\x89ccollections\nOrderedDict\n)RtRs.",
      'latin1',
    );
    refusedFast(withPickle(seed, pkl), /would need 4398046511104 bytes, more than 4x the file size/, 'broadcast.pth');
    // A deflate bomb: an 80 MB storage record of zeros compressed to ~80 kB, claimed by a 1-element tensor.
    const bomb = Buffer.from(pkl.toString('latin1').replace('cpuK\x01t', 'cpuJ\x00\x00\x40\x01t').replace('\x8a\x06\x00\x00\x00\x00\x00\x01\x85K\x00\x85', 'K\x01\x85K\x01\x85'), 'latin1');
    const { zipStored } = require('./pth-helpers');
    const bombZip = zipStored([{ name: 'b/data.pkl', data: bomb }, { name: 'b/data/0', data: Buffer.alloc(80 << 20), deflate: true }]);
    assert.ok(bombZip.length < 200000, `the bomb is small (${bombZip.length} bytes)`);
    refusedFast(bombZip, /entry 'b\/data\/0' is 83886080 bytes, over the limit of \d+/, 'bomb.pth');
  });
});

describe('io.loadTorchCheckpoint: malicious pickles are refused, nothing runs', () => {
  before(() => fs.rmSync(malicious.canary, { force: true }));

  for (const c of malicious.cases) {
    it(`${c.file}: ${c.what}`, () => {
      const pattern = new RegExp(c.expect.split('|').map((s) => s.replace(/\./g, '\\.')).join('|'));
      for (const load of [() => io.loadTorchCheckpoint(fixture(c.file)), () => io.inspectTorchCheckpoint(fixture(c.file)), () => rk.models.create('resnet8').load(fixture(c.file))]) {
        assert.throws(load, (e) => e instanceof io.UnsafePickleError && e.name === 'UnsafePickleError' && pattern.test(e.message), `refused naming ${c.expect}`);
      }
      assert.strictEqual(fs.existsSync(malicious.canary), false, 'the canary file was never created');
    });
  }

  it('the corpus covers code execution, nested objects, opcodes and the legacy path', () => {
    assert.ok(malicious.cases.length >= 20);
    assert.ok(malicious.cases.some((c) => /legacy/.test(c.file)));
    for (const op of ['INST', 'OBJ', 'NEWOBJ', 'NEWOBJ_EX', 'EXT1', 'BUILD', 'REDUCE', 'BINPERSID']) {
      assert.ok(malicious.cases.some((c) => c.expect.split('|').includes(op)), `an ${op} case`);
    }
  });
});

describe('PyTorch checkpoints where weights are accepted', function () {
  this.timeout(120000);
  const input = () => {
    const n = 2 * 3 * 32 * 32;
    const d = new Float64Array(n);
    for (let k = 0; k < n; k++) d[k] = Math.sin(0.01 * k + 0.3);
    return rk.tensor(d, { shape: [2, 3, 32, 32], dtype: 'float32' });
  };
  async function logits(file, options) {
    const net = rk.models.create('resnet8', { numClasses: 10 });
    const report = net.load(file, options);
    assert.deepStrictEqual(report, { missing: [], unexpected: [], mismatched: [] });
    net.eval();
    const out = await net.forward(input());
    const values = Array.from(out.toArray());
    net.dispose();
    return values;
  }

  it("model.load: the zoo's resnet8 gives PyTorch's logits from both layouts", async () => {
    const zip = await logits(fixture('resnet8.pth'));
    const legacy = await logits(fixture('resnet8-legacy.pth'));
    assert.deepStrictEqual(legacy, zip, 'both layouts load the same weights');
    const want = expected.resnet8.logits;
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(zip[i] - want[i]) < 1e-4 * Math.max(1, Math.abs(want[i])), `logit ${i}: ${zip[i]} vs PyTorch ${want[i]}`);
  });

  it('model.load: key and prefix options, and a refused file names the model', () => {
    const dp = tmpFile('dp.safetensors');
    const sd = io.loadTorchCheckpoint(fixture('resnet8.pth'));
    const prefixed = {};
    for (const [k, t] of Object.entries(sd)) prefixed[`module.${k}`] = t;
    io.saveSafetensors(dp, prefixed);
    disposeAll(sd);
    const net = rk.models.create('resnet8', { numClasses: 10 });
    assert.deepStrictEqual(net.load(dp, { prefix: 'module.' }).missing, []);
    assert.throws(() => net.load(fixture('checkpoint.pth'), { key: 'epoch' }), /not a dict of tensors/);
    assert.throws(() => net.load(fixture('malicious/os-system.pth')), /posix\.system/);
    net.dispose();
  });

  // train/ and val/ folders of 10 classes, 2 synthetic 32x32 images each (eval reads val/).
  async function tenClassFolder(root) {
    for (const split of ['train', 'val']) {
      for (let c = 0; c < 10; c++) {
        fs.mkdirSync(path.join(root, split, `c${c}`), { recursive: true });
        for (let i = 0; i < 2; i++) {
          const px = Buffer.alloc(32 * 32 * 3);
          for (let k = 0; k < px.length; k++) px[k] = (k * (c + 3) + i * 17 + (split === 'val' ? 5 : 0)) & 0xff;
          await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(path.join(root, split, `c${c}`, `${i}.png`));
        }
      }
    }
    return root;
  }

  it('reviewkd convert and reviewkd eval: the .pth and its safetensors copy evaluate the same', async () => {
    const data = await tenClassFolder(tmpFile('ten'));
    const out = tmpFile('resnet8.safetensors');
    const conv = cli(['convert', fixture('resnet8.pth'), '--out', out, '--model', 'resnet8', '--json']);
    assert.strictEqual(conv.code, 0, conv.stderr);
    const result = JSON.parse(conv.stdout);
    assert.strictEqual(result.tensors, 56);
    assert.strictEqual(result.model, 'resnet8');
    // The converted file holds PyTorch's exact bytes and records the model name.
    const back = io.loadSafetensorsWithMetadata(out);
    assertMatches(back.tensors, expected.resnet8.tensors, 'converted', { ordered: false });
    assert.strictEqual(back.metadata.model, 'resnet8');
    assert.strictEqual(back.metadata.source, 'resnet8.pth');
    disposeAll(back.tensors);
    const evalOf = (weights) => {
      const r = cli(['eval', weights, '--model', 'resnet8', '--data', data, '--image-size', '32', '--json', '--threads', '1']);
      assert.strictEqual(r.code, 0, r.stderr);
      const { top1, top5, loss, count } = JSON.parse(r.stdout);
      return { top1, top5, loss, count };
    };
    const fromPth = evalOf(fixture('resnet8.pth'));
    assert.strictEqual(fromPth.count, 20);
    assert.ok(Number.isFinite(fromPth.loss));
    assert.deepStrictEqual(evalOf(fixture('resnet8-legacy.pth')), fromPth);
    assert.deepStrictEqual(evalOf(out), fromPth);
    // distill --teacher x.pth --teacher-model: the teacher loads (strict) and the run completes.
    const run = tmpFile('run');
    const d = cli(['distill', '--student', 'resnet8', '--teacher', fixture('resnet8.pth'), '--teacher-model', 'resnet8', '--data', data, '--image-size', '32', '--epochs', '1', '--batch', '8', '--threads', '1', '--out', run]);
    assert.strictEqual(d.code, 0, d.stderr);
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')).options.teacherModel, 'resnet8');
  });

  it("the CLI's weight resolution: a DataParallel checkpoint gets prefix 'module.', other names are refused", () => {
    const { resolveWeights } = require('../dist/cli/weights');
    assert.deepStrictEqual(resolveWeights(fixture('checkpoint.pth'), '--teacher'), { file: fixture('checkpoint.pth'), prefix: 'module.', kind: 'file' });
    assert.deepStrictEqual(resolveWeights(fixture('resnet8-legacy.pth'), '--teacher'), { file: fixture('resnet8-legacy.pth'), kind: 'file' });
    const odd = tmpFile('weights.npz');
    fs.copyFileSync(fixture('views.pth'), odd);
    assert.throws(() => resolveWeights(odd, '--teacher'), /--teacher: '.*weights.npz' is not a .safetensors file, a PyTorch checkpoint \(.pth, .pt, .pth.tar, .ckpt\) or a run folder/);
    assert.throws(() => resolveWeights(fixture('malicious/legacy-eval.pth'), '--teacher'), (e) => e instanceof io.UnsafePickleError);
  });

  it('reviewkd convert: usage errors exit 2, refused files exit 1 and write nothing', () => {
    const cases = [
      [['convert'], 2, /expects 1 positional|missing|argument/i],
      [['convert', tmpFile('nope.pth')], 2, /argument <checkpoint>: file '.*nope.pth' does not exist/],
      [['convert', fixture('dtypes.safetensors')], 2, /is not a PyTorch checkpoint/],
      [['convert', fixture('views.pth'), '--out', tmpFile('x.bin')], 2, /option --out: '.*x.bin' must end with .safetensors/],
      [['convert', fixture('resnet8.pth'), '--out', tmpFile('r.safetensors'), '--model', 'resnet20'], 2, /the weights do not fit model 'resnet20'/],
      [['convert', fixture('resnet8.pth'), '--model', 'resnt8', '--out', tmpFile('r.safetensors')], 2, /unknown model 'resnt8' \(did you mean 'resnet8'\?\)/],
      [['convert', fixture('checkpoint.pth'), '--key', 'optimizer', '--out', tmpFile('o.safetensors')], 1, /no state dict/],
      [['convert', fixture('malicious/os-system.pth'), '--out', tmpFile('evil.safetensors')], 1, /GLOBAL 'posix\.system' is not on the allow-list/],
      [['eval', fixture('malicious/legacy-os-system.pth'), '--model', 'resnet8'], 1, /posix\.system/],
      [['eval', tmpFile('w.txt'), '--model', 'resnet8'], 2, /does not exist/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = cli(args);
      assert.strictEqual(r.code, code, `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, pattern, args.join(' '));
    }
    assert.ok(!fs.existsSync(tmpFile('evil.safetensors')) && !fs.existsSync(tmpFile('r.safetensors')), 'nothing written');
    assert.strictEqual(fs.existsSync(malicious.canary), false);
    const help = cli(['convert', '--help']);
    assert.strictEqual(help.code, 0);
    assert.match(help.stdout, /reviewkd convert <checkpoint.pth>/);
    assert.match(cli(['--help']).stdout, /convert +convert a PyTorch/);
  });
});

describe('io.loadTorchCheckpoint: mutation fuzz (child process)', function () {
  this.timeout(60000);
  it('every mutated checkpoint gives tensors or a TorchCheckpointError: no crash, no hang, bounded memory', async () => {
    const child = spawn(...boundedNode(path.join(__dirname, 'fuzz', 'pth-child.js')), {
      env: { ...process.env, RK_PTH_FUZZ_MS: '5000', RK_PTH_FUZZ_MIN: '500' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout = (stdout + d).slice(-100000);
    });
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 45000);
    const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    const lines = stdout.trim().split('\n');
    const summary = lines.find((l) => l.startsWith('SUMMARY '));
    const last = [...lines].reverse().find((l) => l.startsWith('S '));
    assert.ok(summary && code === 0, `the fuzz child ended with exit ${code}, signal ${signal} during '${last}': ${stderr.slice(-1500)}`);
    const { counts, rejectedBy, seconds, maxRssMb } = JSON.parse(summary.slice(8));
    const total = Object.values(counts).reduce((a, c) => a + c.cases, 0);
    console.log(`      pth fuzz: ${total} mutations in ${seconds.toFixed(1)} s: ${Object.entries(counts).map(([k, c]) => `${k} ${c.cases} (${c.rejected} rejected)`).join(', ')}; max RSS ${maxRssMb} MB`);
    console.log(`      rejections: ${JSON.stringify(rejectedBy)}`);
    assert.ok(total >= 2500, `enough mutations ran (${total})`);
    for (const family of ['zip', 'pickle', 'records', 'legacy', 'random']) assert.ok(counts[family] && counts[family].cases >= 500, `${family}: enough cases`);
    for (const family of ['zip', 'pickle', 'legacy']) {
      assert.ok(counts[family].rejected > 0 && counts[family].ok > 0, `${family}: some mutations load, some are refused`);
    }
    const others = Object.keys(rejectedBy).filter((k) => !/: (TorchCheckpointError|UnsafePickleError)$/.test(k));
    assert.deepStrictEqual(others, [], 'every rejection is a TorchCheckpointError or an UnsafePickleError');
    assert.ok(maxRssMb < 1500, `memory stayed bounded (${maxRssMb} MB)`);
  });
});
