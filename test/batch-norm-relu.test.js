'use strict';
// The fused BatchNorm + residual add + ReLU (native/kernels/batch_norm_act.cc, issue #17) against the
// LibTorch composition it replaces (bn(x) + residual, then relu): forward, kept pre-activation sum,
// running statistics and every gradient, in both layouts and precisions, training and evaluation mode;
// determinism across thread counts; the models' outputs with the kernels on and off; argument errors.
const assert = require('assert');
const rk = require('..');
const { native } = require('../dist/native');
const { prng } = require('./helpers');

function random(shape, seed, scale = 1, offset = 0) {
  const next = prng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let k = 0; k < n; k++) d[k] = offset + (next() * 2 - 1) * scale;
  return rk.tensor(d, { shape, dtype: 'float32' });
}

function inputs([n, c, h, w], seed, { residual = true, gradSum = false } = {}) {
  return {
    // An offset mean and a spread unlike 1, so the statistics matter; about half the outputs are clipped.
    x: random([n, c, h, w], seed, 2, 0.7),
    residual: residual ? random([n, c, h, w], seed + 1) : null,
    weight: random([c], seed + 2, 0.5, 1),
    bias: random([c], seed + 3, 0.5),
    runningMean: random([c], seed + 4, 0.2),
    runningVar: random([c], seed + 5, 0.3, 1),
    gradOut: random([n, c, h, w], seed + 6),
    gradSum: gradSum ? random([n, c, h, w], seed + 7, 0.5) : null,
  };
}

const NAMES = ['out', 'sum', 'runningMean', 'runningVar', 'gx', 'gr', 'gw', 'gb'];

/** One path ('fused' | 'composed'); maps cast to `dtype` and laid out as asked. Returns {name: Tensor}. */
async function run(path, t, { dtype = 'float32', channelsLast = false, training = true } = {}) {
  const map = (u) => (u ? u.to({ dtype, channelsLast }) : null);
  const h = (u) => (u ? u.handle : null);
  const r = await native().batchNormReluGrads(
    h(map(t.x)), h(map(t.residual)), t.weight.handle, t.bias.handle, t.runningMean.handle, t.runningVar.handle,
    h(map(t.gradOut)), h(map(t.gradSum)), training, path,
  );
  const out = {};
  r.forEach((handle, i) => {
    out[NAMES[i]] = new rk.Tensor(handle);
  });
  return out;
}

/** max |a - b| / max(1e-12, max |b|), read as float32. */
function relMaxDiff(a, b) {
  const x = a.to('float32').toArray();
  const y = b.to('float32').toArray();
  assert.strictEqual(x.length, y.length);
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < x.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return diff / scale;
}

describe('BatchNorm + residual + ReLU: fused kernel vs the LibTorch composition', function () {
  this.timeout(120000);
  before(() => rk.setFusedKernels(true));

  // fp32 training: the same formula and summation order as the (already tested) BatchNorm kernels, so
  // the two paths agree to float rounding of the sums' last step.
  const fp32Cases = [
    ['NCHW with residual', [3, 16, 8, 8], false, { residual: true }],
    ['channels-last with residual', [3, 16, 8, 8], true, { residual: true }],
    ['NCHW, no residual', [2, 24, 8, 6], false, { residual: false }],
    ['channels-last, no residual, odd channels, more pixels than a chunk', [2, 33, 17, 11], true, { residual: false }],
    ['channels-last, the pre-activation sum also used', [2, 16, 8, 8], true, { residual: true, gradSum: true }],
    ['NCHW, the pre-activation sum also used, no residual', [2, 8, 5, 7], false, { residual: false, gradSum: true }],
  ];
  for (const [name, shape, channelsLast, options] of fp32Cases) {
    it(`fp32 training, ${name}: outputs, statistics and gradients within 1e-6`, async () => {
      const t = inputs(shape, shape[1] * 3 + shape[3], options);
      const fused = await run('fused', t, { channelsLast });
      const ref = await run('composed', t, { channelsLast });
      for (const k of NAMES) {
        if (k === 'gr' && !options.residual) {
          assert.strictEqual(fused.gr.numel, 0, 'no residual, no gradient');
          continue;
        }
        assert.deepStrictEqual(fused[k].shape, ref[k].shape, `${k} shape`);
        const d = relMaxDiff(fused[k], ref[k]);
        assert.ok(d <= 1e-6, `${name}: ${k} differs by ${d.toExponential(2)} of its scale`);
      }
      assert.strictEqual(fused.out.handle.isContiguous, !channelsLast, "output in x's layout");
      assert.strictEqual(fused.gx.handle.isContiguous, !channelsLast, "gradX in x's layout");
      // A real check: about half the outputs are clipped by the ReLU, and the kept sum is not.
      const out = fused.out.toArray();
      const zeros = out.filter((v) => v === 0).length;
      assert.ok(zeros > out.length * 0.2 && zeros < out.length * 0.8, `${zeros} of ${out.length} clipped`);
      assert.ok(fused.sum.toArray().some((v) => v < 0), 'the sum keeps negative values');
    });
  }

  // bf16: the fused path rounds the BatchNorm output to bf16 before adding the residual, as the separate
  // operators do; maps within one bf16 step of their scale, the fp32 weight and bias gradients within 2^-8.
  for (const channelsLast of [true, false]) {
    it(`bf16 training, ${channelsLast ? 'channels-last' : 'NCHW'} with residual: within bf16 rounding`, async () => {
      const t = inputs([4, 16, 8, 8], 31);
      const fused = await run('fused', t, { dtype: 'bfloat16', channelsLast });
      const ref = await run('composed', t, { dtype: 'bfloat16', channelsLast });
      for (const k of ['out', 'sum', 'gx', 'gr']) {
        assert.strictEqual(fused[k].dtype, 'bfloat16', `${k} dtype`);
        const d = relMaxDiff(fused[k], ref[k]);
        assert.ok(d <= 2 ** -7, `${k} differs by ${d.toExponential(2)} of its scale`);
      }
      for (const k of ['gw', 'gb', 'runningMean', 'runningVar']) {
        assert.strictEqual(fused[k].dtype, 'float32', `${k} dtype`);
        const d = relMaxDiff(fused[k], ref[k]);
        assert.ok(d <= 2 ** -8, `${k} differs by ${d.toExponential(2)} of its scale`);
      }
    });
  }

  for (const [dtype, channelsLast, bound] of [['float32', false, 1e-6], ['float32', true, 1e-6], ['bfloat16', true, 2 ** -7]]) {
    it(`evaluation mode (running statistics, no gradient), ${dtype} ${channelsLast ? 'channels-last' : 'NCHW'}: within ${bound.toExponential(1)}`, async () => {
      const t = inputs([2, 16, 6, 6], 41);
      const fused = await run('fused', t, { dtype, channelsLast, training: false });
      const ref = await run('composed', t, { dtype, channelsLast, training: false });
      assert.strictEqual(Object.keys(fused).length, 4, 'forward results only');
      for (const k of ['out', 'sum']) assert.ok(relMaxDiff(fused[k], ref[k]) <= bound, `${k}`);
      // The running statistics are read, not updated.
      assert.deepStrictEqual(fused.runningMean.toArray(), t.runningMean.toArray());
    });
  }

  it('bf16 on the portable loops (REVIEWKD_AVX512BF16=0) agrees with the default path and with the composition', async () => {
    // A child process, since the choice is made once per process; it prints the fused results as arrays.
    const { execFileSync } = require('child_process');
    const script = `
      const rk = require(${JSON.stringify(require.resolve('..'))});
      const { native } = require(${JSON.stringify(require.resolve('../dist/native'))});
      const { prng } = require(${JSON.stringify(require.resolve('./helpers'))});
      ${random.toString()}
      ${inputs.toString()}
      const NAMES = ${JSON.stringify(NAMES)};
      ${run.toString()}
      (async () => {
        const out = {};
        for (const channelsLast of [true, false]) {
          for (const training of [true, false]) {
            const r = await run('fused', inputs([3, 24, 7, 9], 81), { dtype: 'bfloat16', channelsLast, training });
            out[channelsLast + '/' + training] = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v.to('float32').toArray())]));
          }
        }
        process.stdout.write(JSON.stringify(out));
      })();`;
    const portable = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, REVIEWKD_AVX512BF16: '0' }, maxBuffer: 1 << 26 }).toString());
    const asTensor = (a) => rk.tensor(Float32Array.from(a), { shape: [a.length], dtype: 'float32' });
    for (const channelsLast of [true, false]) {
      for (const training of [true, false]) {
        const t = inputs([3, 24, 7, 9], 81);
        const here = await run('fused', t, { dtype: 'bfloat16', channelsLast, training });
        const ref = await run('composed', t, { dtype: 'bfloat16', channelsLast, training });
        const other = portable[`${channelsLast}/${training}`];
        for (const k of Object.keys(here)) {
          const flat = (u) => asTensor(Array.from(u.to('float32').toArray()));
          const bound = k === 'gw' || k === 'gb' ? 2 ** -8 : 2 ** -7;
          assert.ok(relMaxDiff(asTensor(other[k]), flat(ref[k])) <= bound, `portable ${k} vs composed (${channelsLast}/${training})`);
          assert.ok(relMaxDiff(asTensor(other[k]), flat(here[k])) <= bound, `portable ${k} vs default (${channelsLast}/${training})`);
        }
      }
    }
  });

  it('gradients are byte-identical across runs and between 1 and 2 threads', async () => {
    const before = rk.getNumThreads();
    const bytes = (r) => NAMES.map((k) => Buffer.from(r[k].dtype === 'bfloat16' ? r[k].rawBits16().buffer : r[k].toArray().buffer));
    try {
      for (const [dtype, channelsLast] of [['float32', true], ['bfloat16', true], ['float32', false]]) {
        const t = inputs([6, 32, 12, 12], 51);
        rk.setNumThreads(2);
        const a = bytes(await run('fused', t, { dtype, channelsLast }));
        const b = bytes(await run('fused', t, { dtype, channelsLast }));
        rk.setNumThreads(1);
        const c = bytes(await run('fused', t, { dtype, channelsLast }));
        for (let i = 0; i < NAMES.length; i++) {
          assert.ok(a[i].equals(b[i]), `${dtype} ${NAMES[i]} differs between runs`);
          assert.ok(a[i].equals(c[i]), `${dtype} ${NAMES[i]} differs between 1 and 2 threads`);
        }
      }
    } finally {
      rk.setNumThreads(before);
    }
  });

  it('the zoo models give the same logits and features with the kernels on and off (training and evaluation mode)', async () => {
    const x = random([4, 3, 32, 32], 61);
    for (const name of ['resnet20', 'wrn-16-2', 'resnet8x4']) {
      const results = {};
      for (const on of [true, false]) {
        rk.setFusedKernels(on);
        rk.manualSeed(7);
        const model = rk.models.create(name, { numClasses: 10 });
        model.train(true);
        const train = await model.forwardWithFeatures(x, { preact: true });
        model.eval();
        // The task takes the grad mode of the call: without gradients evaluation mode takes the fused path.
        let pending;
        rk.noGrad(() => {
          pending = model.forward(x);
        });
        const evaluated = await pending;
        results[on] = { train, evaluated };
      }
      rk.setFusedKernels(true);
      const on = results.true;
      const off = results.false;
      assert.ok(relMaxDiff(on.train.logits, off.train.logits) <= 1e-5, `${name}: training-mode logits`);
      on.train.features.forEach((f, i) => assert.ok(relMaxDiff(f, off.train.features[i]) <= 1e-5, `${name}: feature ${i}`));
      assert.ok(relMaxDiff(on.evaluated, off.evaluated) <= 1e-5, `${name}: evaluation-mode logits`);
    }
  });

  it('rejects bad arguments with clear errors, and refuses the fused path where it would not fuse', async () => {
    const t = inputs([2, 4, 3, 3], 71);
    await assert.rejects(() => run('sideways', t), /path.*'fused' or 'composed'/);
    await assert.rejects(() => run('fused', t, { dtype: 'float64' }), /fused path does not take/);
    const bad = { ...t, weight: random([5], 1) };
    await assert.rejects(async () => run('fused', bad), /weight.*4 channels/);
    assert.throws(() => native().batchNormReluGrads(t.x.handle, null, t.weight.handle, t.bias.handle, t.runningMean.handle, t.runningVar.handle, random([2, 4, 3, 4], 2).handle, null, true, 'fused'), /gradients must have x's shape/);
  });
});
