'use strict';
// The distillation loss terms DKD, DIST, RKD, PKT, SP, NST (and KD with logit standardization) against
// golden values derived independently in plain Python (test/golden/<name>.py: float64, the math module
// only, written from the papers' definitions; run `python3 test/golden/<name>.py` to print them), plus
// finite-difference gradient checks and bad-input checks.
const assert = require('assert');
const rk = require('..');
const { det, assertRel } = require('./helpers');

// The inputs of the golden scripts (common.py's det() is helpers.det()).
const logits = () => ({ s: det([3, 5], 0.7, 0.1).mul(3), t: det([3, 5], 0.4, 1.3).mul(3) });
// The label is not the teacher's argmax in sample 0, nor the student's in samples 1 and 2 (dkd.py prints them).
const labels = () => rk.tensor([2, 0, 4], { dtype: 'int64' });
const pooled = () => ({ s: det([4, 3], 3.1, 0.2), t: det([4, 5], 1.3, 0.7) });
const logitSetup = { studentShapes: [], teacherShapes: [], numClasses: 5 };

function parts(name, setup, params, inputs) {
  const term = rk.losses.createTerm(name, setup, params);
  const out = term.compute(inputs);
  term.dispose();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.item()]));
}

describe('loss terms: golden values (test/golden/*.py)', () => {
  it('DKD: tckd and nckd, weighted, with and without standardization (dkd.py)', () => {
    const { s, t } = logits();
    const got = parts('dkd', logitSetup, { temperature: 2, alpha: 1.5 }, { studentLogits: s, teacherLogits: t, labels: labels() });
    assert.deepStrictEqual(Object.keys(got), ['tckd', 'nckd']);
    assertRel(got.tckd, 1.8636429903526412, 1e-12, 'tckd (alpha 1.5)');
    assertRel(got.nckd, 11.024074103140206, 1e-12, 'nckd (beta 8)');
    const ls = parts('dkd', logitSetup, { temperature: 2, alpha: 1, beta: 1, standardize: true }, { studentLogits: s, teacherLogits: t, labels: labels() });
    assertRel(ls.tckd, 0.4994886742892326, 1e-9, 'tckd standardized');
    assertRel(ls.nckd, 0.7738327393513685, 1e-9, 'nckd standardized');
    assertRel(rk.losses.dkd(s, t, labels(), { temperature: 2, alpha: 1.5 }).item(), 1.8636429903526412 + 11.024074103140206, 1e-12, 'dkd()');
  });

  it('KD with and without standardization (dkd.py)', () => {
    const { s, t } = logits();
    assertRel(rk.losses.kd(s, t, { temperature: 3 }).item(), 2.159820499159193, 1e-12, 'kd');
    assertRel(rk.losses.kd(s, t, { temperature: 3, standardize: true }).item(), 1.033430090494095, 1e-9, 'kd standardized');
  });

  it('DIST: inter and intra, weighted, and the defaults (dist.py)', () => {
    const { s, t } = logits();
    const got = parts('dist', logitSetup, { temperature: 3, beta: 1.5, gamma: 0.5 }, { studentLogits: s, teacherLogits: t });
    assert.deepStrictEqual(Object.keys(got), ['dist_inter', 'dist_intra']);
    assertRel(got.dist_inter, 17.760836430402815, 1e-12, 'dist_inter');
    assertRel(got.dist_intra, 6.038282346116551, 1e-12, 'dist_intra');
    assertRel(rk.losses.dist(s, t).item(), 42.57296730016727, 1e-12, 'dist() with T 4, beta = gamma = 1');
  });

  it('RKD: distance and angle with the default weights, N x C and N x C x 1 x 1 (rkd.py)', () => {
    const { s, t } = pooled();
    const setup = { studentShapes: [[3, 1, 1]], teacherShapes: [[5, 1, 1]] };
    const got = parts('rkd', setup, {}, { studentFeatures: [s.reshape([4, 3, 1, 1])], teacherFeatures: [t.reshape([4, 5, 1, 1])] });
    assert.deepStrictEqual(Object.keys(got), ['rkd_distance', 'rkd_angle']);
    assertRel(got.rkd_distance, 4.450605303770454, 1e-12, 'rkd_distance');
    assertRel(got.rkd_angle, 11.782513996843527, 1e-12, 'rkd_angle');
    assertRel(rk.losses.rkd(s, t).item(), 4.450605303770454 + 11.782513996843527, 1e-12, 'rkd() on N x C');
    assertRel(rk.losses.rkd(s.reshape([4, 3, 1, 1]), t, { distanceWeight: 1, angleWeight: 0 }).item(), 4.450605303770454 / 25, 1e-12, 'rkd() distance only');
  });

  it('PKT (pkt.py)', () => {
    const { s, t } = pooled();
    assertRel(rk.losses.pkt(s, t).item(), 0.19340853763408186, 1e-12, 'pkt');
  });

  it('SP (sp.py)', () => {
    assertRel(rk.losses.sp(det([3, 2, 2, 2], 0.3, 0.5), det([3, 3, 1, 2], 0.8, -0.4)).item(), 0.334891840255904, 1e-12, 'sp');
  });

  it('NST over two stage pairs, one pooled to the smaller size (nst.py)', () => {
    const sm = [det([2, 2, 2, 2], 0.6, 0.1), det([2, 3, 1, 2], 1.1, 0.3)];
    const tm = [det([2, 3, 4, 4], 0.25, 0.9), det([2, 2, 1, 2], 0.45, -0.2)];
    assertRel(rk.losses.nst(sm, tm).item(), 0.5719879167866868, 1e-12, 'nst');
    // Lists of different length pair their deepest maps.
    assertRel(rk.losses.nst(sm, [tm[1]]).item(), rk.losses.nst([sm[1]], [tm[1]]).item(), 1e-14, 'nst deepest pairing');
  });
});

describe('loss terms: logit standardization', () => {
  // Standardized KD/DKD depend on each sample's logits only up to an offset and a positive scale
  // (per network), which plain KD/DKD do not ignore.
  const shifted = (z) => z.mul(2.5).add(det([3, 1], 1.7, 0.2).mul(4));

  // (Up to the 1e-7 added to the standard deviation: hence the 1e-6 tolerance.)
  it('KD and DKD with standardize ignore a per-sample offset and scale; without, they do not', () => {
    const { s, t } = logits();
    const ls = (a, b) => rk.losses.kd(a, b, { temperature: 2, standardize: true }).item();
    assertRel(ls(shifted(s), t), ls(s, t), 1e-6, 'kd standardized, student shifted and scaled');
    assertRel(ls(s, shifted(t)), ls(s, t), 1e-6, 'kd standardized, teacher shifted and scaled');
    const plain = (a, b) => rk.losses.kd(a, b, { temperature: 2 }).item();
    assert.ok(Math.abs(plain(shifted(s), t) - plain(s, t)) > 1e-3, 'plain kd changes');
    const dls = (a, b) => rk.losses.dkd(a, b, labels(), { temperature: 2, standardize: true }).item();
    assertRel(dls(shifted(s), shifted(t)), dls(s, t), 1e-6, 'dkd standardized');
    const dplain = (a, b) => rk.losses.dkd(a, b, labels(), { temperature: 2 }).item();
    assert.ok(Math.abs(dplain(shifted(s), t) - dplain(s, t)) > 1e-3, 'plain dkd changes');
  });
});

// Central differences on every coordinate of the student input (float64) against backward().
function gradCheck(shape, a, b, loss) {
  const base = det(shape, a, b).toArray();
  const x = rk.tensor(Float64Array.from(base), { shape, dtype: 'float64', requiresGrad: true });
  loss(x).backward();
  const analytic = Array.from(x.grad.toArray());
  const at = (k, delta) => {
    const d = Float64Array.from(base);
    d[k] += delta;
    return loss(rk.tensor(d, { shape, dtype: 'float64' })).item();
  };
  const h = 1e-5;
  const scale = Math.max(...analytic.map(Math.abs));
  assert.ok(scale > 1e-6, 'the gradient is not all zero');
  for (let k = 0; k < base.length; k++) {
    const numeric = (at(k, h) - at(k, -h)) / (2 * h);
    const tol = 1e-5 * Math.max(Math.abs(analytic[k]), 1e-3 * scale);
    assert.ok(Math.abs(numeric - analytic[k]) <= tol, `d loss / d x[${k}]: backward ${analytic[k]}, central difference ${numeric}`);
  }
}

describe('loss terms: gradients match central differences (float64)', () => {
  const { t } = logits();
  it('DKD (standardized too)', () => {
    gradCheck([3, 5], 0.7, 0.1, (s) => rk.losses.dkd(s.mul(3), t, labels(), { temperature: 2 }));
    gradCheck([3, 5], 0.7, 0.1, (s) => rk.losses.dkd(s.mul(3), t, labels(), { temperature: 2, standardize: true }));
  });
  it('KD standardized', () => gradCheck([3, 5], 0.7, 0.1, (s) => rk.losses.kd(s.mul(3), t, { temperature: 3, standardize: true })));
  it('DIST', () => gradCheck([3, 5], 0.7, 0.1, (s) => rk.losses.dist(s.mul(3), t, { temperature: 3 })));
  it('RKD', () => gradCheck([4, 3], 3.1, 0.2, (s) => rk.losses.rkd(s, pooled().t)));
  it('PKT', () => gradCheck([4, 3], 3.1, 0.2, (s) => rk.losses.pkt(s, pooled().t)));
  it('SP', () => gradCheck([3, 2, 2, 2], 0.3, 0.5, (s) => rk.losses.sp(s, det([3, 3, 1, 2], 0.8, -0.4))));
  it('NST', () => {
    const tm = [det([2, 3, 4, 4], 0.25, 0.9), det([2, 2, 1, 2], 0.45, -0.2)];
    gradCheck([2, 2, 2, 2], 0.6, 0.1, (s) => rk.losses.nst([s, det([2, 3, 1, 2], 1.1, 0.3)], tm));
  });

  it('the teacher inputs get no gradient', () => {
    const { s } = logits();
    const tt = det([3, 5], 0.4, 1.3).mul(3).detach().requireGrad();
    const ss = s.detach().requireGrad();
    rk.losses.dkd(ss, tt, labels()).add(rk.losses.dist(ss, tt)).backward();
    assert.ok(ss.grad !== null);
    assert.strictEqual(tt.grad, null);
    const ps = pooled().s.requireGrad();
    const pt = pooled().t.requireGrad();
    rk.losses.rkd(ps, pt).add(rk.losses.pkt(ps, pt)).backward();
    assert.ok(ps.grad !== null);
    assert.strictEqual(pt.grad, null);
  });
});

describe('loss terms: bad inputs are RangeErrors naming the problem', () => {
  const range = (re) => (e) => e instanceof RangeError && re.test(e.message);
  const { s, t } = logits();

  it('logit terms: shapes, labels, parameters', () => {
    assert.throws(() => rk.losses.dkd(s, t.slice(1, 0, 4), labels()), range(/term 'dkd'.*same shape.*\[3, 5\].*\[3, 4\]/));
    assert.throws(() => rk.losses.dkd(s, t, rk.tensor([1, 2], { dtype: 'int64' })), range(/labels.*(one per sample \(3\)|of 3 class indices)/));
    assert.throws(() => rk.losses.dkd(s, t, rk.tensor([1, 2, 5], { dtype: 'int64' })), range(/term 'dkd'.*label is outside \[0, 5\)/));
    assert.throws(() => rk.losses.dkd(s, t, rk.tensor([1, 2, 0], { dtype: 'float32' })), range(/int64/));
    assert.throws(() => rk.losses.dist(s.reshape([15]), t.reshape([15])), range(/term 'dist'.*N x classes/));
    assert.throws(() => rk.losses.dkd(s, t, labels(), { temperature: 0 }), range(/term 'dkd': parameter 'temperature'/));
    assert.throws(() => rk.losses.dist(s, t, { beta: 'x' }), (e) => e instanceof TypeError && /parameter 'beta'/.test(e.message));
  });

  it('pooled-feature terms: rank, batch size, an unpooled map', () => {
    const { s: ps, t: pt } = pooled();
    assert.throws(() => rk.losses.rkd(ps, pt.slice(0, 0, 3)), range(/term 'rkd'.*teacher feature 0.*N = 4/));
    assert.throws(() => rk.losses.pkt(ps.reshape([4, 3, 1]), pt), range(/pkt: studentPooled\[0\] must be N x C or N x C x H x W/));
    assert.throws(() => rk.losses.rkd(det([4, 3, 2, 2], 0.1, 0.2), pt), range(/term 'rkd'.*student's last feature must be the pooled/));
  });

  it('stage-map terms: batch size, empty lists, too few levels, wrong feature count', () => {
    assert.throws(() => rk.losses.sp(det([3, 2, 2, 2], 0.3, 0.5), det([2, 3, 1, 2], 0.8, -0.4)), range(/term 'sp'.*teacher feature 0.*N = 3/));
    assert.throws(() => rk.losses.nst([], [det([2, 2, 1, 2], 0.45, -0.2)]), range(/nst.*at least one feature map/));
    assert.throws(() => rk.losses.createTerm('sp', { studentShapes: [[3, 1, 1]], teacherShapes: [[3, 1, 1]] }), range(/term 'sp'.*at least 2 student/));
    const term = rk.losses.createTerm('nst', { studentShapes: [[2, 2, 2], [2, 1, 1]], teacherShapes: [[2, 2, 2], [2, 1, 1]] });
    const f = det([2, 2, 2, 2], 0.6, 0.1);
    assert.throws(() => term.compute({ studentFeatures: [f], teacherFeatures: [f, f.mean([2, 3], true)] }), range(/term 'nst'.*expected 2 student features/));
    term.dispose();
  });
});
