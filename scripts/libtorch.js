'use strict';
// Finds a LibTorch to build against and to load with, in the order fixed by DESIGN.md:
//   1. $LIBTORCH (a folder with include/, lib/, share/cmake/Torch)
//   2. the `torch` package of the python3 on PATH
//   3. the pinned torch wheel, fetched with `pip download` and unpacked into a per-user cache folder
//   4. a system LibTorch (Debian/Ubuntu libtorch-dev)
// Every miss is remembered, so the final error lists what was tried and what to do.
// Plain CommonJS with Node built-ins only: it runs before npm dependencies or TypeScript exist.

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

function fromPython() {
  const python = process.env.PYTHON || 'python3';
  const probe = spawnSync(python, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], {
    encoding: 'utf8',
    timeout: 120000,
  });
  if (probe.error) return { error: `${python}: ${probe.error.code || probe.error.message}` };
  if (probe.status !== 0) {
    const last = (probe.stderr || '').trim().split('\n').pop();
    return { error: `${python} has no usable torch (${last})` };
  }
  const found = describeFolder(probe.stdout.trim(), 'python3');
  return found.error ? { error: `${python} torch: ${found.error}` } : found;
}

function wheelCacheDir(version = PINNED_TORCH) {
  return path.join(cacheRoot(), 'libtorch', `${version}-cpu`);
}

/** The pinned CPU wheel, unpacked into the cache (fetched with pip when not there yet, unless offline). */
function fromWheelCache({ log = () => {}, allowFetch = true } = {}) {
  const dir = wheelCacheDir();
  const torchDir = path.join(dir, 'torch');
  if (fs.existsSync(path.join(dir, '.complete'))) return describeFolder(torchDir, 'wheel-cache');
  if (!allowFetch) return { error: `${dir} is not unpacked yet` };
  if (isOffline()) return { error: `${dir} is empty and REVIEWKD_OFFLINE is set, so no wheel was fetched` };
  try {
    unpackWheel({ requirement: `torch==${PINNED_TORCH}`, destination: dir, log });
  } catch (err) {
    return { error: `pip download torch==${PINNED_TORCH}: ${err.message}` };
  }
  return describeFolder(torchDir, 'wheel-cache');
}

/**
 * Fetches a wheel with pip (which also finds local wheel folders configured for pip) and unpacks only
 * the members under `keep` (by default what a C++ build needs from torch: lib, include, share,
 * version.py) into destination. The folder is filled under a temporary name and renamed at the end, so
 * an interrupted unpack never looks complete.
 */
const TORCH_BUILD_MEMBERS = ['torch/lib/', 'torch/include/', 'torch/share/', 'torch/version.py'];

function unpackWheel({ requirement, destination, log = () => {}, keep = TORCH_BUILD_MEMBERS }) {
  const python = process.env.PYTHON || 'python3';
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(destination), '.fetch-'));
  try {
    log(`reviewkd: fetching ${requirement} with pip (once; cached in ${destination})`);
    const pipArgs = ['-m', 'pip', 'download', requirement, '--no-deps', '-d', work,
      '--retries', process.env.REVIEWKD_PIP_RETRIES || '2'];
    const pip = spawnSync(python, pipArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (pip.error) throw new Error(pip.error.message);
    if (pip.status !== 0) throw new Error((pip.stderr || pip.stdout || '').trim().split('\n').slice(-3).join(' | '));
    const wheel = fs.readdirSync(work).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error(`pip finished but no wheel is in ${work}`);
    log(`reviewkd: unpacking ${wheel}`);
    const staging = path.join(work, 'unpacked');
    const extract = [
      'import sys, zipfile',
      'z = zipfile.ZipFile(sys.argv[1])',
      'keep = tuple(sys.argv[3:])',
      'z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith(keep)])',
    ].join('\n');
    const unzip = spawnSync(python, ['-c', extract, path.join(work, wheel), staging, ...keep], { encoding: 'utf8' });
    if (unzip.status !== 0) throw new Error(`unpacking failed: ${(unzip.stderr || '').trim()}`);
    fs.writeFileSync(path.join(staging, '.complete'), `${wheel}\n`);
    fs.rmSync(destination, { recursive: true, force: true });
    fs.renameSync(staging, destination);
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
 * Resolves LibTorch. Returns {root, libDir, cmakePrefixPath, version, variant, source} or throws one
 * error listing every attempt and the fix to try.
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
    if (!found.error) return found;
    misses.push(`  - ${name}: ${found.error}`);
  }
  throw new Error(
    `reviewkd could not find LibTorch. Tried, in order:\n${misses.join('\n')}\n` +
      `Fix: set LIBTORCH to an unpacked LibTorch folder (with include/, lib/ and share/cmake/), or make ` +
      `\`python3 -m pip download torch==${PINNED_TORCH} --no-deps\` work (network or a local wheel folder), then run \`npm run setup\`.`,
  );
}

module.exports = { resolveLibTorch, readVersion, readVariant, describeFolder, unpackWheel, cacheRoot, PINNED_TORCH };
