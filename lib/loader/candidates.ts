// The binaries reviewkd can load, each in its own folder, and whether each one fits the LibTorch found.
// Folders (each one is a node-gyp-build folder, searched with node-gyp-build):
//   <package>/build/Release             a source build in the package (a git checkout: `npm run setup`)
//   <package>/binaries/<variant>/prebuilds/<platform>-<arch>   prebuilt, one folder per variant: CPU and
//                                       CUDA binaries cannot be told apart by node-gyp-build's file tags
//   <cache>/builds/<variant>-<version>-<hash>/build/Release     built from source on this machine by the
//                                       loader, one per LibTorch folder
import * as fs from 'fs';
import * as path from 'path';

import { cacheKey } from './hashing';
import type { FoundLibTorch } from './libtorch-resolution';
import { packageRoot } from './package-info';
import { type BuildRecord, readBuildRecord } from './records';

/** Where a candidate binary came from. */
export type CandidateKind = 'package build' | 'prebuilt' | 'cache build';

/** One binary and the verdict on it. */
export interface Candidate {
  kind: CandidateKind;
  /** For prebuilt binaries: the variant folder searched. */
  variant?: 'cpu' | 'cuda';
  /** The .node file (undefined when the folder holds none for this platform). */
  binary?: string;
  record?: BuildRecord;
  /** True when it was built for exactly the LibTorch found. */
  fits: boolean;
  /** Why it fits or not, for errors and `reviewkd doctor`. */
  reason: string;
}

const VARIANTS = ['cpu', 'cuda'] as const;

/** The node-gyp-build binary in dir (build/Release first, then prebuilds/<platform>-<arch>), if any. */
function nodeGypBuildPath(dir: string): string | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gypBuild = require('node-gyp-build') as { path(dir: string): string };
  if (!fs.existsSync(dir)) return undefined;
  try {
    return gypBuild.path(dir);
  } catch {
    return undefined;
  }
}

/** The cache folder where the loader builds from source for one LibTorch folder. */
export function cacheBuildDir(cache: string, torch: FoundLibTorch): string {
  return path.join(cache, 'builds', `${torch.variant}-${torch.version.replace(/[^\w.+-]/g, '_')}-${cacheKey([torch.root])}`);
}

/** Judges one binary against the LibTorch found. */
export function judge(kind: CandidateKind, binary: string | undefined, torch: FoundLibTorch): Candidate {
  if (!binary) return { kind, fits: false, reason: 'no binary for this platform' };
  const record = readBuildRecord(binary);
  if (!record) return { kind, binary, fits: false, reason: 'no readable reviewkd-build.json beside it' };
  const built = record.libtorch;
  const verdict = (fits: boolean, reason: string): Candidate => ({ kind, binary, record, fits, reason });
  if (built.variant !== torch.variant) {
    return verdict(false, `built for ${built.variant} LibTorch ${built.version}; the LibTorch found is ${torch.variant} ${torch.version}`);
  }
  if (built.version !== torch.version) return verdict(false, `built against LibTorch ${built.version}; the LibTorch found is ${torch.version}`);
  if (!record.prebuilt && built.root && path.resolve(built.root) !== path.resolve(torch.root)) {
    return verdict(false, `built against the LibTorch at ${built.root}; the one found is at ${torch.root}`);
  }
  return verdict(true, `built against LibTorch ${built.version} (${built.variant})`);
}

/** Every candidate binary in the order they are preferred, each judged against torch. */
export function findCandidates(torch: FoundLibTorch, cache: string): Candidate[] {
  const root = packageRoot();
  const packageBuild = path.join(root, 'build', 'Release', 'reviewkd.node');
  const candidates = [judge('package build', fs.existsSync(packageBuild) ? packageBuild : undefined, torch)];
  // The variant that matches the LibTorch found first, so its verdict is the one reported first.
  const variants = [...VARIANTS].sort((a, b) => Number(b === torch.variant) - Number(a === torch.variant));
  for (const variant of variants) {
    candidates.push({ ...judge('prebuilt', nodeGypBuildPath(path.join(root, 'binaries', variant)), torch), variant });
  }
  candidates.push(judge('cache build', nodeGypBuildPath(cacheBuildDir(cache, torch)), torch));
  return candidates;
}
