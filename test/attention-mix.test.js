'use strict';
// ABF's attention mix as one fused CPU function (native/kernels/attention_mix.cc, issue #17) against the
// LibTorch composition it replaces (resize, cat/1x1 conv, sigmoid, broadcast muls): forward and the
// gradients of x, residual, weight and bias, in both layouts and dtypes, several resize ratios; the
// gradients' determinism across runs and thread counts; the argument checks.
const assert = require('assert');
const rk = require('..');
const { native } = require('../dist/native');
const { prng } = require('./helpers');

function random(shape, seed, scale = 1) {
  const next = prng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let k = 0; k < n; k++) d[k] = (next() * 2 - 1) * scale;
  return rk.tensor(d, { shape, dtype: 'float32' });
}

function inputs({ n, c, hw, rhw }, seed) {
  return {
    x: random([n, c, hw[0], hw[1]], seed),
    residual: random([n, c, rhw[0], rhw[1]], seed + 1),
    // Scaled so the logits spread over the sigmoid's curved part (|l| up to ~3), not only its middle.
    weight: random([2, 2 * c, 1, 1], seed + 2, 3 / Math.sqrt(c)),
    bias: random([2], seed + 3, 0.5),
    grad: random([n, c, hw[0], hw[1]], seed + 4),
  };
}

/** Runs one path ('fused' | 'composed'); returns {out, gx, gr, gw, gb} as Tensors. */
async function run(path, t) {
  const r = await native().attentionMixGrads(t.x.handle, t.residual.handle, t.weight.handle, t.bias.handle, t.grad.handle, path);
  const [out, gx, gr, gw, gb] = r.map((h) => new rk.Tensor(h));
  return { out, gx, gr, gw, gb };
}

/** max |a - b| / max(1, max |b|), both read as float32. */
function relMaxDiff(a, b) {
  const x = a.to('float32').toArray();
  const y = b.to('float32').toArray();
  assert.strictEqual(x.length, y.length);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < x.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return diff / scale;
}

function layout(t, channelsLast, dtype) {
  let u = t;
  if (dtype) u = u.to(dtype);
  return channelsLast ? u.to({ channelsLast: true }) : u.contiguous();
}

const KEYS = ['out', 'gx', 'gr', 'gw', 'gb'];

describe('attention mix: fused kernel vs the LibTorch composition', function () {
  this.timeout(120000);

  // fp32: the two paths differ only in summation order and exp(): within 2e-6 of the values' scale
  // (the weight gradient sums N*H*W products, hence the scale-relative bound).
  const fp32Cases = [
    ['NCHW, residual 2x smaller', { n: 3, c: 16, hw: [8, 8], rhw: [4, 4] }, false, false],
    ['channels-last, residual 2x smaller', { n: 3, c: 16, hw: [8, 8], rhw: [4, 4] }, true, true],
    ['x channels-last, residual NCHW', { n: 2, c: 24, hw: [8, 6], rhw: [4, 3] }, true, false],
    ['x NCHW, residual channels-last', { n: 2, c: 24, hw: [8, 6], rhw: [4, 3] }, false, true],
    ['same size', { n: 2, c: 8, hw: [5, 7], rhw: [5, 7] }, true, true],
    ['non-2x: 3x3 -> 7x7', { n: 2, c: 10, hw: [7, 7], rhw: [3, 3] }, false, false],
    ['non-2x: 4x3 -> 8x7 (2x rows, not columns), channels-last', { n: 2, c: 12, hw: [8, 7], rhw: [4, 3] }, true, true],
    ['batch 1, more pixels than one tile (256), odd channel count', { n: 1, c: 33, hw: [24, 17], rhw: [12, 9] }, false, true],
  ];
  for (const [name, shape, xLast, rLast] of fp32Cases) {
    it(`fp32, ${name}: forward and all gradients within 2e-6`, async () => {
      const t = inputs(shape, shape.c * 7 + shape.hw[1]);
      t.x = layout(t.x, xLast);
      t.residual = layout(t.residual, rLast);
      const fused = await run('fused', t);
      const ref = await run('composed', t);
      for (const k of KEYS) {
        assert.deepStrictEqual(fused[k].shape, ref[k].shape, `${k} shape`);
        assert.strictEqual(fused[k].dtype, 'float32', `${k} dtype`);
        const d = relMaxDiff(fused[k], ref[k]);
        assert.ok(d <= 2e-6, `${name}: ${k} differs by ${d.toExponential(2)} of its scale`);
      }
      // The output and x's gradient follow x's memory format, the residual's gradient the residual's.
      assert.strictEqual(fused.out.handle.isContiguous, !xLast, 'output layout');
      assert.strictEqual(fused.gx.handle.isContiguous, !xLast, 'gradX layout');
      assert.strictEqual(fused.gr.handle.isContiguous, !rLast, 'gradResidual layout');
    });
  }

  // bf16: the fused path computes in fp32 from the bf16 values and rounds each result once, so it is
  // compared with the fp32 composition of the same (bf16-representable) values: the maps (output,
  // gradX, gradResidual) within bf16's rounding, 2^-8 of their scale; the fp32 weight and bias gradients,
  // which are not rounded, within 2e-6.
  for (const [name, shape, xLast, rLast] of [
    ['channels-last', { n: 2, c: 16, hw: [8, 8], rhw: [4, 4] }, true, true],
    ['NCHW, more pixels than one tile (256)', { n: 2, c: 16, hw: [24, 24], rhw: [12, 12] }, false, false],
    ['x channels-last, residual NCHW, 3x3 -> 7x7', { n: 2, c: 16, hw: [7, 7], rhw: [3, 3] }, true, false],
  ]) {
    it(`bf16, ${name}: maps within bf16 rounding, weight/bias gradients within 2e-6`, async () => {
      const t = inputs(shape, 11);
      for (const k of ['x', 'residual', 'grad']) t[k] = t[k].to('bfloat16').to('float32');
      const ref = await run('composed', { ...t, x: layout(t.x, xLast), residual: layout(t.residual, rLast) });
      const fused = await run('fused', { ...t, x: layout(t.x, xLast, 'bfloat16'), residual: layout(t.residual, rLast, 'bfloat16'), grad: t.grad.to('bfloat16') });
      for (const k of ['out', 'gx', 'gr']) {
        assert.strictEqual(fused[k].dtype, 'bfloat16', `${k} dtype`);
        const d = relMaxDiff(fused[k], ref[k]);
        assert.ok(d <= 2 ** -8, `${k} differs by ${d.toExponential(2)} of its scale`);
      }
      for (const k of ['gw', 'gb']) {
        assert.strictEqual(fused[k].dtype, 'float32', `${k} dtype`);
        const d = relMaxDiff(fused[k], ref[k]);
        assert.ok(d <= 2e-6, `${k} differs by ${d.toExponential(2)} of its scale`);
      }
      assert.strictEqual(fused.out.handle.isContiguous, !xLast, "output in x's layout");
    });
  }

  it('a residual of the other dtype is cast to x\'s (fp32 residual with bf16 x); its gradient comes back fp32', async () => {
    const t = inputs({ n: 2, c: 8, hw: [4, 4], rhw: [2, 2] }, 5);
    const fused = await run('fused', { ...t, x: t.x.to('bfloat16'), grad: t.grad.to('bfloat16') });
    assert.strictEqual(fused.out.dtype, 'bfloat16');
    assert.strictEqual(fused.gr.dtype, 'float32');
    const ref = await run('composed', { ...t, x: t.x.to('bfloat16').to('float32'), residual: t.residual.to('bfloat16').to('float32'), grad: t.grad.to('bfloat16').to('float32') });
    assert.ok(relMaxDiff(fused.out, ref.out) <= 2 ** -8);
    assert.ok(relMaxDiff(fused.gr, ref.gr) <= 2 ** -8);
  });

  it('gradients are byte-identical across runs and between 1 and 2 threads', async () => {
    const before = rk.getNumThreads();
    const shape = { n: 6, c: 32, hw: [24, 24], rhw: [12, 12] };
    const bytes = (r) => KEYS.map((k) => Buffer.from(r[k].dtype === 'bfloat16' ? r[k].rawBits16().buffer : r[k].toArray().buffer));
    try {
      for (const [dtype, channelsLast] of [['float32', true], ['bfloat16', true], ['float32', false]]) {
        const t = inputs(shape, 21);
        const cast = (u) => layout(u, channelsLast, dtype === 'bfloat16' ? 'bfloat16' : undefined);
        const args = { ...t, x: cast(t.x), residual: cast(t.residual), grad: cast(t.grad) };
        rk.setNumThreads(2);
        const a = bytes(await run('fused', args));
        const b = bytes(await run('fused', args));
        rk.setNumThreads(1);
        const c = bytes(await run('fused', args));
        KEYS.forEach((k, i) => {
          assert.ok(a[i].equals(b[i]), `${dtype} channelsLast ${channelsLast} ${k}: two runs differ`);
          assert.ok(a[i].equals(c[i]), `${dtype} channelsLast ${channelsLast} ${k}: 1 thread differs from 2`);
        });
      }
    } finally {
      rk.setNumThreads(before);
    }
  });

  it('ABF (train mode, fp32, both layouts) gives the same output and gradients with the fused kernels on and off', () => {
    const was = rk.fusedKernelsEnabled();
    const results = {};
    try {
      for (const channelsLast of [false, true]) {
        for (const on of [true, false]) {
          rk.setFusedKernels(on);
          rk.manualSeed(3);
          const abf = new rk.nn.ABF({ inChannels: 12, midChannels: 8, outChannels: 10, fuse: true });
          const x = layout(random([2, 12, 6, 6], 31), channelsLast).requireGrad();
          const residual = layout(random([2, 8, 3, 3], 32), channelsLast).requireGrad();
          const [out, res] = abf.forward(x, residual, { outSize: [12, 12] });
          out.mul(random(out.shape, 33)).sum().add(res.mul(random(res.shape, 34)).sum()).backward();
          const params = abf.namedParameters();
          results[`${channelsLast}/${on}`] = { out, res, gx: x.grad, gr: residual.grad, gw: params['att_conv.0.weight'].grad, gb: params['att_conv.0.bias'].grad };
        }
        const fused = results[`${channelsLast}/true`];
        const plain = results[`${channelsLast}/false`];
        for (const k of ['out', 'res', 'gx', 'gr', 'gw', 'gb']) {
          const d = relMaxDiff(fused[k], plain[k]);
          assert.ok(d <= 1e-5, `channelsLast ${channelsLast}: ABF ${k} differs by ${d.toExponential(2)} of its scale`);
        }
      }
    } finally {
      rk.setFusedKernels(was);
    }
  });

  it('bad arguments throw clear errors', async () => {
    const t = inputs({ n: 2, c: 4, hw: [4, 4], rhw: [2, 2] }, 3);
    const call = (o, path = 'fused') => native().attentionMixGrads(o.x.handle, o.residual.handle, o.weight.handle, o.bias.handle, o.grad.handle, path);
    assert.throws(() => call(t, 'fast'), (e) => e instanceof RangeError && /'fused' or 'composed'/.test(e.message));
    assert.throws(() => call({ ...t, residual: random([2, 5, 2, 2], 1) }), (e) => e instanceof RangeError && /residual/.test(e.message));
    assert.throws(() => call({ ...t, weight: random([2, 4, 1, 1], 1) }), (e) => e instanceof RangeError && /weight.*\[2, 8, 1, 1\]/.test(e.message));
    assert.throws(() => call({ ...t, bias: random([3], 1) }), (e) => e instanceof RangeError && /bias/.test(e.message));
    assert.throws(() => call({ ...t, grad: random([2, 4, 4, 3], 1) }), (e) => e instanceof RangeError && /gradOutput/.test(e.message));
    assert.throws(() => call({ ...t, x: t.x.to('float64') }), (e) => e instanceof RangeError && /fused path takes/.test(e.message));
    assert.throws(() => call({ ...t, weight: t.weight.to('bfloat16') }), (e) => e instanceof RangeError && /fused path takes/.test(e.message));
    assert.throws(() => call({ ...t, x: random([2, 4, 4], 1) }), (e) => e instanceof RangeError && /4-d/.test(e.message));
  });
});
