'use strict';
// Child process of test/io-torch-checkpoint.test.js: seeded mutation fuzzing of the PyTorch checkpoint
// reader. Families: 'zip' (the whole .pth file mutated: central directory, local headers, CRCs),
// 'pickle' (data.pkl mutated and put back in a valid zip, so the pickle machine and the tensor rebuild
// see the damage rather than the CRC check), 'records' (a storage record mutated), 'legacy' (legacy-format
// files mutated) and 'random' (random opcode soup), each for its share of RK_PTH_FUZZ_MS and at least
// RK_PTH_FUZZ_MIN cases. Each case must load or throw an Error. Prints
// "S <case>" before each case (so the parent can name a crash), then "SUMMARY <json>".
const fs = require('fs');
const os = require('os');
const path = require('path');

const rk = require('../..');
const { prng } = require('../helpers');
const { fixture, unzipStored, zipStored, withPickle } = require('../pth-helpers');

const out = (line) => fs.writeSync(1, `${line}\n`);
const budgetMs = Number(process.env.RK_PTH_FUZZ_MS || 5000);
const started = Date.now();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-pth-fuzz-'));
const rand = prng(20261130);
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const counts = {};
const rejectedBy = {};
let maxRss = 0;

/** One seeded mutation: truncation, bit flips, random bytes, appended bytes, splices, empty. */
function mutate(seed) {
  let b = Buffer.from(seed);
  switch (int(6)) {
    case 0:
      b = b.subarray(0, int(b.length));
      break;
    case 1:
      for (let k = 1 + int(8); k > 0 && b.length; --k) b[int(b.length)] ^= 1 << int(8);
      break;
    case 2:
      for (let k = 1 + int(16); k > 0 && b.length; --k) b[int(b.length)] = int(256);
      break;
    case 3:
      b = Buffer.concat([b, Buffer.alloc(1 + int(300), int(256))]);
      break;
    case 4:
      if (b.length) {
        const at = int(b.length);
        const len = int(Math.min(256, b.length - at));
        b = rand() < 0.5 ? Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]) : Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
      }
      break;
    default:
      b = rand() < 0.5 ? Buffer.alloc(0) : Buffer.from([int(256)]);
  }
  return b;
}

function attempt(family, name, bytes) {
  out(`S ${family}: ${name}`);
  counts[family] = counts[family] || { cases: 0, ok: 0, rejected: 0 };
  counts[family].cases++;
  const file = path.join(tmp, 'case.pth');
  fs.writeFileSync(file, bytes);
  try {
    const options = rand() < 0.2 ? { key: pick(['model', 'state_dict', 'x']) } : rand() < 0.1 ? { prefix: 'module.' } : undefined;
    if (rand() < 0.2) rk.io.inspectTorchCheckpoint(file, options);
    else for (const t of Object.values(rk.io.loadTorchCheckpoint(file, options))) t.dispose();
    counts[family].ok++;
  } catch (e) {
    if (!(e instanceof Error)) throw new Error(`${family} ${name}: threw a non-Error: ${String(e)}`);
    counts[family].rejected++;
    const key = `${family}: ${e.name}`;
    rejectedBy[key] = (rejectedBy[key] || 0) + 1;
    if (e.name !== 'TorchCheckpointError' && e.name !== 'UnsafePickleError' && !rejectedBy[`${key} first`]) {
      rejectedBy[`${key} first`] = e.message.slice(0, 200);
    }
  }
  if (counts[family].cases % 50 === 0) maxRss = Math.max(maxRss, process.memoryUsage().rss);
}

// Each family runs its share of the time budget, and at least MIN_CASES cases however busy the machine is.
const MIN_CASES = Number(process.env.RK_PTH_FUZZ_MIN || 500);
const more = (family, share) => (counts[family]?.cases ?? 0) < MIN_CASES || Date.now() - started < budgetMs * share;

// Bytes that are pickle opcodes (pickletools lists them), for the random family.
const OPCODES = Buffer.from('(.012FIJKLMNPQRSTUVXabcde}gh]ijlopqrst)uG', 'latin1');
const PROTO2 = [0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x42, 0x43];

function main() {
  const zips = ['views.pth', 'dtypes.pth', 'checkpoint.pth', 'wrap-net.pth', 'views-p4.pth'].map((f) => fs.readFileSync(fixture(f)));
  const bigZip = fs.readFileSync(fixture('resnet8.pth'));
  const legacies = ['views-legacy.pth', 'dtypes-legacy.pth'].map((f) => fs.readFileSync(fixture(f)));
  const pickles = zips.map((z) => [z, unzipStored(z).find((e) => e.name.endsWith('/data.pkl')).data]);

  while (more('zip', 0.25)) attempt('zip', 'file', mutate(rand() < 0.02 ? bigZip : pick(zips)));
  while (more('pickle', 0.6)) {
    const [z, pkl] = pick(pickles);
    attempt('pickle', 'data.pkl', withPickle(z, mutate(pkl)));
  }
  while (more('records', 0.7)) {
    const entries = unzipStored(pick(zips));
    const storages = entries.filter((e) => e.name.includes('/data/'));
    const victim = pick(storages);
    const mutated = rand() < 0.5 ? mutate(victim.data) : Buffer.from(victim.data).fill(int(256));
    attempt('records', victim.name, zipStored(entries.map((e) => (e === victim ? { name: e.name, data: mutated } : e))));
  }
  while (more('legacy', 0.9)) attempt('legacy', 'file', mutate(pick(legacies)));
  while (more('random', 1)) {
    const n = 1 + int(120);
    const b = Buffer.alloc(n + 3);
    b[0] = 0x80;
    b[1] = 2 + int(4);
    for (let i = 2; i < n + 2; i++) b[i] = rand() < 0.6 ? OPCODES[int(OPCODES.length)] : rand() < 0.3 ? pick(PROTO2) : int(256);
    b[n + 2] = 0x2e;
    attempt('random', 'opcodes', withPickle(zips[0], b));
  }
  maxRss = Math.max(maxRss, process.memoryUsage().rss);
  fs.rmSync(tmp, { recursive: true, force: true });
  out(`SUMMARY ${JSON.stringify({ counts, rejectedBy, seconds: (Date.now() - started) / 1000, maxRssMb: Math.round(maxRss / 2 ** 20) })}`);
}

try {
  main();
} catch (e) {
  out(`FATAL ${e && e.stack}`);
  process.exitCode = 1;
}
