'use strict';
// Finds a LibTorch to build against and to load with, in the order fixed by DESIGN.md:
//   1. $LIBTORCH (a folder with include/, lib/, share/cmake/Torch)
//   2. the `torch` package of the python3 on PATH
//   3. the pinned torch wheel, fetched with `pip download` and unpacked into a per-user cache folder
//   4. a system LibTorch (Debian/Ubuntu libtorch-dev)
// Every miss is remembered, so the final error lists what was tried and what to do.
// Plain CommonJS with Node built-ins only: it runs before npm dependencies or TypeScript exist.

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const packageJson = require('../package.json');

/** The torch version the package pins for the wheel fallback and for prebuilt binaries. */
const PINNED_TORCH = packageJson.libtorch.version;

function cacheRoot() {
  if (process.env.REVIEWKD_CACHE) return path.resolve(process.env.REVIEWKD_CACHE);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'reviewkd');
}

function isOffline() {
  return ['1', 'true', 'yes'].includes(String(process.env.REVIEWKD_OFFLINE || '').toLowerCase());
}

/** Reads the version string of a LibTorch folder from the files the wheel and the zip distributions ship. */
function readVersion(root) {
  const versionPy = path.join(root, 'version.py');
  if (fs.existsSync(versionPy)) {
    const m = /__version__\s*=\s*'([^']+)'/.exec(fs.readFileSync(versionPy, 'utf8'));
    if (m) return m[1];
  }
  const buildVersion = path.join(root, 'build-version');
  if (fs.existsSync(buildVersion)) return fs.readFileSync(buildVersion, 'utf8').trim();
  const header = path.join(root, 'include', 'torch', 'headeronly', 'version.h');
  const legacyHeader = path.join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h');
  for (const h of [header, legacyHeader]) {
    if (!fs.existsSync(h)) continue;
    const text = fs.readFileSync(h, 'utf8');
    const part = (name) => (new RegExp(`#define\\s+${name}\\s+(\\d+)`).exec(text) || [])[1];
    if (part('TORCH_VERSION_MAJOR')) {
      return `${part('TORCH_VERSION_MAJOR')}.${part('TORCH_VERSION_MINOR')}.${part('TORCH_VERSION_PATCH')}`;
    }
  }
  return null;
}

/** 'cuda' when the folder holds the CUDA libraries, else 'cpu'. */
function readVariant(libDir) {
  return fs.existsSync(path.join(libDir, 'libtorch_cuda.so')) ? 'cuda' : 'cpu';
}

/** Describes a LibTorch folder laid out like the wheel's torch/ or the official zip, or explains why not. */
function describeFolder(root, source) {
  const cmakeDir = path.join(root, 'share', 'cmake');
  const libDir = path.join(root, 'lib');
  for (const needed of [path.join(root, 'include'), libDir, path.join(cmakeDir, 'Torch')]) {
    if (!fs.existsSync(needed)) return { error: `${needed} does not exist` };
  }
  const version = readVersion(root);
  if (!version) return { error: `no version.py, build-version or version.h under ${root}` };
  return { root, libDir, cmakePrefixPath: cmakeDir, version, variant: readVariant(libDir), source };
}

function fromEnv() {
  const dir = process.env.LIBTORCH;
  if (!dir) return { error: 'LIBTORCH is not set' };
  const found = describeFolder(path.resolve(dir), 'LIBTORCH');
  return found.error ? { error: `LIBTORCH=${dir}: ${found.error}` } : found;
}

/** True when REVIEWKD_PYTHON_TORCH=0 asks to skip the python3 torch (e.g. to use the prebuilt binary instead). */
function pythonTorchDisabled() {
  return ['0', 'false', 'no'].includes(String(process.env.REVIEWKD_PYTHON_TORCH || '').toLowerCase());
}

function fromPython() {
  if (pythonTorchDisabled()) return { error: 'skipped (REVIEWKD_PYTHON_TORCH=0)' };
  const python = process.env.PYTHON || 'python3';
  // find_spec locates the package without importing it (importing torch takes seconds).
  const script = [
    'import importlib.util, os',
    "s = importlib.util.find_spec('torch')",
    "print(os.path.dirname(s.origin) if s and s.origin else '')",
  ].join('\n');
  const probe = spawnSync(python, ['-c', script], { encoding: 'utf8', timeout: 60000 });
  if (probe.error) return { error: `${python}: ${probe.error.code || probe.error.message}` };
  if (probe.status !== 0) {
    const last = (probe.stderr || '').trim().split('\n').pop();
    return { error: `${python} failed (${last})` };
  }
  const dir = probe.stdout.trim();
  if (!dir) return { error: `${python} has no torch package` };
  const found = describeFolder(dir, 'python3');
  return found.error ? { error: `${python} torch: ${found.error}` } : found;
}

/** The pinned CPU wheel: one exact file, so one checksum (package.json libtorch.wheel). */
const PINNED_WHEEL = packageJson.libtorch.wheel;

function wheelCacheDir(version = PINNED_TORCH) {
  return path.join(cacheRoot(), 'libtorch', `${version}-cpu`);
}

/** The pinned CPU wheel, unpacked into the cache (fetched when not there yet, unless offline). */
function fromWheelCache({ log = () => {}, allowFetch = true } = {}) {
  const dir = wheelCacheDir();
  const torchDir = path.join(dir, 'torch');
  if (fs.existsSync(path.join(dir, '.complete'))) return describeFolder(torchDir, 'wheel-cache');
  if (!allowFetch) return { error: `${dir} is not unpacked yet` };
  if (isOffline()) return { error: `${dir} is empty and REVIEWKD_OFFLINE is set, so no wheel was fetched` };
  try {
    fetchPinnedWheel({ destination: dir, log });
  } catch (err) {
    return { error: err.message };
  }
  return describeFolder(torchDir, 'wheel-cache');
}

/** sha256 of a file, read in chunks (the wheel is 190 MB). */
function sha256File(file) {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Refuses a wheel whose checksum is not the pinned one. */
function verifyPinnedWheel(file) {
  const actual = sha256File(file);
  if (actual !== PINNED_WHEEL.sha256) {
    throw new Error(`${file} has sha256 ${actual}, expected ${PINNED_WHEEL.sha256} (${PINNED_WHEEL.file})`);
  }
}

/**
 * Runs scripts/wheel-fetch.js in a child process and waits for it: LibTorch is resolved from
 * synchronous code (the first native call), and the download and unzip are asynchronous streams.
 * Its progress lines go straight to this process's stderr.
 */
function runWheelFetch(args) {
  // REVIEWKD_NODE: another Node binary, for Electron apps whose RunAsNode fuse is off.
  const r = spawnSync(process.env.REVIEWKD_NODE || process.execPath, [path.join(__dirname, 'wheel-fetch.js'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  if (r.error) throw new Error(r.error.message);
  if (r.status !== 0) throw new Error(`wheel-fetch exited with ${r.status} (its message is above)`);
}

/**
 * Gets the pinned wheel into `destination` (destination/torch is the LibTorch root). Tries, in order:
 * REVIEWKD_TORCH_WHEEL (a local copy of the file), pip (which honours the user's pip configuration:
 * proxies, mirrors, local wheel folders), a direct HTTPS download. Every wheel is checked against the
 * pinned sha256 before it is unpacked. Throws one error naming every attempt.
 */
function fetchPinnedWheel({ destination, log = () => {} }) {
  const misses = [];
  const unpack = (wheel) => {
    verifyPinnedWheel(wheel);
    log(`reviewkd: unpacking ${path.basename(wheel)} into ${destination} (once)`);
    runWheelFetch(['--wheel', wheel, '--dest', destination]);
  };

  const localWheel = process.env.REVIEWKD_TORCH_WHEEL;
  if (localWheel) {
    try {
      unpack(path.resolve(localWheel));
      return;
    } catch (err) {
      misses.push(`REVIEWKD_TORCH_WHEEL=${localWheel}: ${err.message}`);
    }
  } else {
    misses.push('REVIEWKD_TORCH_WHEEL is not set');
  }

  fs.mkdirSync(path.dirname(destination), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(destination), '.fetch-'));
  try {
    try {
      const wheel = pipDownload({
        requirement: `torch==${PINNED_TORCH}+cpu`,
        directory: work,
        log,
        extraArgs: [...PINNED_WHEEL.pipTarget, '--only-binary=:all:', '--extra-index-url', torchIndexUrl()],
      });
      unpack(wheel);
      return;
    } catch (err) {
      misses.push(`pip download torch==${PINNED_TORCH}+cpu: ${err.message}`);
    }

    const url = process.env.REVIEWKD_TORCH_WHEEL_URL || PINNED_WHEEL.url;
    try {
      log(`reviewkd: downloading ${PINNED_WHEEL.file} (190 MB, once) from ${url}`);
      runWheelFetch(['--url', url, '--sha256', PINNED_WHEEL.sha256, '--dest', destination]);
      return;
    } catch (err) {
      misses.push(`download ${url}: ${err.message}`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  throw new Error(`could not get ${PINNED_WHEEL.file}: ${misses.join('; ')}`);
}

/** The index that serves the CPU builds of torch (pip's own configuration is used as well). */
function torchIndexUrl() {
  return process.env.REVIEWKD_TORCH_INDEX || 'https://download.pytorch.org/whl/cpu';
}

/** `pip download <requirement> --no-deps` into directory; returns the wheel's path. */
function pipDownload({ requirement, directory, log = () => {}, extraArgs = [] }) {
  const python = process.env.PYTHON || 'python3';
  log(`reviewkd: fetching ${requirement} with pip`);
  const pipArgs = ['-m', 'pip', 'download', requirement, '--no-deps', '-d', directory,
    '--retries', process.env.REVIEWKD_PIP_RETRIES || '2', '--disable-pip-version-check', ...extraArgs];
  const pip = spawnSync(python, pipArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (pip.error) throw new Error(`${python}: ${pip.error.code || pip.error.message}`);
  if (pip.status !== 0) throw new Error((pip.stderr || pip.stdout || '').trim().split('\n').slice(-3).join(' | '));
  const wheel = fs.readdirSync(directory).find((f) => f.endsWith('.whl'));
  if (!wheel) throw new Error(`pip finished but no wheel is in ${directory}`);
  return path.join(directory, wheel);
}

/**
 * Fetches a wheel with pip and unpacks only the members under `keep` (by default what a C++ build needs
 * from torch: lib, include, share, version.py) into destination, atomically. Used for the CUDA compile
 * check's wheels, which are not pinned by checksum (they are a build check, never loaded).
 */
function unpackWheel({ requirement, destination, log = () => {}, keep }) {
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(destination), '.fetch-'));
  try {
    const wheel = pipDownload({ requirement, directory: work, log });
    log(`reviewkd: unpacking ${path.basename(wheel)}`);
    runWheelFetch(['--wheel', wheel, '--dest', destination, ...(keep ? ['--keep', ...keep] : [])]);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function fromSystem() {
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/cmake/Torch',
    '/usr/lib/aarch64-linux-gnu/cmake/Torch',
    '/usr/share/cmake/Torch',
    '/usr/local/share/cmake/Torch',
  ];
  for (const dir of candidates) {
    if (!fs.existsSync(path.join(dir, 'TorchConfig.cmake'))) continue;
    const versionFile = path.join(dir, 'TorchConfigVersion.cmake');
    const m = fs.existsSync(versionFile) && /PACKAGE_VERSION\s+"([^"]+)"/.exec(fs.readFileSync(versionFile, 'utf8'));
    const libDir = fs.existsSync('/usr/lib/x86_64-linux-gnu/libtorch.so') ? '/usr/lib/x86_64-linux-gnu' : '/usr/lib';
    return {
      root: path.dirname(path.dirname(dir)),
      libDir,
      cmakePrefixPath: path.dirname(dir),
      version: m ? m[1] : 'unknown',
      variant: readVariant(libDir),
      source: 'system',
    };
  }
  return { error: `no TorchConfig.cmake in ${candidates.join(', ')}` };
}

/**
 * Resolves LibTorch. Returns {root, libDir, cmakePrefixPath, version, variant, source, skipped} (skipped:
 * why each earlier source was not used) or throws one error listing every attempt and the fix to try.
 */
function resolveLibTorch(options = {}) {
  const attempts = [
    ['LIBTORCH', fromEnv],
    ['python3 torch', fromPython],
    [`torch==${PINNED_TORCH} wheel in ${wheelCacheDir()}`, () => fromWheelCache(options)],
    ['system libtorch', fromSystem],
  ];
  const misses = [];
  for (const [name, attempt] of attempts) {
    const found = attempt();
    if (!found.error) return { ...found, skipped: misses.map((m) => m.trim().replace(/^- /, '')) };
    misses.push(`  - ${name}: ${found.error}`);
  }
  throw new Error(
    `reviewkd could not find LibTorch. Tried, in order:\n${misses.join('\n')}\n` +
      `Fix: download ${PINNED_WHEEL.file} (sha256 ${PINNED_WHEEL.sha256}) from ${PINNED_WHEEL.url} ` +
      'where you have network, and set REVIEWKD_TORCH_WHEEL to its path (or set LIBTORCH to an unpacked LibTorch folder with include/, lib/ and share/cmake/).',
  );
}

module.exports = {
  resolveLibTorch, readVersion, readVariant, describeFolder, unpackWheel, fetchPinnedWheel, sha256File, cacheRoot,
  wheelCacheDir, isOffline, PINNED_TORCH, PINNED_WHEEL,
};
