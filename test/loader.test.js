'use strict';
// The loader (lib/native.ts, lib/loader/): LibTorch resolution errors, which binary fits which LibTorch,
// the child-process trial, the relocatable prebuilt binding, and the message when nothing fits.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const { loadedBinary, native } = require('../dist/native');
const { judge } = require('../dist/loader/candidates');
const { bindPrebuilt } = require('../dist/loader/binding-dir');
const { tryInChild } = require('../dist/loader/trial');
const { resolveLibTorch, readVersion } = require('../dist/loader/libtorch-resolution');

const root = path.resolve(__dirname, '..');
const tmp = (prefix) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** A folder holding a binary file and the build record beside it. */
function binaryWithRecord(record) {
  const dir = tmp('rk-binary-');
  const file = path.join(dir, 'reviewkd.node');
  fs.writeFileSync(file, 'not really a binary');
  if (record) fs.writeFileSync(path.join(dir, 'reviewkd-build.json'), JSON.stringify(record));
  return file;
}

const torch = (over = {}) => ({ root: '/opt/libtorch', libDir: '/opt/libtorch/lib', cmakePrefixPath: '', version: '2.13.0+cpu', variant: 'cpu', source: 'LIBTORCH', skipped: [], ...over });

/** A LibTorch folder that claims another version: links to the real one's folders, its own version.py. */
function fakeLibTorch(version) {
  const real = resolveLibTorch().root;
  const dir = tmp('rk-libtorch-');
  for (const sub of ['include', 'lib', 'share']) fs.symlinkSync(path.join(real, sub), path.join(dir, sub));
  fs.writeFileSync(path.join(dir, 'version.py'), `__version__ = '${version}'\n`);
  return dir;
}

/** A PATH folder where compilers and cmake exist but fail, as on a machine with none. */
function shadowedToolsPath() {
  const dir = tmp('rk-shadow-');
  for (const tool of ['cc', 'c++', 'gcc', 'g++', 'cmake', 'make', 'ninja']) {
    fs.writeFileSync(path.join(dir, tool), '#!/bin/sh\necho "shadowed by the test" >&2\nexit 1\n', { mode: 0o755 });
  }
  return dir;
}

describe('loader: which binary fits which LibTorch', () => {
  it('accepts a source build for the same version and folder', () => {
    const c = judge('package build', binaryWithRecord({ libtorch: { version: '2.13.0+cpu', variant: 'cpu', root: '/opt/libtorch' } }), torch());
    assert.strictEqual(c.fits, true, c.reason);
  });

  it('refuses another version, naming both', () => {
    const c = judge('package build', binaryWithRecord({ libtorch: { version: '2.13.0+cpu', variant: 'cpu', root: '/opt/libtorch' } }), torch({ version: '2.99.0+cpu' }));
    assert.strictEqual(c.fits, false);
    assert.match(c.reason, /built against LibTorch 2\.13\.0\+cpu; the LibTorch found is 2\.99\.0\+cpu/);
  });

  it('refuses the other variant (a CUDA binary with a CPU LibTorch and back)', () => {
    const c = judge('prebuilt', binaryWithRecord({ prebuilt: true, libtorch: { version: '2.14.1+cu130', variant: 'cuda' } }), torch());
    assert.strictEqual(c.fits, false);
    assert.match(c.reason, /built for cuda LibTorch 2\.14\.1\+cu130; the LibTorch found is cpu 2\.13\.0\+cpu/);
    const back = judge('prebuilt', binaryWithRecord({ prebuilt: true, libtorch: { version: '2.13.0+cpu', variant: 'cpu' } }), torch({ version: '2.14.1+cu130', variant: 'cuda' }));
    assert.strictEqual(back.fits, false);
    assert.match(back.reason, /built for cpu LibTorch 2\.13\.0\+cpu; the LibTorch found is cuda 2\.14\.1\+cu130/);
  });

  it('refuses a CUDA binary for another CUDA LibTorch version, naming both', () => {
    const c = judge('prebuilt', binaryWithRecord({ prebuilt: true, libtorch: { version: '2.14.1+cu130', variant: 'cuda' } }), torch({ version: '2.14.0+cu130', variant: 'cuda' }));
    assert.strictEqual(c.fits, false);
    assert.match(c.reason, /built against LibTorch 2\.14\.1\+cu130; the LibTorch found is 2\.14\.0\+cu130/);
  });

  it('refuses a source build linked to another LibTorch folder, but a prebuilt binary is relocatable', () => {
    const src = judge('package build', binaryWithRecord({ libtorch: { version: '2.13.0+cpu', variant: 'cpu', root: '/elsewhere' } }), torch());
    assert.strictEqual(src.fits, false);
    assert.match(src.reason, /at \/elsewhere; the one found is at \/opt\/libtorch/);
    const pre = judge('prebuilt', binaryWithRecord({ prebuilt: true, libtorch: { version: '2.13.0+cpu', variant: 'cpu' } }), torch());
    assert.strictEqual(pre.fits, true, pre.reason);
  });

  it('refuses a binary without a build record, and reports a missing binary', () => {
    assert.match(judge('cache build', binaryWithRecord(null), torch()).reason, /no readable reviewkd-build\.json/);
    assert.match(judge('cache build', undefined, torch()).reason, /no binary for this platform/);
  });
});

describe('loader: loading', () => {
  it('the loaded binary fits the LibTorch found, which is on disk with the recorded version', () => {
    native();
    const { path: file, record, libtorch, kind } = loadedBinary();
    assert.ok(file && fs.existsSync(file));
    assert.ok(['package build', 'prebuilt', 'cache build'].includes(kind));
    assert.strictEqual(record.libtorch.version, libtorch.version);
    assert.strictEqual(readVersion(libtorch.root), libtorch.version);
  });

  it('a binary that cannot load costs a child process, not this one', () => {
    const cache = tmp('rk-cache-');
    const bad = binaryWithRecord({ libtorch: { version: '2.13.0+cpu', variant: 'cpu' } });
    const result = tryInChild(bad, torch(), cache);
    assert.strictEqual(result.ok, false);
    assert.match(result.message, /child process failed/);
    assert.ok(!fs.existsSync(path.join(cache, 'verified')), 'a failure must not be remembered as a success');
  });

  it('a good binary passes the trial once; the success is remembered', () => {
    native();
    const { path: file, libtorch } = loadedBinary();
    const cache = tmp('rk-cache-');
    const first = tryInChild(file, libtorch, cache);
    assert.deepStrictEqual([first.ok, first.remembered], [true, false], first.message);
    const second = tryInChild(file, libtorch, cache);
    assert.deepStrictEqual([second.ok, second.remembered], [true, true]);
  });

  it('a prebuilt binary is bound to the LibTorch found through a torch link beside a copy of it', () => {
    const cache = tmp('rk-cache-');
    const binary = binaryWithRecord({ prebuilt: true, libtorch: { version: '2.13.0+cpu', variant: 'cpu' } });
    const t = torch({ root: tmp('rk-torchroot-') });
    const bound = bindPrebuilt(binary, t, cache);
    assert.strictEqual(fs.readFileSync(bound, 'utf8'), 'not really a binary');
    assert.strictEqual(fs.readlinkSync(path.join(path.dirname(bound), 'torch')), t.root);
    assert.ok(fs.existsSync(path.join(path.dirname(bound), 'reviewkd-build.json')));
    assert.strictEqual(bindPrebuilt(binary, t, cache), bound, 'the second call reuses the folder');
    assert.strictEqual(fs.existsSync(path.join(path.dirname(bound), 'nvidia')), false, 'no nvidia/ beside this torch: no link');
  });

  it("a prebuilt binary bound to pip's CUDA torch also links the nvidia/ folder beside it ($ORIGIN/../../nvidia)", () => {
    const sitePackages = tmp('rk-site-');
    for (const sub of ['torch', 'nvidia']) fs.mkdirSync(path.join(sitePackages, sub));
    const binary = binaryWithRecord({ prebuilt: true, libtorch: { version: '2.14.1+cu130', variant: 'cuda' } });
    const t = torch({ root: path.join(sitePackages, 'torch'), version: '2.14.1+cu130', variant: 'cuda' });
    const bound = bindPrebuilt(binary, t, tmp('rk-cache-'));
    assert.strictEqual(fs.readlinkSync(path.join(path.dirname(bound), 'torch')), t.root);
    assert.strictEqual(fs.readlinkSync(path.join(path.dirname(bound), 'nvidia')), path.join(sitePackages, 'nvidia'));
  });

  it('LibTorch of another version and no build tools: fails with every reason and the fix, without crashing', function () {
    this.timeout(120000);
    // The CI stage test:cuda-variant runs this file against pip's CUDA torch: the fake then is a CUDA LibTorch.
    const pkg = require('../package.json');
    const cuda = resolveLibTorch().variant === 'cuda';
    const [other, built] = cuda ? ['2.99.0+cu130', `${pkg.libtorch.cudaCheckVersion}+cu130`] : ['2.99.0+cpu', `${pkg.libtorch.version}+cpu`];
    const re = (v) => v.replace(/[.+]/g, '\\$&');
    const env = {
      ...process.env,
      LIBTORCH: fakeLibTorch(other),
      PATH: `${shadowedToolsPath()}:${process.env.PATH}`,
      CXX: 'false',
      CC: 'false',
      REVIEWKD_CACHE: tmp('rk-cache-'),
    };
    const r = spawnSync(process.execPath, ['-e', "require(process.argv[1]).zeros([2])", root], { env, encoding: 'utf8' });
    assert.strictEqual(r.status, 1, r.stderr);
    assert.match(r.stderr, /no binary fits this LibTorch, and building one from source needs cmake, a C\+\+ compiler \(false\)/);
    assert.match(r.stderr, new RegExp(`LibTorch found: ${re(other)} \\(${cuda ? 'cuda' : 'cpu'}\\) from LIBTORCH`));
    assert.match(r.stderr, new RegExp(`built against LibTorch ${re(built)}; the LibTorch found is ${re(other)}`));
    assert.match(r.stderr, /Fix: unset LIBTORCH so the prebuilt binary is used/);
    assert.doesNotMatch(r.stderr, /Segmentation|Aborted|core dumped/);
  });

  it('resolution lists every attempt and the one fix when LibTorch cannot be found', () => {
    const saved = { ...process.env };
    try {
      process.env.LIBTORCH = '/nonexistent/libtorch';
      process.env.PYTHON = '/nonexistent/python3';
      process.env.REVIEWKD_CACHE = tmp('rk-cache-');
      process.env.REVIEWKD_OFFLINE = '1';
      assert.throws(() => resolveLibTorch(), (e) => /Tried, in order/.test(e.message) && /LIBTORCH=\/nonexistent\/libtorch/.test(e.message) && /python3|python/.test(e.message) && /REVIEWKD_OFFLINE/.test(e.message) && /system libtorch/.test(e.message) && /Fix: .*REVIEWKD_TORCH_WHEEL/.test(e.message));
    } finally {
      for (const k of ['LIBTORCH', 'PYTHON', 'REVIEWKD_CACHE', 'REVIEWKD_OFFLINE']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it('a wheel whose checksum is not the pinned one is refused before anything is unpacked', () => {
    const cache = tmp('rk-cache-');
    const wrong = path.join(tmp('rk-wheel-'), 'torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl');
    fs.writeFileSync(wrong, 'tampered');
    const r = spawnSync(process.execPath, ['-e', `
      const { fetchPinnedWheel } = require(${JSON.stringify(path.join(root, 'dist', 'loader', 'pinned-wheel.js'))});
      try { fetchPinnedWheel({ destination: process.argv[1] }); } catch (e) { console.error(e.message); process.exit(3); }`, path.join(cache, 'libtorch', '2.13.0-cpu')],
    { env: { ...process.env, REVIEWKD_TORCH_WHEEL: wrong, PYTHON: '/nonexistent/python3', REVIEWKD_TORCH_WHEEL_URL: 'http://127.0.0.1:9/none.whl' }, encoding: 'utf8' });
    assert.strictEqual(r.status, 3, r.stderr);
    assert.match(r.stderr, /REVIEWKD_TORCH_WHEEL=.*has sha256 [0-9a-f]{64}, expected 6746dbcb/);
    assert.ok(!fs.existsSync(path.join(cache, 'libtorch', '2.13.0-cpu', 'torch')), 'nothing unpacked');
  });
});
