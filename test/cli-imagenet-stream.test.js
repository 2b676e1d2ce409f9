'use strict';
// The ImageNet recipe through the CLI on a tiny ILSVRC-layout folder (streamed, 32 px so it runs in
// seconds), and `reviewkd bench --data` on it.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const rk = require('..');
const { cli, tmp, imageFolder } = require('./cli-helpers');

describe('CLI: imagenet recipes stream an ILSVRC folder; bench --data', function () {
  this.timeout(300000);
  let root;
  let teacher;
  before(async () => {
    root = tmp('ilsvrc');
    await imageFolder(path.join(root, 'train'), 8, 40, 1);
    await imageFolder(path.join(root, 'val'), 2, 40, 2);
    rk.manualSeed(0);
    teacher = path.join(root, 'r34.safetensors');
    rk.models.create('resnet34', { numClasses: 4 }).save(teacher);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('distill --recipe imagenet/resnet34-resnet18 streams train/ and val/ with the recipe settings', () => {
    const out = path.join(root, 'run');
    const r = cli(['distill', '--recipe', 'imagenet/resnet34-resnet18', '--data', root, '--teacher', teacher, '--epochs', '1', '--batch', '8', '--lr', '0.003', '--image-size', '32', '--out', out, '--progress', 'none']);
    assert.strictEqual(r.code, 0, r.stderr);
    const o = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).options;
    assert.strictEqual(o.dataset, 'imagenet');
    assert.strictEqual(o.reviewkdMidChannels, 512);
    assert.strictEqual(o.reviewkdWeight, 1);
    assert.strictEqual(o.lossWarmup, 0, 'the ImageNet recipe has no loss warm-up, also when --epochs shortens it');
    assert.strictEqual(o.noNesterov, true);
    assert.strictEqual(o.weightDecay, 1e-4);
    const log = fs.readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.strictEqual(log.length, 1);
    assert.ok(Number.isFinite(log[0].loss) && typeof log[0].testTop1 === 'number', JSON.stringify(log[0]));
    assert.match(r.stdout, /paper 71\.61%/);
  });

  it('the train split streams random crops, or centre crops for --no-augment and eval --split train', async () => {
    const { loadData } = require('../dist/cli/data');
    const plain = await loadData({ dataset: 'imagenet', data: root }, 'train');
    assert.strictEqual(plain.train.transform, 'train');
    const centre = await loadData({ dataset: 'imagenet', data: root, trainTransform: 'eval' }, 'train');
    assert.strictEqual(centre.train.transform, 'eval');
    // Centre crops do not depend on the seed or the epoch.
    const a = await centre.train.loadBatch(Int32Array.from([0, 1]), { epoch: 0, seed: 1 });
    const b = await centre.train.loadBatch(Int32Array.from([0, 1]), { epoch: 3, seed: 2 });
    assert.deepStrictEqual(Buffer.from(a.images), Buffer.from(b.images));
    const c = await plain.train.loadBatch(Int32Array.from([0, 1]), { epoch: 0, seed: 1 });
    const d = await plain.train.loadBatch(Int32Array.from([0, 1]), { epoch: 3, seed: 2 });
    assert.notDeepStrictEqual(Buffer.from(c.images), Buffer.from(d.images), 'random crops move with the seed and epoch');
  });

  it('bench --data DIR --no-step --json times the pipeline', () => {
    const r = cli(['bench', '--data', root, '--no-step', '--json', '--images', '24']);
    assert.strictEqual(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.ok(j.pipelineImagesPerSecond > 0 && j.cpuMsPerImage > 0, r.stdout);
    assert.strictEqual(j.data, path.join(root, 'train'));
    assert.strictEqual(j.step, undefined);
  });
});
