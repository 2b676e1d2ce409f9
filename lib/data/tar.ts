// A small, strict reader for (ustar / GNU / pax) tar data held in memory, enough to read the official
// CIFAR archives without extracting anything to disk. Every header's checksum, size fields and bounds
// are validated; a problem is reported with the archive name and the byte offset of the header.
import { DataFormatError } from './errors';

const BLOCK = 512;

/** One regular file found in a tar archive. */
export interface TarEntry {
  /** The member's path inside the archive, e.g. `cifar-10-batches-bin/data_batch_1.bin`. */
  name: string;
  /** The member's bytes (a view into the archive buffer, not a copy). */
  data: Uint8Array;
  /** Byte offset of the member's data in the (decompressed) archive. */
  offset: number;
}

/** @internal A NUL-terminated text field of a header block. */
export function text(block: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && block[end] !== 0) end++;
  return Buffer.from(block.buffer, block.byteOffset + start, end - start).toString('utf8');
}

/** @internal Parses an octal numeric field (NUL/space padded) or a GNU base-256 one; null when malformed. */
export function numeric(block: Uint8Array, start: number, length: number): number | null {
  if (block[start] & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bits; only non-negative sizes make sense.
    if (block[start] & 0x40) return null;
    let v = block[start] & 0x3f;
    for (let i = 1; i < length; i++) v = v * 256 + block[start + i];
    return Number.isSafeInteger(v) ? v : null;
  }
  const s = text(block, start, length).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return null;
  return parseInt(s, 8);
}

/** @internal True for an all-zero block (end of archive). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** @internal Reads `path=` from a pax extended header's records ("<len> <key>=<value>\n"). */
export function paxPath(data: Uint8Array, archive: string, offset: number): string | undefined {
  const s = Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
  let pos = 0;
  let found: string | undefined;
  while (pos < s.length) {
    const space = s.indexOf(' ', pos);
    const len = parseInt(s.slice(pos, space), 10);
    if (space < 0 || !Number.isInteger(len) || len <= 0 || pos + len > s.length) {
      throw new DataFormatError(archive, offset + pos, 'malformed pax extended header record');
    }
    const record = s.slice(space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0 && record.slice(0, eq) === 'path') found = record.slice(eq + 1);
    pos += len;
  }
  return found;
}

/**
 * Lists the regular files of a tar archive held in memory (already gunzipped). `archive` names it in
 * errors. Throws a {@link DataFormatError} for a bad header checksum, a bad magic, a malformed size, a
 * member running past the end, or a missing end-of-archive marker (a truncated archive).
 */
export function readTar(bytes: Uint8Array, archive: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  for (;;) {
    if (offset + BLOCK > bytes.length) {
      throw new DataFormatError(archive, offset, `tar data ends without the end-of-archive marker (${bytes.length} bytes): the archive is truncated`);
    }
    const header = bytes.subarray(offset, offset + BLOCK);
    if (isZeroBlock(header)) break; // end of archive (a second zero block usually follows; tar readers accept one)
    const stored = numeric(header, 148, 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
    if (stored === null || stored !== sum) {
      throw new DataFormatError(archive, offset, `tar header checksum mismatch (stored ${stored === null ? 'unreadable' : stored}, computed ${sum}): not a tar archive, or corrupt`);
    }
    const magic = text(header, 257, 6);
    if (magic !== 'ustar' && magic !== 'ustar ') {
      throw new DataFormatError(archive, offset, `tar header has magic ${JSON.stringify(magic)}, expected "ustar" (POSIX or GNU tar)`);
    }
    const size = numeric(header, 124, 12);
    if (size === null) throw new DataFormatError(archive, offset + 124, 'tar header has a malformed size field');
    const dataStart = offset + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new DataFormatError(archive, offset, `tar member needs ${size} bytes but the archive ends after ${bytes.length - dataStart}: the archive is truncated`);
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    const type = header[156] === 0 ? '0' : String.fromCharCode(header[156]);
    let name = text(header, 0, 100);
    const prefix = magic === 'ustar' ? text(header, 345, 155) : '';
    if (prefix) name = `${prefix}/${name}`;
    if (type === 'L') {
      longName = text(data, 0, data.length); // GNU long name for the next member
    } else if (type === 'x') {
      longName = paxPath(data, archive, dataStart) ?? longName;
    } else {
      if (longName !== undefined) name = longName;
      longName = undefined;
      if (type === '0' || type === '7') entries.push({ name, data, offset: dataStart });
      // directories, links, global pax headers ('g') and the rest carry no file data we need
    }
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}
