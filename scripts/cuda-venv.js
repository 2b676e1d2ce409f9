'use strict';
// A Python virtual environment holding pip's CUDA torch (package.json libtorch.cudaCheckVersion, cu130),
// made from local wheels only, for the CI stage that loads the prebuilt CUDA variant on a machine without
// a GPU (scripts/test-cuda-variant.js). `pip install torch==2.14.1` cannot work offline here (its
// cuda-bindings and triton requirements are not on local disk), and LibTorch needs neither: the venv gets,
// with --no-deps, torch, the nvidia-* wheels libtorch_cuda.so loads, and torch's small pure-Python
// requirements (so `import torch` works too). It is kept in the cache and reused while the list is unchanged.
//   node scripts/cuda-venv.js        prints the venv's folder (creating it when needed)
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const log = (m) => process.stderr.write(`${m}\n`);

// Where pip looks: the project's rule is local wheels only.
const WHEEL_DIRS = ['/opt/wheels', '/opt/pypi/files', '/opt/pypi-more/files'];

/** The exact requirements: torch's own pins (its METADATA and cuda-toolkit 13.0.3's extras). */
function requirements(torchVersion) {
  return [
    `torch==${torchVersion}`,
    // cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.3
    'nvidia-cublas==13.1.1.3',
    'nvidia-cuda-runtime==13.0.96',
    'nvidia-cufft==12.0.0.61',
    'nvidia-cufile==1.15.1.6',
    'nvidia-cuda-cupti==13.0.85',
    'nvidia-curand==10.4.0.35',
    'nvidia-cusolver==12.0.4.66',
    'nvidia-cusparse==12.6.3.3',
    'nvidia-nvjitlink==13.4.92',
    'nvidia-cuda-nvrtc==13.0.88',
    'nvidia-nvtx==13.0.85',
    // torch's direct CUDA pins
    'nvidia-cudnn-cu13==9.24.0.43',
    'nvidia-cusparselt-cu13==0.8.1',
    'nvidia-nccl-cu13==2.30.7',
    'nvidia-nvshmem-cu13==3.4.5',
    // torch's pure-Python requirements (import torch needs them; LibTorch does not)
    'filelock', 'typing-extensions', 'setuptools', 'sympy', 'mpmath', 'networkx', 'jinja2', 'markupsafe', 'fsspec',
  ];
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}\n${(r.stderr || '').slice(-3000)}`);
  return r.stdout;
}

/**
 * Returns { dir, python, torchVersion, seconds, reused } for the CUDA torch venv in the cache, creating it
 * when it is missing or was made from another list. The system python3 makes it (it is never changed).
 */
function ensureCudaVenv() {
  const { cacheRoot } = require('../dist/loader/settings');
  const { cudaCheckTorchVersion } = require('../dist/loader/package-info');
  const torchVersion = cudaCheckTorchVersion();
  const reqs = requirements(torchVersion);
  const dir = path.join(cacheRoot(), 'ci', `venv-torch-${torchVersion}`);
  const python = path.join(dir, 'bin', 'python3');
  const stamp = path.join(dir, '.reviewkd-venv.json');
  const wanted = JSON.stringify({ reqs });
  try {
    if (fs.readFileSync(stamp, 'utf8') === wanted && fs.existsSync(python)) return { dir, python, torchVersion, seconds: 0, reused: true };
  } catch {
    // no stamp: (re)create
  }
  const started = Date.now();
  log(`reviewkd: creating the CUDA torch venv ${dir} from local wheels (once; about a minute, 4.5 GB)`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  run('python3', ['-m', 'venv', '--without-pip', dir]);
  // pip comes from the system python (python3 -m pip --python VENV), so the venv needs no ensurepip.
  const links = WHEEL_DIRS.filter((d) => fs.existsSync(d)).flatMap((d) => ['--find-links', d]);
  run('python3', ['-m', 'pip', '--python', python, 'install', '--quiet', '--disable-pip-version-check', '--retries', '0', '--no-index', ...links, '--no-deps', ...reqs]);
  const version = run(python, ['-c', 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())']).trim();
  if (!version.startsWith(`${torchVersion}+cu`)) throw new Error(`the venv's torch reports ${version}; expected ${torchVersion}+cu...`);
  fs.writeFileSync(stamp, wanted);
  const seconds = (Date.now() - started) / 1000;
  log(`reviewkd: CUDA torch venv ready in ${seconds.toFixed(0)} s: torch ${version}`);
  return { dir, python, torchVersion, seconds, reused: false };
}

module.exports = { ensureCudaVenv, requirements };

if (require.main === module) {
  try {
    process.stdout.write(`${ensureCudaVenv().dir}\n`);
  } catch (err) {
    log(`reviewkd: CUDA torch venv failed: ${err.message}`);
    process.exit(1);
  }
}
