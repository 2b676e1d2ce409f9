#!/usr/bin/env node
'use strict';
// npm run bench:accuracy — the end-to-end accuracy guard of the Trainer's fast paths (issue #7).
// Distils a resnet8 student from the Fashion-MNIST resnet20 teacher shipped in demo/ (ReviewKD), a short
// run per seed, once in plain fp32 and once with the fast paths (channelsLast + bf16 autocast), same
// seed, same data subset, same initial weights. Prints, per mode, the mean ± std test top-1 over seeds,
// the per-seed paired differences, and the step-0 losses (CE, HCL, total) of the first training batch.
// Exits 1 when the fast path's mean top-1 is outside the fp32 mean ± the noise band:
//
//   band = max(floor, 2 × pooled std)      (floor = 1 percentage point, --band-floor)
//
// Why: with n seeds per mode the difference of the two means has standard error pooled·sqrt(2/n); for
// n = 3 that is 0.82·pooled, so 2·pooled ≈ 2.45 standard errors — about 93% two-sided coverage under
// Student's t with 2n-2 = 4 degrees of freedom when the fast path changes nothing. The 1 pp floor
// keeps the guard from failing on a chance-small std estimate (3 seeds estimate a std poorly, and the
// 10,000-image test set alone has a binomial std of ~0.4 pp at 80%).
//
// The step-0 check (exact agreement of losses and update under stated tolerances) is the mocha test
// test/fast-path-guard.test.js; this script is its training-length counterpart.
//
//   node scripts/accuracy-guard.js [--seeds 1,2,3] [--subset 3000] [--epochs 3] [--batch 64]
//                                  [--student resnet8] [--band-floor 1] [--json]
const path = require('path');
const { parseArgs } = require('util');
const rk = require('..');
const { ensureFashionMnist, subset, teacherRecord, loadTeacher } = require('./demo-data');

const root = path.resolve(__dirname, '..');
const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1,2,3' },
    subset: { type: 'string', default: '3000' },
    epochs: { type: 'string', default: '3' },
    batch: { type: 'string', default: '64' },
    student: { type: 'string', default: 'resnet8' },
    'band-floor': { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const seeds = values.seeds.split(',').map(Number);
const subsetSize = Number(values.subset);
const epochs = Number(values.epochs);
const batchSize = Number(values.batch);
const bandFloor = Number(values['band-floor']);
if (seeds.length < 2 || !seeds.every(Number.isSafeInteger)) usage('--seeds must list at least 2 integer seeds (the band needs a std)');
if (!(subsetSize >= batchSize) || !Number.isInteger(subsetSize)) usage('--subset must be an integer >= --batch');
if (!(epochs >= 1) || !Number.isInteger(epochs)) usage('--epochs must be a positive integer');
if (!(batchSize >= 2) || !Number.isInteger(batchSize)) usage('--batch must be an integer >= 2');
if (!(bandFloor >= 0)) usage('--band-floor must be >= 0 (percentage points)');

const MODES = [
  { name: 'fp32', options: {} },
  { name: 'channelsLast+bf16', options: { channelsLast: true, autocast: 'bf16' } },
];

function usage(msg) {
  console.error(`accuracy-guard: ${msg}`);
  process.exit(2);
}

function log(msg) {
  process.stderr.write(`${msg}\n`);
}

// A fresh teacher for every trainer: `channelsLast: true` converts the teacher's weights to channels-last
// in place, and a plain-fp32 run must not inherit that.
const shippedTeacher = teacherRecord();

/** Student, teacher and trainer for one (seed, mode), from the seed's initial weights. */
async function makeTrainer(seed, mode, train, test) {
  const teacher = loadTeacher(shippedTeacher);
  rk.manualSeed(seed); // student and review-head initialisation: equal for both modes
  const student = rk.models.create(values.student, { numClasses: 10, inChannels: 1 });
  const trainer = await rk.train.Trainer.create({
    student, teacher, method: 'reviewkd', train, test, seed, augment: { padding: 2, flip: true }, ...mode.options,
  });
  return { trainer, student, teacher };
}

function disposeAll({ trainer, student, teacher }) {
  trainer.dispose();
  student.dispose();
  teacher.dispose();
}

/** Losses of one step on the first `batchSize` images of the run's subset, from the run's initial weights. */
async function stepZero(seed, mode, train) {
  const first = { ...train, name: `${train.name}-first`, images: train.images.slice(0, batchSize * train.channels * train.height * train.width), labels: train.labels.slice(0, batchSize), count: batchSize };
  const parts = await makeTrainer(seed, mode, first);
  try {
    const { history } = await parts.trainer.fit({ epochs: 1, batchSize, lr: 0.1, lossWarmupEpochs: 0, progress: 'none', evaluateEvery: 0 });
    return { ce: history[0].losses.ce, feature: history[0].losses.hcl, loss: history[0].loss };
  } finally {
    disposeAll(parts);
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));

(async () => {
  const started = Date.now();
  const dataDir = ensureFashionMnist('accuracy-guard');
  const fullTrain = await rk.data.loadMnist(dataDir, { kind: 'fashion-mnist', split: 'train' });
  const test = await rk.data.loadMnist(dataDir, { kind: 'fashion-mnist', split: 'test' });
  log(`accuracy-guard: Fashion-MNIST, teacher ${shippedTeacher.model} (demo/, ${shippedTeacher.top1}% top-1), student ${values.student}, ReviewKD; ` +
    `${subsetSize} training images, ${epochs} epochs, batch ${batchSize}, seeds ${seeds.join(', ')}; ${rk.info().libtorch.version}, ${rk.getNumThreads()} threads`);

  const runs = [];
  for (const seed of seeds) {
    const train = subset(fullTrain, subsetSize, seed);
    for (const mode of MODES) {
      const step0 = await stepZero(seed, mode, train);
      const parts = await makeTrainer(seed, mode, train, test);
      const t0 = Date.now();
      let history;
      try {
        ({ history } = await parts.trainer.fit({
          epochs, batchSize, lr: 0.1, schedule: { type: 'cosine' }, lossWarmupEpochs: 1, evaluateEvery: 0, progress: 'none',
        }));
      } finally {
        disposeAll(parts);
      }
      const seconds = (Date.now() - t0) / 1000;
      const last = history[history.length - 1];
      const run = {
        seed, mode: mode.name, top1: last.testTop1, step0, seconds,
        imagesPerSecond: mean(history.map((h) => h.imagesPerSecond)),
        badSteps: history.reduce((a, h) => a + h.badSteps, 0),
        finalLoss: last.loss,
      };
      runs.push(run);
      log(`  seed ${seed} ${mode.name.padEnd(17)} top-1 ${run.top1.toFixed(2)}%  step-0 ce ${step0.ce.toFixed(4)} hcl ${step0.feature.toFixed(4)} total ${step0.loss.toFixed(4)}  ` +
        `${run.imagesPerSecond.toFixed(0)} img/s, ${seconds.toFixed(0)} s${run.badSteps ? `, ${run.badSteps} non-finite steps skipped` : ''}`);
    }
  }

  const byMode = MODES.map((mode) => {
    const rs = runs.filter((r) => r.mode === mode.name);
    const top = rs.map((r) => r.top1);
    return {
      mode: mode.name, n: rs.length, mean: mean(top), std: std(top),
      step0: Object.fromEntries(['ce', 'feature', 'loss'].map((k) => [k, mean(rs.map((r) => r.step0[k]))])),
      imagesPerSecond: mean(rs.map((r) => r.imagesPerSecond)), seconds: mean(rs.map((r) => r.seconds)),
      badSteps: rs.reduce((a, r) => a + r.badSteps, 0),
    };
  });
  const [ref, fast] = byMode;
  const pooled = Math.sqrt(((ref.n - 1) * ref.std ** 2 + (fast.n - 1) * fast.std ** 2) / (ref.n + fast.n - 2));
  const band = Math.max(bandFloor, 2 * pooled);
  const delta = fast.mean - ref.mean;
  const paired = seeds.map((seed) => runs.find((r) => r.seed === seed && r.mode === fast.mode).top1 - runs.find((r) => r.seed === seed && r.mode === ref.mode).top1);
  const step0Rel = Object.fromEntries(['ce', 'feature', 'loss'].map((k) => [k, Math.max(...seeds.map((seed) => {
    const a = runs.find((r) => r.seed === seed && r.mode === ref.mode).step0[k];
    const b = runs.find((r) => r.seed === seed && r.mode === fast.mode).step0[k];
    return Math.abs(b - a) / Math.abs(a);
  }))]));
  const pass = Math.abs(delta) <= band && fast.badSteps === 0;

  console.log(`\nFast-path accuracy guard: Fashion-MNIST, ${values.student} <- ${shippedTeacher.model} ReviewKD, ${subsetSize} training images, ${epochs} epoch${epochs === 1 ? '' : 's'}, ` +
    `test on ${test.count.toLocaleString('en-US')} images, seeds ${seeds.join(', ')}`);
  console.log('mode               test top-1 (%)        step-0 CE  step-0 HCL  step-0 total  img/s  time/run (s)');
  for (const r of byMode) {
    const acc = `${r.mean.toFixed(2)} ± ${r.std.toFixed(2)} (n=${r.n})`;
    console.log(`${r.mode.padEnd(18)} ${acc.padEnd(21)} ${r.step0.ce.toFixed(4).padStart(9)}  ${r.step0.feature.toFixed(4).padStart(10)}  ${r.step0.loss.toFixed(4).padStart(12)}  ` +
      `${r.imagesPerSecond.toFixed(0).padStart(5)}  ${r.seconds.toFixed(1).padStart(12)}`);
  }
  console.log(`paired differences (fast - fp32) per seed: ${paired.map((d) => `${d >= 0 ? '+' : ''}${d.toFixed(2)}`).join(', ')} pp`);
  console.log(`step-0 losses, largest relative difference over seeds: CE ${step0Rel.ce.toExponential(2)}, HCL ${step0Rel.feature.toExponential(2)}, total ${step0Rel.loss.toExponential(2)}`);
  console.log(`difference of means ${delta >= 0 ? '+' : ''}${delta.toFixed(2)} pp; band ±${band.toFixed(2)} pp = max(${bandFloor} pp, 2 × pooled std ${pooled.toFixed(2)} pp)` +
    `${fast.badSteps ? `; the fast path skipped ${fast.badSteps} non-finite steps` : ''}`);
  console.log(`${pass ? 'PASS' : 'FAIL'}: the fast path's mean top-1 is ${pass ? 'within' : 'OUTSIDE'} the fp32 mean ± band (total time ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  if (values.json) {
    console.log(JSON.stringify({ subset: subsetSize, epochs, batchSize, seeds, student: values.student, teacher: shippedTeacher.model, byMode, paired, step0Rel, pooled, band, delta, pass, runs }, null, 2));
  }
  process.exitCode = pass ? 0 : 1;
})().catch((err) => {
  console.error(err.stack || err.message);
  process.exit(1);
});
