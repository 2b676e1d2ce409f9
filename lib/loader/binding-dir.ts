// A prebuilt binary finds LibTorch through its runpath $ORIGIN/torch/lib. The loader copies it into a
// folder of the user's cache beside a `torch` link to the LibTorch found, so the binary loads with no
// LD_LIBRARY_PATH and no preloading, wherever LibTorch lives, and the package folder may stay read-only
// (or sit inside an Electron asar archive, which the copy reads through Electron's fs).
// pip's CUDA torch finds its CUDA libraries through its own runpath $ORIGIN/../../nvidia/<lib>/lib, and the
// dynamic loader takes $ORIGIN from the path it opened (…/bindings/<key>/torch/lib), not the link's target:
// so the folder also gets an `nvidia` link to the nvidia/ folder beside that torch, when there is one.
import * as fs from 'fs';
import * as path from 'path';

import { cacheKey, fileIdentity } from './hashing';
import type { FoundLibTorch } from './libtorch-resolution';
import { BUILD_RECORD_FILE } from './records';

/** Returns the copy of a prebuilt binary that loads against torch, creating it on first use. */
export function bindPrebuilt(binary: string, torch: FoundLibTorch, cache: string): string {
  const dir = path.join(cache, 'bindings', cacheKey([...fileIdentity(binary), torch.root]));
  const target = path.join(dir, 'reviewkd.node');
  if (isComplete(dir, torch.root)) return target;

  // Filled under a temporary name and renamed, so a half-written folder is never used.
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const staging = fs.mkdtempSync(`${dir}.tmp-`);
  try {
    fs.writeFileSync(path.join(staging, 'reviewkd.node'), fs.readFileSync(binary), { mode: 0o755 });
    fs.copyFileSync(path.join(path.dirname(binary), BUILD_RECORD_FILE), path.join(staging, BUILD_RECORD_FILE));
    fs.symlinkSync(torch.root, path.join(staging, 'torch'), 'dir');
    const nvidia = nvidiaBeside(torch.root);
    if (nvidia) fs.symlinkSync(nvidia, path.join(staging, 'nvidia'), 'dir');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(staging, dir);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    // Another process (a worker thread, a parallel test) may have made the same folder meanwhile.
    if (isComplete(dir, torch.root)) return target;
    throw err;
  }
  return target;
}

/** The nvidia/ folder of pip's CUDA libraries beside a torch package folder (site-packages/nvidia), if any. */
function nvidiaBeside(torchRoot: string): string | undefined {
  const dir = path.join(path.dirname(torchRoot), 'nvidia');
  return fs.existsSync(dir) ? dir : undefined;
}

function isComplete(dir: string, torchRoot: string): boolean {
  try {
    const nvidia = nvidiaBeside(torchRoot);
    if (nvidia && fs.readlinkSync(path.join(dir, 'nvidia')) !== nvidia) return false;
    return fs.readlinkSync(path.join(dir, 'torch')) === torchRoot && fs.statSync(path.join(dir, 'reviewkd.node')).isFile();
  } catch {
    return false;
  }
}
