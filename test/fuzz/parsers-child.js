'use strict';
// Child process of test/reliability-parsers.test.js: seeded mutation fuzzing of every file parser
// (IDX raw and gz, CIFAR binary records, tar and tar.gz archives, PNG/JPEG image folders, checkpoint
// sidecars and their tensors files, CLI config files). Each mutated input must give a normal result or an
// Error. Prints "S <name>" before each case (so the parent can name a crash), then "SUMMARY <json>".
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { execFileSync } = require('child_process');

const rk = require('../..');
const { loadCheckpointTensors, listCheckpoints } = require('../../dist/train/checkpoint');
const { squaresDataset } = require('../train-helpers');
const { prng } = require('../helpers');

const out = (line) => fs.writeSync(1, `${line}\n`);
const budgetMs = Number(process.env.RK_PARSER_FUZZ_MS || 40000);
const started = Date.now();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-parsers-'));
const rand = prng(20261128);
const int = (n) => Math.floor(rand() * n);
const counts = {};
const rejectedBy = {};

/** One seeded mutation of `seed` (a Buffer): truncation, bit flips, oversized fields, byte runs, splices. */
function mutate(seed, fields = []) {
  let b = Buffer.from(seed);
  const kind = int(7);
  switch (kind) {
    case 0: // truncation
      b = b.subarray(0, int(b.length));
      break;
    case 1: // bit flips, mostly near the start where the headers are
      for (let k = 1 + int(8); k > 0; --k) {
        const at = rand() < 0.7 ? int(Math.min(b.length, 1024)) : int(b.length);
        b[at] ^= 1 << int(8);
      }
      break;
    case 2: // an oversized or random value in a length/size field
      if (fields.length && b.length) {
        const [at, width] = fields[int(fields.length)];
        if (at + width <= b.length) {
          const v = [0xff, 0x7f, 0x00, int(256)][int(4)];
          for (let k = 0; k < width; k++) b[at + k] = rand() < 0.8 ? v : int(256);
        }
      }
      break;
    case 3: // random bytes overwritten
      for (let k = 1 + int(32); k > 0 && b.length; --k) b[int(b.length)] = int(256);
      break;
    case 4: // bytes appended
      b = Buffer.concat([b, Buffer.alloc(1 + int(600), int(256))]);
      break;
    case 5: // a splice: a block repeated or cut in the middle
      if (b.length) {
        const at = int(b.length);
        const len = int(Math.min(1024, b.length - at));
        b = rand() < 0.5 ? Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]) : Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
      }
      break;
    default: // empty, or a single byte
      b = rand() < 0.5 ? Buffer.alloc(0) : Buffer.from([int(256)]);
  }
  return b;
}

async function attempt(family, name, fn) {
  out(`S ${family}: ${name}`);
  counts[family] = counts[family] || { cases: 0, ok: 0, rejected: 0 };
  counts[family].cases++;
  try {
    await fn();
    counts[family].ok++;
  } catch (e) {
    if (!(e instanceof Error)) throw new Error(`${family} ${name}: threw a non-Error: ${String(e)}`);
    counts[family].rejected++;
    const key = `${family}: ${e.constructor.name}`;
    rejectedBy[key] = (rejectedBy[key] || 0) + 1;
  }
}

const timeLeft = (share) => Date.now() - started < budgetMs * share;
// Every family runs at least this many cases however busy the machine is (the time budget alone gave a
// slow machine, or the sanitizer build, too few checkpoint cases for the test's floor of 50).
const MIN_CASES = 60;
const enough = (...families) => families.every((f) => (counts[f] ? counts[f].cases : 0) >= MIN_CASES);

// ---------------------------------------------------------------- seeds

function idxBytes(magic, dims, fill) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  return Buffer.concat([header, Buffer.from(Array.from({ length: n }, (_, i) => fill(i)))]);
}

function cifarRecords(count, labelBytes) {
  const rec = labelBytes + 3072;
  const b = Buffer.alloc(count * rec);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < labelBytes; k++) b[i * rec + k] = (i + k) % 10;
    for (let p = 0; p < 3072; p++) b[i * rec + labelBytes + p] = (i * 7 + p) & 0xff;
  }
  return b;
}

async function main() {
  process.chdir(tmp);
  // ---- IDX (raw and gz), through loadIdx and loadMnist
  const labels = idxBytes(rk.data.IDX_LABELS_MAGIC, [20], (i) => i % 10);
  const images = idxBytes(rk.data.IDX_IMAGES_MAGIC, [20, 28, 28], (i) => i & 0xff);
  const idxFields = [[0, 4], [4, 4], [8, 4], [12, 4]];
  const idxDir = path.join(tmp, 'idx');
  fs.mkdirSync(idxDir);
  const f = (n) => path.join(idxDir, n);
  while (timeLeft(0.2) || !enough('idx')) {
    const seed = rand() < 0.5 ? labels : images;
    const magic = seed === labels ? rk.data.IDX_LABELS_MAGIC : rk.data.IDX_IMAGES_MAGIC;
    const gz = rand() < 0.4;
    let bytes = mutate(seed, idxFields);
    if (gz) bytes = rand() < 0.7 ? zlib.gzipSync(bytes) : mutate(zlib.gzipSync(seed), [[0, 2], [3, 1], [4, 4]]);
    const file = f(gz ? 'case.gz' : 'case');
    fs.writeFileSync(file, bytes);
    await attempt('idx', gz ? 'gz' : 'raw', () => rk.data.loadIdx(file, magic));
    counts.idx.cases % 10 === 0 && fs.rmSync(file);
  }
  // loadMnist on a folder whose label file is mutated
  const mnistDir = path.join(tmp, 'mnist');
  fs.mkdirSync(mnistDir);
  fs.writeFileSync(path.join(mnistDir, 't10k-images-idx3-ubyte'), images);
  for (let i = 0; i < 100; i++) {
    fs.writeFileSync(path.join(mnistDir, 't10k-labels-idx1-ubyte'), mutate(labels, idxFields));
    await attempt('idx', 'loadMnist', () => rk.data.loadMnist(mnistDir, { split: 'test' }));
  }

  // ---- CIFAR binary records (folder) and archives (tar, tar.gz), readTar itself
  const c10 = path.join(tmp, 'c10', 'cifar-10-batches-bin');
  fs.mkdirSync(c10, { recursive: true });
  const batch = cifarRecords(4, 1);
  fs.writeFileSync(path.join(c10, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  fs.writeFileSync(path.join(c10, 'test_batch.bin'), batch);
  execFileSync('tar', ['-cf', path.join(tmp, 'c10.tar'), '-C', path.join(tmp, 'c10'), 'cifar-10-batches-bin']);
  const tarSeed = fs.readFileSync(path.join(tmp, 'c10.tar'));
  const tarFields = [];
  for (let h = 0; h + 512 <= tarSeed.length; h += 512) tarFields.push([h + 124, 12], [h + 148, 8], [h + 100, 8], [h + 257, 6]);
  const c100 = path.join(tmp, 'c100', 'cifar-100-binary');
  fs.mkdirSync(c100, { recursive: true });
  const batch100 = cifarRecords(3, 2);
  while (timeLeft(0.4) || !enough('cifar', 'tar')) {
    const which = int(5);
    if (which === 0) {
      fs.writeFileSync(path.join(c10, 'test_batch.bin'), mutate(batch));
      await attempt('cifar', 'cifar-10 records', () => rk.data.loadCifar10(path.join(tmp, 'c10'), { split: 'test' }));
    } else if (which === 1) {
      fs.writeFileSync(path.join(c100, 'test.bin'), mutate(batch100));
      await attempt('cifar', 'cifar-100 records', () => rk.data.loadCifar100(path.join(tmp, 'c100'), { split: 'test', labels: rand() < 0.5 ? 'fine' : 'coarse' }));
    } else if (which === 2) {
      const bytes = mutate(tarSeed, tarFields);
      await attempt('tar', 'readTar', () => rk.data.readTar(bytes, 'fuzz.tar'));
    } else {
      const gz = which === 3 ? zlib.gzipSync(mutate(tarSeed, tarFields)) : mutate(zlib.gzipSync(tarSeed), [[0, 2], [4, 4]]);
      const file = path.join(tmp, 'cifar-10-binary.tar.gz');
      fs.writeFileSync(file, gz);
      await attempt('tar', 'loadCifar10(tar.gz)', () => rk.data.loadCifar10(file, { split: 'test' }));
    }
  }
  fs.writeFileSync(path.join(c10, 'test_batch.bin'), batch);

  // ---- image folders: corrupted PNG and JPEG files decoded by sharp
  const sharp = require('sharp');
  const base = { create: { width: 12, height: 10, channels: 3, background: { r: 200, g: 30, b: 90 } } };
  const png = await sharp(base).png().toBuffer();
  const jpg = await sharp(base).jpeg({ quality: 80 }).toBuffer();
  const imgDir = path.join(tmp, 'images');
  fs.mkdirSync(path.join(imgDir, 'a'), { recursive: true });
  fs.mkdirSync(path.join(imgDir, 'b'), { recursive: true });
  fs.writeFileSync(path.join(imgDir, 'a', 'good.png'), png);
  fs.writeFileSync(path.join(imgDir, 'b', 'good.jpg'), jpg);
  const pngFields = [[8, 4], [16, 4], [20, 4], [33, 4]]; // IHDR length, width, height, next chunk length
  const jpgFields = [[4, 2], [jpg.indexOf(Buffer.from([0xff, 0xc0])) + 5, 2], [jpg.indexOf(Buffer.from([0xff, 0xc0])) + 7, 2]];
  while (timeLeft(0.6) || !enough('image')) {
    const isPng = rand() < 0.5;
    const bytes = mutate(isPng ? png : jpg, isPng ? pngFields : jpgFields);
    const file = path.join(imgDir, isPng ? 'a' : 'b', isPng ? 'x.png' : 'x.jpg');
    fs.writeFileSync(file, bytes);
    await attempt('image', isPng ? 'png' : 'jpeg', () => rk.data.loadImageFolder(imgDir, { size: rand() < 0.5 ? [10, 12] : undefined, channels: rand() < 0.5 ? 1 : 3 }));
    fs.rmSync(file);
  }

  // ---- checkpoints: a real run's sidecar and tensors file, mutated; listCheckpoints, load, resume
  const ds = squaresDataset(8, 3);
  const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
  const trainer = await rk.train.Trainer.create({ student, train: ds, augment: false });
  const runDir = path.join(tmp, 'run');
  await trainer.fit({ epochs: 1, batchSize: 4, lr: 0.01, runDir, progress: 'none' });
  const sidecar = fs.readFileSync(path.join(runDir, 'epoch-0001.json'));
  const tensorsSeed = fs.readFileSync(path.join(runDir, 'epoch-0001.safetensors'));
  const stFields = [[0, 8], [8, 16], [Math.max(0, tensorsSeed.indexOf('data_offsets') + 15), 12]];
  const meta = JSON.parse(sidecar);
  const jsonEdits = [
    () => ({ ...meta, globalStep: 1e308 }), () => ({ ...meta, globalStep: -1 }), () => ({ ...meta, globalStep: '2' }),
    () => ({ ...meta, tensors: '../../../../etc/passwd' }), () => ({ ...meta, tensors: 12 }), () => ({ ...meta, format: 99 }),
    () => ({ ...meta, epoch: 1e12 }), () => ({ ...meta, position: -5 }), () => ({ ...meta, position: 1e9 }), () => ({ ...meta, epoch: 'x' }),
    () => ({ ...meta, history: null }), () => ({ ...meta, partial: null }), () => ({ ...meta, sha256: 'ff' }), () => [], () => null, () => 'x',
  ];
  let resumes = 0;
  while (timeLeft(0.97) || !enough('checkpoint')) {
    fs.rmSync(runDir, { recursive: true, force: true });
    fs.mkdirSync(runDir);
    const target = int(3);
    let side = sidecar;
    let tens = tensorsSeed;
    if (target === 0) side = mutate(sidecar);
    else if (target === 1) side = Buffer.from(JSON.stringify(jsonEdits[int(jsonEdits.length)]()));
    else tens = mutate(tensorsSeed, stFields);
    fs.writeFileSync(path.join(runDir, 'epoch-0001.json'), side);
    fs.writeFileSync(path.join(runDir, 'epoch-0001.safetensors'), tens);
    await attempt('checkpoint', ['sidecar bytes', 'sidecar fields', 'tensors file'][target], async () => {
      const found = listCheckpoints(runDir);
      for (const c of found) Object.values(loadCheckpointTensors(runDir, c)).forEach((t) => t.dispose());
    });
    if (resumes < 40 && (target === 1 || rand() < 0.15)) {
      resumes++;
      await attempt('checkpoint', 'fit({resume: true})', () => trainer.fit({ epochs: 2, batchSize: 4, lr: 0.01, runDir, resume: true, progress: 'none' }));
    }
  }
  trainer.dispose();

  // ---- CLI config files (JSON and YAML), when the CLI is there
  let readConfigFile = null;
  try {
    ({ readConfigFile } = require('../../dist/cli/args'));
  } catch {
    readConfigFile = null;
  }
  if (readConfigFile) {
    const json = Buffer.from(JSON.stringify({ model: 'resnet8', epochs: 3, lr: 0.1, batchSize: 64, hclLevels: [4, 2, 1] }));
    const yaml = Buffer.from('model: resnet8\nepochs: 3\nlr: 0.1\nbatch-size: 64\nhcl-levels: [4, 2, 1]\n');
    const bomb = Buffer.from(`a: &a ["x","x","x","x","x","x","x","x","x"]\n${Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`).join('\n')}\n`);
    for (let i = 0; i < 400; i++) {
      const isJson = i % 2 === 0;
      const file = path.join(tmp, isJson ? 'config.json' : 'config.yaml');
      fs.writeFileSync(file, i === 1 ? bomb : mutate(isJson ? json : yaml));
      await attempt('cli-config', isJson ? 'json' : 'yaml', () => readConfigFile(file));
    }
  }

  out(`SUMMARY ${JSON.stringify({ counts, rejectedBy, seconds: (Date.now() - started) / 1000 })}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  out(`FATAL ${e && e.stack}`);
  process.exit(3);
});
