#!/usr/bin/env node
'use strict';
// Trains the Fashion-MNIST teacher shipped in demo/ (the recorded command behind demo/teacher.json):
//   node scripts/train-demo-teacher.js [--epochs 8] [--seed 1] [--out demo]
// Writes demo/teacher-<model>.safetensors and demo/teacher.json (command, seed, accuracy, SHA-256).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const rk = require('..');

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet20' },
    epochs: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: path.join(__dirname, '..', 'demo') },
  },
});

(async () => {
  const dir = rk.data.findFashionMnist();
  if (!dir) throw new Error('Fashion-MNIST not found: apt-get install dataset-fashion-mnist');
  const train = await rk.data.loadMnist(dir, { kind: 'fashion-mnist', split: 'train' });
  const test = await rk.data.loadMnist(dir, { kind: 'fashion-mnist', split: 'test' });
  const seed = Number(values.seed);
  rk.manualSeed(seed);
  const teacher = rk.models.create(values.model, { numClasses: 10, inChannels: 1 });
  const trainer = await rk.train.Trainer.create({ student: teacher, train, test, seed, augment: { padding: 2, flip: true } });
  const started = Date.now();
  const { history } = await trainer.fit({ epochs: Number(values.epochs), batchSize: 128, lr: 0.1, schedule: { type: 'cosine' }, progress: 'lines' });
  const ev = await trainer.evaluate();
  fs.mkdirSync(values.out, { recursive: true });
  const file = path.join(values.out, `teacher-${values.model}.safetensors`);
  teacher.save(file, { dataset: 'fashion-mnist', seed: String(seed), top1: ev.top1.toFixed(2) });
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const record = {
    model: values.model,
    file: path.basename(file),
    sha256,
    dataset: 'fashion-mnist (60,000 train / 10,000 test, /usr/share/datasets/fashion-mnist)',
    command: `node scripts/train-demo-teacher.js --model ${values.model} --epochs ${values.epochs} --seed ${seed}`,
    seed,
    recipe: { epochs: Number(values.epochs), batchSize: 128, lr: 0.1, schedule: 'cosine', momentum: 0.9, nesterov: true, weightDecay: 5e-4, augment: 'crop (padding 2) + flip' },
    top1: ev.top1,
    top5: ev.top5,
    parameters: teacher.numParameters(),
    trainSeconds: (Date.now() - started) / 1000,
    libtorch: rk.info().libtorch.version,
    history: history.map((h) => ({ epoch: h.epoch, loss: h.loss, trainTop1: h.trainTop1, testTop1: h.testTop1 })),
  };
  fs.writeFileSync(path.join(values.out, 'teacher.json'), `${JSON.stringify(record, null, 2)}\n`);
  console.log(JSON.stringify({ file, sha256, top1: ev.top1 }));
})().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
