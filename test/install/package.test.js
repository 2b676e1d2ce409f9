'use strict';
// Installing like a user: the tarball `npm pack` makes (its prepack step makes the prebuilt binary) is
// installed with --ignore-scripts into a fresh project where no compiler or cmake is reachable, and used
// from CommonJS, ESM and a strict TypeScript project. Needs the npm registry for the package's own
// dependencies, as any install does.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(__dirname, '..', 'fixtures');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw r.error;
  return r;
}

function mustRun(cmd, args, options) {
  const r = run(cmd, args, options);
  assert.strictEqual(r.status, 0, `${cmd} ${args.join(' ')} exited with ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** A PATH folder whose compilers and build tools all fail, put first on PATH. */
function shadowedTools(dir) {
  fs.mkdirSync(dir, { recursive: true });
  for (const tool of ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'cmake', 'make', 'ninja']) {
    fs.writeFileSync(path.join(dir, tool), '#!/bin/sh\necho "$0: shadowed by test/install/package.test.js" >&2\nexit 1\n', { mode: 0o755 });
  }
  return dir;
}

/** Runs a heavy step and reports its duration (so a slow CI run says where the time went). */
function timed(what, body) {
  const started = Date.now();
  try {
    return body();
  } finally {
    process.stderr.write(`      (${what}: ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  }
}

const lastJsonLine = (text) => JSON.parse(text.trim().split('\n').filter((l) => l.startsWith('{')).pop());

describe('package: the packed tarball, installed without scripts or a compiler', function () {
  // Sized for a busy 2-core machine: the source build alone takes ~4 min idle and up to ~9 min under load.
  this.timeout(1800000);
  let work;
  let tarball;
  let project;
  let userEnv;

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-package-'));
    // prepack runs scripts/setup.js and scripts/prebuild.js (prebuildify) first.
    timed('npm pack (prepack: set-up and prebuildify)', () => mustRun(npm, ['pack', '--pack-destination', work], { cwd: root }));
    tarball = path.join(work, fs.readdirSync(work).find((f) => f.endsWith('.tgz')));
    project = path.join(work, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'rk-consumer', private: true, version: '1.0.0' }));
    const started = Date.now();
    mustRun(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: project });
    process.stderr.write(`      (npm install --ignore-scripts of the tarball: ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    userEnv = { ...process.env, PATH: `${shadowedTools(path.join(work, 'shadow'))}:${process.env.PATH}`, CC: 'false', CXX: 'false' };
    delete userEnv.LIBTORCH;
  });

  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('holds both prebuilt variants (CPU, CUDA) with their build records, the sources for a fallback build, and nothing else', () => {
    const files = mustRun('tar', ['-tzf', tarball]).stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    for (const needed of [
      'binaries/cpu/prebuilds/linux-x64/reviewkd.node',
      'binaries/cpu/prebuilds/linux-x64/reviewkd-build.json',
      'binaries/cuda/prebuilds/linux-x64/reviewkd.node',
      'binaries/cuda/prebuilds/linux-x64/reviewkd-build.json',
      'dist/index.js', 'dist/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/index.d.mts', 'bin/reviewkd.js',
      'native/addon.cc', 'CMakeLists.txt', 'dist/loader/native-build.js', 'dist/loader/wheel-fetch.js',
      'dist/loader/install-hook.js', 'package.json', 'README.md',
    ]) assert.ok(files.includes(needed), `${needed} is missing from the tarball`);
    const unwanted = files.filter((f) => /^(test|lib|demo|build|node_modules|scripts|\.ci)\/|\.map$|\.tsbuildinfo$|reviewkd-ts\.json/.test(f));
    assert.deepStrictEqual(unwanted, []);
    assert.deepStrictEqual(files.filter((f) => /(^|\/)lib(torch|c10)[^/]*\.so|\.whl$/.test(f)), [], 'LibTorch never goes into the tarball');
    const record = JSON.parse(mustRun('tar', ['-xzOf', tarball, 'package/binaries/cpu/prebuilds/linux-x64/reviewkd-build.json']).stdout);
    assert.deepStrictEqual([record.prebuilt, record.libtorch.variant, record.libtorch.version], [true, 'cpu', `${require('../../package.json').libtorch.version}+cpu`]);
    const cuda = JSON.parse(mustRun('tar', ['-xzOf', tarball, 'package/binaries/cuda/prebuilds/linux-x64/reviewkd-build.json']).stdout);
    assert.deepStrictEqual([cuda.prebuilt, cuda.libtorch.variant, cuda.libtorch.version], [true, 'cuda', `${require('../../package.json').libtorch.cudaCheckVersion}+cu130`]);
    assert.strictEqual(cuda.libtorch.root, undefined, 'a prebuilt record names no build-machine folder');
    process.stderr.write(`      (tarball: ${(fs.statSync(tarball).size / 1e6).toFixed(2)} MB)\n`);
    assert.ok(fs.statSync(tarball).size < 5e6, `tarball is ${fs.statSync(tarball).size} bytes`);
  });

  it('trains a ReviewKD step through require() with the prebuilt binary, no install script and no compiler', () => {
    fs.copyFileSync(path.join(fixtures, 'packed', 'train-step.cjs'), path.join(project, 'train-step.cjs'));
    const r = mustRun(process.execPath, ['train-step.cjs'], { cwd: project, env: userEnv });
    const out = lastJsonLine(r.stdout);
    assert.strictEqual(out.kind, 'prebuilt');
    assert.ok(Number.isFinite(out.loss) && out.loss > 0, `loss ${out.loss}`);
    assert.ok(out.binary.includes(`${path.sep}bindings${path.sep}`), `the prebuilt binary is loaded from its cache binding: ${out.binary}`);
  });

  it('imports from ESM (default and named exports)', () => {
    fs.copyFileSync(path.join(fixtures, 'packed', 'import.mjs'), path.join(project, 'import.mjs'));
    const out = lastJsonLine(mustRun(process.execPath, ['import.mjs'], { cwd: project, env: userEnv }).stdout);
    assert.deepStrictEqual([out.sum, out.sameObject, out.hasZoo], [54, true, true]);
  });

  it('with a LibTorch of another version and no compiler, fails with the promised message (and no crash)', () => {
    const real = JSON.parse(mustRun(process.execPath, ['-e', "console.log(JSON.stringify(require('reviewkd').info().libtorch))"], { cwd: project, env: userEnv }).stdout).path;
    const other = path.join(work, 'libtorch-2.99');
    fs.mkdirSync(other);
    for (const sub of ['include', 'lib', 'share']) fs.symlinkSync(path.join(real, sub), path.join(other, sub));
    fs.writeFileSync(path.join(other, 'version.py'), "__version__ = '2.99.0+cpu'\n");
    const r = run(process.execPath, ['train-step.cjs'], { cwd: project, env: { ...userEnv, LIBTORCH: other } });
    assert.strictEqual(r.status, 1, r.stderr);
    assert.match(r.stderr, /no binary fits this LibTorch, and building one from source needs cmake, a C\+\+ compiler/);
    assert.match(r.stderr, /prebuilt \(cpu\) .*: built against LibTorch 2\.13\.0\+cpu; the LibTorch found is 2\.99\.0\+cpu/);
    assert.match(r.stderr, /Fix: unset LIBTORCH so the prebuilt binary is used/);
  });

  it('the install script (an accelerator only) prepares the same binary and never fails the install', () => {
    // npm runs the package's "install" script in the package folder; this is that command.
    const installCommand = require(path.join(project, 'node_modules', 'reviewkd', 'package.json')).scripts.install;
    const pkgDir = path.join(project, 'node_modules', 'reviewkd');
    const script = ['-c', installCommand];
    const ok = mustRun('sh', script, { cwd: pkgDir, env: userEnv });
    assert.match(ok.stderr, /reviewkd: ready \(prebuilt .*bindings.*LibTorch 2\.13\.0\+cpu\)/);
    const failing = run('sh', script, { cwd: pkgDir, env: { ...userEnv, LIBTORCH: '/nonexistent', REVIEWKD_PYTHON_TORCH: '0', REVIEWKD_CACHE: path.join(work, 'empty-cache'), REVIEWKD_OFFLINE: '1' } });
    assert.strictEqual(failing.status, 0, 'an install script failure must not fail npm install');
    assert.match(failing.stderr, /could not prepare the native addon during install; it will be tried again on first use/);
  });

  it('with a LibTorch of another version and build tools, builds from source into the cache (once), says so, and trains', () => {
    const other = path.join(work, 'libtorch-2.99');
    assert.ok(fs.existsSync(other), 'made by the previous test');
    const env = { ...process.env, LIBTORCH: other, REVIEWKD_CACHE: path.join(work, 'cache-source-build') };
    const r = timed('first use with a source build into the cache', () => mustRun(process.execPath, ['train-step.cjs'], { cwd: project, env }));
    assert.match(r.stderr, /no prebuilt binary fits LibTorch 2\.99\.0\+cpu \(cpu\) from LIBTORCH .*; building from source into .*builds.cpu-2\.99\.0\+cpu-/);
    const out = lastJsonLine(r.stdout);
    assert.deepStrictEqual([out.kind, out.libtorch], ['cache build', '2.99.0+cpu']);
    assert.ok(Number.isFinite(out.loss) && out.loss > 0);
    const again = mustRun(process.execPath, ['train-step.cjs'], { cwd: project, env });
    assert.doesNotMatch(again.stderr, /building from source/, 'the cache build is reused');
  });

  it('`reviewkd doctor` explains the choice', () => {
    const r = mustRun(path.join(project, 'node_modules', '.bin', 'reviewkd'), ['doctor', '--json'], { cwd: project, env: userEnv });
    const report = JSON.parse(r.stdout);
    assert.strictEqual(report.ok, true);
    assert.strictEqual(report.loaded.kind, 'prebuilt');
    assert.ok(report.missingBuildTools.includes('cmake'));
    assert.ok(report.binaries.some((b) => b.kind === 'prebuilt' && b.variant === 'cpu' && b.fits));
  });

  it('a strict TypeScript consumer compiles against the tarball and runs as CJS and ESM', () => {
    const fixture = path.join(fixtures, 'ts-consumer');
    const consumer = path.join(work, 'ts-consumer');
    fs.cpSync(fixture, consumer, { recursive: true });
    fs.rmSync(path.join(consumer, 'node_modules'), { recursive: true, force: true });
    const devDeps = [`typescript@${require('../../package.json').devDependencies.typescript}`, `@types/node@${require('../../package.json').devDependencies['@types/node']}`];
    mustRun(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball, ...devDeps], { cwd: consumer });
    mustRun(process.execPath, [path.join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer], { cwd: consumer });
    const outputs = fs.readdirSync(path.join(consumer, 'dist')).filter((f) => /\.(cjs|mjs)$/.test(f));
    assert.deepStrictEqual(outputs.sort(), ['cjs-consumer.cjs', 'esm-consumer.mjs']);
    for (const f of outputs) {
      const out = lastJsonLine(mustRun(process.execPath, [path.join(consumer, 'dist', f)], { cwd: consumer, env: userEnv }).stdout);
      assert.strictEqual(out.ok, true, f);
    }
  });
});
