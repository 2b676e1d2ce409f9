// A cross-process lock as a folder (mkdir is atomic): two processes building into the same folder (two
// `npm test` in one clone, two apps building the same cache entry) take turns. A lock whose owner process
// is gone is taken over.
import * as fs from 'fs';
import * as path from 'path';

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function ownerAlive(lock: string): { owner: number; alive: boolean } {
  let owner = NaN;
  try {
    owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
  } catch {
    // being written, or removed meanwhile
  }
  let alive = false;
  try {
    alive = Number.isInteger(owner) && owner > 0 && (process.kill(owner, 0), true);
  } catch {
    alive = false;
  }
  return { owner, alive };
}

/** Runs body while holding `<dir>/<name>`; waits up to timeoutMs for another holder. */
export function withDirLock<T>(dir: string, name: string, body: () => T, timeoutMs = 30 * 60 * 1000): T {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, name);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const { owner, alive } = ownerAlive(lock);
      if (!alive && Number.isInteger(owner)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by pid ${owner})`);
      sleepSync(500);
    }
  }
  try {
    return body();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
