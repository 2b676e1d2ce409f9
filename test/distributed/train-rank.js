// One rank (or a plain single process) of a data-parallel training test (test/distributed-train.test.js).
// argv[2] is a JSON job; with RANK/WORLD_SIZE set it joins the group. Writes the student's weights to
// <out>/<tag>.safetensors and prints one JSON line.
'use strict';
const path = require('path');
const rk = require('../..');

const job = JSON.parse(process.argv[2]);

// 3-channel 16x16 images with 4 classes, or the 1-channel squares of train-helpers for zoo models.
function data(count, channels, seed) {
  if (channels === 1) return require('../train-helpers').squaresDataset(count, seed);
  const rng = new rk.data.Rng(seed, 0);
  const images = new Uint8Array(count * 3 * 16 * 16);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = Math.floor(rng.nextFloat() * 4);
    for (let p = 0; p < 3 * 256; p++) images[i * 768 + p] = Math.floor(rng.nextFloat() * 255);
  }
  return { name: `noise-${seed}`, images, labels, count, channels: 3, height: 16, width: 16, numClasses: 4, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
}

(async () => {
  rk.setNumThreads(1);
  const group = rk.distributed.isLaunched() ? await rk.distributed.init({ timeoutMs: 60000 }) : undefined;
  const student =
    job.model === 'nobn'
      ? rk.models.loadTorchScript(path.join(__dirname, '..', 'fixtures', 'distributed', 'nobn.pt'), { trustCode: true })
      : (rk.manualSeed(job.initSeed ?? 0), rk.models.create(job.model, { numClasses: 10, inChannels: 1 }));
  const channels = job.model === 'nobn' ? 3 : 1;
  // Distillation: a teacher made the same on every rank (its weights never change).
  const teacher = job.teacher ? (rk.manualSeed(11), rk.models.create(job.teacher, { numClasses: 10, inChannels: 1 })) : undefined;
  const trainer = await rk.train.Trainer.create({
    student,
    ...(teacher ? { teacher, method: job.method } : {}),
    train: data(job.count, channels, 1),
    ...(job.test ? { test: data(job.test, channels, 2) } : {}),
    augment: job.augment ? undefined : false,
    momentum: job.momentum,
    weightDecay: job.weightDecay,
    nesterov: job.momentum > 0,
    seed: 5,
    ...(group ? { processGroup: group } : {}),
  });
  const r = await trainer.fit({ epochs: job.epochs, batchSize: job.batchSize, lr: job.lr, warmupEpochs: 0, dropLast: true, progress: 'none', ...(job.runDir ? { runDir: job.runDir, resume: !!job.resume } : {}) });
  const tag = group ? `rank-${group.rank}` : 'single';
  student.save(path.join(job.out, `${tag}.safetensors`));
  for (const [term, m] of Object.entries(trainer.termModules)) rk.io.saveSafetensors(path.join(job.out, `${tag}.${term}.safetensors`), m.stateDict());
  process.stdout.write(`${JSON.stringify({ tag, history: r.history, resumedFrom: r.resumedFrom ?? null })}\n`);
  group?.destroy();
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ fatal: e.message })}\n`);
  process.exit(1);
});
