#!/usr/bin/env node
'use strict';
// Compiles and links (does not run) the addon against a CUDA LibTorch, so CUDA-only code paths and the
// C++20 that torch >= 2.14 needs stay buildable on machines without a GPU. Used by .ci/run.
//   node scripts/cuda-compile-check.js
// Needs nvcc (CUDA_HOME or /usr/local/cuda) and pip access to torch==<cudaCheckVersion> (a CUDA wheel)
// and nvidia-cuda-nvrtc. The output goes to build-cuda/ and never replaces the CPU build.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const { unpackWheel, cacheRoot, describeFolder } = require('./libtorch');

const root = path.resolve(__dirname, '..');
const version = require('../package.json').libtorch.cudaCheckVersion;
const log = (m) => process.stderr.write(`${m}\n`);

function ensureUnpacked(requirement, dir, keep) {
  if (fs.existsSync(path.join(dir, '.complete'))) return;
  unpackWheel({ requirement, destination: dir, log, keep });
}

function main() {
  const cudaHome = process.env.CUDA_HOME || '/usr/local/cuda';
  const nvcc = path.join(cudaHome, 'bin', 'nvcc');
  if (!fs.existsSync(nvcc)) throw new Error(`nvcc not found at ${nvcc}; set CUDA_HOME to a CUDA toolkit`);

  const torchDir = path.join(cacheRoot(), 'libtorch', `${version}-cuda`);
  ensureUnpacked(`torch==${version}`, torchDir, undefined);
  const torch = describeFolder(path.join(torchDir, 'torch'), 'wheel-cache');
  if (torch.error) throw new Error(torch.error);
  if (torch.variant !== 'cuda') throw new Error(`torch==${version} from pip is not a CUDA build (no libtorch_cuda.so in ${torch.libDir})`);

  // The CUDA wheel links nvrtc from the nvidia-cuda-nvrtc wheel; CMake's CUDA config must be pointed at it.
  const nvrtcDir = path.join(cacheRoot(), 'nvidia-cuda-nvrtc');
  ensureUnpacked('nvidia-cuda-nvrtc', nvrtcDir, ['nvidia/']);
  const nvrtc = findFile(nvrtcDir, /^libnvrtc\.so\.\d+$/);
  if (!nvrtc) throw new Error(`no libnvrtc.so.N in ${nvrtcDir}`);

  const started = Date.now();
  const env = { ...process.env, PATH: `${path.join(cudaHome, 'bin')}:${process.env.PATH}`, TORCH_CUDA_ARCH_LIST: process.env.TORCH_CUDA_ARCH_LIST || '9.0' };
  const args = [
    path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js'), 'compile', '--directory', root, '--out', path.join(root, 'build-cuda'),
    '--parallel', String(require('os').cpus().length),
    `--CDCMAKE_PREFIX_PATH=${torch.cmakePrefixPath}`,
    `--CDRK_LIBTORCH_VERSION=${torch.version}`,
    '--CDRK_LIBTORCH_VARIANT=cuda',
    '--CDRK_CXX_STANDARD=20',
    `--CDCUDA_nvrtc_LIBRARY=${nvrtc}`,
    `--CDCUDAToolkit_ROOT=${cudaHome}`,
  ];
  if (spawnSync('ccache', ['--version'], { stdio: 'ignore' }).status === 0) args.push('--CDCMAKE_CXX_COMPILER_LAUNCHER=ccache');
  log(`reviewkd: CUDA compile check against LibTorch ${torch.version} (${torch.root})`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...env, CCACHE_SLOPPINESS: 'pch_defines,time_macros,include_file_mtime,include_file_ctime' } });
  if (r.status !== 0) throw new Error(`cmake-js exited with ${r.status}`);
  const binary = path.join(root, 'build-cuda', 'Release', 'reviewkd.node');
  const needed = spawnSync('readelf', ['-d', binary], { encoding: 'utf8' }).stdout || '';
  if (!/libtorch_cuda\.so/.test(needed)) throw new Error(`${binary} does not link libtorch_cuda.so`);
  log(`reviewkd: CUDA compile check passed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${binary} links libtorch_cuda.so`);
}

function findFile(dir, pattern) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(p, pattern);
      if (found) return found;
    } else if (pattern.test(entry.name)) {
      return p;
    }
  }
  return null;
}

try {
  main();
} catch (err) {
  log(`reviewkd CUDA compile check failed: ${err.message}`);
  process.exit(1);
}
