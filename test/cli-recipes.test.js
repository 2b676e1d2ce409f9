'use strict';
// The recipe table against the literal numbers of the ReviewKD paper's CIFAR-100 tables and the authors' scripts, its
// agreement with the engine's λ table, and `reviewkd recipes` output.
const assert = require('assert');
const rk = require('..');
const { cli } = require('./cli-helpers');

// Section 4.1: λ (--kd-loss-weight) per student <- teacher pair of the reference script.
const SPEC_LAMBDA = {
  'cifar100/wrn-40-2-wrn-16-2': 5.0,
  'cifar100/wrn-40-2-wrn-40-1': 5.0,
  'cifar100/wrn-40-2-shufflenetv1': 5.0,
  'cifar100/resnet32x4-resnet8x4': 5.0,
  'cifar100/resnet32x4-shufflenetv1': 5.0,
  'cifar100/resnet32x4-shufflenetv2': 8.0,
  'cifar100/resnet56-resnet20': 0.6,
  'cifar100/resnet110-resnet32': 1.0,
};
// Sections 6.1 / 6.2: the ReviewKD row, and the teacher/student rows of a few columns.
const SPEC_REVIEWKD = {
  'cifar100/resnet56-resnet20': 71.89,
  'cifar100/resnet110-resnet32': 73.89,
  'cifar100/resnet32x4-resnet8x4': 75.63,
  'cifar100/wrn-40-2-wrn-16-2': 76.12,
  'cifar100/wrn-40-2-wrn-40-1': 75.09,
  'cifar100/vgg13-vgg8': 74.84,
  'cifar100/resnet32x4-shufflenetv1': 77.45,
  'cifar100/wrn-40-2-shufflenetv1': 77.14,
  'cifar100/resnet32x4-shufflenetv2': 77.78,
  'cifar100/cifar-resnet50-mobilenetv2-0.5': 69.89,
  'cifar100/vgg13-mobilenetv2-0.5': 70.37,
};

describe('recipes: the paper set-ups', () => {
  it('has every pair of spec 4.1/6.1/6.2 with the published λ', () => {
    for (const [name, lambda] of Object.entries(SPEC_LAMBDA)) {
      const r = rk.recipes.get(name);
      assert.strictEqual(r.kind, 'distill');
      assert.strictEqual(r.method, 'reviewkd');
      assert.strictEqual(r.lambda, lambda, `${name} λ`);
      assert.strictEqual(r.lambdaSource, 'paper', name);
    }
    for (const name of Object.keys(SPEC_REVIEWKD)) assert.ok(rk.recipes.get(name), name);
  });

  it('λ agrees with the training engine table (REVIEWKD_LAMBDA) for every published pair', () => {
    for (const r of rk.recipes.list().filter((x) => x.kind === 'distill')) {
      const published = rk.train.REVIEWKD_LAMBDA[`${r.student}<-${r.teacher}`];
      if (published !== undefined) assert.strictEqual(r.lambda, published, r.name);
      else {
        assert.strictEqual(r.lambdaSource, 'chosen', `${r.name}: no published λ, so it must be marked as a choice`);
        assert.ok(r.note && /not published/.test(r.note), `${r.name} explains the choice`);
      }
    }
    // The unpublished ones are exactly the VGG / MobileNetV2 pairs.
    const chosen = rk.recipes.list().filter((x) => x.lambdaSource === 'chosen').map((x) => x.name).sort();
    assert.deepStrictEqual(chosen, ['cifar100/cifar-resnet50-mobilenetv2-0.5', 'cifar100/cifar-resnet50-vgg8', 'cifar100/vgg13-mobilenetv2-0.5', 'cifar100/vgg13-vgg8']);
  });

  it('section 5.1: 240 epochs, batch 128, lr 0.1 (0.02 for shuffle/mobile), nesterov 0.9, wd 5e-4, decay after 150/180/210, warm-up 20, teacher BN batch', () => {
    for (const r of rk.recipes.list().filter((x) => x.name.startsWith('cifar100/'))) {
      assert.strictEqual(r.dataset, 'cifar100');
      assert.strictEqual(r.epochs, 240, r.name);
      assert.strictEqual(r.batchSize, 128, r.name);
      assert.strictEqual(r.lr, /shuffle|mobile/.test(r.student) ? 0.02 : 0.1, `${r.name} lr`);
      assert.strictEqual(r.momentum, 0.9);
      assert.strictEqual(r.nesterov, true);
      assert.strictEqual(r.weightDecay, 5e-4);
      assert.deepStrictEqual(r.schedule, { type: 'step', milestones: [150, 180, 210], gamma: 0.1 });
      assert.strictEqual(r.lossWarmupEpochs, 20);
      if (r.kind === 'distill') assert.strictEqual(r.teacherBN, 'batch', r.name);
    }
    assert.strictEqual(rk.recipes.get('cifar100/resnet32x4-shufflenetv2').lr, 0.02);
    assert.strictEqual(rk.recipes.get('cifar100/vgg13-mobilenetv2-0.5').lr, 0.02);
    assert.strictEqual(rk.recipes.get('cifar100/resnet56-resnet20').lr, 0.1);
  });

  it('stores the paper numbers of sections 6.1/6.2', () => {
    for (const [name, top1] of Object.entries(SPEC_REVIEWKD)) {
      const r = rk.recipes.get(name);
      assert.strictEqual(r.paper.reviewkd, top1, name);
      assert.strictEqual(r.paperTop1, top1, name);
    }
    const r20 = rk.recipes.get('cifar100/resnet56-resnet20').paper;
    assert.deepStrictEqual([r20.teacher, r20.student, r20.kd, r20.fitnet, r20.at, r20.rkd, r20.crd, r20.ofd], [72.34, 69.06, 70.66, 69.21, 70.55, 69.61, 71.16, 70.98]);
    const sv2 = rk.recipes.get('cifar100/resnet32x4-shufflenetv2').paper;
    assert.deepStrictEqual([sv2.teacher, sv2.student, sv2.kd, sv2.crd], [79.42, 71.82, 74.45, 75.65]);
    // Teacher-training recipes carry the teacher row.
    assert.strictEqual(rk.recipes.get('cifar100/resnet56').paperTop1, 72.34);
    assert.strictEqual(rk.recipes.get('cifar100/resnet32x4').paperTop1, 79.42);
    assert.strictEqual(rk.recipes.get('cifar100/wrn-40-2').paperTop1, 75.61);
    assert.strictEqual(rk.recipes.get('cifar100/cifar-resnet50').paperTop1, 79.34);
    assert.strictEqual(rk.recipes.get('cifar100/resnet56').method, 'vanilla');
  });

  it('stores the peers\' published numbers (DKD, KD+LS, DKD+LS) and compares a run with the number of its method', () => {
    const literal = {
      'cifar100/resnet56-resnet20': { dkd: 71.97, 'kd+ls': 71.43, 'dkd+ls': 72.32 },
      'cifar100/resnet32x4-resnet8x4': { dkd: 76.32, 'kd+ls': 76.62, 'dkd+ls': 77.01 },
      'cifar100/wrn-40-2-wrn-16-2': { dkd: 76.23, 'kd+ls': 76.11, 'dkd+ls': 76.39 },
    };
    for (const [name, numbers] of Object.entries(literal)) {
      const r = rk.recipes.get(name);
      assert.deepStrictEqual(r.paper.peers.numbers, numbers, name);
      for (const [m, v] of Object.entries(numbers)) assert.strictEqual(rk.recipes.paperTop1For(r, m), v, `${name} ${m}`);
    }
    const r20 = rk.recipes.get('cifar100/resnet56-resnet20');
    assert.strictEqual(rk.recipes.paperTop1For(r20, 'reviewkd'), 71.89);
    assert.strictEqual(rk.recipes.paperTop1For(r20, 'crd'), 71.16);
    assert.strictEqual(rk.recipes.paperTop1For(r20, 'dist'), undefined, 'nothing published: no comparison');
    assert.strictEqual(rk.recipes.paperTop1For(r20, 'teacher'), undefined);
    assert.strictEqual(rk.recipes.paperTop1For(rk.recipes.get('cifar100/resnet56'), 'vanilla'), 72.34);
    const r = cli(['recipes', 'cifar100/resnet56-resnet20']);
    assert.match(r.stdout, /later methods: dkd 71\.97, kd\+ls 71\.43, dkd\+ls 72\.32/);
  });

  it('every model a recipe names is in the zoo', () => {
    const zoo = new Set(rk.models.list().map((m) => m.name));
    for (const r of rk.recipes.list()) {
      assert.ok(zoo.has(r.student), `${r.name}: ${r.student}`);
      if (r.teacher) assert.ok(zoo.has(r.teacher), `${r.name}: ${r.teacher}`);
    }
  });

  it('get() returns copies and rejects unknown names', () => {
    const a = rk.recipes.get('cifar100/resnet56-resnet20');
    a.schedule.milestones.push(1);
    a.lambda = 99;
    assert.strictEqual(rk.recipes.get('cifar100/resnet56-resnet20').lambda, 0.6);
    assert.deepStrictEqual(rk.recipes.get('resnet56-resnet20').schedule.milestones, [150, 180, 210]);
    assert.throws(() => rk.recipes.get('cifar100/nope'), /unknown recipe 'cifar100\/nope'/);
  });

  it('reviewkd recipes --json lists them all', () => {
    const r = cli(['recipes', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout);
    assert.strictEqual(list.length, rk.recipes.list().length);
    const d = JSON.parse(cli(['recipes', '--kind', 'distill', '--json']).stdout);
    assert.ok(d.every((x) => x.kind === 'distill') && d.length === 14);
  });

  it('sections 4.2/5.2/6.3: the ImageNet recipes (λ, mid channels, 100 epochs, batch 256, lr 0.1, no Nesterov, wd 1e-4, x0.1 from epochs 30/60/90, teacher eval, no warm-up) with the paper numbers', () => {
    const imagenet = rk.recipes.list().filter((r) => r.dataset === 'imagenet');
    assert.deepStrictEqual(imagenet.map((r) => r.name).sort(), [
      'imagenet/mobilenetv1', 'imagenet/resnet18', 'imagenet/resnet34', 'imagenet/resnet34-resnet18', 'imagenet/resnet50', 'imagenet/resnet50-mobilenetv1',
    ]);
    for (const r of imagenet) {
      assert.strictEqual(r.epochs, 100, r.name);
      assert.strictEqual(r.batchSize, 256, r.name);
      assert.strictEqual(r.lr, 0.1, r.name);
      assert.strictEqual(r.momentum, 0.9);
      assert.strictEqual(r.nesterov, false);
      assert.strictEqual(r.weightDecay, 1e-4);
      assert.strictEqual(r.lossWarmupEpochs, 0);
      // The 'step' rule lowers the rate after finishing a milestone epoch: 29, 59, 89 lower it from 0-based epochs 30, 60, 90.
      assert.deepStrictEqual(r.schedule, { type: 'step', milestones: [29, 59, 89], gamma: 0.1 });
      const lr = (epoch) => rk.train.learningRate(0.1, r.schedule, 0, { epoch, step: 0, stepsPerEpoch: 10, epochs: 100 });
      assert.ok(Math.abs(lr(29) - 0.1) < 1e-12 && Math.abs(lr(30) - 0.01) < 1e-12 && Math.abs(lr(60) - 0.001) < 1e-12 && Math.abs(lr(90) - 0.0001) < 1e-12);
    }
    const r18 = rk.recipes.get('imagenet/resnet34-resnet18');
    assert.deepStrictEqual([r18.teacher, r18.student, r18.lambda, r18.midChannels, r18.teacherBN, r18.paperTop1], ['resnet34', 'resnet18', 1.0, 512, 'eval', 71.61]);
    assert.deepStrictEqual([r18.paper.teacher, r18.paper.student, r18.paper.at, r18.paper.ofd, r18.paper.crd, r18.paper.top5.reviewkd], [73.31, 69.75, 70.69, 70.81, 71.17, 90.51]);
    const mv1 = rk.recipes.get('imagenet/resnet50-mobilenetv1');
    assert.deepStrictEqual([mv1.teacher, mv1.student, mv1.lambda, mv1.midChannels, mv1.paperTop1, mv1.paper.top5.reviewkd], ['resnet50', 'mobilenetv1', 8.0, 256, 72.56, 91.0]);
    assert.strictEqual(rk.recipes.get('imagenet/resnet18').paperTop1, 69.75);
    assert.strictEqual(rk.recipes.get('imagenet/mobilenetv1').paperTop1, 68.87);
    assert.strictEqual(rk.recipes.get('imagenet/resnet50').paperTop1, 76.16);
  });
});
