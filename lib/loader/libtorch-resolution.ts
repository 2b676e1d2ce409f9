// Finds a LibTorch to build against and to load with, in a fixed order (docs/install.md):
//   1. $LIBTORCH (a folder with include/, lib/, share/cmake/Torch)
//   2. the `torch` package of the python3 on PATH ($PYTHON)
//   3. the pinned torch wheel, fetched once and unpacked into the per-user cache
//   4. a system LibTorch (Debian/Ubuntu libtorch-dev)
// Every miss is remembered, so the final error lists what was tried and what to do.
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

import { pinnedTorchVersion, pinnedWheel } from './package-info';
import { ensurePinnedWheel, wheelCacheDir } from './pinned-wheel';
import { flagSetting, setting } from './settings';

/** A LibTorch found on this machine. */
export interface FoundLibTorch {
  root: string;
  libDir: string;
  cmakePrefixPath: string;
  /** e.g. '2.13.0+cpu' */
  version: string;
  variant: 'cpu' | 'cuda';
  /** 'LIBTORCH', 'python3', 'wheel-cache' or 'system'. */
  source: string;
  /** Why each source tried before this one was not used. */
  skipped: string[];
}

/** A source's answer: a LibTorch (without `skipped`) or why not. */
export type Probe = Omit<FoundLibTorch, 'skipped'> | { error: string };

/** Options of resolveLibTorch. */
export interface ResolveOptions {
  /** Progress lines (the wheel fetch). */
  log?: (msg: string) => void;
}

const isError = (p: Probe): p is { error: string } => 'error' in p;

/** Reads the version string of a LibTorch folder from the files the wheel and the zip distributions ship. */
export function readVersion(root: string): string | null {
  const versionPy = path.join(root, 'version.py');
  if (fs.existsSync(versionPy)) {
    const m = /__version__\s*=\s*'([^']+)'/.exec(fs.readFileSync(versionPy, 'utf8'));
    if (m) return m[1];
  }
  const buildVersion = path.join(root, 'build-version');
  if (fs.existsSync(buildVersion)) return fs.readFileSync(buildVersion, 'utf8').trim();
  const headers = [
    path.join(root, 'include', 'torch', 'headeronly', 'version.h'),
    path.join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'),
  ];
  for (const h of headers) {
    if (!fs.existsSync(h)) continue;
    const text = fs.readFileSync(h, 'utf8');
    const part = (name: string) => (new RegExp(`#define\\s+${name}\\s+(\\d+)`).exec(text) ?? [])[1];
    if (part('TORCH_VERSION_MAJOR')) return `${part('TORCH_VERSION_MAJOR')}.${part('TORCH_VERSION_MINOR')}.${part('TORCH_VERSION_PATCH')}`;
  }
  return null;
}

/** 'cuda' when the folder holds the CUDA libraries, else 'cpu'. */
export function readVariant(libDir: string): 'cpu' | 'cuda' {
  return fs.existsSync(path.join(libDir, 'libtorch_cuda.so')) ? 'cuda' : 'cpu';
}

/** Describes a LibTorch folder laid out like the wheel's torch/ or the official zip, or explains why not. */
export function describeFolder(root: string, source: string): Probe {
  const cmakeDir = path.join(root, 'share', 'cmake');
  const libDir = path.join(root, 'lib');
  for (const needed of [path.join(root, 'include'), libDir, path.join(cmakeDir, 'Torch')]) {
    if (!fs.existsSync(needed)) return { error: `${needed} does not exist` };
  }
  const version = readVersion(root);
  if (!version) return { error: `no version.py, build-version or version.h under ${root}` };
  return { root, libDir, cmakePrefixPath: cmakeDir, version, variant: readVariant(libDir), source };
}

function fromEnv(): Probe {
  const dir = setting('LIBTORCH');
  if (!dir) return { error: 'LIBTORCH is not set' };
  const found = describeFolder(path.resolve(dir), 'LIBTORCH');
  return isError(found) ? { error: `LIBTORCH=${dir}: ${found.error}` } : found;
}

function fromPython(): Probe {
  if (!flagSetting('REVIEWKD_PYTHON_TORCH', true)) return { error: 'skipped (REVIEWKD_PYTHON_TORCH=0)' };
  const python = setting('PYTHON') ?? 'python3';
  // find_spec locates the package without importing it (importing torch takes seconds).
  const script = ['import importlib.util, os', "s = importlib.util.find_spec('torch')", "print(os.path.dirname(s.origin) if s and s.origin else '')"].join('\n');
  const probe = spawnSync(python, ['-c', script], { encoding: 'utf8', timeout: 60000 });
  if (probe.error) return { error: `${python}: ${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message}` };
  if (probe.status !== 0) return { error: `${python} failed (${(probe.stderr || '').trim().split('\n').pop()})` };
  const dir = probe.stdout.trim();
  if (!dir) return { error: `${python} has no torch package` };
  const found = describeFolder(dir, 'python3');
  return isError(found) ? { error: `${python} torch: ${found.error}` } : found;
}

function fromWheelCache({ log = () => {} }: ResolveOptions): Probe {
  const dir = wheelCacheDir();
  const { error } = ensurePinnedWheel({ destination: dir, log });
  return error !== undefined ? { error } : describeFolder(path.join(dir, 'torch'), 'wheel-cache');
}

function fromSystem(): Probe {
  const candidates = ['/usr/lib/x86_64-linux-gnu/cmake/Torch', '/usr/lib/aarch64-linux-gnu/cmake/Torch', '/usr/share/cmake/Torch', '/usr/local/share/cmake/Torch'];
  for (const dir of candidates) {
    if (!fs.existsSync(path.join(dir, 'TorchConfig.cmake'))) continue;
    const versionFile = path.join(dir, 'TorchConfigVersion.cmake');
    const m = fs.existsSync(versionFile) ? /PACKAGE_VERSION\s+"([^"]+)"/.exec(fs.readFileSync(versionFile, 'utf8')) : null;
    const libDir = fs.existsSync('/usr/lib/x86_64-linux-gnu/libtorch.so') ? '/usr/lib/x86_64-linux-gnu' : '/usr/lib';
    return { root: path.dirname(path.dirname(dir)), libDir, cmakePrefixPath: path.dirname(dir), version: m ? m[1] : 'unknown', variant: readVariant(libDir), source: 'system' };
  }
  return { error: `no TorchConfig.cmake in ${candidates.join(', ')}` };
}

/** Resolves LibTorch, or throws one error listing every attempt and the fix to try. */
export function resolveLibTorch(options: ResolveOptions = {}): FoundLibTorch {
  const attempts: Array<[string, () => Probe]> = [
    ['LIBTORCH', fromEnv],
    ['python3 torch', fromPython],
    [`torch==${pinnedTorchVersion()} wheel in ${wheelCacheDir()}`, () => fromWheelCache(options)],
    ['system libtorch', fromSystem],
  ];
  const misses: string[] = [];
  for (const [name, attempt] of attempts) {
    const found = attempt();
    if (!isError(found)) return { ...found, skipped: misses.map((m) => m.trim().replace(/^- /, '')) };
    misses.push(`  - ${name}: ${found.error}`);
  }
  const wheel = pinnedWheel();
  throw new Error(
    `reviewkd could not find LibTorch. Tried, in order:\n${misses.join('\n')}\n` +
      `Fix: download ${wheel.file} (sha256 ${wheel.sha256}) from ${wheel.url} ` +
      'where you have network, and set REVIEWKD_TORCH_WHEEL to its path (or set LIBTORCH to an unpacked LibTorch folder with include/, lib/ and share/cmake/).',
  );
}
