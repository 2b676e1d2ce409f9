'use strict';
// The loss terms that own modules or state: VID (regressors and variances), OFD (connectors and the
// teacher's margins), CRD (embeddings, memory banks and Z). Golden values come from the plain-Python
// scripts test/golden/{vid,ofd,crd}.py (float64, the math module only); gradients are checked against
// finite differences.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const rk = require('..');
const { native } = require('../dist/native');
const { det, assertRel, prng } = require('./helpers');

const detS = (shape, a, b, scale) => det(shape, a, b).mul(scale);
const int64 = (values) => rk.tensor(values, { dtype: 'int64' });

/** Checks autograd's gradient of f at `t` against central differences at a few random coordinates. */
function checkGradient(name, t, f, rand, trials = 4, eps = 1e-6) {
  const grad = t.grad.toArray();
  const base = t.detach().toArray();
  for (let trial = 0; trial < trials; trial++) {
    const k = Math.floor(rand() * base.length);
    const plus = Float64Array.from(base);
    plus[k] += eps;
    const minus = Float64Array.from(base);
    minus[k] -= eps;
    const numeric = (f(plus) - f(minus)) / (2 * eps);
    assert.ok(Math.abs(numeric - grad[k]) < 1e-6 * Math.max(1, Math.abs(numeric)), `${name}[${k}]: numeric ${numeric}, autograd ${grad[k]}`);
  }
}

/** Evaluates f with one parameter of `module` replaced by `data`, then restores it. */
function withParameter(module, key, data, f) {
  const p = module.namedParameters()[key];
  const saved = p.detach().clone();
  module.loadStateDict({ [key]: rk.tensor(data, { shape: p.shape }) }, { strict: false });
  try {
    return f();
  } finally {
    module.loadStateDict({ [key]: saved }, { strict: false });
  }
}

describe('loss term VID (variational information distillation)', () => {
  // test/golden/vid.py: level 0 teacher 4x4 vs student 2x2 (teacher pooled), level 1 the reverse.
  const setup = { studentShapes: [[3, 2, 2], [3, 4, 4], [3, 1, 1]], teacherShapes: [[2, 4, 4], [2, 2, 2], [2, 1, 1]] };
  const studentFeatures = () => [det([2, 3, 2, 2], 0.37, 0.1), det([2, 3, 4, 4], 0.31, 0.5), det([2, 3, 1, 1], 0.11, 0.2)];
  const teacherFeatures = () => [det([2, 2, 4, 4], 0.23, -0.4), det([2, 2, 2, 2], 0.17, 1.0), det([2, 2, 1, 1], 0.29, 0.3)];

  function goldenTerm() {
    const term = rk.losses.createTerm('vid', setup);
    term.module.to('float64');
    const weights = {};
    for (const l of [0, 1]) {
      weights[`${l}.regressor.0.weight`] = detS([2, 3, 1, 1], 0.7 + 0.1 * l, 0.3, 0.5);
      weights[`${l}.regressor.2.weight`] = detS([2, 2, 1, 1], 0.9 + 0.1 * l, 0.1, 0.5);
      weights[`${l}.regressor.4.weight`] = detS([2, 2, 1, 1], 0.6 + 0.1 * l, -0.3, 0.5);
      weights[`${l}.log_scale`] = det([2], 1.3, 0.2 + l);
    }
    term.module.loadStateDict(weights); // strict: exactly these parameters, no buffers
    return term;
  }

  it('builds one regressor (3 bias-free 1x1 convs, mid = teacher channels) and variance per stage level', () => {
    const term = rk.losses.createTerm('vid', setup);
    assert.deepStrictEqual(term.lossNames, ['vid']);
    const params = term.module.namedParameters();
    assert.deepStrictEqual(Object.keys(params).sort(), ['0.log_scale', '0.regressor.0.weight', '0.regressor.2.weight', '0.regressor.4.weight',
      '1.log_scale', '1.regressor.0.weight', '1.regressor.2.weight', '1.regressor.4.weight']);
    assert.deepStrictEqual(params['0.regressor.0.weight'].shape, [2, 3, 1, 1]);
    // softplus(log_scale) + 1e-5 = initVariance (default 5): log_scale = log(expm1(5 - 1e-5))
    for (const v of params['1.log_scale'].toArray()) assertRel(v, 4.9932291827136215, 1e-6, 'log_scale init');
    const custom = rk.losses.createTerm('vid', setup, { initVariance: 0.5 });
    const ls = custom.module.namedParameters()['0.log_scale'].toArray()[0];
    assertRel(Math.log1p(Math.exp(ls)) + 1e-5, 0.5, 1e-6, 'initVariance 0.5');
  });

  it('golden value 0.48468660451321166 (float64, test/golden/vid.py)', () => {
    const out = goldenTerm().compute({ studentFeatures: studentFeatures(), teacherFeatures: teacherFeatures() });
    assert.deepStrictEqual(Object.keys(out), ['vid']);
    assertRel(out.vid.item(), 0.48468660451321166, 1e-12, 'vid');
  });

  it('gradients with respect to the student feature and log_scale match finite differences', () => {
    const term = goldenTerm();
    const s = studentFeatures();
    const t = teacherFeatures();
    const loss = (features) => term.compute({ studentFeatures: features, teacherFeatures: t }).vid;
    s[1].requireGrad();
    loss(s).backward();
    const rand = prng(5);
    checkGradient('student level 1', s[1], (d) => loss([s[0], rk.tensor(d, { shape: s[1].shape }), s[2]]).item(), rand);
    const logScale = term.module.namedParameters()['0.log_scale'];
    checkGradient('0.log_scale', logScale, (d) => withParameter(term.module, '0.log_scale', d, () => loss(s.map((x) => x.detach())).item()), rand, 2);
  });

  it('bad shapes are RangeErrors naming the term', () => {
    assert.throws(() => rk.losses.createTerm('vid', { studentShapes: [[3, 2, 2], [3, 1, 1]], teacherShapes: [[2, 2, 2], [2, 2, 2], [2, 1, 1]] }),
      (e) => e instanceof RangeError && /term 'vid'/.test(e.message) && /1 stages and the teacher 2/.test(e.message));
    assert.throws(() => rk.losses.createTerm('vid', { studentShapes: [[3, 1, 1]], teacherShapes: [[2, 1, 1]] }), (e) => e instanceof RangeError && /at least 2/.test(e.message));
    assert.throws(() => rk.losses.createTerm('vid', setup, { initVariance: -1 }), RangeError);
    const term = rk.losses.createTerm('vid', setup);
    const s = studentFeatures().map((x) => x.to('float32'));
    const t = teacherFeatures().map((x) => x.to('float32'));
    assert.throws(() => term.compute({ studentFeatures: [s[0], rk.zeros([2, 4, 4, 4]), s[2]], teacherFeatures: t }), (e) => e instanceof RangeError && /term 'vid': student feature 1/.test(e.message));
    assert.throws(() => term.compute({ studentFeatures: s.slice(0, 2), teacherFeatures: t }), (e) => e instanceof RangeError && /expected 3 student features/.test(e.message));
    assert.throws(() => term.compute({ studentFeatures: s, teacherFeatures: [t[0], t[1], rk.zeros([3, 2, 1, 1])] }), (e) => e instanceof RangeError && /N = 2/.test(e.message));
  });
});

describe('loss term OFD (overhaul of feature distillation)', () => {
  const TEACHER_SHAPES = [[16, 2, 2], [32, 2, 2], [64, 2, 2], [64, 1, 1]];
  const STUDENT_SHAPES = [[2, 4, 4], [3, 2, 2], [2, 1, 1], [2, 1, 1]];
  const CH = [16, 32, 64];

  /** resnet8 with the stage BatchNorms of test/golden/ofd.py (teacher_bn). */
  function teacher() {
    const net = rk.models.create('resnet8', { numClasses: 10 });
    const record = {};
    CH.forEach((c, l) => {
      const gamma = detS([c], 0.7, 0.1 + l, 2).toArray();
      const beta = detS([c], 0.45, 0.9 + l, 3).toArray();
      if (l === 0) {
        [gamma[0], beta[0], gamma[1], beta[1]] = [0, -0.5, 0, 0.7];
      }
      record[`layer${l + 1}.0.bn2.weight`] = rk.tensor(gamma, { shape: [c] }).to('float32');
      record[`layer${l + 1}.0.bn2.bias`] = rk.tensor(beta, { shape: [c] }).to('float32');
    });
    net.loadStateDict(record, { strict: false });
    return net;
  }

  function goldenTerm(net) {
    const term = rk.losses.createTerm('ofd', { studentShapes: STUDENT_SHAPES, teacherShapes: TEACHER_SHAPES, teacher: net });
    term.module.to('float64');
    const record = {};
    CH.forEach((c, l) => {
      const cs = STUDENT_SHAPES[l][0];
      record[`${l}.connector.0.weight`] = detS([c, cs, 1, 1], 0.3 + 0.1 * l, 0.2, 0.5);
      record[`${l}.connector.1.weight`] = detS([c], 0.8, l, 0.2).add(1);
      record[`${l}.connector.1.bias`] = detS([c], 0.6, 0.5 + l, 0.3);
      record[`${l}.connector.1.running_mean`] = detS([c], 0.4, 0.7 + l, 0.1);
      record[`${l}.connector.1.running_var`] = det([c], 0.35, 0.3 + l).abs().mul(0.5).add(1);
      record[`${l}.margin`] = det([c], 0.55, 0.4 + l).abs().neg();
    });
    const report = term.module.loadStateDict(record, { strict: false });
    assert.deepStrictEqual(report.unexpected, []);
    assert.deepStrictEqual(report.mismatched, []);
    return term;
  }

  const inputs = () => ({
    studentFeatures: [...STUDENT_SHAPES.map(([c, h], l) => (l < 3 ? detS([2, c, h, h], 0.37 + 0.1 * l, 0.1, 2) : det([2, c, 1, 1], 0.1, 0)))],
    teacherFeatures: [...TEACHER_SHAPES.map(([c, h], l) => (l < 3 ? detS([2, c, h, h], 0.23 + 0.1 * l, -0.4, 1.5) : det([2, c, 1, 1], 0.2, 0)))],
  });

  it('margins from the teacher BatchNorms match E[x | x < 0] (test/golden/ofd.py)', () => {
    const term = rk.losses.createTerm('ofd', { studentShapes: STUDENT_SHAPES, teacherShapes: TEACHER_SHAPES, teacher: teacher() });
    assert.deepStrictEqual(term.lossNames, ['ofd']);
    const buffers = term.module.namedBuffers();
    const m = CH.map((c, l) => buffers[`${l}.margin`].toArray());
    // float32 storage of gamma, beta and the margins: relative 1e-5
    const sums = [-20.753896667990855, -45.2888874023656, -107.34795134345451];
    sums.forEach((s, l) => assertRel(m[l].reduce((a, b) => a + b, 0), s, 1e-5, `level ${l} margin sum`));
    // zero gamma: min(beta, 0); an ordinary channel; the -3|gamma| branch (with a negative gamma at level 1)
    assert.strictEqual(m[0][0], -0.5);
    assert.strictEqual(m[0][1], 0);
    assertRel(m[0][2], -0.8858714302171773, 1e-5, 'level 0 channel 2');
    assertRel(m[1][12], -0.4509067227708452, 1e-5, 'level 1 channel 12 (-3|gamma|)');
    assertRel(m[2][10], -1.9145901740961127, 1e-5, 'level 2 channel 10 (-3|gamma|)');
    for (const level of m) for (const v of level) assert.ok(Number.isFinite(v) && v <= 0, `margin ${v}`);
  });

  it('golden loss, eval (running statistics) 169.99956408966392 and train (batch statistics) 253.0084492302849', () => {
    const term = goldenTerm(teacher());
    term.module.train(false);
    assertRel(term.compute(inputs()).ofd.item(), 169.99956408966392, 1e-12, 'ofd eval');
    term.module.train(true);
    assertRel(term.compute(inputs()).ofd.item(), 253.0084492302849, 1e-12, 'ofd train');
  });

  it('partial L2 on a handmade example: zero only where the student is below a non-positive target', () => {
    // Identity connectors (student channels = teacher channels), BN in eval mode as the identity,
    // margins -0.5 on the first two channels of level 0 and 0 elsewhere; level 0 of 3 weighs 1/4.
    const shapes = [[16, 2, 2], [32, 1, 1], [64, 1, 1], [64, 1, 1]];
    const term = rk.losses.createTerm('ofd', { studentShapes: shapes, teacherShapes: shapes, teacher: teacher() });
    term.module.to('float64').train(false);
    const record = {};
    CH.forEach((c, l) => {
      const eye = new Float64Array(c * c);
      for (let i = 0; i < c; i++) eye[i * c + i] = 1;
      record[`${l}.connector.0.weight`] = rk.tensor(eye, { shape: [c, c, 1, 1] });
      record[`${l}.connector.1.running_var`] = rk.full([c], 1 - 1e-5, { dtype: 'float64' });
      const margin = new Float64Array(c);
      if (l === 0) margin[0] = margin[1] = -0.5;
      record[`${l}.margin`] = rk.tensor(margin);
    });
    term.module.loadStateDict(record, { strict: false });
    const level0 = (a, b) => {
      const d = new Float64Array(16 * 4);
      d.set(a, 0);
      d.set(b, 4);
      return rk.tensor(d, { shape: [1, 16, 2, 2] });
    };
    // channel 0: (s, t) = (-2, -1) -> 0; (0.5, -1) -> (0.5 + 0.5)^2; (3, 2) -> 1; (1, 2) -> 1
    // channel 1: (-1, -0.2) -> 0; (-0.1, -0.2) -> 0.01; (-1, 0) -> 0; (-0.4, -3) -> (-0.4 + 0.5)^2
    const s = level0([-2, 0.5, 3, 1], [-1, -0.1, -1, -0.4]);
    const t = level0([-1, -1, 2, 2], [-0.2, -0.2, 0, -3]);
    const zeros = (c) => rk.zeros([1, c, 1, 1], { dtype: 'float64' });
    const value = term.compute({ studentFeatures: [s, zeros(32), zeros(64), zeros(64)], teacherFeatures: [t, zeros(32), zeros(64), zeros(64)] }).ofd.item();
    assertRel(value, 3.02 / 4, 1e-9, 'handmade partial L2'); // 0.7549999999999999 in test/golden/ofd.py
  });

  it('gradients with respect to the student feature and the connector match finite differences (train mode)', () => {
    const term = goldenTerm(teacher());
    const x = inputs();
    x.studentFeatures[0].requireGrad();
    const loss = (s0) => term.compute({ studentFeatures: [s0, ...x.studentFeatures.slice(1)], teacherFeatures: x.teacherFeatures }).ofd;
    loss(x.studentFeatures[0]).backward();
    const rand = prng(9);
    const s0 = x.studentFeatures[0];
    checkGradient('student level 0', s0, (d) => loss(rk.tensor(d, { shape: s0.shape })).item(), rand);
    const w = term.module.namedParameters()['1.connector.0.weight'];
    checkGradient('1.connector.0.weight', w, (d) => withParameter(term.module, '1.connector.0.weight', d, () => loss(s0.detach()).item()), rand, 3);
  });

  it('every zoo family with known stage BatchNorms gives finite margins <= 0', function () {
    this.timeout(60000);
    for (const name of ['resnet20', 'wrn-16-2', 'vgg8', 'mobilenetv2-0.5', 'shufflenetv1', 'cifar-resnet50', 'resnet18', 'mobilenetv1']) {
      const shapes = rk.models.info(name).featureShapes;
      const net = rk.models.create(name, { numClasses: 10 });
      const small = shapes.map(([c]) => [Math.min(c, 4), 2, 2]);
      const term = rk.losses.createTerm('ofd', { studentShapes: small, teacherShapes: shapes, teacher: net });
      const margins = Object.entries(term.module.namedBuffers()).filter(([k]) => k.endsWith('.margin'));
      assert.strictEqual(margins.length, shapes.length - 1, name);
      margins.forEach(([k, m], l) => {
        assert.deepStrictEqual(m.shape, [shapes[l][0]], `${name} ${k}`);
        for (const v of m.toArray()) assert.ok(Number.isFinite(v) && v <= 0, `${name} ${k}: ${v}`);
      });
      net.dispose();
      term.dispose();
    }
  });

  it('a teacher without known stage BatchNorms (TorchScript, shufflenetv2, none) is a clear RangeError', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-ofd-'));
    try {
      const file = path.join(dir, 'tiny.pt');
      native().torchScriptSaveFixture(file, 3, 5);
      const scripted = rk.models.loadTorchScript(file, { trustCode: true });
      const shapes = [[16, 4, 4], [16, 1, 1]];
      const expected = (who) => (e) => e instanceof RangeError && /^OFD needs a teacher whose stage BatchNorms are known: .*resnet.*wrn/.test(e.message) && e.message.includes(who);
      assert.throws(() => rk.losses.createTerm('ofd', { studentShapes: shapes, teacherShapes: shapes, teacher: scripted }), expected("teacher 'torchscript' gives none"));
      const v2 = rk.models.create('shufflenetv2', { numClasses: 10 });
      const v2Shapes = rk.models.info('shufflenetv2').featureShapes;
      assert.throws(() => rk.losses.createTerm('ofd', { studentShapes: v2Shapes, teacherShapes: v2Shapes, teacher: v2 }), expected("teacher 'shufflenetv2' gives none"));
      assert.throws(() => rk.losses.createTerm('ofd', { studentShapes: shapes, teacherShapes: shapes }), expected('no teacher was given'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shapes that do not fit the teacher are RangeErrors', () => {
    const net = teacher();
    assert.throws(() => rk.losses.createTerm('ofd', { studentShapes: [[2, 2, 2], [2, 2, 2], [2, 1, 1]], teacherShapes: [[16, 2, 2], [32, 2, 2], [32, 1, 1]], teacher: net }),
      (e) => e instanceof RangeError && /3 stage BatchNorms but the teacher shapes give 2 stages/.test(e.message));
    const wrong = [[16, 2, 2], [33, 2, 2], [64, 2, 2], [64, 1, 1]];
    assert.throws(() => rk.losses.createTerm('ofd', { studentShapes: STUDENT_SHAPES, teacherShapes: wrong, teacher: net }),
      (e) => e instanceof RangeError && /stage 1 BatchNorm has 32 affine channels; the feature has 33/.test(e.message));
    const term = rk.losses.createTerm('ofd', { studentShapes: STUDENT_SHAPES, teacherShapes: TEACHER_SHAPES, teacher: net });
    const x = inputs();
    x.teacherFeatures[1] = rk.zeros([2, 31, 2, 2], { dtype: 'float64' });
    assert.throws(() => term.compute(x), (e) => e instanceof RangeError && /term 'ofd': teacher feature 1/.test(e.message));
  });
});

describe('loss term CRD (contrastive representation distillation)', () => {
  // test/golden/crd.py: n = 6, labels [0, 0, 0, 0, 0, 1]; a class-0 sample's negatives can only be 5.
  const LABELS = [0, 0, 0, 0, 0, 1];

  function goldenWeights(n) {
    return {
      'embed_s.weight': detS([3, 4], 0.7, 0.3, 0.5),
      'embed_s.bias': detS([3], 0.9, 0.1, 0.1),
      'embed_t.weight': detS([3, 5], 0.45, -0.2, 0.5),
      'embed_t.bias': detS([3], 0.6, 0.4, 0.1),
      'memory_s': detS([n, 3], 0.33, 0.5, 0.6),
      'memory_t': detS([n, 3], 0.21, 1.1, 0.6),
    };
  }

  function term64(setup, params, weights) {
    const term = rk.losses.createTerm('crd', setup, params);
    term.module.to('float64');
    const report = term.module.loadStateDict(weights, { strict: false });
    assert.deepStrictEqual([report.unexpected, report.mismatched], [[], []]);
    return term;
  }

  it('owns two embeddings, two memory banks (uniform in +-1/sqrt(dim/3)) and Z (unset: -1)', () => {
    rk.manualSeed(1);
    const term = rk.losses.createTerm('crd', { studentShapes: [[8, 4, 4], [8, 1, 1]], teacherShapes: [[6, 1, 1]], datasetSize: 50 }, { featureDim: 12 });
    assert.deepStrictEqual(term.lossNames, ['crd']);
    assert.deepStrictEqual(Object.keys(term.module.namedParameters()).sort(), ['embed_s.bias', 'embed_s.weight', 'embed_t.bias', 'embed_t.weight']);
    const b = term.module.namedBuffers();
    assert.deepStrictEqual(Object.keys(b).sort(), ['memory_s', 'memory_t', 'z']);
    assert.deepStrictEqual(b.memory_s.shape, [50, 12]);
    assert.deepStrictEqual(term.module.namedParameters()['embed_t.weight'].shape, [12, 6]);
    assert.deepStrictEqual(Array.from(b.z.toArray()), [-1, -1]);
    const stdv = 1 / Math.sqrt(12 / 3);
    for (const key of ['memory_s', 'memory_t']) {
      const m = b[key].toArray();
      assert.ok(m.every((v) => Math.abs(v) <= stdv), key);
      assert.ok(Math.max(...m) > 0.9 * stdv && Math.min(...m) < -0.9 * stdv, `${key} spans the range`);
    }
  });

  it('golden values: first call 2.9191505191141482 (sets Z), after the memory update 2.3317737926265414 (Z kept)', () => {
    const term = term64({ studentShapes: [[4, 1, 1]], teacherShapes: [[5, 1, 1]], datasetSize: 6, numClasses: 2, datasetLabels: int64(LABELS) },
      { featureDim: 3, negatives: 2, temperature: 0.5 }, goldenWeights(6));
    const inputs = { studentFeatures: [det([3, 4, 1, 1], 0.37, 0.1)], teacherFeatures: [det([3, 5, 1, 1], 0.23, -0.4)], indices: int64([0, 2, 3]), seed: 3 };
    assertRel(term.compute(inputs).crd.item(), 2.9191505191141482, 1e-12, 'first call');
    const z = Array.from(term.module.namedBuffers().z.toArray());
    assertRel(z[0], 6.45598930530298, 1e-12, 'Z (student embedding vs teacher memory)');
    assertRel(z[1], 5.503712369800121, 1e-12, 'Z (teacher embedding vs student memory)');
    term.afterUpdate(inputs);
    const memory = term.module.namedBuffers().memory_s.toArray();
    const expectRow = (row, values) => values.forEach((v, j) => assertRel(memory[row * 3 + j], v, 1e-12, `memory_s[${row}][${j}]`));
    expectRow(0, [0.6027293854200486, -0.06731962696722142, 0.7951008462932011]);
    expectRow(2, [0.9060412662189574, -0.26069524240350145, 0.33335748753632066]);
    expectRow(3, [-0.5722091219154662, 0.23394883961027826, -0.7860309543788561]);
    const memoryT = term.module.namedBuffers().memory_t.toArray();
    [0.845981490734643, 0.3577357034358336, -0.3953991449430063].forEach((v, j) => assertRel(memoryT[6 + j], v, 1e-12, `memory_t[2][${j}]`));
    assertRel(term.compute({ ...inputs, seed: 4 }).crd.item(), 2.3317737926265414, 1e-12, 'after the update');
    assert.deepStrictEqual(Array.from(term.module.namedBuffers().z.toArray()), z, 'Z is set once');
  });

  it('golden value without labels, the negatives clamped to n - 1 and Z given: 2.919090872756806', () => {
    const term = term64({ studentShapes: [[4, 1, 1]], teacherShapes: [[5, 1, 1]], datasetSize: 2 }, { featureDim: 3, temperature: 0.5 },
      { ...goldenWeights(2), z: rk.tensor([2, 3], { dtype: 'float64' }) });
    const inputs = { studentFeatures: [det([2, 4, 1, 1], 0.51, 0.3)], teacherFeatures: [det([2, 5, 1, 1], 0.13, 0.8)], indices: int64([1, 0]) };
    assertRel(term.compute(inputs).crd.item(), 2.919090872756806, 1e-12, 'relax');
  });

  // With every allowed negative row equal, the loss does not depend on which ones are drawn; a
  // forbidden row (the sample itself, or one of its class) would change it.
  function samplingSpread(labels) {
    const n = 6;
    const a = [0.6, -0.8, 0];
    const rows = [[0, 1, 0], [0, 0, 1], a, a, a, a]; // 0: the positive, 1: same class as 0
    rk.manualSeed(0);
    const setup = { studentShapes: [[4, 1, 1]], teacherShapes: [[5, 1, 1]], datasetSize: n, ...(labels ? { numClasses: 3, datasetLabels: int64(labels) } : {}) };
    const term = rk.losses.createTerm('crd', setup, { featureDim: 3, negatives: 4 });
    term.module.to('float64');
    const bank = rk.tensor(rows.flat(), { shape: [n, 3], dtype: 'float64' });
    term.module.loadStateDict({ memory_s: bank, memory_t: bank, z: rk.tensor([1, 1], { dtype: 'float64' }) }, { strict: false });
    const values = [];
    for (let seed = 1; seed <= 12; seed++) {
      values.push(term.compute({ studentFeatures: [det([1, 4, 1, 1], 0.37, 0.1)], teacherFeatures: [det([1, 5, 1, 1], 0.23, -0.4)], indices: int64([0]), seed }).crd.item());
    }
    return Math.max(...values) - Math.min(...values);
  }

  it('draws negatives from other classes when the labels are known, never the sample itself', () => {
    assert.ok(samplingSpread([0, 0, 1, 1, 2, 2]) < 1e-12, 'other classes only');
    // Without labels sample 1 (same class) may be drawn: the loss varies with the seed...
    assert.ok(samplingSpread(null) > 1e-3, 'relax mode draws from all other samples');
  });

  it('never draws the sample itself without labels', () => {
    const n = 6;
    const a = [0.6, -0.8, 0];
    const bank = rk.tensor([[0, 1, 0], a, a, a, a, a].flat(), { shape: [n, 3], dtype: 'float64' });
    rk.manualSeed(0);
    const term = rk.losses.createTerm('crd', { studentShapes: [[4, 1, 1]], teacherShapes: [[5, 1, 1]], datasetSize: n }, { featureDim: 3, negatives: 5 });
    term.module.to('float64');
    term.module.loadStateDict({ memory_s: bank, memory_t: bank, z: rk.tensor([1, 1], { dtype: 'float64' }) }, { strict: false });
    const values = [];
    for (let seed = 1; seed <= 12; seed++) {
      values.push(term.compute({ studentFeatures: [det([1, 4, 1, 1], 0.37, 0.1)], teacherFeatures: [det([1, 5, 1, 1], 0.23, -0.4)], indices: int64([0]), seed }).crd.item());
    }
    assert.ok(Math.max(...values) - Math.min(...values) < 1e-12);
  });

  it('afterUpdate moves only the batch rows, keeps them unit-norm; Z is set by the first call only', () => {
    rk.manualSeed(2);
    const term = rk.losses.createTerm('crd', { studentShapes: [[8, 1, 1]], teacherShapes: [[6, 1, 1]], datasetSize: 10 }, { featureDim: 8, negatives: 4 });
    const before = term.module.namedBuffers().memory_s.clone().toArray();
    const inputs = { studentFeatures: [rk.randn([3, 8, 1, 1])], teacherFeatures: [rk.randn([3, 6, 1, 1])], indices: int64([7, 1, 4]), seed: 1 };
    const loss = term.compute(inputs).crd;
    assert.ok(Number.isFinite(loss.item()) && loss.item() > 0);
    const z = Array.from(term.module.namedBuffers().z.toArray());
    assert.ok(z.every((v) => v > 0), `Z set: ${z}`);
    term.afterUpdate(inputs);
    const after = term.module.namedBuffers().memory_s.toArray();
    for (let row = 0; row < 10; row++) {
      const a = after.slice(row * 8, row * 8 + 8);
      const b = before.slice(row * 8, row * 8 + 8);
      if ([7, 1, 4].includes(row)) {
        assert.ok(a.some((v, j) => Math.abs(v - b[j]) > 1e-6), `row ${row} moved`);
        assertRel(Math.hypot(...a), 1, 1e-6, `row ${row} norm`);
      } else {
        assert.deepStrictEqual(Array.from(a), Array.from(b), `row ${row} untouched`);
      }
    }
    term.compute({ ...inputs, studentFeatures: [rk.randn([3, 8, 1, 1])], indices: int64([0, 2, 9]) });
    assert.deepStrictEqual(Array.from(term.module.namedBuffers().z.toArray()), z, 'Z unchanged');
  });

  it('gradients flow to both embeddings', () => {
    rk.manualSeed(3);
    const term = rk.losses.createTerm('crd', { studentShapes: [[8, 1, 1]], teacherShapes: [[6, 1, 1]], datasetSize: 10 }, { featureDim: 8, negatives: 4 });
    const fs = rk.randn([3, 8, 1, 1]).requireGrad();
    term.compute({ studentFeatures: [fs], teacherFeatures: [rk.randn([3, 6, 1, 1])], indices: int64([0, 1, 2]) }).crd.backward();
    assert.ok(fs.grad !== null);
    for (const [k, p] of Object.entries(term.module.namedParameters())) assert.ok(p.grad !== null && p.grad.abs().sum().item() > 0, k);
  });

  it('bad setups and inputs are RangeErrors naming the term', () => {
    const shapes = { studentShapes: [[4, 1, 1]], teacherShapes: [[5, 1, 1]] };
    assert.throws(() => rk.losses.createTerm('crd', shapes), (e) => e instanceof RangeError && /term 'crd': needs the data-set size/.test(e.message));
    assert.throws(() => rk.losses.createTerm('crd', { ...shapes, datasetSize: 6, datasetLabels: int64([0, 1]) }), (e) => e instanceof RangeError && /6 integers/.test(e.message));
    assert.throws(() => rk.losses.createTerm('crd', { ...shapes, datasetSize: 3, datasetLabels: int64([1, 1, 1]) }), (e) => e instanceof RangeError && /same label/.test(e.message));
    assert.throws(() => rk.losses.createTerm('crd', { ...shapes, datasetSize: 3, numClasses: 2, datasetLabels: int64([0, 1, 2]) }), (e) => e instanceof RangeError && /\[0, 2\)/.test(e.message));
    assert.throws(() => rk.losses.createTerm('crd', { ...shapes, datasetSize: 6 }, { negatives: 0 }), RangeError);
    assert.throws(() => rk.losses.createTerm('crd', { ...shapes, datasetSize: 6 }, { temperature: 0 }), RangeError);
    const term = rk.losses.createTerm('crd', { ...shapes, datasetSize: 6 });
    const ok = { studentFeatures: [rk.randn([2, 4, 1, 1])], teacherFeatures: [rk.randn([2, 5, 1, 1])], indices: int64([0, 5]) };
    assert.ok(Number.isFinite(term.compute(ok).crd.item()));
    assert.throws(() => term.compute({ ...ok, indices: int64([0, 6]) }), (e) => e instanceof RangeError && /indices must lie in \[0, 6\)/.test(e.message));
    assert.throws(() => term.compute({ ...ok, studentFeatures: [rk.randn([2, 3, 1, 1])] }), (e) => e instanceof RangeError && /student's pooled feature/.test(e.message));
    assert.throws(() => term.compute({ ...ok, teacherFeatures: [rk.randn([2, 5, 2, 1])] }), (e) => e instanceof RangeError && /teacher's pooled feature/.test(e.message));
  });
});
