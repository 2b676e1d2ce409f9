'use strict';
// The Tensor binding: creation and readback for every dtype, arithmetic against hand-computed values,
// views, autograd, and the promised errors.
const assert = require('assert');
const rk = require('..');

const arr = (t) => Array.from(t.toArray(), Number);

describe('tensor: creation and readback', () => {
  const cases = [
    ['float32', new Float32Array([1.5, -2, 3.25, 0]), Float32Array],
    ['float64', new Float64Array([1e-300, -2.5, Math.PI, 0]), Float64Array],
    ['int32', new Int32Array([-2147483648, 7, 0, 2147483647]), Int32Array],
    ['int64', new BigInt64Array([-(2n ** 62n), 5n, 0n, 2n ** 62n + 3n]), BigInt64Array],
    ['uint8', new Uint8Array([0, 1, 128, 255]), Uint8Array],
  ];
  for (const [dtype, data, Type] of cases) {
    it(`round-trips ${dtype} exactly through ${Type.name}`, () => {
      const t = rk.tensor(data, { shape: [2, 2] });
      assert.strictEqual(t.dtype, dtype);
      assert.deepStrictEqual(t.shape, [2, 2]);
      assert.strictEqual(t.device, 'cpu');
      const back = t.toArray();
      assert.ok(back instanceof Type);
      assert.deepStrictEqual(Array.from(back), Array.from(data));
      assert.notStrictEqual(back.buffer, data.buffer, 'readback is a copy');
    });
  }

  it('round-trips float16 and bfloat16 (raw bits exact, values widened to float32)', () => {
    const values = [1, -2, 0.5, 65504];
    const h = rk.tensor(values, { dtype: 'float16' });
    assert.strictEqual(h.dtype, 'float16');
    assert.deepStrictEqual(arr(h), values);
    assert.deepStrictEqual(Array.from(h.rawBits16()), [0x3c00, 0xc000, 0x3800, 0x7bff]);
    const bits = new Uint16Array([0x3f80, 0xc000, 0x3f00, 0x4049]); // 1, -2, 0.5, 3.140625
    const b = rk.tensor(bits, { dtype: 'bfloat16' });
    assert.strictEqual(b.dtype, 'bfloat16');
    assert.deepStrictEqual(Array.from(b.rawBits16()), Array.from(bits));
    assert.deepStrictEqual(arr(b), [1, -2, 0.5, 3.140625]);
  });

  it('round-trips bool from nested booleans', () => {
    const t = rk.tensor([[true, false], [false, true]]);
    assert.strictEqual(t.dtype, 'bool');
    assert.deepStrictEqual(t.toNested(), [[true, false], [false, true]]);
    assert.strictEqual(rk.tensor([true]).item(), true);
  });

  it('infers shapes from nested arrays and converts to a requested dtype', () => {
    const t = rk.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    assert.deepStrictEqual(t.shape, [2, 3]);
    assert.strictEqual(t.dtype, 'float64');
    assert.deepStrictEqual(t.toNested(), [[1, 2, 3], [4, 5, 6]]);
    assert.strictEqual(rk.tensor([[7]], { dtype: 'int64' }).item(), 7);
    assert.deepStrictEqual(rk.tensor(3.5).shape, []);
    assert.strictEqual(rk.tensor(3.5).item(), 3.5);
    assert.deepStrictEqual(rk.tensor([]).shape, [0]);
  });

  it('returns a bigint from item() for int64 beyond 2^53', () => {
    const t = rk.tensor(new BigInt64Array([2n ** 60n]));
    assert.strictEqual(t.item(), 2n ** 60n);
  });

  it('zeros/ones/full/arange and seeded rand/randn/randint', () => {
    assert.deepStrictEqual(arr(rk.zeros([2])), [0, 0]);
    assert.deepStrictEqual(arr(rk.ones([2], { dtype: 'int32' })), [1, 1]);
    assert.deepStrictEqual(arr(rk.full([3], 2.5)), [2.5, 2.5, 2.5]);
    assert.deepStrictEqual(arr(rk.arange(5)), [0, 1, 2, 3, 4]);
    assert.deepStrictEqual(arr(rk.arange(1, 2, 0.25, { dtype: 'float64' })), [1, 1.25, 1.5, 1.75]);
    rk.manualSeed(42);
    const a = arr(rk.randn([5]));
    rk.manualSeed(42);
    assert.deepStrictEqual(arr(rk.randn([5])), a);
    const u = arr(rk.rand([1000]));
    assert.ok(u.every((v) => v >= 0 && v < 1));
    const mean = u.reduce((s, v) => s + v, 0) / u.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `uniform mean ${mean}`);
    const ints = rk.randint(3, 7, [200]);
    assert.strictEqual(ints.dtype, 'int64');
    assert.ok(arr(ints).every((v) => v >= 3 && v < 7));
  });
});

describe('tensor: arithmetic, matmul, reductions (hand-computed)', () => {
  const a = () => rk.tensor([[1, 2, 3], [4, 5, 6]]);

  it('broadcasts arithmetic with tensors and scalars', () => {
    const row = rk.tensor([10, 20, 30]);
    const col = rk.tensor([[1], [2]]);
    assert.deepStrictEqual(a().add(row).toNested(), [[11, 22, 33], [14, 25, 36]]);
    assert.deepStrictEqual(a().mul(col).toNested(), [[1, 2, 3], [8, 10, 12]]);
    assert.deepStrictEqual(a().sub(1).div(2).toNested(), [[0, 0.5, 1], [1.5, 2, 2.5]]);
    assert.deepStrictEqual(a().pow(2).toNested(), [[1, 4, 9], [16, 25, 36]]);
    assert.deepStrictEqual(rk.tensor([1, 2], { dtype: 'int64' }).div(2).toNested(), [0.5, 1]);
    assert.deepStrictEqual(a().neg().abs().toNested(), [[1, 2, 3], [4, 5, 6]]);
    assert.deepStrictEqual(rk.tensor([-1, 0, 2]).relu().toNested(), [0, 0, 2]);
    assert.deepStrictEqual(a().clamp(2, 5).toNested(), [[2, 2, 3], [4, 5, 5]]);
    assert.deepStrictEqual(a().maximum(3.5).toNested(), [[3.5, 3.5, 3.5], [4, 5, 6]]);
  });

  it('compares element-wise into bool tensors', () => {
    const t = a();
    assert.deepStrictEqual(t.gt(3).toNested(), [[false, false, false], [true, true, true]]);
    assert.deepStrictEqual(t.eq(rk.tensor([1, 0, 3])).toNested(), [[true, false, true], [false, false, false]]);
    assert.strictEqual(t.le(6).dtype, 'bool');
  });

  it('matmul of matrices, a matrix and a vector, and batches', () => {
    const b = rk.tensor([[1, 0], [0, 1], [1, 1]]);
    assert.deepStrictEqual(a().matmul(b).toNested(), [[4, 5], [10, 11]]);
    assert.deepStrictEqual(a().matmul(rk.tensor([1, 1, 1])).toNested(), [6, 15]);
    const batch = rk.stack([a(), a().mul(2)]);
    assert.deepStrictEqual(batch.matmul(b).shape, [2, 2, 2]);
    assert.deepStrictEqual(batch.matmul(b).toNested()[1], [[8, 10], [20, 22]]);
  });

  it('reduces along dims and over everything', () => {
    assert.strictEqual(a().sum().item(), 21);
    assert.deepStrictEqual(a().sum(0).toNested(), [5, 7, 9]);
    assert.deepStrictEqual(a().sum(1, true).toNested(), [[6], [15]]);
    assert.deepStrictEqual(a().mean([0, 1]).item(), 3.5);
    assert.deepStrictEqual(a().mean(-1).toNested(), [2, 5]);
    assert.deepStrictEqual(a().max(1).toNested(), [3, 6]);
    assert.strictEqual(a().min().item(), 1);
    assert.deepStrictEqual(rk.tensor([[1, 9, 3], [7, 2, 8]]).argmax(1).toNested(), [1, 2]);
    assert.strictEqual(rk.tensor([[1, 9, 3], [7, 2, 8]]).argmin().item(), 0);
  });

  it('softmax and logSoftmax', () => {
    const s = rk.tensor([[0, Math.log(3)]], { dtype: 'float64' }).softmax(1);
    assert.deepStrictEqual(s.toNested().map((r) => r.map((v) => +v.toFixed(12))), [[0.25, 0.75]]);
    const l = rk.tensor([[0, Math.log(3)]], { dtype: 'float64' }).logSoftmax(-1);
    assert.ok(Math.abs(l.toNested()[0][1] - Math.log(0.75)) < 1e-12);
  });
});

describe('tensor: shapes and views', () => {
  it('reshape, view, permute, transpose, squeeze, unsqueeze, flatten', () => {
    const t = rk.arange(24).reshape([2, 3, 4]);
    assert.deepStrictEqual(t.view([6, -1]).shape, [6, 4]);
    assert.deepStrictEqual(t.permute([2, 0, 1]).shape, [4, 2, 3]);
    assert.deepStrictEqual(t.transpose(0, 2).shape, [4, 3, 2]);
    assert.deepStrictEqual(t.unsqueeze(1).shape, [2, 1, 3, 4]);
    assert.deepStrictEqual(t.unsqueeze(1).squeeze(1).shape, [2, 3, 4]);
    assert.deepStrictEqual(t.flatten(1).shape, [2, 12]);
  });

  it('reads back non-contiguous views in logical order', () => {
    const t = rk.arange(6).reshape([2, 3]);
    const tt = t.transpose(0, 1);
    assert.strictEqual(tt.isContiguous, false);
    assert.deepStrictEqual(arr(tt), [0, 3, 1, 4, 2, 5]);
    const strided = rk.arange(10).slice(0, 1, 9, 3);
    assert.deepStrictEqual(arr(strided), [1, 4, 7]);
    assert.deepStrictEqual(arr(rk.arange(10).slice(0, -3)), [7, 8, 9]);
    assert.throws(() => tt.view([6]), (e) => e instanceof RangeError && /not contiguous/.test(e.message));
    assert.deepStrictEqual(arr(tt.contiguous().view([6])), [0, 3, 1, 4, 2, 5]);
  });

  it('indexSelect, cat and stack', () => {
    const t = rk.tensor([[1, 2], [3, 4], [5, 6]]);
    assert.deepStrictEqual(t.indexSelect(0, rk.tensor(new BigInt64Array([2n, 0n]))).toNested(), [[5, 6], [1, 2]]);
    assert.deepStrictEqual(rk.cat([t, t], 1).shape, [3, 4]);
    assert.deepStrictEqual(rk.stack([t, t], 0).shape, [2, 3, 2]);
    assert.throws(() => t.indexSelect(0, rk.tensor(new BigInt64Array([3n]))), (e) => e instanceof RangeError && /outside \[0, 3\)/.test(e.message));
    assert.throws(() => rk.cat([t, rk.zeros([3, 3, 1])]), (e) => e instanceof RangeError && /tensors'\[1\]/.test(e.message));
    assert.throws(() => rk.stack([t, rk.zeros([3, 3])]), (e) => e instanceof RangeError && /stack needs equal shapes/.test(e.message));
  });

  it('to() converts dtypes and lays out channels-last', () => {
    const t = rk.tensor([1.7, -2.2]);
    assert.deepStrictEqual(arr(t.to('int32')), [1, -2]);
    assert.strictEqual(t.to({ dtype: 'float64' }).dtype, 'float64');
    const cl = rk.randn([2, 3, 4, 4]).to({ channelsLast: true });
    assert.strictEqual(cl.isContiguous, false);
    assert.deepStrictEqual(cl.shape, [2, 3, 4, 4]);
  });
});

describe('tensor: autograd', () => {
  it('matches a hand-derived gradient: d/dx sum(x^2 * w + 3x) = 2xw + 3', () => {
    const x = rk.tensor([1, -2, 0.5], { dtype: 'float64', requiresGrad: true });
    const w = rk.tensor([2, 3, 4], { dtype: 'float64' });
    const y = x.pow(2).mul(w).add(x.mul(3)).sum();
    assert.ok(y.requiresGrad);
    y.backward();
    assert.deepStrictEqual(arr(x.grad), [2 * 1 * 2 + 3, 2 * -2 * 3 + 3, 2 * 0.5 * 4 + 3]);
    assert.strictEqual(w.grad, null);
    x.zeroGrad();
    assert.strictEqual(x.grad, null);
  });

  it('backward with an explicit gradient for non-scalars, and noGrad', () => {
    const x = rk.tensor([1, 2], { requiresGrad: true });
    x.mul(3).backward(rk.tensor([1, 10]));
    assert.deepStrictEqual(arr(x.grad), [3, 30]);
    const z = rk.noGrad(() => x.mul(2));
    assert.strictEqual(z.requiresGrad, false);
    assert.strictEqual(rk.isGradEnabled(), true);
    assert.throws(() => z.backward(), (e) => e instanceof RangeError && /does not require grad/.test(e.message));
    assert.throws(() => x.mul(2).backward(), (e) => e instanceof RangeError && /single-element/.test(e.message));
    assert.throws(() => { rk.tensor([1], { dtype: 'int32' }).requiresGrad = true; }, (e) => e instanceof RangeError && /only floating/.test(e.message));
  });
});

describe('tensor: errors name the argument, the expectation and the value', () => {
  const t = () => rk.zeros([2, 3]);
  const cases = [
    ['wrong operand type', () => t().add('x'), TypeError, /add: argument 'other' must be a Tensor or a number; got a string \('x'\)/],
    ['shapes that do not broadcast', () => t().add(rk.zeros([4])), RangeError, /\[4\], which does not broadcast with \[2, 3\]/],
    ['matmul inner sizes', () => t().matmul(t()), RangeError, /inner sizes 3 and 2/],
    ['reshape element count', () => t().reshape([4, 2]), RangeError, /has 8 elements but the tensor of shape \[2, 3\] has 6/],
    ['negative size', () => rk.zeros([2, -1]), RangeError, /shape'\[1\] must be an integer in \[0/],
    ['fractional size', () => rk.zeros([2.5]), RangeError, /shape'\[0\]/],
    ['huge size', () => rk.zeros([2 ** 30, 2 ** 30]), RangeError, /more than 2\^40 elements/],
    ['shape not an array', () => rk.zeros('abc'), TypeError, /shape' must be an Array of integers/],
    ['unknown dtype', () => rk.zeros([2], { dtype: 'float8' }), RangeError, /dtype' must be one of .* got 'float8'/],
    ['malformed device', () => rk.zeros([2], { device: 'gpu' }), RangeError, /device' must be 'cpu', 'cuda' or 'cuda:N'; got 'gpu'/],
    ['cuda without CUDA', () => rk.zeros([2], { device: 'cuda' }), Error, /CUDA is not available/],
    ['data length vs shape', () => rk.tensor(new Float32Array(5), { shape: [2, 3] }), RangeError, /has 5 elements but shape \[2, 3\] needs 6/],
    ['ragged nested array', () => rk.tensor([[1, 2], [3]]), RangeError, /ragged/],
    ['unsupported typed array', () => rk.tensor(new Uint32Array(2)), TypeError, /Uint32Array/],
    ['dim out of range', () => t().sum(2), RangeError, /dim' must be in \[-2, 1\]/],
    ['NaN dim', () => t().softmax(NaN), RangeError, /dim' must be an integer; got NaN/],
    ['item of many', () => t().item(), RangeError, /item\(\) needs exactly one/],
    ['mean of ints', () => rk.ones([2], { dtype: 'int64' }).mean(), RangeError, /mean needs a floating dtype/],
    ['not a tensor for cat', () => rk.cat([t(), 5]), TypeError, /tensors'\[1\] must be a Tensor/],
    ['bad options object', () => rk.zeros([2], 'float32'), TypeError, /options' must be an object/],
    ['direct construction', () => new (require('../build/Release/reviewkd.node').NativeTensor)(), TypeError, /cannot be constructed directly/],
  ];
  for (const [name, fn, Type, pattern] of cases) {
    it(name, () => assert.throws(fn, (e) => e instanceof Type && pattern.test(e.message) || assert.fail(`${e.constructor.name}: ${e.message}`)));
  }

  it('a disposed tensor is refused with a clear message', () => {
    const x = t();
    x.dispose();
    x.dispose(); // idempotent
    assert.strictEqual(x.disposed, true);
    assert.throws(() => x.add(1), (e) => e instanceof TypeError && /disposed Tensor/.test(e.message));
    assert.throws(() => x.shape, (e) => e instanceof TypeError && /disposed/.test(e.message));
    assert.strictEqual(String(x), 'Tensor(disposed)');
  });
});

describe('runtime', () => {
  it('info() reports LibTorch version, variant, path and threads', () => {
    const info = rk.info();
    assert.match(info.libtorch.version, /^2\.\d+\.\d+/);
    assert.ok(['cpu', 'cuda'].includes(info.libtorch.variant));
    assert.ok(typeof info.threads === 'number' && info.threads >= 1);
    assert.strictEqual(typeof info.cuda.available, 'boolean');
    assert.strictEqual(rk.cuda.isAvailable(), info.cuda.available);
    assert.strictEqual(rk.cuda.deviceCount(), info.cuda.deviceCount);
    if (info.libtorch.path) assert.ok(require('fs').existsSync(info.libtorch.path));
  });

  it('setNumThreads / getNumThreads', () => {
    const before = rk.getNumThreads();
    rk.setNumThreads(1);
    assert.strictEqual(rk.getNumThreads(), 1);
    rk.setNumThreads(before);
    assert.throws(() => rk.setNumThreads(0), RangeError);
  });
});
