#!/usr/bin/env node
'use strict';
// A folder of ImageNet-sized JPEGs for benchmarks and smoke runs, in the ILSVRC layout
// (<out>/train/<wnid>/<wnid>_<n>.JPEG, <out>/val/<wnid>/ILSVRC2012_val_<n>.JPEG). The pictures are
// synthetic but photo-like for a JPEG decoder: smooth colour fields, edges and a little noise, long side
// 400-640 px, aspect 3:4 to 4:3 (some portrait), quality 80-95, so decoding costs what a photo costs.
//   node scripts/make-jpeg-folder.js OUT [--classes 10] [--train 130] [--val 10] [--seed 1]
const { parseArgs } = require('util');
const fs = require('fs');
const path = require('path');
const sharp = require('sharp');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    classes: { type: 'string', default: '10' },
    train: { type: 'string', default: '130' },
    val: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
  },
});
if (positionals.length !== 1) {
  console.error('usage: node scripts/make-jpeg-folder.js OUT [--classes 10] [--train 130] [--val 10] [--seed 1]');
  process.exit(2);
}
const out = positionals[0];

// mulberry32: small, seeded, good enough for picture content.
let state = Number(values.seed) >>> 0;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** One picture: a few blended colour waves, one class-tinted disc with a hard edge, noise. */
function picture(width, height, cls) {
  const px = Buffer.alloc(width * height * 3);
  const waves = Array.from({ length: 4 }, () => ({ fx: (rand() * 12) / width, fy: (rand() * 12) / height, ph: rand() * 6.28, c: [rand(), rand(), rand()] }));
  const cx = rand() * width, cy = rand() * height, r = (0.15 + rand() * 0.3) * Math.min(width, height);
  const tint = [(cls * 53) % 256, (cls * 97 + 40) % 256, (cls * 151 + 80) % 256];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (const w of waves) v += w.c[c] * Math.sin(x * w.fx * 6.28 + y * w.fy * 6.28 + w.ph);
        v = 128 + 40 * v + (rand() - 0.5) * 24;
        if (inside) v = 0.5 * v + 0.5 * tint[c] + 20 * Math.sin(x * 0.3 + y * 0.2);
        px[i + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return px;
}

async function write(file, cls) {
  const long = 400 + Math.floor(rand() * 241);
  const aspect = 0.75 + rand() * (4 / 3 - 0.75);
  const short = Math.round(long / Math.max(aspect, 1 / aspect));
  const [width, height] = rand() < 0.8 ? [long, short] : [short, long];
  const quality = 80 + Math.floor(rand() * 16);
  await sharp(picture(width, height, cls), { raw: { width, height, channels: 3 } }).jpeg({ quality }).toFile(file);
}

(async () => {
  const classes = Number(values.classes);
  const perSplit = { train: Number(values.train), val: Number(values.val) };
  const started = Date.now();
  let n = 0;
  for (const split of ['train', 'val']) {
    for (let c = 0; c < classes; c++) {
      const wnid = `n${String(1440764 + c * 1111).padStart(8, '0')}`;
      const dir = path.join(out, split, wnid);
      fs.mkdirSync(dir, { recursive: true });
      for (let k = 0; k < perSplit[split]; k++) {
        const name = split === 'train' ? `${wnid}_${k + 1}.JPEG` : `ILSVRC2012_val_${String(c * perSplit.val + k + 1).padStart(8, '0')}.JPEG`;
        await write(path.join(dir, name), c);
        n++;
      }
    }
  }
  console.log(`${n} JPEGs in ${out} (${classes} classes) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
})().catch((err) => {
  console.error(err.stack || err.message);
  process.exit(1);
});
