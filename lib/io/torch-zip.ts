// A small, strict, synchronous reader for the zip archives torch.save writes.
//
// Why not yauzl (already a dependency): it is callback-only, and Model.load() and the CLI weight
// resolution are synchronous. PyTorch's writer (caffe2's PyTorchStreamWriter over miniz) stores every
// record uncompressed and switches to ZIP64 fields for large archives, so the reader needs the central
// directory (plain and ZIP64), the local headers and stored entries; deflate costs one zlib call and
// is accepted too. Entries are read on demand with positioned reads: a 100 MB checkpoint is never
// held twice, and only the storages of the tensors asked for are read.
//
// Every offset and size is checked against the file size before it is used, CRC-32s are verified
// when node's zlib has crc32 (node >= 20.15), and encrypted, multi-disk or otherwise unusual archives
// are refused with a TorchCheckpointError naming the file and the problem.
import * as fs from 'fs';
import * as zlib from 'zlib';

import { TorchCheckpointError } from './pickle';

/** One member of the archive, from its central-directory record. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** More entries than any checkpoint has (one per storage, a few hundred for a ResNet). */
const MAX_ENTRIES = 1 << 20;
const MAX_CENTRAL_DIRECTORY = 256 << 20;

const crc32: ((data: Uint8Array) => number) | undefined = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;

/** An open archive: its entries by name, and positioned reads of their data. */
export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly fd: number;
  private readonly fileSize: number;

  /** Reads and validates the central directory of the open file `fd` (the caller closes it). */
  constructor(fd: number, fileSize: number, private readonly where: string) {
    this.fd = fd;
    this.fileSize = fileSize;
    this.readCentralDirectory();
  }

  private fail(why: string): never {
    throw new TorchCheckpointError(`${this.where}: zip: ${why}`);
  }

  private readAt(position: number, length: number): Buffer {
    if (position < 0 || length < 0 || position + length > this.fileSize) {
      this.fail(`a read of ${length} bytes at offset ${position} goes past the end of the ${this.fileSize}-byte file`);
    }
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, out, done, length - done, position + done);
      if (n <= 0) this.fail(`the file ended early at offset ${position + done}`);
      done += n;
    }
    return out;
  }

  private readCentralDirectory(): void {
    // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
    const tailLength = Math.min(this.fileSize, 22 + 0xffff);
    const tail = this.readAt(this.fileSize - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.fail('no end-of-central-directory record (not a zip file, or truncated)');
    const eocdOffset = this.fileSize - tailLength + eocd;
    let disk = tail.readUInt16LE(eocd + 4);
    let cdDisk = tail.readUInt16LE(eocd + 6);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff || disk === 0xffff) {
      // ZIP64: a locator just before the record points at the ZIP64 end record.
      if (eocdOffset < 20) this.fail('ZIP64 fields without a ZIP64 locator');
      const loc = this.readAt(eocdOffset - 20, 20);
      if (loc.readUInt32LE(0) !== ZIP64_LOCATOR) this.fail('ZIP64 fields without a ZIP64 locator');
      const recordOffset = this.safe(loc.readBigUInt64LE(8), 'the ZIP64 end record offset');
      const rec = this.readAt(recordOffset, 56);
      if (rec.readUInt32LE(0) !== ZIP64_EOCD) this.fail(`no ZIP64 end record at offset ${recordOffset}`);
      disk = rec.readUInt32LE(16);
      cdDisk = rec.readUInt32LE(20);
      count = this.safe(rec.readBigUInt64LE(32), 'the entry count');
      cdSize = this.safe(rec.readBigUInt64LE(40), 'the central directory size');
      cdOffset = this.safe(rec.readBigUInt64LE(48), 'the central directory offset');
    }
    if (disk !== 0 || cdDisk !== 0) this.fail('multi-disk archives are not supported');
    if (count > MAX_ENTRIES) this.fail(`${count} entries exceed the limit of ${MAX_ENTRIES}`);
    if (cdSize > MAX_CENTRAL_DIRECTORY || cdOffset + cdSize > this.fileSize) {
      this.fail(`the central directory (${cdSize} bytes at offset ${cdOffset}) does not fit in the ${this.fileSize}-byte file`);
    }
    const cd = this.readAt(cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) this.fail(`central directory record ${i} is malformed`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      let entryDisk = cd.readUInt16LE(p + 34);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const end = p + 46 + nameLength + extraLength + commentLength;
      if (end > cd.length) this.fail(`central directory record ${i} runs past the directory`);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLength);
      // ZIP64 extended information (header id 1): the 64-bit values of the fields that hold 0xFFFFFFFF.
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (e + 4 + len > extraEnd) this.fail(`entry '${name}': a malformed extra field`);
        if (id === 1) {
          let q = e + 4;
          const next = (what: string): number => {
            if (q + 8 > e + 4 + len) this.fail(`entry '${name}': the ZIP64 extra field lacks ${what}`);
            const v = this.safe(cd.readBigUInt64LE(q), `entry '${name}' ${what}`);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = next('the size');
          if (compressedSize === 0xffffffff) compressedSize = next('the compressed size');
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = next('the header offset');
          if (entryDisk === 0xffff) {
            if (q + 4 > e + 4 + len) this.fail(`entry '${name}': the ZIP64 extra field lacks the disk`);
            entryDisk = cd.readUInt32LE(q);
          }
        }
        e += 4 + len;
      }
      if (flags & 0x41) this.fail(`entry '${name}' is encrypted`);
      if (entryDisk !== 0) this.fail(`entry '${name}' is on another disk`);
      if (method !== 0 && method !== 8) this.fail(`entry '${name}' uses compression method ${method} (only stored and deflate are supported)`);
      if (method === 0 && compressedSize !== size) this.fail(`stored entry '${name}' has size ${size} but ${compressedSize} stored bytes`);
      if (localHeaderOffset + 30 + compressedSize > cdOffset) {
        this.fail(`entry '${name}' (${compressedSize} bytes at offset ${localHeaderOffset}) does not fit in the file`);
      }
      if (this.entries.has(name)) this.fail(`entry '${name}' appears twice`);
      this.entries.set(name, { name, method, compressedSize, size, crc32: crc, localHeaderOffset });
      p = end;
    }
  }

  private safe(v: bigint, what: string): number {
    if (v > BigInt(this.fileSize)) this.fail(`${what} (${v}) exceeds the file size ${this.fileSize}`);
    return Number(v);
  }

  /**
   * The bytes of `entry` in a fresh ArrayBuffer (offset 0, so any typed-array view of it is aligned).
   * `maxBytes` caps the uncompressed size before anything is allocated.
   */
  read(entry: ZipEntry, maxBytes: number): Uint8Array {
    if (entry.size > maxBytes) this.fail(`entry '${entry.name}' is ${entry.size} bytes, over the limit of ${maxBytes}`);
    const local = this.readAt(entry.localHeaderOffset, 30);
    if (local.readUInt32LE(0) !== LOCAL) this.fail(`entry '${entry.name}': no local header at offset ${entry.localHeaderOffset}`);
    const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (dataStart + entry.compressedSize > this.fileSize) this.fail(`entry '${entry.name}' runs past the end of the file`);
    let out: Uint8Array;
    if (entry.method === 0) {
      out = new Uint8Array(entry.size);
      let done = 0;
      while (done < entry.size) {
        const n = fs.readSync(this.fd, out, done, entry.size - done, dataStart + done);
        if (n <= 0) this.fail(`entry '${entry.name}': the file ended early`);
        done += n;
      }
    } else {
      const packed = this.readAt(dataStart, entry.compressedSize);
      let inflated: Buffer;
      try {
        inflated = zlib.inflateRawSync(packed, { maxOutputLength: Math.max(1, entry.size) });
      } catch (e) {
        this.fail(`entry '${entry.name}': bad deflate data (${(e as Error).message})`);
      }
      if (inflated.length !== entry.size) this.fail(`entry '${entry.name}' inflates to ${inflated.length} bytes, not ${entry.size}`);
      out = new Uint8Array(entry.size);
      out.set(inflated);
    }
    if (crc32 && (crc32(out) >>> 0) !== entry.crc32) this.fail(`entry '${entry.name}': CRC-32 mismatch (the file is corrupt)`);
    return out;
  }
}
