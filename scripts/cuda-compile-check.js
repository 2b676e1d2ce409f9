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

const root = path.resolve(__dirname, '..');
const setup = spawnSync(process.execPath, [path.join(__dirname, 'setup.js'), '--ts'], { cwd: root, stdio: 'inherit' });
if (setup.status !== 0) process.exit(1);
const { unpackWheel } = require('../dist/loader/pinned-wheel');
const { describeFolder } = require('../dist/loader/libtorch-resolution');
const { cacheRoot } = require('../dist/loader/settings');
const { findFile } = require('../dist/loader/cuda-build-args');
const { cudaCheckTorchVersion } = require('../dist/loader/package-info');

const version = cudaCheckTorchVersion();
// The addon has no device code of its own (no .cu files: CUDA work goes through LibTorch's kernels and
// c10/ATen calls), so this list changes no byte of the binary; torch's CMake only needs one when no GPU is
// visible. It is the list pip's cu130 wheel itself is built for (Turing to Blackwell), so the prebuilt CUDA
// variant made from this build (scripts/prebuild.js) claims no architecture torch does not have.
const PREBUILT_CUDA_ARCHS = '7.5;8.0;8.6;9.0;10.0;12.0';
const log = (m) => process.stderr.write(`${m}\n`);
// The header-only wheels the NCCL backend compiles against: [requirement, a header it must hold].
const NVIDIA_HEADER_WHEELS = [
  ['nvidia-nccl-cu13==2.30.7', 'nccl.h'],
  ['nvidia-cublas==13.1.1.3', 'cublas_v2.h'],
  ['nvidia-cusparse==12.6.3.3', 'cusparse.h'],
  ['nvidia-cusolver==12.0.4.66', 'cusolverDn.h'],
];

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

  // ProcessGroupNCCL.hpp (the NCCL backend of data-parallel training) needs nccl.h and, through
  // CUDAContextLight.h, the cuBLAS/cuSPARSE/cuSOLVER headers. A pip CUDA torch has them in the nvidia-*
  // wheels beside it; here they are unpacked from the same wheels (pinned to what torch 2.14.1 wants) and
  // handed to CMake, so the CUDA variant (and the prebuilt made from it) has the real NCCL backend.
  const headerDirs = [];
  for (const [requirement, header] of NVIDIA_HEADER_WHEELS) {
    const dir = path.join(cacheRoot(), 'nvidia-headers', requirement.split('==')[0]);
    ensureUnpacked(requirement, dir, ['nvidia/']);
    const file = findFile(dir, new RegExp(`^${header.replace('.', '\\.')}$`), 8);
    if (!file) throw new Error(`no ${header} in ${dir}`);
    headerDirs.push(path.dirname(file));
  }

  // The same source build a user with a CUDA torch gets (lib/loader/native-build.ts), pointed at the
  // CUDA wheel through LIBTORCH and at the separately unpacked nvrtc.
  const started = Date.now();
  const out = path.join(root, 'build-cuda');
  const env = {
    ...process.env,
    LIBTORCH: torch.root,
    CUDA_HOME: cudaHome,
    CUDA_nvrtc_LIBRARY: nvrtc,
    TORCH_CUDA_ARCH_LIST: process.env.TORCH_CUDA_ARCH_LIST || PREBUILT_CUDA_ARCHS,
    REVIEWKD_NVIDIA_INCLUDE_DIRS: headerDirs.join(';'),
  };
  log(`reviewkd: CUDA compile check against LibTorch ${torch.version} (${torch.root})`);
  const r = spawnSync(process.execPath, [path.join(root, 'dist', 'loader', 'native-build.js'), '--out', out], { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) throw new Error(`the source build exited with ${r.status}`);
  const binary = path.join(out, 'build', 'Release', 'reviewkd.node');
  const needed = spawnSync('readelf', ['-d', binary], { encoding: 'utf8' }).stdout || '';
  if (!/libtorch_cuda\.so/.test(needed)) throw new Error(`${binary} does not link libtorch_cuda.so`);
  // The NCCL factory compiles to a stub without the headers: make sure the real one is in.
  const undefinedSymbols = spawnSync('nm', ['-D', '--undefined-only', '-C', binary], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout || '';
  if (!/c10d::ProcessGroupNCCL::ProcessGroupNCCL/.test(undefinedSymbols)) throw new Error(`${binary} has no NCCL backend (ProcessGroupNCCL is not referenced)`);
  const record = JSON.parse(fs.readFileSync(path.join(out, 'build', 'Release', 'reviewkd-build.json'), 'utf8'));
  if (record.libtorch.variant !== 'cuda') throw new Error(`the build record says variant ${record.libtorch.variant}`);
  log(`reviewkd: CUDA compile check passed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${binary} links libtorch_cuda.so and has the NCCL backend`);
}

try {
  main();
} catch (err) {
  log(`reviewkd CUDA compile check failed: ${err.message}`);
  process.exit(1);
}
