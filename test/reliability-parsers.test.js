'use strict';
// Parsers under seeded mutation (truncation, bit flips, oversized length fields, random bytes, splices):
// IDX raw/gz, CIFAR binary records, tar and tar.gz archives, PNG/JPEG image folders (sharp), checkpoint
// sidecars and tensors files (list, load, fit({resume: true})), and CLI config files. The mutation loop
// runs in a child process (test/fuzz/parsers-child.js) so that a crash is caught and named. The
// safetensors reader has its own fuzz in io-safetensors.test.js; here only its 1 TB claims are added.
// Then, for each parser, a header or length field claiming about a terabyte must be refused in < 1 s.
const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const rk = require('..');
const { boundedNode, SLOWDOWN } = require('./helpers');

describe('reliability: parser mutation fuzz (child process)', function () {
  this.timeout(180000 * SLOWDOWN);

  it('every mutated file gives a result or an Error: no crash, no hang', async () => {
    const child = spawn(...boundedNode(path.join(__dirname, 'fuzz', 'parsers-child.js')), {
      cwd: path.join(__dirname, '..'),
      env: { ...process.env, RK_PARSER_FUZZ_MS: '30000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout = (stdout + d).slice(-200000);
    });
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 150000 * SLOWDOWN);
    const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    const lines = stdout.trim().split('\n');
    const summaryLine = lines.find((l) => l.startsWith('SUMMARY '));
    const lastCase = [...lines].reverse().find((l) => l.startsWith('S '));
    assert.ok(summaryLine && code === 0, `the parser fuzz child ended with exit ${code}, signal ${signal} during '${lastCase}': ${stderr.slice(-1500)} ${lines.filter((l) => l.startsWith('FATAL')).join('\n')}`);
    const { counts, rejectedBy, seconds } = JSON.parse(summaryLine.slice(8));
    const total = Object.values(counts).reduce((a, c) => a + c.cases, 0);
    console.log(`      parser fuzz: ${total} mutations tried in ${seconds.toFixed(1)} s: ${Object.entries(counts).map(([k, c]) => `${k} ${c.cases} (${c.rejected} rejected)`).join(', ')}`);
    console.log(`      rejections by error class: ${JSON.stringify(rejectedBy)}`);
    assert.ok(total >= 3000, `enough mutations ran (${total})`);
    for (const family of ['idx', 'cifar', 'tar', 'image', 'checkpoint']) {
      assert.ok(counts[family] && counts[family].cases >= 50, `${family}: enough cases`);
      assert.ok(counts[family].rejected > 0, `${family}: some mutations were rejected (the fuzz reaches the checks)`);
    }
    // Data files are rejected with the loaders' DataFormatError (file + offset), never a bare TypeError.
    for (const family of ['idx', 'cifar', 'tar', 'image']) {
      const others = Object.keys(rejectedBy).filter((k) => k.startsWith(`${family}:`) && k !== `${family}: DataFormatError`);
      assert.deepStrictEqual(others, [], `${family}: every rejection is a DataFormatError`);
    }
  });
});

describe('reliability: a field claiming a terabyte is refused quickly', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-tb-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function refusedFast(what, fn, pattern) {
    const t0 = process.hrtime.bigint();
    let error = null;
    try {
      await fn();
    } catch (e) {
      error = e;
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(error instanceof Error, `${what}: refused`);
    assert.match(error.message, pattern, `${what}: the message says why`);
    assert.ok(ms < 1000, `${what}: refused in ${ms.toFixed(0)} ms (< 1 s)`);
    const before = process.memoryUsage().rss;
    assert.ok(before < 4 * 2 ** 30, 'no huge allocation survived');
  }

  it('IDX: dimensions whose product is ~1 TB (raw and gzipped)', async () => {
    const b = Buffer.alloc(16 + 10);
    b.writeUInt32BE(rk.data.IDX_IMAGES_MAGIC, 0);
    b.writeUInt32BE(1 << 20, 4);
    b.writeUInt32BE(1024, 8);
    b.writeUInt32BE(1024, 12);
    fs.writeFileSync(path.join(dir, 'tb-idx'), b);
    fs.writeFileSync(path.join(dir, 'tb-idx.gz'), zlib.gzipSync(b));
    await refusedFast('idx raw', () => rk.data.loadIdx(path.join(dir, 'tb-idx'), rk.data.IDX_IMAGES_MAGIC), /truncated.*needs exactly 1099511627792/);
    await refusedFast('idx gz', () => rk.data.loadIdx(path.join(dir, 'tb-idx.gz'), rk.data.IDX_IMAGES_MAGIC), /truncated/);
  });

  function tarHeader(name, sizeField) {
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    sizeField.copy(h, 124);
    h.write('00000000000\0', 136);
    h[156] = 0x30;
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return h;
  }

  it('tar: a member size of ~1 TB (octal and GNU base-256), and inside a CIFAR tar.gz', async () => {
    const octal = Buffer.from('17777777777\0'); // 2^31 - 1 bytes: the largest 11-digit octal size (8 GB fields are base-256)
    const base256 = Buffer.alloc(12);
    base256[0] = 0x80;
    base256.writeUIntBE(2 ** 40, 6, 6); // 1 TiB
    for (const [label, field, pattern] of [['octal', octal, /needs 2147483647 bytes/], ['base-256', base256, /needs 1099511627776 bytes/]]) {
      const tar = Buffer.concat([tarHeader('cifar-10-batches-bin/test_batch.bin', field), Buffer.alloc(1024)]);
      await refusedFast(`readTar ${label}`, () => rk.data.readTar(tar, 'tb.tar'), pattern);
      const file = path.join(dir, `cifar-10-binary-${label}.tar.gz`);
      fs.writeFileSync(file, zlib.gzipSync(tar));
      await refusedFast(`loadCifar10 ${label}`, () => rk.data.loadCifar10(file, { split: 'test' }), /truncated/);
    }
  });

  it('CIFAR records: a 1 TB claim cannot be made (the count comes from the file length); a short file is refused', async () => {
    const d = path.join(dir, 'c10');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'test_batch.bin'), Buffer.alloc(3073 + 5));
    await refusedFast('cifar records', () => rk.data.loadCifar10(d, { split: 'test' }), /not a positive multiple/);
  });

  it('PNG and JPEG: a header claiming 2^31 x 2^31 pixels', async () => {
    const sharp = require('sharp');
    const base = { create: { width: 4, height: 4, channels: 3, background: { r: 1, g: 2, b: 3 } } };
    const png = await sharp(base).png().toBuffer();
    png.writeUInt32BE(0x7fffffff, 16);
    png.writeUInt32BE(0x7fffffff, 20);
    png.writeInt32BE(zlib.crc32 ? zlib.crc32(png.subarray(12, 29)) | 0 : 0, 29); // a valid IHDR CRC where node has crc32
    const jpg = await sharp(base).jpeg().toBuffer();
    const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]));
    jpg.writeUInt16BE(0xffff, sof + 5);
    jpg.writeUInt16BE(0xffff, sof + 7);
    for (const [ext, bytes] of [['png', png], ['jpg', jpg]]) {
      const root = path.join(dir, `img-${ext}`);
      fs.mkdirSync(path.join(root, 'c'), { recursive: true });
      fs.writeFileSync(path.join(root, 'c', `huge.${ext}`), bytes);
      await refusedFast(`image ${ext}`, () => rk.data.loadImageFolder(root), /could not be read/);
    }
  });

  it('safetensors (weights and checkpoint tensors): header length and data offsets of ~1 TB', async () => {
    const header = Buffer.alloc(8);
    header.writeBigUInt64LE(2n ** 40n);
    const file = path.join(dir, 'tb.safetensors');
    fs.writeFileSync(file, Buffer.concat([header, Buffer.from('{}')]));
    await refusedFast('safetensors header length', () => rk.io.loadSafetensors(file), /header/);
    const json = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [2 ** 18, 2 ** 20], data_offsets: [0, 2 ** 40] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(16)]));
    await refusedFast('safetensors data offsets', () => rk.io.loadSafetensors(file), /data|offset|size|file/);
  });

  it('checkpoint sidecar pointing at a tensors file that claims 1 TB: listed, then refused on load', async () => {
    const { loadCheckpointTensors, listCheckpoints } = require('../dist/train/checkpoint');
    const run = path.join(dir, 'run');
    fs.mkdirSync(run);
    const header = Buffer.alloc(8);
    header.writeBigUInt64LE(2n ** 40n);
    const tensors = Buffer.concat([header, Buffer.from('{}')]);
    fs.writeFileSync(path.join(run, 'epoch-0001.safetensors'), tensors);
    const sha256 = require('crypto').createHash('sha256').update(tensors).digest('hex');
    fs.writeFileSync(path.join(run, 'epoch-0001.json'), JSON.stringify({ format: 1, tensors: 'epoch-0001.safetensors', sha256, globalStep: 1e15 }));
    const found = listCheckpoints(run);
    assert.strictEqual(found.length, 1);
    await refusedFast('checkpoint tensors', () => loadCheckpointTensors(run, found[0]), /header/);
  });

  it('CLI config: a YAML alias bomb is refused quickly', async () => {
    const { readConfigFile } = require('../dist/cli/args');
    const levels = Array.from({ length: 10 }, (_, i) => String.fromCharCode(97 + i));
    const text = levels.map((l, i) => (i === 0 ? `${l}: &${l} [x, x, x, x, x, x, x, x, x, x]` : `${l}: &${l} [${Array(10).fill(`*${levels[i - 1]}`).join(', ')}]`)).join('\n');
    const file = path.join(dir, 'bomb.yaml');
    fs.writeFileSync(file, text);
    await refusedFast('yaml alias bomb', () => readConfigFile(file), /alias|Excessive|cannot parse/i);
  });
});
