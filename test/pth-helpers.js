'use strict';
// Helpers of the PyTorch checkpoint tests: the fixtures written by scripts/make-pth-fixtures.py, their
// expected values, a minimal reader/writer of stored zip archives (to take data.pkl out of a fixture,
// change it and put it back with a correct CRC), and the raw little-endian bytes of a loaded tensor.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const FIXTURES = path.join(__dirname, 'fixtures', 'pth');
const fixture = (name) => path.join(FIXTURES, name);
const expected = JSON.parse(fs.readFileSync(fixture('expected.json'), 'utf8'));
const malicious = JSON.parse(fs.readFileSync(fixture('malicious.json'), 'utf8'));

/** The members of a small stored zip (no ZIP64), in central-directory order: [{name, data}]. */
function unzipStored(buf) {
  const eocd = buf.length - 22;
  if (buf.readUInt32LE(eocd) !== 0x06054b50) throw new Error('test zip reader: no plain end record (comment or ZIP64?)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let i = 0; i < count; i++) {
    const size = buf.readUInt32LE(p + 24);
    const nameLength = buf.readUInt16LE(p + 28);
    const skip = nameLength + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLength);
    const local = buf.readUInt32LE(p + 42);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    out.push({ name, data: buf.subarray(start, start + size) });
    p += 46 + skip;
  }
  return out;
}

/**
 * A stored zip of `entries` ([{name, data}]) with correct CRCs and sizes. With `zip64`, the central
 * directory and end record use the ZIP64 forms (PKWARE's APPNOTE 4.3.14-4.3.15, 4.5.3): 0xFFFFFFFF in the
 * 32-bit fields, the real values in extra field 1, and a ZIP64 end record with its locator.
 */
function zipStored(entries, { zip64 = false } = {}) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const { name, data, deflate } of entries) {
    const n = Buffer.from(name, 'utf8');
    const crc = zlib.crc32(data) >>> 0;
    // `deflate`: the record is compressed (method 8); the sizes say so.
    const stored = deflate ? zlib.deflateRawSync(data) : data;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(zip64 ? 45 : 20, 4);
    central.writeUInt16LE(zip64 ? 45 : 20, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(zip64 ? 0xffffffff : stored.length, 20);
    central.writeUInt32LE(zip64 ? 0xffffffff : data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    locals.push(local, n, stored);
    if (zip64) {
      const extra = Buffer.alloc(28);
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(data.length), 4); // uncompressed size
      extra.writeBigUInt64LE(BigInt(stored.length), 12); // compressed size
      extra.writeBigUInt64LE(BigInt(offset), 20); // local header offset
      central.writeUInt16LE(extra.length, 30);
      centrals.push(central, n, extra);
    } else centrals.push(central, n);
    offset += 30 + n.length + stored.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(zip64 ? 0xffffffff : cd.length, 12);
  end.writeUInt32LE(zip64 ? 0xffffffff : offset, 16);
  if (!zip64) return Buffer.concat([...locals, cd, end]);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(entries.length), 24);
  record.writeBigUInt64LE(BigInt(entries.length), 32);
  record.writeBigUInt64LE(BigInt(cd.length), 40);
  record.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset + cd.length), 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([...locals, cd, record, locator, end]);
}

/** A fixture zip with its data.pkl replaced by `pkl` (storages and other records kept). */
function withPickle(zipBuffer, pkl) {
  return zipStored(unzipStored(zipBuffer).map((e) => (e.name.endsWith('/data.pkl') ? { name: e.name, data: pkl } : e)));
}

/** The contiguous little-endian bytes of a loaded tensor, as PyTorch stores them (int8/int16 narrowed back). */
function rawBytes(t, torchDtype) {
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    const a = t.rawBits16();
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  }
  let a = t.toArray();
  if (torchDtype === 'int8') a = Int8Array.from(a);
  if (torchDtype === 'int16') a = Int16Array.from(a);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

/** The dtype reviewkd gives a tensor of PyTorch dtype `d` (int8 and int16 widen to int32). */
const loadedDtype = (d) => (d === 'int8' || d === 'int16' ? 'int32' : d);

module.exports = { FIXTURES, fixture, expected, malicious, unzipStored, zipStored, withPickle, rawBytes, sha256, loadedDtype };
