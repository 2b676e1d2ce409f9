// One rank (or a plain single process) of a data-parallel streaming test (test/distributed-stream.test.js).
// argv[2] is a JSON job {model, train, test?, size, batchSize, epochs, lr, momentum, out}; with RANK/WORLD_SIZE
// set it joins the group. Writes the student's weights to <out>/<tag>.safetensors and prints one JSON line
// with the history and, for a test stream, the images it skipped while fitting and a plain full evaluation
// by this process alone.
'use strict';
const path = require('path');
const rk = require('../..');

const job = JSON.parse(process.argv[2]);

(async () => {
  rk.setNumThreads(1);
  const group = rk.distributed.isLaunched() ? await rk.distributed.init({ timeoutMs: 60000 }) : undefined;
  const student =
    job.model === 'nobn'
      ? rk.models.loadTorchScript(path.join(__dirname, '..', 'fixtures', 'distributed', 'nobn.pt'), { trustCode: true })
      : (rk.manualSeed(0), rk.models.create(job.model, { numClasses: 4, inChannels: 3 }));
  const train = await rk.data.openImageStream(job.train, { size: job.size, indexCache: false, prefetch: 2 });
  const test = job.test ? await rk.data.openImageStream(job.test, { transform: 'eval', size: job.size, indexCache: false, classNames: train.classNames }) : undefined;
  const trainer = await rk.train.Trainer.create({
    student,
    train,
    ...(test ? { test } : {}),
    momentum: job.momentum,
    weightDecay: job.weightDecay ?? 0,
    nesterov: job.momentum > 0,
    seed: 5,
    ...(group ? { processGroup: group } : {}),
  });
  const r = await trainer.fit({ epochs: job.epochs, batchSize: job.batchSize, lr: job.lr, warmupEpochs: 0, dropLast: true, progress: 'none' });
  const tag = group ? `rank-${group.rank}` : 'single';
  student.save(path.join(job.out, `${tag}.safetensors`));
  // Images of the test stream this process skipped as unreadable while fitting (tells which part it evaluated).
  const testSkipped = test ? test.skipped : null;
  const alone = test ? await trainer.evaluate() : null;
  process.stdout.write(`${JSON.stringify({ tag, history: r.history, testSkipped, alone })}\n`);
  group?.destroy();
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ fatal: e.message })}\n`);
  process.exit(1);
});
