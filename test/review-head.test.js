'use strict';
// The review head: reference parameter layout and counts, data flow (deep to shallow, outputs shallow to
// deep), ablation variants, gradients, and the promised errors.
const assert = require('assert');
const rk = require('..');
const { det, probeTensor, assertRel, prng } = require('./helpers');

// Feature shapes of spec section 4 ([C, H, W], shallow -> deep, pooled last).
const CIFAR_RESNET = [[16, 32, 32], [32, 16, 16], [64, 8, 8], [64, 1, 1]];
const WRN_40_1 = [[16, 32, 32], [32, 16, 16], [64, 8, 8], [64, 1, 1]];
const WRN_X2 = [[32, 32, 32], [64, 16, 16], [128, 8, 8], [128, 1, 1]];
const RESNET_X4 = [[64, 32, 32], [128, 16, 16], [256, 8, 8], [256, 1, 1]];
const SHUFFLE_V1 = [[240, 16, 16], [480, 8, 8], [960, 4, 4], [960, 1, 1]];
const SHUFFLE_V2 = [[116, 16, 16], [232, 8, 8], [464, 4, 4], [1024, 1, 1]];
const R18 = [[64, 56, 56], [128, 28, 28], [256, 14, 14], [512, 7, 7], [512, 1, 1]];
const MV1 = [[128, 56, 56], [256, 28, 28], [512, 14, 14], [1024, 7, 7], [1024, 1, 1]];
const R50 = [[256, 56, 56], [512, 28, 28], [1024, 14, 14], [2048, 7, 7], [2048, 1, 1]];

/**
 * ABF parameters derived from the layer definitions: conv1 in*mid (no bias) + BN 2*mid; conv2 mid*out*9
 * (no bias) + BN 2*out; att_conv (fusing levels only) 2*mid*2 weights + 2 biases.
 */
function abfParams(inC, mid, outC, fuse) {
  return inC * mid + 2 * mid + mid * outC * 9 + 2 * outC + (fuse ? 2 * mid * 2 + 2 : 0);
}
function headParams(student, teacher, mid) {
  return student.reduce((sum, s, i) => sum + abfParams(s[0], mid, teacher[i][0], i < student.length - 1), 0);
}

describe('review head: parameters', () => {
  // The "ABF params" column of spec section 4 and the derivation above must agree.
  const table = [
    ['resnet20 <- resnet56', CIFAR_RESNET, CIFAR_RESNET, undefined, 64, 114278],
    ['wrn-16-2 <- wrn-40-2', WRN_X2, WRN_X2, undefined, 128, 453830],
    ['wrn-40-1 <- wrn-40-2', WRN_40_1, WRN_X2, undefined, 64, 216006],
    ['shufflev1 <- wrn-40-2', SHUFFLE_V1, WRN_X2, undefined, 512, 2984646],
    ['resnet8x4 <- resnet32x4', RESNET_X4, RESNET_X4, undefined, 256, 1808774],
    ['shufflev1 <- resnet32x4', SHUFFLE_V1, RESNET_X4, undefined, 512, 4607366],
    ['shufflev2 <- resnet32x4', SHUFFLE_V2, RESNET_X4, undefined, 512, 4195718],
    ['ImageNet resnet18 <- resnet34 (mid 512)', R18, R18, 512, 512, 7552904],
    ['ImageNet MobileNetV1 <- resnet50 (mid 256)', MV1, R50, 256, 256, 14338056],
  ];
  for (const [name, student, teacher, mid, expectedMid, expectedParams] of table) {
    it(`${name}: mid ${expectedMid}, ${expectedParams.toLocaleString('en-US')} parameters`, () => {
      const head = rk.nn.createReviewHead({ studentShapes: student, teacherShapes: teacher, midChannels: mid });
      assert.strictEqual(head.midChannels, expectedMid);
      assert.strictEqual(headParams(student, teacher, expectedMid), expectedParams, 'derivation vs spec table');
      assert.strictEqual(head.numParameters(), expectedParams);
      head.dispose();
    });
  }

  it('uses the reference state_dict names, abfs.0 being the deepest level without att_conv', () => {
    const head = rk.nn.createReviewHead({ studentShapes: CIFAR_RESNET, teacherShapes: CIFAR_RESNET });
    const names = Object.keys(head.stateDict()).sort();
    const expected = [];
    for (let i = 0; i < 4; i++) {
      for (const conv of ['conv1', 'conv2']) {
        expected.push(`abfs.${i}.${conv}.0.weight`);
        for (const b of ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']) expected.push(`abfs.${i}.${conv}.1.${b}`);
      }
      if (i > 0) expected.push(`abfs.${i}.att_conv.0.weight`, `abfs.${i}.att_conv.0.bias`);
    }
    assert.deepStrictEqual(names, expected.sort());
    // abfs.0 takes the pooled 64-channel feature; abfs.3 the shallowest 16-channel one.
    assert.deepStrictEqual(head.namedParameters()['abfs.0.conv1.0.weight'].shape, [64, 64, 1, 1]);
    assert.deepStrictEqual(head.namedParameters()['abfs.3.conv1.0.weight'].shape, [64, 16, 1, 1]);
    assert.deepStrictEqual(head.namedParameters()['abfs.3.conv2.0.weight'].shape, [16, 64, 3, 3]);
  });

  it('initialises conv1/conv2 with kaiming_uniform(a=1): |w| <= sqrt(3 / fan_in)', () => {
    const head = rk.nn.createReviewHead({ studentShapes: RESNET_X4, teacherShapes: RESNET_X4 });
    const p = head.namedParameters();
    const w1 = p['abfs.1.conv1.0.weight']; // fan_in 256
    const w2 = p['abfs.1.conv2.0.weight']; // fan_in 256 * 9
    const bound1 = Math.sqrt(3 / 256);
    const bound2 = Math.sqrt(3 / (256 * 9));
    assert.ok(w1.abs().max().item() <= bound1 && w1.abs().max().item() > 0.9 * bound1);
    assert.ok(w2.abs().max().item() <= bound2 && w2.abs().max().item() > 0.9 * bound2);
  });
});

/** Random student features of the given shapes (batch n), float64. */
function features(shapes, n, seed) {
  rk.manualSeed(seed);
  return shapes.map(([c, h, w]) => rk.randn([n, c, h, w], { dtype: 'float64' }));
}

describe('review head: forward', () => {
  it('runs the ABF chain deep to shallow and returns outputs shallow to deep in the teacher shapes', () => {
    const student = SHUFFLE_V1.map(([c, h, w]) => [c / 8, h, w]); // a narrow shufflev1-like student
    const head = rk.nn.createReviewHead({ studentShapes: student, teacherShapes: WRN_X2 });
    head.to('float64');
    const feats = features(student, 2, 1);
    const outs = head.forward(feats);
    assert.deepStrictEqual(outs.map((o) => o.shape), WRN_X2.map(([c, h, w]) => [2, c, h, w]));
    assert.deepStrictEqual(head.targets, [0, 1, 2, 3]);

    // The same computation by hand with standalone ABFs holding the head's weights.
    const sd = head.stateDict();
    const n = student.length;
    let residual = null;
    const manual = [];
    for (let step = 0; step < n; step++) {
      const level = n - 1 - step;
      const abf = new rk.nn.ABF({ inChannels: student[level][0], midChannels: head.midChannels, outChannels: WRN_X2[level][0], fuse: step > 0 });
      abf.to('float64');
      const own = {};
      for (const [k, v] of Object.entries(sd)) if (k.startsWith(`abfs.${step}.`)) own[k.slice(`abfs.${step}.`.length)] = v;
      // BN running stats were updated by head.forward: load fresh copies via the ABF's own buffers instead.
      for (const [k, v] of Object.entries(abf.namedBuffers())) own[k] = v;
      abf.loadStateDict(own);
      const [out, res] = abf.forward(feats[level], residual, { outSize: [WRN_X2[level][1], WRN_X2[level][2]] });
      manual[level] = out;
      residual = res;
    }
    for (let k = 0; k < n; k++) assertRel(outs[k].sub(manual[k]).abs().max().item() + 1, 1, 1e-12, `level ${k}`);
  });

  it('forwardAsync gives the same outputs as forward (eval mode)', async () => {
    const head = rk.nn.createReviewHead({ studentShapes: CIFAR_RESNET, teacherShapes: CIFAR_RESNET }).eval();
    const feats = features(CIFAR_RESNET, 2, 2).map((f) => f.to('float32'));
    const a = head.forward(feats);
    const b = await head.forwardAsync(feats);
    // forwardAsync runs on the compute thread with all intra-op threads, forward on the JS thread with one
    // (native/common/compute_thread.h): the same function, summed in another order, so fp32 rounding may differ.
    for (let k = 0; k < a.length; k++) {
      const scale = a[k].abs().max().item();
      assert.ok(a[k].sub(b[k]).abs().max().item() <= 1e-6 * Math.max(1, scale), `level ${k}`);
    }
  });

  it('handles non-square maps', () => {
    const student = [[8, 12, 20], [16, 6, 10], [16, 1, 1]];
    const teacher = [[4, 24, 40], [8, 12, 20], [8, 1, 1]];
    const head = rk.nn.createReviewHead({ studentShapes: student, teacherShapes: teacher });
    const outs = head.forward(features(student, 2, 3).map((f) => f.to('float32')));
    assert.deepStrictEqual(outs.map((o) => o.shape), teacher.map(([c, h, w]) => [2, c, h, w]));
  });

  for (const [variant, count] of [['no-attention', 4], ['no-residual', 4], ['naive', 10]]) {
    it(`ablation variant '${variant}' gives ${count} predictions matching their teacher levels`, () => {
      const head = rk.nn.createReviewHead({ studentShapes: CIFAR_RESNET, teacherShapes: WRN_X2, variant });
      const outs = head.forward(features(CIFAR_RESNET, 2, 4).map((f) => f.to('float32')));
      assert.strictEqual(outs.length, count);
      outs.forEach((o, k) => {
        const [c, h, w] = WRN_X2[head.targets[k]];
        assert.deepStrictEqual(o.shape, [2, c, h, w]);
      });
      if (variant === 'naive') assert.deepStrictEqual(head.targets, [0, 0, 1, 0, 1, 2, 0, 1, 2, 3]);
      if (variant === 'no-attention') assert.ok(!Object.keys(head.stateDict()).some((k) => k.includes('att_conv')));
      const teachers = features(WRN_X2, 2, 5).map((f) => f.to('float32'));
      const loss = head.loss(features(CIFAR_RESNET, 2, 4).map((f) => f.to('float32')), teachers);
      assert.ok(Number.isFinite(loss.item()) && loss.item() > 0);
    });
  }
});

describe('review head and HCL: gradients against finite differences (float64)', () => {
  it('HCL gradient with respect to the student map', () => {
    const fs = det([2, 3, 7, 5], 0.37, 0.1).requireGrad();
    const ft = det([2, 3, 7, 5], 0.23, -0.4);
    rk.losses.hcl([fs], [ft]).backward();
    const grad = fs.grad.toArray();
    const base = fs.detach().toArray();
    const rand = prng(7);
    for (let trial = 0; trial < 8; trial++) {
      const k = Math.floor(rand() * base.length);
      const eps = 1e-6;
      const at = (delta) => {
        const d = Float64Array.from(base);
        d[k] += delta;
        return rk.losses.hcl([rk.tensor(d, { shape: fs.shape })], [ft]).item();
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      assert.ok(Math.abs(numeric - grad[k]) < 1e-7, `element ${k}: numeric ${numeric}, autograd ${grad[k]}`);
    }
  });

  it('ABF gradient with respect to the input, the residual and the attention weights', () => {
    const abf = new rk.nn.ABF({ inChannels: 4, midChannels: 3, outChannels: 5, fuse: true });
    abf.to('float64');
    const x = det([2, 4, 4, 4], 0.31, 0).requireGrad();
    const y = det([2, 3, 2, 2], 0.17, 1.0).requireGrad();
    const objective = (xx, yy) => {
      const [out, res] = abf.forward(xx, yy, { outSize: [8, 8] });
      return probeTensor(out).add(probeTensor(res).mul(0.5));
    };
    objective(x, y).backward();
    const attW = abf.namedParameters()['att_conv.0.weight'];
    const checks = [
      ['x', x, (d) => objective(rk.tensor(d, { shape: x.shape }), y.detach())],
      ['residual', y, (d) => objective(x.detach(), rk.tensor(d, { shape: y.shape }))],
      ['att_conv.0.weight', attW, (d) => {
        const saved = attW.detach().clone();
        abf.loadStateDict({ 'att_conv.0.weight': rk.tensor(d, { shape: attW.shape }) }, { strict: false });
        const v = objective(x.detach(), y.detach());
        abf.loadStateDict({ 'att_conv.0.weight': saved }, { strict: false });
        return v;
      }],
    ];
    const rand = prng(11);
    for (const [name, t, f] of checks) {
      const grad = t.grad.toArray();
      const base = t.detach().toArray();
      for (let trial = 0; trial < 5; trial++) {
        const k = Math.floor(rand() * base.length);
        const eps = 1e-6;
        const plus = Float64Array.from(base);
        plus[k] += eps;
        const minus = Float64Array.from(base);
        minus[k] -= eps;
        const numeric = (f(plus).item() - f(minus).item()) / (2 * eps);
        assert.ok(Math.abs(numeric - grad[k]) < 1e-6 * Math.max(1, Math.abs(numeric)), `${name}[${k}]: numeric ${numeric}, autograd ${grad[k]}`);
      }
    }
  });
});

describe('review head and losses: errors', () => {
  it('rejects lists of different length and mis-shaped pairs, naming the pair', () => {
    const a = rk.zeros([2, 3, 4, 4]);
    const b = rk.zeros([2, 3, 8, 8]);
    assert.throws(() => rk.losses.hcl([a, a], [a]), (e) => e instanceof RangeError && /2 student maps but 1 teacher/.test(e.message));
    assert.throws(() => rk.losses.hcl([a, a], [a, b]), (e) => e instanceof RangeError && /pair 1/.test(e.message) && /\[2, 3, 8, 8\]/.test(e.message));
    assert.throws(() => rk.losses.hcl([a], ['x']), (e) => e instanceof TypeError && /teacherMaps\[0\]/.test(e.message));
  });

  it('rejects heads whose levels cannot connect and features of the wrong shape', () => {
    assert.throws(() => rk.nn.createReviewHead({ studentShapes: CIFAR_RESNET, teacherShapes: R18 }),
      (e) => e instanceof RangeError && /teacherShapes.*5 levels.*studentShapes has 4/.test(e.message));
    assert.throws(() => rk.nn.createReviewHead({ studentShapes: [[16, 32]], teacherShapes: [[16, 32, 32]] }),
      (e) => e instanceof TypeError && /studentShapes'\[0\] must be a \[C, H, W\] triple/.test(e.message));
    assert.throws(() => rk.nn.createReviewHead({ studentShapes: [[0, 32, 32]], teacherShapes: [[16, 32, 32]] }),
      (e) => e instanceof RangeError && /studentShapes'\[0\]\[0\]/.test(e.message));
    assert.throws(() => rk.nn.createReviewHead({ studentShapes: CIFAR_RESNET, teacherShapes: CIFAR_RESNET, variant: 'fancy' }),
      (e) => e instanceof RangeError && /variant/.test(e.message));
    const head = rk.nn.createReviewHead({ studentShapes: CIFAR_RESNET, teacherShapes: CIFAR_RESNET });
    const feats = CIFAR_RESNET.map(([c, h, w]) => rk.zeros([2, c, h, w]));
    assert.throws(() => head.forward(feats.slice(1)), (e) => e instanceof RangeError && /got 3 student features/.test(e.message));
    feats[2] = rk.zeros([2, 64, 4, 4]);
    assert.throws(() => head.forward(feats), (e) => e instanceof RangeError && /studentFeatures\[2\] has shape \[2, 64, 4, 4\]/.test(e.message));
  });

  it('ABF: missing or unexpected residual, channel mismatch', () => {
    const fuse = new rk.nn.ABF({ inChannels: 4, midChannels: 3, outChannels: 5, fuse: true });
    const noFuse = new rk.nn.ABF({ inChannels: 4, midChannels: 3, outChannels: 5, fuse: false });
    const x = rk.zeros([2, 4, 4, 4]);
    assert.throws(() => fuse.forward(x), (e) => e instanceof RangeError && /residual' is required/.test(e.message));
    assert.throws(() => noFuse.forward(x, rk.zeros([2, 3, 2, 2])), (e) => e instanceof RangeError && /fuse: false/.test(e.message));
    assert.throws(() => fuse.forward(rk.zeros([2, 5, 4, 4]), rk.zeros([2, 3, 2, 2])), (e) => e instanceof RangeError && /5 channels but the ABF expects 4/.test(e.message));
    assert.throws(() => new rk.nn.ABF({ inChannels: -1, midChannels: 3, outChannels: 5, fuse: true }), (e) => e instanceof RangeError && /inChannels/.test(e.message));
    assert.throws(() => new rk.nn.ABF(null), TypeError);
  });
});
