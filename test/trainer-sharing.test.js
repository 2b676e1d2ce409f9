'use strict';
// One call at a time per model (lib/train/trainer.ts, modelClaims): a student shared by two trainers, or a
// teacher whose BatchNorm uses batch statistics, is refused while another trainer's call holds it, with an
// error naming the model and the call in flight; a teacher in eval mode may be shared.
const assert = require('assert');
const rk = require('..');
const { squaresDataset } = require('./train-helpers');

describe('trainers sharing models', function () {
  this.timeout(300000);
  const shape = { numClasses: 10, inChannels: 1 };
  const train = squaresDataset(256, 1);
  const test = squaresDataset(64, 2);

  it('a student in use by one trainer is refused to another, naming the model and the call; free again afterwards', async () => {
    rk.manualSeed(1);
    const student = rk.models.create('resnet8', shape);
    const a = await rk.train.Trainer.create({ student, method: 'vanilla', train, test });
    const b = await rk.train.Trainer.create({ student, method: 'vanilla', train, test });
    const running = a.fit({ epochs: 1, batchSize: 32, progress: 'none' });
    await assert.rejects(b.fit({ epochs: 1, batchSize: 32, progress: 'none' }), /Trainer\.fit: model 'resnet8' is in use by another trainer's fit\(\)/);
    await assert.rejects(b.evaluate(), /Trainer\.evaluate: model 'resnet8' is in use by another trainer's fit\(\)/);
    await running;
    const ev = await b.evaluate();
    assert.strictEqual(ev.count, 64);
    a.dispose();
    b.dispose();
  });

  it('a teacher in eval mode is shared by two trainers running at once; in batch mode it is refused', async () => {
    rk.manualSeed(2);
    const teacher = rk.models.create('resnet8', shape);
    const s1 = rk.models.create('resnet8', shape);
    const s2 = rk.models.create('resnet8', shape);
    const t1 = await rk.train.Trainer.create({ student: s1, teacher, method: 'kd', train });
    const t2 = await rk.train.Trainer.create({ student: s2, teacher, method: 'kd', train });
    const [r1, r2] = await Promise.all([t1.fit({ epochs: 1, batchSize: 32, progress: 'none' }), t2.fit({ epochs: 1, batchSize: 32, progress: 'none' })]);
    assert.strictEqual(r1.history.length + r2.history.length, 2);
    t1.dispose();
    t2.dispose();

    const b1 = await rk.train.Trainer.create({ student: s1, teacher, method: 'kd', train, teacherBN: 'batch' });
    const b2 = await rk.train.Trainer.create({ student: s2, teacher, method: 'kd', train, teacherBN: 'batch' });
    const running = b1.fit({ epochs: 1, batchSize: 32, progress: 'none' });
    await assert.rejects(b2.fit({ epochs: 1, batchSize: 32, progress: 'none' }), /model 'resnet8' is in use by another trainer's fit\(\)/);
    await running;
    b1.dispose();
    b2.dispose();
  });
});
