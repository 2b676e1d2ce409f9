'use strict';
// The package works from both `require` and ESM `import` (the generated dist/esm entry), by its own name.
const assert = require('assert');
const { spawnSync } = require('child_process');
const path = require('path');

describe('module formats', () => {
  it('ESM import by package name gives named and default exports that work', () => {
    const script = [
      "import rk, { tensor, nn, losses, models, train, info } from 'reviewkd';",
      'const t = tensor([[1, 2], [3, 4]]);',
      "if (t.sum().item() !== 10) throw new Error('sum');",
      "if (typeof nn.createReviewHead !== 'function' || typeof losses.hcl !== 'function') throw new Error('namespaces');",
      "if (rk.tensor !== tensor || typeof models.create !== 'function' || typeof train.Trainer !== 'function') throw new Error('default export');",
      "console.log(info().libtorch.version);",
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /^2\.\d+/);
  });

  it('CommonJS require by package name', () => {
    const r = spawnSync(process.execPath, ['-e', "const rk = require('reviewkd'); console.log(rk.ones([3]).sum().item())"], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(r.stdout.trim(), '3');
  });
});
