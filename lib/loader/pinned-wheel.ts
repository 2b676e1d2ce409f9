// Getting a torch wheel onto the machine and unpacked: the pinned CPU wheel (checked against its sha256)
// for the LibTorch fallback, and any wheel by pip requirement for the CUDA compile check. The download
// and unzip are asynchronous streams (wheel-fetch.ts), run in a child process because LibTorch is
// resolved from synchronous code; their progress lines go straight to this process's stderr.
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

import { spawnNodeSync } from './child-node';
import { withDirLock } from './dir-lock';
import { sha256File } from './hashing';
import { pinnedTorchVersion, pinnedWheel } from './package-info';
import { cacheRoot, flagSetting, setting } from './settings';

type Log = (msg: string) => void;

/** Where the pinned wheel is unpacked (its torch/ folder is the LibTorch root). */
export function wheelCacheDir(version = pinnedTorchVersion()): string {
  return path.join(cacheRoot(), 'libtorch', `${version}-cpu`);
}

/** Refuses a wheel whose checksum is not the pinned one. */
function verifyPinnedWheel(file: string): void {
  const wheel = pinnedWheel();
  const actual = sha256File(file);
  if (actual !== wheel.sha256) throw new Error(`${file} has sha256 ${actual}, expected ${wheel.sha256} (${wheel.file})`);
}

/** Runs wheel-fetch.js (the compiled wheel-fetch.ts) in a child process and waits for it. */
function runWheelFetch(args: string[]): void {
  const r = spawnNodeSync([path.join(__dirname, 'wheel-fetch.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.error) throw new Error(r.error.message);
  if (r.status !== 0) throw new Error(`wheel-fetch exited with ${r.status} (its message is above)`);
}

/**
 * The work files of one destination, all beside it and named `.<destination>.*`: `.fetch-*` (pip's
 * download folder), `.staging-*`, `.download-*`, `.old-*` (wheel-fetch.ts), and the lock.
 */
function workPrefix(destination: string): string {
  return `.${path.basename(destination)}.`;
}

/**
 * Removes what a killed fetch of `destination` left behind. Only called while holding the destination's
 * lock, so nothing of that prefix can belong to a fetch in progress.
 */
function sweepStaleWork(destination: string, log: Log): void {
  const parent = path.dirname(destination);
  const prefix = workPrefix(destination);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || name === `${prefix}lock`) continue;
    log(`reviewkd: removing ${path.join(parent, name)}, left by an interrupted fetch`);
    fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

/**
 * Makes sure the pinned wheel is unpacked at `destination` (a `.complete` marker says so). When it is not
 * (and REVIEWKD_OFFLINE is not set), fetches it: REVIEWKD_TORCH_WHEEL (a local
 * copy), then pip (which honours the user's pip configuration: proxies, mirrors, local wheel folders),
 * then a direct HTTPS download. Every wheel is checked against the pinned sha256 before it is unpacked.
 * Processes that start at once take turns on a lock beside the destination: the first fetches and
 * unpacks, the others find it complete. Returns `{}` or `{error}` naming every attempt.
 */
export function ensurePinnedWheel({ destination, log = () => {} }: { destination: string; log?: Log }): { error?: string } {
  const complete = () => fs.existsSync(path.join(destination, '.complete'));
  if (complete()) return {};
  if (flagSetting('REVIEWKD_OFFLINE', false)) return { error: `${destination} is empty and REVIEWKD_OFFLINE is set, so no wheel was fetched` };
  try {
    // The whole fetch runs under the lock (a download can take minutes: wait up to an hour).
    withDirLock(path.dirname(destination), `${workPrefix(destination)}lock`, () => {
      if (complete()) return;
      sweepStaleWork(destination, log);
      fetchPinnedWheel({ destination, log });
    }, 60 * 60 * 1000);
    return {};
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Gets the pinned wheel into `destination` (see ensurePinnedWheel); throws one error naming every attempt. */
export function fetchPinnedWheel({ destination, log = () => {} }: { destination: string; log?: Log }): void {
  const wheel = pinnedWheel();
  const version = pinnedTorchVersion();
  const misses: string[] = [];
  const unpack = (file: string) => {
    verifyPinnedWheel(file);
    log(`reviewkd: unpacking ${path.basename(file)} into ${destination} (once)`);
    runWheelFetch(['--wheel', file, '--dest', destination]);
  };

  const localWheel = setting('REVIEWKD_TORCH_WHEEL');
  if (localWheel) {
    try {
      unpack(path.resolve(localWheel));
      return;
    } catch (err) {
      misses.push(`REVIEWKD_TORCH_WHEEL=${localWheel}: ${(err as Error).message}`);
    }
  } else {
    misses.push('REVIEWKD_TORCH_WHEEL is not set');
  }

  fs.mkdirSync(path.dirname(destination), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(destination), `${workPrefix(destination)}fetch-`));
  try {
    const index = setting('REVIEWKD_TORCH_INDEX') ?? 'https://download.pytorch.org/whl/cpu';
    try {
      unpack(pipDownload({ requirement: `torch==${version}+cpu`, directory: work, log, extraArgs: [...wheel.pipTarget, '--only-binary=:all:', '--extra-index-url', index] }));
      return;
    } catch (err) {
      misses.push(`pip download torch==${version}+cpu: ${(err as Error).message}`);
    }

    const url = setting('REVIEWKD_TORCH_WHEEL_URL') ?? wheel.url;
    try {
      log(`reviewkd: downloading ${wheel.file} (190 MB, once) from ${url}`);
      runWheelFetch(['--url', url, '--sha256', wheel.sha256, '--dest', destination]);
      return;
    } catch (err) {
      misses.push(`download ${url}: ${(err as Error).message}`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  throw new Error(`could not get ${wheel.file}: ${misses.join('; ')}`);
}

/** `pip download <requirement> --no-deps` into directory; returns the wheel's path. */
function pipDownload({ requirement, directory, log, extraArgs = [] }: { requirement: string; directory: string; log: Log; extraArgs?: string[] }): string {
  const python = setting('PYTHON') ?? 'python3';
  log(`reviewkd: fetching ${requirement} with pip`);
  const pipArgs = ['-m', 'pip', 'download', requirement, '--no-deps', '-d', directory, '--retries', setting('REVIEWKD_PIP_RETRIES') ?? '2', '--disable-pip-version-check', ...extraArgs];
  const pip = spawnSync(python, pipArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (pip.error) throw new Error(`${python}: ${(pip.error as NodeJS.ErrnoException).code ?? pip.error.message}`);
  if (pip.status !== 0) throw new Error((pip.stderr || pip.stdout || '').trim().split('\n').slice(-3).join(' | '));
  const found = fs.readdirSync(directory).find((f) => f.endsWith('.whl'));
  if (!found) throw new Error(`pip finished but no wheel is in ${directory}`);
  return path.join(directory, found);
}

/**
 * Fetches a wheel with pip and unpacks only the members under `keep` (by default what a C++ build needs
 * from torch: lib, include, share, version.py) into destination, atomically. Used for the CUDA compile
 * check's wheels, which are not pinned by checksum (they are a build check, never loaded).
 */
export function unpackWheel({ requirement, destination, log = () => {}, keep }: { requirement: string; destination: string; log?: Log; keep?: string[] }): void {
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(destination), `${workPrefix(destination)}fetch-`));
  try {
    const wheel = pipDownload({ requirement, directory: work, log });
    log(`reviewkd: unpacking ${path.basename(wheel)}`);
    runWheelFetch(['--wheel', wheel, '--dest', destination, ...(keep ? ['--keep', ...keep] : [])]);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
