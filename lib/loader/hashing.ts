// The loader's hashes: a file's sha256 (the pinned wheel's checksum) and one scheme for cache keys
// (folder and stamp names in the cache), so every cache entry is named the same way.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** sha256 of a file, read in 4 MB chunks (the torch wheel is 190 MB). */
export function sha256File(file: string): string {
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

/** A cache key: the first `length` hex digits of the sha256 of the parts, one per line. */
export function cacheKey(parts: Array<string | number>, length = 16): string {
  return crypto.createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, length);
}

/**
 * What identifies a binary without reading it (1.6 MB on every start): its absolute path, size and
 * modification time, as cache-key parts.
 */
export function fileIdentity(file: string): Array<string | number> {
  const stat = fs.statSync(file);
  return [path.resolve(file), stat.size, stat.mtimeMs];
}

/** sha256 over the relative paths and contents of files (in sorted order) and extra strings: "did the inputs change". */
export function fingerprintFiles(files: string[], base: string, extra: string[] = []): string {
  const hash = crypto.createHash('sha256');
  for (const f of [...files].sort()) {
    hash.update(path.relative(base, f));
    hash.update(fs.readFileSync(f));
  }
  for (const e of extra) hash.update(e);
  return hash.digest('hex');
}
