#!/usr/bin/env node
'use strict';
// CI stage: the prebuilt CUDA variant, loaded and exercised on a machine without a GPU or a compiler.
//   npm run test:cuda-variant            the CUDA-variant checks, then the CPU mocha suite against it
//   node scripts/test-cuda-variant.js --checks-only   only the CUDA-variant checks (about a minute)
// Steps:
//   1. the set-up (TypeScript, CPU addon) and both prebuilt variants (scripts/prebuild.js; the CUDA one is the
//      CUDA compile check's build-cuda/, so CI compiles it once);
//   2. pip's CUDA torch in a venv from local wheels (scripts/cuda-venv.js; kept in the cache, reused);
//   3. a PATH with that venv's python3 first and no compiler, nvcc, CMake, make or ninja at all (a folder of
//      links to every other tool on PATH: the compilers are absent, not shadowed), checked before any test;
//   4. test/cuda-variant/*.test.js (the loader's choice, rk.cuda, errors naming the cause, doctor, the CLI's
//      CPU fallback note, refusals naming both versions), then the whole CPU suite (test/*.test.js), with a
//      fresh reviewkd cache so the loader binds the prebuilt binary as a user's first run does.
// Every step's time is printed; the stage fails on the first failing step.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const log = (m) => process.stderr.write(`${m}\n`);
const checksOnly = process.argv.includes('--checks-only');
// Build tools that must not be reachable: anything that could compile or build the addon.
const BUILD_TOOL = /^(cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|clang-\d+|nvcc|cmake|ccmake|ctest|cpack|make|gmake|ninja|ccache|ld|ld\.\w+|[\w.-]+-(gcc|g\+\+|c\+\+|cc|cpp)(-\d+)?|(gcc|g\+\+|cpp)-\d+)$/;

function timed(what, body) {
  const started = Date.now();
  const out = body();
  log(`test-cuda-variant: ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return out;
}

function mustRun(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}${r.signal ? ` (${r.signal})` : ''}`);
}

/** A folder of links to every executable on PATH except build tools (first on PATH wins, as in a shell). */
function pathWithoutBuildTools(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const seen = new Set();
  for (const from of (process.env.PATH || '').split(path.delimiter)) {
    let names;
    try {
      names = fs.readdirSync(from);
    } catch {
      continue;
    }
    for (const name of names) {
      if (seen.has(name) || BUILD_TOOL.test(name)) continue;
      const file = path.join(from, name);
      try {
        const st = fs.statSync(file);
        if (!st.isFile() || (st.mode & 0o111) === 0) continue;
      } catch {
        continue;
      }
      seen.add(name);
      fs.symlinkSync(file, path.join(dir, name));
    }
  }
  return dir;
}

function main() {
  const started = Date.now();
  timed('set-up (TypeScript, CPU addon)', () => mustRun(process.execPath, [path.join(__dirname, 'setup.js')]));
  timed('prebuilt binaries (cpu, cuda)', () => mustRun(process.execPath, [path.join(__dirname, 'prebuild.js')]));
  const { ensureCudaVenv } = require('./cuda-venv');
  const venv = timed('CUDA torch venv', () => ensureCudaVenv());
  log(`test-cuda-variant: venv ${venv.dir} (${venv.reused ? 'reused from the cache' : `created in ${venv.seconds.toFixed(0)} s`})`);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-cuda-variant-'));
  try {
    const env = { ...process.env };
    for (const name of ['LIBTORCH', 'PYTHON', 'CC', 'CXX', 'CUDA_HOME', 'CUDA_PATH', 'REVIEWKD_ADDON', 'REVIEWKD_PYTHON_TORCH', 'REVIEWKD_BUILD_FROM_SOURCE']) delete env[name];
    env.PATH = [path.join(venv.dir, 'bin'), pathWithoutBuildTools(path.join(work, 'bin'))].join(path.delimiter);
    env.REVIEWKD_CACHE = path.join(work, 'cache');
    env.REVIEWKD_CUDA_VARIANT_STAGE = '1';
    // The proof, before any test: none of these resolves on the stage's PATH.
    const reachable = spawnSync('sh', ['-c', 'for t in cc c++ gcc g++ clang nvcc cmake make ninja; do command -v $t; done; true'], { env, encoding: 'utf8' }).stdout.trim();
    if (reachable) throw new Error(`build tools are still reachable: ${reachable.split('\n').join(', ')}`);
    const python = spawnSync('python3', ['-c', 'import torch, sys; print(sys.executable, torch.__version__)'], { env, encoding: 'utf8' });
    log(`test-cuda-variant: PATH has no cc, c++, gcc, g++, clang, nvcc, cmake, make or ninja; python3 is ${python.stdout.trim()}`);

    const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
    timed('CUDA-variant checks (test/cuda-variant)', () =>
      mustRun(process.execPath, [mocha, '--no-config', '--reporter', 'spec', '--timeout', '300000', path.join('test', 'cuda-variant', '*.test.js')], { env }));
    if (!checksOnly) timed('the CPU suite against the CUDA variant (test/*.test.js)', () => mustRun(process.execPath, [mocha], { env }));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  log(`test-cuda-variant: passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

try {
  main();
} catch (err) {
  log(`test-cuda-variant failed: ${err.message}`);
  process.exit(1);
}
