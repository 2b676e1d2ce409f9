'use strict';
// First use on an empty cache: processes that start at once take turns on the lock beside the LibTorch
// folder (lib/loader/pinned-wheel.ts), so the 500 MB wheel is unpacked once and every process finds it;
// what an interrupted fetch left behind is swept first. Uses the pinned wheel from the local wheel folder.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const root = path.resolve(__dirname, '..', '..');
const REAL_WHEEL = '/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl';

/** Resolves LibTorch in a child with only the pinned wheel available; resolves with {code, stdout, stderr}. */
function resolveInChild(cache) {
  const script = `
    const { resolveLibTorch } = require(${JSON.stringify(path.join(root, 'dist', 'loader', 'libtorch-resolution.js'))});
    const t = resolveLibTorch({ log: (m) => process.stderr.write(m + '\\n') });
    process.stdout.write(JSON.stringify({ root: t.root, source: t.source }));`;
  const env = { ...process.env, REVIEWKD_CACHE: cache, REVIEWKD_PYTHON_TORCH: '0', REVIEWKD_TORCH_WHEEL: REAL_WHEEL, PYTHON: '/nonexistent/python3' };
  delete env.LIBTORCH;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('first use: the pinned wheel on an empty cache', function () {
  this.timeout(900000);

  it('two processes at once both succeed, the wheel is unpacked once, stale work files are swept', async function () {
    if (!fs.existsSync(REAL_WHEEL)) throw new Error(`${REAL_WHEEL} is needed (this machine's local wheel folder)`);
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-first-use-'));
    try {
      const parent = path.join(cache, 'libtorch');
      fs.mkdirSync(path.join(parent, '.2.13.0-cpu.staging-1-dead'), { recursive: true });
      fs.mkdirSync(path.join(parent, '.2.13.0-cpu.fetch-abc123'));
      fs.writeFileSync(path.join(parent, '.2.13.0-cpu.staging-1-dead', 'half-written.so'), 'x');
      const started = Date.now();
      const [a, b] = await Promise.all([resolveInChild(cache), resolveInChild(cache)]);
      process.stderr.write(`      (two first uses at once: ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
      for (const r of [a, b]) assert.strictEqual(r.code, 0, r.stderr);
      const roots = [a, b].map((r) => JSON.parse(r.stdout));
      assert.deepStrictEqual(roots[0], roots[1]);
      assert.strictEqual(roots[0].source, 'wheel-cache');
      assert.strictEqual(roots[0].root, path.join(parent, '2.13.0-cpu', 'torch'));
      const unpacks = (a.stderr + b.stderr).split('\n').filter((l) => /^reviewkd: unpacking torch-2\.13\.0.* \(once\)$/.test(l));
      assert.strictEqual(unpacks.length, 1, `${a.stderr}\n---\n${b.stderr}`);
      assert.deepStrictEqual(fs.readdirSync(parent).sort(), ['2.13.0-cpu'], 'no lock, staging or fetch folder is left');
      const sweeps = (a.stderr + b.stderr).split('\n').filter((l) => /left by an interrupted fetch/.test(l));
      assert.strictEqual(sweeps.length, 2, 'both stale folders were removed, by one process');
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
