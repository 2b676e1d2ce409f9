'use strict';
// What the demo (scripts/demo.js) and the accuracy guard (scripts/accuracy-guard.js) share: Fashion-MNIST,
// a seeded training subset, and the resnet20 teacher shipped in demo/ (checked against its SHA-256).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const rk = require('..');

const root = path.resolve(__dirname, '..');

/** Finds Fashion-MNIST (REVIEWKD_FASHION_MNIST first), installing the Debian package when apt is usable. */
function ensureFashionMnist(tag) {
  let dir = process.env.REVIEWKD_FASHION_MNIST || rk.data.findFashionMnist();
  if (dir) return dir;
  const canApt = process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (canApt) {
    process.stderr.write(`${tag}: Fashion-MNIST not found; installing the Debian package dataset-fashion-mnist ...\n`);
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    spawnSync('apt-get', ['install', '-y', '-qq', 'dataset-fashion-mnist'], { stdio: 'inherit' });
    dir = rk.data.findFashionMnist();
    if (dir) return dir;
  }
  throw new Error(
    `${tag}: Fashion-MNIST is needed. On Debian/Ubuntu: \`sudo apt-get install dataset-fashion-mnist\` (puts it in /usr/share/datasets/fashion-mnist); ` +
      "elsewhere, when online: `node -e \"require('reviewkd').data.download('fashion-mnist', 'data/fashion-mnist')\"` and set REVIEWKD_FASHION_MNIST=data/fashion-mnist.",
  );
}

/** The first `count` images of a seeded shuffle (the same subset for every run with that seed). */
function subset(ds, count, seed) {
  const order = new rk.data.BatchSampler(ds.count, { batchSize: 1, seed }).order(0).slice(0, count);
  const px = ds.channels * ds.height * ds.width;
  const images = new Uint8Array(count * px);
  const labels = new Int32Array(count);
  order.forEach((src, i) => {
    images.set(ds.images.subarray(src * px, (src + 1) * px), i * px);
    labels[i] = ds.labels[src];
  });
  return { ...ds, name: `${ds.name}-subset${count}-seed${seed}`, images, labels, count };
}

/** demo/teacher.json, after checking the weights file against the SHA-256 it records. */
function teacherRecord() {
  const record = JSON.parse(fs.readFileSync(path.join(root, 'demo', 'teacher.json'), 'utf8'));
  const file = path.join(root, 'demo', record.file);
  const sha = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  if (sha !== record.sha256) throw new Error(`${file} has SHA-256 ${sha}, but demo/teacher.json records ${record.sha256}`);
  return { ...record, path: file };
}

/** A fresh teacher model with the shipped weights. */
function loadTeacher(record = teacherRecord()) {
  const teacher = rk.models.create(record.model, { numClasses: 10, inChannels: 1 });
  teacher.load(record.path);
  return teacher;
}

module.exports = { ensureFashionMnist, subset, teacherRecord, loadTeacher };
