#!/usr/bin/env node
'use strict';
// The opt-in check of the PyTorch checkpoint reader on full-size files (too large to commit):
//   /tmp/ptvenv/bin/python scripts/make-pth-fixtures.py --big /tmp/rk-big
//   node scripts/check-pth-checkpoints.js /tmp/rk-big
// 1. Load time of the ~100 MB ResNet50 checkpoint (zip and legacy layouts; best of 3, after a warm-up).
// 2. The torchvision-layout ResNet18 checkpoint and its safetensors copy (both written by PyTorch) give
//    bit-identical logits in the zoo's resnet18, close to PyTorch's own logits of the same input.
// 3. `reviewkd eval` of the .pth and of the .safetensors on the same synthetic 1000-class folder (one
//    image per class, at 64x64 to keep it short) prints the same top-1, top-5 and loss.
// Exits 1 when a check fails.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const rk = require('..');

const dir = process.argv[2];
if (!dir || !fs.existsSync(path.join(dir, 'resnet18.pth'))) {
  process.stderr.write('usage: node scripts/check-pth-checkpoints.js <folder written by make-pth-fixtures.py --big>\n');
  process.exit(2);
}
let failed = false;
const check = (ok, what) => {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) failed = true;
};

function timeLoad(file) {
  const times = [];
  for (let i = 0; i < 4; i++) {
    const t0 = process.hrtime.bigint();
    const sd = rk.io.loadTorchCheckpoint(file);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    Object.values(sd).forEach((t) => t.dispose());
  }
  return Math.min(...times.slice(1));
}

async function main() {
  for (const name of ['resnet50.pth', 'resnet50-legacy.pth']) {
    const file = path.join(dir, name);
    const ms = timeLoad(file);
    const mb = fs.statSync(file).size / 2 ** 20;
    process.stdout.write(`load ${name} (${mb.toFixed(1)} MiB): ${ms.toFixed(0)} ms (${(mb / (ms / 1000)).toFixed(0)} MiB/s)\n`);
  }
  const r50 = rk.models.create('resnet50');
  check(r50.load(path.join(dir, 'resnet50.pth')).missing.length === 0, 'resnet50.pth loads into the zoo resnet50 (strict)');
  r50.dispose();

  const { input, logits: want } = JSON.parse(fs.readFileSync(path.join(dir, 'resnet18-logits.json'), 'utf8'));
  const n = input.reduce((a, b) => a * b, 1);
  const x = new Float64Array(n);
  for (let k = 0; k < n; k++) x[k] = Math.sin(0.01 * k + 0.3);
  const outputs = {};
  for (const file of ['resnet18.pth', 'resnet18.safetensors']) {
    const net = rk.models.create('resnet18');
    net.load(path.join(dir, file));
    net.eval();
    outputs[file] = Array.from((await net.forward(rk.tensor(x, { shape: input, dtype: 'float32' }))).toArray());
    net.dispose();
  }
  const a = outputs['resnet18.pth'];
  const b = outputs['resnet18.safetensors'];
  check(a.length === b.length && a.every((v, i) => Object.is(v, b[i])), `resnet18: .pth and .safetensors logits are bit-identical (${a.length} values)`);
  const worst = Math.max(...a.map((v, i) => Math.abs(v - want[i]) / Math.max(1, Math.abs(want[i]))));
  check(worst < 1e-3, `resnet18: logits match PyTorch's (worst relative difference ${worst.toExponential(2)})`);

  // reviewkd eval on a val/ folder of 1000 classes (one 32x32 PNG per class, resized to 64).
  const sharp = require('sharp');
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-imagenet-like-'));
  for (let c = 0; c < 1000; c++) {
    const d = path.join(data, 'val', `n${String(c).padStart(4, '0')}`);
    fs.mkdirSync(d, { recursive: true });
    const px = Buffer.alloc(32 * 32 * 3);
    for (let k = 0; k < px.length; k++) px[k] = (k * (c % 251 + 1)) & 0xff;
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(path.join(d, '0.png'));
  }
  const bin = path.join(__dirname, '..', 'bin', 'reviewkd.js');
  const evalOf = (file) => {
    const r = spawnSync(process.execPath, [bin, 'eval', path.join(dir, file), '--model', 'resnet18', '--data', data, '--image-size', '64', '--json'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`reviewkd eval ${file} exited ${r.status}: ${r.stderr}`);
    const { top1, top5, loss, count } = JSON.parse(r.stdout);
    return { top1, top5, loss, count };
  };
  const e1 = evalOf('resnet18.pth');
  const e2 = evalOf('resnet18.safetensors');
  process.stdout.write(`reviewkd eval resnet18.pth: ${JSON.stringify(e1)}\nreviewkd eval resnet18.safetensors: ${JSON.stringify(e2)}\n`);
  check(JSON.stringify(e1) === JSON.stringify(e2), 'reviewkd eval: the .pth and the .safetensors give the same top-1, top-5 and loss');
  fs.rmSync(data, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exitCode = 1;
});
