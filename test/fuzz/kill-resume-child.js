'use strict';
// Child of test/reliability-kill-resume.test.js: distils a resnet8 student from the teacher file argv[3]
// with ReviewKD into run folder argv[2], resuming from the newest intact checkpoint there, checkpointing
// every 2 steps (keeping 1). Prints "step <globalStep>" after each step and "done <file>" with the final
// student weights saved to argv[4].
const rk = require('../..');
const { squaresDataset } = require('../train-helpers');

async function main() {
  const [runDir, teacherFile, outFile] = process.argv.slice(2);
  rk.setNumThreads(1);
  rk.manualSeed(7);
  const teacher = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
  teacher.load(teacherFile);
  const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
  const trainer = await rk.train.Trainer.create({
    student, teacher, method: 'reviewkd', train: squaresDataset(48, 11), test: squaresDataset(16, 12), seed: 5, methodOptions: { reviewkdHclLevels: [2, 1] },
  });
  let step = 0;
  const r = await trainer.fit({
    epochs: 10, batchSize: 8, lr: 0.05, lossWarmupEpochs: 2, runDir, resume: true, keepLast: 1, checkpointEvery: 2, statsEvery: 3, progress: 'none',
    onStep: () => process.stdout.write(`step ${++step}\n`),
  });
  student.save(outFile);
  process.stdout.write(`done resumed=${JSON.stringify(r.resumedFrom ?? null)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack}\n`);
  process.exit(3);
});
