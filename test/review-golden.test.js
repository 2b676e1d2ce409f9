'use strict';
// Golden values computed with the authors' reference ABF/HCL code (float64, CPU).
const assert = require('assert');
const rk = require('..');
const { det, probe, assertRel } = require('./helpers');

describe('HCL golden values (spec section 9)', () => {
  const expected = {
    1: [0.3052399692, 0.3052399692],
    2: [1.3768794364, 1.4190043434],
    4: [0.7473083473, 0.9673655013],
    5: [0.7067912078, 1.0151970385],
    7: [0.6013156142, 1.024105899],
    8: [0.5958498519, 1.0178455527],
    16: [0.6489971974, 0.9964741794],
  };
  for (const [h, [hclValue, mse]] of Object.entries(expected)) {
    it(`h = ${h}: HCL ${hclValue}, plain MSE ${mse}`, () => {
      const fs = det([2, 3, +h, +h], 0.37, 0.1);
      const ft = det([2, 3, +h, +h], 0.23, -0.4);
      // The goldens have 10 decimals, so compare to the precision they carry.
      assertRel(rk.losses.hcl([fs], [ft]).item(), hclValue, 2e-9, 'hcl');
      assertRel(rk.losses.hcl([fs], [ft], { levels: [] }).item(), mse, 2e-9, 'mse');
    });
  }

  it('sums (does not average) two pairs: 0.7247434548', () => {
    const pairs = [
      [det([2, 3, 8, 8], 0.37, 0.1), det([2, 3, 8, 8], 0.23, -0.4)],
      [det([2, 5, 1, 1], 0.11, 0.2), det([2, 5, 1, 1], 0.29, 0.3)],
    ];
    const value = rk.losses.hcl(pairs.map((p) => p[0]), pairs.map((p) => p[1])).item();
    assertRel(value, 0.7247434548, 2e-9, 'two-pair hcl');
  });
});

/** The ABF weight recipe of spec section 9, in float64. */
function goldenAbf(fuse) {
  const abf = new rk.nn.ABF({ inChannels: 4, midChannels: 3, outChannels: 5, fuse });
  abf.to('float64');
  const weights = {
    'conv1.0.weight': det([3, 4, 1, 1], 0.7, 0.3).mul(0.5),
    'conv1.1.weight': det([3], 1.3, 0).mul(0.1).add(1),
    'conv1.1.bias': det([3], 0.5, 0.7).mul(0.1),
    'conv2.0.weight': det([5, 3, 3, 3], 0.13, -0.2).mul(0.2),
    'conv2.1.weight': det([5], 0.9, 0.1).mul(0.1).add(1),
    'conv2.1.bias': det([5], 0.6, -0.3).mul(0.1),
  };
  if (fuse) {
    weights['att_conv.0.weight'] = det([2, 6, 1, 1], 0.9, 0.5);
    weights['att_conv.0.bias'] = rk.tensor([0.1, -0.2], { dtype: 'float64' });
  }
  const report = abf.loadStateDict(weights, { strict: false });
  assert.deepStrictEqual(report.unexpected, []);
  assert.deepStrictEqual(report.mismatched, []);
  // Only the BN buffers stay at their fresh values.
  assert.ok(report.missing.every((k) => /running_mean|running_var|num_batches_tracked/.test(k)), report.missing.join());
  return abf;
}

describe('ABF golden values (spec section 9)', () => {
  const x = () => det([2, 4, 4, 4], 0.31, 0);
  const y = () => det([2, 3, 2, 2], 0.17, 1.0);

  it('T1-T3: fuse, resize to the teacher size, running statistics, eval mode', () => {
    const abf = goldenAbf(true);
    // T1: fuse, shape 4 -> out_shape 8
    const [out1, res1] = abf.forward(x(), y(), { outSize: [8, 8] });
    assert.deepStrictEqual(out1.shape, [2, 5, 8, 8]);
    assert.deepStrictEqual(res1.shape, [2, 3, 8, 8]);
    assertRel(out1.sum().item(), 33.8436001649, 1e-8, 'T1 out sum');
    assertRel(probe(out1), 81.0521791645, 1e-8, 'T1 out probe');
    assertRel(res1.sum().item(), 27.636064965, 1e-8, 'T1 residual sum');
    assertRel(probe(res1), 20.4466384268, 1e-8, 'T1 residual probe');
    // T2: the same module again, out_shape 4 (no resize)
    const [out2, res2] = abf.forward(x(), y(), { outSize: [4, 4] });
    assert.deepStrictEqual(out2.shape, [2, 5, 4, 4]);
    assertRel(out2.sum().item(), 8.4609000412, 1e-8, 'T2 out sum');
    assertRel(probe(out2), 18.0678819218, 1e-8, 'T2 out probe');
    assertRel(probe(res2), 30.0090806957, 1e-8, 'T2 residual probe');
    // T3: eval mode uses the running statistics accumulated by T1 and T2 (momentum 0.1, unbiased var)
    abf.eval();
    const [out3] = abf.forward(x(), y(), { outSize: [8, 8] });
    assertRel(out3.sum().item(), 58.554583677, 1e-8, 'T3 out sum');
    assertRel(probe(out3), 139.2391207492, 1e-8, 'T3 out probe');
    assert.strictEqual(abf.namedBuffers()['conv1.1.num_batches_tracked'].item(), 2);
  });

  it('T4: the deepest ABF (no fusion) on a 1x1 pooled feature', () => {
    const abf = goldenAbf(false);
    assert.ok(!Object.keys(abf.namedParameters()).some((k) => k.startsWith('att_conv')), 'no attention conv without fusion');
    const [out, res] = abf.forward(det([3, 4, 1, 1], 0.41, 0.2), null, { outSize: [1, 1] });
    assert.deepStrictEqual(out.shape, [3, 5, 1, 1]);
    assertRel(out.sum().item(), 0.7932093789, 1e-8, 'T4 out sum');
    assertRel(probe(out), 0.8098430946, 1e-8, 'T4 out probe');
    assertRel(probe(res), 0.081181659, 1e-8, 'T4 residual probe');
  });
});
