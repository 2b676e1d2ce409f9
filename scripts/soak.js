#!/usr/bin/env node
'use strict';
// The soak (not part of npm test): a long ReviewKD distillation that samples the process's RSS and open
// file descriptors every few seconds and fails when either grows by more than 5 % after the warm-up.
// Writes soak.json (the samples) and soak.png (the curves) into --out.
//   node scripts/soak.js [--minutes 30] [--out soak-output] [--every 5]
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const rk = require(root);
const { renderPng } = require(path.join(root, 'dist', 'report', 'render-png.js'));
const { squaresDataset } = require(path.join(root, 'test', 'train-helpers.js'));

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const minutes = Number(option('minutes', '30'));
const every = Number(option('every', '5'));
const outDir = path.resolve(option('out', 'soak-output'));
if (!(minutes > 0) || !(every > 0)) {
  process.stderr.write('usage: node scripts/soak.js [--minutes 30] [--out DIR] [--every SECONDS]\n');
  process.exit(2);
}

const openFds = () => fs.readdirSync('/proc/self/fd').length;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  const samples = [];
  const sample = (epoch) => samples.push({ t: (Date.now() - started) / 1000, rssMB: process.memoryUsage().rss / 1e6, fds: openFds(), liveTensors: rk.memory().liveTensors, epoch });
  let epoch = 0;
  const timer = setInterval(() => sample(epoch), every * 1000);

  // A learnable problem big enough to exercise every part of a step: teacher forward, review head, HCL,
  // the fused update, evaluation, checkpoints (runDir) and their rotation.
  const train = squaresDataset(2048, 1);
  const test = squaresDataset(512, 2);
  const shape = { numClasses: 10, inChannels: 1 };
  rk.manualSeed(0);
  const teacher = rk.models.create('resnet14', shape);
  const student = rk.models.create('resnet8', shape);
  const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train, test, seed: 0 });
  const runDir = path.join(outDir, 'run');
  fs.rmSync(runDir, { recursive: true, force: true });
  const deadline = started + minutes * 60 * 1000;
  while (Date.now() < deadline) {
    epoch++;
    // One epoch per fit call, resumed from the run folder: also soaks the checkpoint and resume paths.
    await trainer.fit({ epochs: epoch, batchSize: 64, lr: 0.05, lossWarmupEpochs: 1, progress: 'none', runDir, resume: epoch > 1, keepLast: 2 });
  }
  clearInterval(timer);
  sample(epoch);
  trainer.dispose();

  const warm = samples.filter((s) => s.t >= Math.min(120, (minutes * 60) / 5));
  const window = Math.max(3, Math.floor(warm.length / 10));
  const first = warm.slice(0, window);
  const last = warm.slice(-window);
  const growth = (key) => (median(last.map((s) => s[key])) - median(first.map((s) => s[key]))) / median(first.map((s) => s[key]));
  const result = { minutes, epochs: epoch, samples: samples.length, rssGrowth: growth('rssMB'), fdGrowth: growth('fds'), rssStartMB: median(first.map((s) => s.rssMB)), rssEndMB: median(last.map((s) => s.rssMB)), ok: false };
  result.ok = warm.length >= 2 * window && result.rssGrowth <= 0.05 && result.fdGrowth <= 0.05;
  fs.writeFileSync(path.join(outDir, 'soak.json'), `${JSON.stringify({ result, samples }, null, 1)}\n`);
  await renderPng({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `soak: ReviewKD resnet8 <- resnet14, ${minutes} min, ${epoch} epochs`,
    width: 640,
    height: 240,
    data: { values: samples.flatMap((s) => [{ t: s.t / 60, value: s.rssMB, series: 'RSS (MB)' }, { t: s.t / 60, value: s.fds, series: 'open fds' }]) },
    mark: 'line',
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'minutes' },
      y: { field: 'value', type: 'quantitative', title: null },
      row: { field: 'series', type: 'nominal', title: null },
    },
    resolve: { scale: { y: 'independent' } },
  }, path.join(outDir, 'soak.png'), 2);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (!result.ok) process.exit(1);
}

main().catch((err) => {
  process.stderr.write(`reviewkd soak failed: ${err.stack || err.message}\n`);
  process.exit(1);
});
