'use strict';
// Run as a child process by test/workers.test.js, so that a crash shows up as a failed test rather than
// killing mocha. Starts workers that are stopped in the middle of native work (terminate() during a
// training step and during an async forward, process.exit() inside a worker during a step), then uses
// the addon on this thread: a tensor op and a training step. Prints one JSON line.
const path = require('path');
const { Worker } = require('worker_threads');
const root = path.resolve(__dirname, '..', '..');
const rk = require(root);
const { squaresDataset } = require('../train-helpers');

function runWorker(mode, stop) {
  return new Promise((resolve, reject) => {
    const w = new Worker(path.join(__dirname, 'train-worker.js'), { workerData: { root, mode, seed: 7 } });
    const started = Date.now();
    w.on('message', (m) => {
      if (m.type === 'error') reject(new Error(`worker ${mode}: ${m.message}`));
      // The next step (or forward) starts synchronously after the message is posted and takes tens of ms.
      if (m.type === 'busy' && stop) setTimeout(() => w.terminate(), 5);
    });
    w.on('error', reject);
    w.on('exit', (code) => resolve({ mode, code, ms: Date.now() - started }));
  });
}

(async () => {
  const before = rk.ones([3]);
  const exits = [];
  exits.push(await runWorker('step', true));
  exits.push(await runWorker('forward', true));
  exits.push(await runWorker('exit', false));
  // Both at once, stopped together.
  exits.push(...(await Promise.all([runWorker('step', true), runWorker('forward', true)])));

  rk.manualSeed(1);
  const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
  const teacher = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
  const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train: squaresDataset(32, 1), augment: false, seed: 1 });
  const { history } = await trainer.fit({ epochs: 1, batchSize: 16, lr: 0.05, lossWarmupEpochs: 0, progress: 'none' });
  trainer.dispose();
  console.log(JSON.stringify({ ok: true, exits, sum: before.add(1).sum().item(), loss: history[0].loss }));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
