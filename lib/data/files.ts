// Reading a whole data file, gunzipping it when it is gzip data. node's zlib does the decompression
// (on the libuv thread pool, so the event loop keeps running); no third-party code is needed.
import { promises as fsp } from 'fs';
import { promisify } from 'util';
import * as zlib from 'zlib';

import { DataFormatError } from './errors';

const gunzip = promisify(zlib.gunzip);

/** @internal True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * @internal Reads `file` whole; gzip data (by its magic number, whatever the name) is decompressed.
 * A file named *.gz that is not gzip data, or corrupt/truncated gzip data, is a DataFormatError.
 */
export async function readMaybeGzip(file: string): Promise<Buffer> {
  // Only regular files: reading a FIFO would wait forever, a device (/dev/zero) would never end.
  if ((await statKind(file)) !== 'file') throw new DataFormatError(file, null, 'not a regular file');
  const raw = await fsp.readFile(file);
  if (!isGzip(raw)) {
    if (file.endsWith('.gz')) throw new DataFormatError(file, 0, `not gzip data (the first bytes are not 1f 8b)`);
    return raw;
  }
  try {
    // Generous output limit: the largest supported file (CIFAR-10's archive) inflates to ~180 MB.
    return await gunzip(raw, { maxOutputLength: 2 ** 31 - 1 });
  } catch (err) {
    throw new DataFormatError(file, null, `gzip data is corrupt or truncated (${(err as Error).message})`);
  }
}

/** @internal Whether a path exists and is a directory / a regular file. */
export async function statKind(p: string): Promise<'dir' | 'file' | null> {
  try {
    const st = await fsp.stat(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}
