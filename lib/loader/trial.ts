// Before a binary is loaded into the user's process for the first time, it is loaded in a child
// process: a binary that does not fit this machine (a missing library, an ABI mismatch that slipped
// through, an illegal instruction) then costs a child, not the user's app. A success is remembered in
// the cache, keyed by the binary's path, size and time and by the LibTorch, so later runs skip the child.
import * as fs from 'fs';
import * as path from 'path';

import { spawnNodeSync } from './child-node';
import { cacheKey, fileIdentity } from './hashing';
import type { FoundLibTorch } from './libtorch-resolution';

/** What the child saw. */
export interface TrialResult {
  ok: boolean;
  /** The child's error (empty on success). */
  message: string;
  /** True when a remembered success was used instead of a child. */
  remembered: boolean;
}

// Loads the binary, asks for its build info and runs one real op through LibTorch's kernels.
const CHILD_SCRIPT = [
  'const m = require(process.argv[1]);',
  'const info = m.buildInfo();',
  'const a = m.randn([8, 8], null, null);',
  'const b = m.add(a, 1);',
  'if (JSON.stringify(b.shape) !== "[8,8]") throw new Error("a tensor op returned the wrong shape");',
  'process.stdout.write(JSON.stringify({ ok: true, version: info.libtorchVersion }));',
].join('\n');

function stampFile(binary: string, torch: FoundLibTorch, cache: string): string {
  return path.join(cache, 'verified', `${cacheKey([...fileIdentity(binary), torch.root, torch.version])}.json`);
}

/** Loads binary in a child process (unless a success is remembered) and reports the outcome. */
export function tryInChild(binary: string, torch: FoundLibTorch, cache: string): TrialResult {
  const stamp = stampFile(binary, torch, cache);
  if (fs.existsSync(stamp)) return { ok: true, message: '', remembered: true };
  const child = spawnNodeSync(['-e', CHILD_SCRIPT, binary], { timeout: 120000 });
  if (child.error) return { ok: false, message: `the trial process could not run: ${child.error.message}`, remembered: false };
  if (child.status !== 0) {
    const why = child.signal ? `it was killed by ${child.signal}` : `it exited with ${child.status}`;
    const stderr = (child.stderr || '').trim().split('\n').filter((l) => /error|cannot|undefined symbol|not found/i.test(l)).slice(0, 3).join(' | ');
    return { ok: false, message: `loading it in a child process failed: ${why}${stderr ? `: ${stderr}` : ''}`, remembered: false };
  }
  try {
    fs.mkdirSync(path.dirname(stamp), { recursive: true });
    fs.writeFileSync(stamp, JSON.stringify({ binary, libtorch: torch.root, version: torch.version, at: new Date().toISOString() }));
  } catch {
    // An unwritable cache only costs a child process next time.
  }
  return { ok: true, message: '', remembered: false };
}
