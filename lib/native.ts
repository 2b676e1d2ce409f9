// Loads the native addon on first use. The steps, each in lib/loader/:
//   1. find LibTorch in the order of docs/install.md (LIBTORCH, python3's torch, the pinned wheel, which
//      is fetched and unpacked into the user's cache on first use, then a system LibTorch);
//   2. pick the binary built for exactly that LibTorch (LibTorch has no stable C++ ABI): a source build in
//      the package, the prebuilt binary of the matching variant, or one built earlier into the cache;
//   3. load it in a child process first, once (a bad binary costs a child, not the caller's process);
//   4. when none fits, build one from source with cmake-js and say so, or fail with every reason and a fix.
import * as fs from 'fs';
import * as path from 'path';

import type { NativeBinding } from './native-types';
import { bindPrebuilt } from './loader/binding-dir';
import { type Candidate, cacheBuildDir, findCandidates, judge } from './loader/candidates';
import { type FoundLibTorch, resolveLibTorch } from './loader/libtorch-resolution';
import { pinnedTorchVersion } from './loader/package-info';
import { cacheRoot, flagSetting, setting } from './loader/settings';
import { type BuildRecord, readBuildRecord } from './loader/records';
import { buildFromSource, missingBuildTools, sourceBuildAllowed } from './loader/source-build';
import { tryInChild } from './loader/trial';

export type { BuildRecord } from './loader/records';

/** The binary that was loaded and why. */
export interface LoadedBinary {
  path?: string;
  record?: BuildRecord;
  /** 'package build', 'prebuilt' or 'cache build'. */
  kind?: string;
  libtorch?: FoundLibTorch;
  /** The plan the choice was made from (every candidate and its verdict). */
  plan?: LoadPlan;
}

let binding: NativeBinding | undefined;
let loaded: LoadedBinary = {};

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** What the loader would use, and why every other binary was passed over (also for `reviewkd doctor`). */
export interface LoadPlan {
  libtorch: FoundLibTorch;
  cache: string;
  candidates: Candidate[];
}

/** Resolves LibTorch (fetching the pinned wheel if needed) and judges every candidate binary. */
export function planLoad(): LoadPlan {
  const libtorch = resolveLibTorch({ log });
  const cache = cacheRoot();
  return { libtorch, cache, candidates: findCandidates(libtorch, cache) };
}

function describeCandidates(candidates: Candidate[]): string {
  return candidates.map((c) => `  - ${c.kind}${c.variant ? ` (${c.variant})` : ''}${c.binary ? ` ${c.binary}` : ''}: ${c.reason}`).join('\n');
}

/** The single most useful fix when no binary fits and none can be built. */
function fixFor(torch: FoundLibTorch, pinned: string): string {
  if (torch.source === 'LIBTORCH') return `unset LIBTORCH so the prebuilt binary is used with LibTorch ${pinned} (fetched once into the cache), or install the build tools listed so reviewkd can build against LibTorch ${torch.version}`;
  if (torch.source === 'python3') return `set REVIEWKD_PYTHON_TORCH=0 so the prebuilt binary is used with LibTorch ${pinned} (fetched once into the cache) instead of python3's torch ${torch.version}, or install the build tools listed`;
  return `install the build tools listed so reviewkd can build against LibTorch ${torch.version}`;
}

function chooseBinary(): LoadedBinary {
  const plan = planLoad();
  const { libtorch: torch, cache, candidates } = plan;
  const failures: string[] = [];
  for (const candidate of candidates) {
    if (!candidate.fits || !candidate.binary) continue;
    const file = candidate.kind === 'prebuilt' ? bindPrebuilt(candidate.binary, torch, cache) : candidate.binary;
    const trial = tryInChild(file, torch, cache);
    if (trial.ok) return { path: file, record: candidate.record, kind: candidate.kind, libtorch: torch, plan };
    failures.push(`  - ${candidate.kind} ${file}: ${trial.message}`);
  }

  const pinned = `${pinnedTorchVersion()}+cpu`;
  const found = `LibTorch found: ${torch.version} (${torch.variant}) from ${torch.source} at ${torch.root}`;
  const tried = `Binaries:\n${describeCandidates(candidates)}${failures.length ? `\nFailed when loaded in a child process:\n${failures.join('\n')}` : ''}`;
  if (!sourceBuildAllowed()) {
    throw new Error(`reviewkd: no binary fits this LibTorch and REVIEWKD_BUILD_FROM_SOURCE=0 forbids building one.\n${found}\n${tried}\nFix: ${fixFor(torch, pinned)}.`);
  }
  const missing = missingBuildTools();
  if (missing.length > 0) {
    throw new Error(
      `reviewkd: no binary fits this LibTorch, and building one from source needs ${missing.join(', ')}.\n${found}\n${tried}\n` +
        `Fix: ${fixFor(torch, pinned)}.`,
    );
  }
  const outDir = cacheBuildDir(cache, torch);
  const built = buildFromSource(torch, outDir, log);
  const verdict = judge('cache build', built, torch);
  const trial = verdict.fits ? tryInChild(built, torch, cache) : { ok: false, message: verdict.reason };
  if (!trial.ok) throw new Error(`reviewkd: the binary built from source in ${outDir} does not load: ${trial.message}\n${found}`);
  return { path: built, record: readBuildRecord(built), kind: 'cache build', libtorch: torch, plan: { ...plan, candidates: findCandidates(torch, cache) } };
}

/**
 * REVIEWKD_ADDON: a developer's override that loads exactly that binary (the sanitizer build of
 * `npm run test:asan`, a debug build), with no resolution, judging or child-process trial.
 */
function overrideBinary(file: string): LoadedBinary {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) throw new Error(`reviewkd: REVIEWKD_ADDON=${file} does not exist`);
  return { path: resolved, record: readBuildRecord(resolved), kind: 'REVIEWKD_ADDON' };
}

/**
 * REVIEWKD_CPU_MEMORY_REUSE: how the memory a training step frees is kept for the next one instead of being
 * returned to the OS and faulted in again (native/common/cpu_memory.cc; docs/performance.md has the
 * measurements): 'cache' (default) or 'malloc', or null when the setting turns it off.
 */
function cpuMemoryReuse(): 'malloc' | 'cache' | null {
  const value = setting('REVIEWKD_CPU_MEMORY_REUSE')?.toLowerCase();
  if (value === 'malloc' || value === 'cache') return value;
  return flagSetting('REVIEWKD_CPU_MEMORY_REUSE', true) ? 'cache' : null;
}

/** The native binding, loaded on first call (see the steps at the top of this file). */
export function native(): NativeBinding {
  if (binding) return binding;
  const override = setting('REVIEWKD_ADDON');
  const choice = override ? overrideBinary(override) : chooseBinary();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loadedBinding = require(choice.path as string) as NativeBinding;
  const reuse = cpuMemoryReuse();
  if (reuse) loadedBinding.keepFreedCpuMemory(reuse);
  loadedBinding.setFusedKernels(flagSetting('REVIEWKD_FUSED_KERNELS', true));
  binding = loadedBinding;
  loaded = choice;
  return binding;
}

/** Where the loaded binary is, its build record and the LibTorch it uses (empty before the first native call). */
export function loadedBinary(): LoadedBinary {
  return loaded;
}
