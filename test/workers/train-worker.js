'use strict';
// A worker_threads body for test/workers.test.js: it loads the package by path (its own instance of the
// addon), builds a tiny teacher/student pair and runs real distillation steps.
//   workerData.mode 'train':   tensor checks, then (after the parent's 'go') a short ReviewKD fit; posts the losses
//   workerData.mode 'step':    trains "forever"; posts 'busy' after the first step (the parent terminates it mid-step)
//   workerData.mode 'forward': async forwards "forever"; posts 'busy' after the first (the parent terminates it)
//   workerData.mode 'exit':    calls process.exit(3) from a timer while a step is in flight
const { parentPort, workerData } = require('worker_threads');
const rk = require(workerData.root);
const { squaresDataset } = require('../train-helpers');

function tensorChecks() {
  const x = rk.tensor([[1, 2], [3, 4]]);
  const y = x.matmul(x).add(1);
  const w = rk.randn([2, 2], { requiresGrad: true });
  w.matmul(x).sum().backward();
  const out = {
    matmul: Array.from(y.toArray()),
    shape: y.shape,
    dtype: y.dtype,
    gradShape: w.grad ? w.grad.shape : null,
    scoped: rk.scope(() => x.sub(1).pow(2).mean().item()),
    kd: rk.losses.kd(rk.randn([4, 10]), rk.randn([4, 10])).item(),
  };
  for (const t of [x, y, w]) t.dispose();
  return out;
}

async function makeTrainer(seed, count) {
  rk.manualSeed(seed);
  const train = squaresDataset(count, seed);
  const teacher = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
  const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
  const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train, augment: false, seed });
  return { trainer, student, teacher };
}

const forever = { epochs: 100000, batchSize: 32, lr: 0.05, lossWarmupEpochs: 0, progress: 'none' };

async function main() {
  const { mode, seed } = workerData;
  if (mode === 'train') {
    const tensors = tensorChecks();
    const asyncProduct = await rk.tensor([[1, 2], [3, 4]]).matmulAsync(rk.tensor([[1, 0], [0, 1]]));
    tensors.matmulAsync = Array.from(asyncProduct.toArray());
    const { trainer, student, teacher } = await makeTrainer(seed, 64);
    parentPort.postMessage({ type: 'ready' });
    await new Promise((resolve) => parentPort.once('message', resolve));
    const start = Date.now();
    const { history } = await trainer.fit({ epochs: 2, batchSize: 16, lr: 0.05, lossWarmupEpochs: 0, progress: 'none' });
    const end = Date.now();
    trainer.dispose();
    student.dispose();
    teacher.dispose();
    parentPort.postMessage({ type: 'done', tensors, start, end, losses: history.map((h) => ({ loss: h.loss, losses: h.losses })) });
  } else if (mode === 'step') {
    const { trainer } = await makeTrainer(seed, 128);
    let first = true;
    await trainer.fit({ ...forever, onStep: () => { if (first) parentPort.postMessage({ type: 'busy' }); first = false; } });
  } else if (mode === 'forward') {
    const model = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const x = rk.randn([256, 1, 16, 16]);
    for (let i = 0; ; i++) {
      const out = await model.forwardWithFeatures(x);
      out.logits.dispose();
      out.features.forEach((f) => f.dispose());
      if (i === 0) parentPort.postMessage({ type: 'busy' });
    }
  } else if (mode === 'exit') {
    const { trainer } = await makeTrainer(seed, 128);
    let first = true;
    await trainer.fit({ ...forever, onStep: () => { if (first) setTimeout(() => process.exit(3), 10); first = false; } });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((err) => {
  parentPort.postMessage({ type: 'error', message: String(err && err.stack ? err.stack : err) });
});
