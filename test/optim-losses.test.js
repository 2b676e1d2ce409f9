'use strict';
// The optimizer against hand-computed SGD steps, and the classic losses against hand-computed values.
const assert = require('assert');
const rk = require('..');
const { assertRel } = require('./helpers');

describe('optim.SGD', () => {
  it('matches hand-computed Nesterov momentum with weight decay over 3 steps', () => {
    const p = rk.tensor([1, -2], { dtype: 'float64', requiresGrad: true });
    const c = rk.tensor([0.5, 1], { dtype: 'float64' });
    const opt = new rk.optim.SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true });
    // Expected, following PyTorch's update rule.
    let ref = [1, -2];
    let buf = null;
    for (let step = 0; step < 3; step++) {
      opt.zeroGrad();
      p.mul(c).sum().backward();
      opt.step();
      const g = ref.map((v, i) => [0.5, 1][i] + 0.01 * v);
      buf = buf === null ? g : buf.map((b, i) => 0.9 * b + g[i]);
      const d = g.map((gi, i) => gi + 0.9 * buf[i]);
      ref = ref.map((v, i) => v - 0.1 * d[i]);
    }
    const got = Array.from(p.detach().toArray());
    got.forEach((v, i) => assertRel(v, ref[i], 1e-12, `p[${i}]`));
    assert.deepStrictEqual(opt.momentumBuffers()[0].shape, [2]);
    opt.lr = 0.5;
    assert.strictEqual(opt.lr, 0.5);
  });

  it('rejects bad options', () => {
    const p = rk.zeros([2], { requiresGrad: true });
    assert.throws(() => new rk.optim.SGD([p], { lr: -1 }), (e) => e instanceof RangeError && /lr/.test(e.message));
    assert.throws(() => new rk.optim.SGD([p], { lr: 0.1, nesterov: true }), (e) => e instanceof RangeError && /nesterov/.test(e.message));
    assert.throws(() => new rk.optim.SGD([rk.zeros([2])], { lr: 0.1 }), (e) => e instanceof RangeError && /requires grad/.test(e.message));
    assert.throws(() => new rk.optim.SGD([], { lr: 0.1 }), (e) => e instanceof RangeError && /empty/.test(e.message));
    assert.throws(() => new rk.optim.SGD([p]), TypeError);
  });
});

describe('classic losses (hand-computed)', () => {
  it('crossEntropy with and without label smoothing', () => {
    const logits = rk.tensor([[0, Math.log(3)], [Math.log(2), 0]], { dtype: 'float64' });
    const labels = rk.tensor(new BigInt64Array([1n, 1n]));
    // p(class 1) = 0.75 and 1/3
    assertRel(rk.losses.crossEntropy(logits, labels).item(), (-Math.log(0.75) - Math.log(1 / 3)) / 2, 1e-12, 'ce');
    // smoothing eps: (1-eps)*nll + eps*mean_k(-log p_k)
    const eps = 0.2;
    const row = (p1) => (1 - eps) * -Math.log(p1) + eps * (-Math.log(p1) - Math.log(1 - p1)) / 2;
    assertRel(rk.losses.crossEntropy(logits, labels, { labelSmoothing: eps }).item(), (row(0.75) + row(1 / 3)) / 2, 1e-12, 'smoothed ce');
    assert.throws(() => rk.losses.crossEntropy(logits, rk.tensor(new BigInt64Array([1n, 2n]))), (e) => e instanceof RangeError && /class 2, outside \[0, 2\)/.test(e.message));
    assert.throws(() => rk.losses.crossEntropy(logits, rk.tensor([1, 0])), (e) => e instanceof RangeError && /int64 vector/.test(e.message));
  });

  it('kd: KL(teacher || student) at temperature T, batch mean, times T^2', () => {
    const s = [[1, 2, 3], [0, 0, 1]];
    const t = [[3, 2, 1], [1, 0, 0]];
    const T = 4;
    const softmax = (row) => {
      const e = row.map((v) => Math.exp(v / T));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    };
    let kl = 0;
    for (let i = 0; i < 2; i++) {
      const p = softmax(s[i]);
      const q = softmax(t[i]);
      kl += q.reduce((acc, qk, k) => acc + qk * Math.log(qk / p[k]), 0);
    }
    const expected = (kl / 2) * T * T;
    const got = rk.losses.kd(rk.tensor(s, { dtype: 'float64' }), rk.tensor(t, { dtype: 'float64' }), { temperature: T }).item();
    assertRel(got, expected, 1e-12, 'kd');
    assert.throws(() => rk.losses.kd(rk.zeros([2, 3]), rk.zeros([2, 4])), (e) => e instanceof RangeError && /teacher logits/.test(e.message));
    assert.throws(() => rk.losses.kd(rk.zeros([2, 3]), rk.zeros([2, 3]), { temperature: 0 }), RangeError);
  });

  it('at: normalised attention maps (p = 2), mean squared difference', () => {
    // One sample, one channel each, 1x2 maps: a = [1, 2], b = [2, 0] (channel mean of squares).
    const s = rk.tensor([[[[1, Math.SQRT2]]]], { dtype: 'float64' });
    const t = rk.tensor([[[[Math.SQRT2, 0]]], [[[0, 0]]]], { dtype: 'float64' }).slice(0, 0, 1).reshape([1, 1, 1, 2]);
    const a = [1, 2].map((v) => v / Math.sqrt(5));
    const b = [2, 0].map((v) => v / 2);
    const expected = ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) / 2;
    assertRel(rk.losses.at(s, t).item(), expected, 1e-12, 'at');
    assert.throws(() => rk.losses.at(rk.zeros([1, 1, 2, 2]), rk.zeros([1, 3, 4, 4])), (e) => e instanceof RangeError && /N, H and W/.test(e.message));
  });

  it('fitnet: MSE through a 1x1 regressor', () => {
    const reg = new rk.nn.HintRegressor({ inChannels: 2, outChannels: 1 }).to('float64');
    reg.loadStateDict({ 'conv.weight': rk.tensor([[[[2]], [[-1]]]], { dtype: 'float64' }), 'conv.bias': rk.tensor([0.5], { dtype: 'float64' }) });
    const s = rk.tensor([[[[1]], [[3]]]], { dtype: 'float64' }); // regressor: 2*1 - 3 + 0.5 = -0.5
    const t = rk.tensor([[[[1.5]]]], { dtype: 'float64' });
    assertRel(rk.losses.fitnet(reg, s, t).item(), 4, 1e-12, 'fitnet');
    assert.throws(() => rk.losses.fitnet(reg, rk.zeros([1, 3, 1, 1], { dtype: 'float64' }), t), (e) => e instanceof RangeError && /regressor expects 2/.test(e.message));
  });
});
