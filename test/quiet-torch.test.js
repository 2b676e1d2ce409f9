'use strict';
// LibTorch's console noise (native/common/quiet_torch.cc): a TORCH_WARN raised again and again prints
// once per process, and no NNPACK initialisation warning reaches a user's output.
const assert = require('assert');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');

function runChild(script) {
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 120000 });
  assert.strictEqual(r.status, 0, r.stderr);
  return r.stderr;
}

describe('LibTorch warnings', () => {
  it('a warning raised on every iteration of a loop is printed once', () => {
    // Reading .grad of a non-leaf tensor is a TORCH_WARN in LibTorch (it is never populated).
    const stderr = runChild(`
      const rk = require('.');
      const x = rk.randn([4]);
      x.requiresGrad = true;
      const y = x.mul(2);
      for (let i = 0; i < 20; i++) y.grad;
    `);
    const lines = stderr.split('\n').filter((l) => /not a leaf Tensor/.test(l));
    assert.strictEqual(lines.length, 1, stderr);
    assert.match(lines[0], /^reviewkd: LibTorch warning: .*\(shown once\)$/);
  });

  it('convolutions at every batch size print no NNPACK initialisation warning', () => {
    const stderr = runChild(`
      const rk = require('.');
      const m = rk.models.create('resnet8', { numClasses: 10, inChannels: 3 });
      m.eval();
      for (const n of [1, 16, 64]) m.forward(rk.randn([n, 3, 32, 32]));
    `);
    assert.doesNotMatch(stderr, /NNPACK/);
    assert.strictEqual(stderr.trim(), '', stderr);
  });
});
