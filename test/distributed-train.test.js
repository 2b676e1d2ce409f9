// Data-parallel Trainer.fit on CPU (Gloo over 127.0.0.1, child processes): ranks end bit-identical, the
// averaged gradient of a BatchNorm-free model is the single-process gradient of the union batch, and a
// rank started with another configuration is refused at the start.
'use strict';
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const rk = require('..');
const { runRanks } = require('./distributed-helpers');

const SCRIPT = path.join(__dirname, 'distributed', 'train-rank.js');

function weights(file) {
  const record = rk.io.loadSafetensors(file);
  return Object.fromEntries(Object.entries(record).map(([k, t]) => [k, t.toArray()]));
}

describe('data-parallel Trainer.fit (2 ranks, Gloo)', function () {
  this.timeout(180000);
  let dir;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-ddp-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('2 ranks of resnet8 (BatchNorm, augmentation, momentum) end with bit-identical weights and the same global metrics', async () => {
    const job = { model: 'resnet8', count: 96, test: 40, batchSize: 16, epochs: 2, lr: 0.05, augment: true, momentum: 0.9, weightDecay: 5e-4, out: dir };
    const runs = await runRanks(2, SCRIPT, [JSON.stringify(job)]);
    for (const run of runs) assert.strictEqual(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const a = fs.readFileSync(path.join(dir, 'rank-0.safetensors'));
    const b = fs.readFileSync(path.join(dir, 'rank-1.safetensors'));
    assert.ok(a.equals(b), 'the two ranks saved byte-identical weights (parameters and BatchNorm buffers)');
    const [h0, h1] = runs.map((r) => r.json.history);
    assert.strictEqual(h0.length, 2);
    for (const key of ['loss', 'trainTop1', 'testTop1', 'testTop5', 'testLoss']) assert.deepStrictEqual(h0.map((e) => e[key]), h1.map((e) => e[key]), key);
    // 40 test images split over the ranks and summed: the top-1 is a multiple of 1/40.
    const hits = (h0[1].testTop1 * 40) / 100;
    assert.ok(Math.abs(hits - Math.round(hits)) < 1e-9, `test top-1 ${h0[1].testTop1}% is a count out of all 40 images`);
    // 96 images, global batch 16: 6 steps of 8 images per rank; train top-1 counts all 96.
    assert.ok(Math.abs((h0[0].trainTop1 * 96) / 100 - Math.round((h0[0].trainTop1 * 96) / 100)) < 1e-9);
  });

  it('2 ranks distilling with ReviewKD end with bit-identical students and review heads', async () => {
    const job = { model: 'resnet8', teacher: 'resnet14', method: 'reviewkd', count: 64, batchSize: 16, epochs: 1, lr: 0.05, augment: true, momentum: 0.9, weightDecay: 5e-4, out: dir };
    const runs = await runRanks(2, SCRIPT, [JSON.stringify(job)]);
    for (const run of runs) assert.strictEqual(run.code, 0, `${run.stdout}\n${run.stderr}`);
    for (const file of ['', '.reviewkd']) {
      const a = fs.readFileSync(path.join(dir, `rank-0${file}.safetensors`));
      assert.ok(a.equals(fs.readFileSync(path.join(dir, `rank-1${file}.safetensors`))), `rank-*${file}.safetensors identical`);
    }
    assert.ok(runs[0].json.history[0].losses.hcl > 0);
  });

  it('without BatchNorm, the averaged gradient step equals the single-process step on the union batch (fp32 tolerance)', async () => {
    const job = { model: 'nobn', count: 16, batchSize: 16, epochs: 1, lr: 0.5, augment: false, momentum: 0, weightDecay: 0, out: dir };
    const runs = await runRanks(2, SCRIPT, [JSON.stringify(job)]);
    for (const run of runs) assert.strictEqual(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const single = spawnSync(process.execPath, [SCRIPT, JSON.stringify(job)], { encoding: 'utf8', env: { ...process.env, RANK: '', WORLD_SIZE: '' } });
    assert.strictEqual(single.status, 0, single.stdout + single.stderr);
    const init = rk.models.loadTorchScript(path.join(__dirname, 'fixtures', 'distributed', 'nobn.pt'), { trustCode: true }).stateDict();
    const [r0, r1, s] = ['rank-0', 'rank-1', 'single'].map((t) => weights(path.join(dir, `${t}.safetensors`)));
    for (const [name, before] of Object.entries(init)) {
      const w0 = before.toArray();
      let moved = 0;
      for (let i = 0; i < w0.length; i++) {
        assert.strictEqual(r0[name][i], r1[name][i], `${name}[${i}] equal on both ranks`);
        moved = Math.max(moved, Math.abs(s[name][i] - w0[i]));
        // The update is lr x gradient; fp32 sums in another order differ in the last bits only.
        assert.ok(Math.abs(r0[name][i] - s[name][i]) <= 1e-6, `${name}[${i}]: data-parallel ${r0[name][i]} vs single ${s[name][i]}`);
      }
      assert.ok(moved > 1e-4, `${name} moved (${moved}): the step did something`);
    }
  });

  it('a rank started with another configuration is refused at the start, naming the difference', async () => {
    const job = { model: 'resnet8', count: 64, batchSize: 16, epochs: 1, lr: 0.05, augment: true, momentum: 0.9, weightDecay: 5e-4, out: dir };
    const runs = await runRanks(2, SCRIPT, [JSON.stringify(job), 'x'], { argsFor: (r) => [JSON.stringify({ ...job, count: r === 1 ? 48 : 64 })] });
    for (const run of runs) {
      assert.strictEqual(run.code, 1);
      assert.match(run.json.fatal, /the ranks of this data-parallel job were started with different configurations:\n {2}train: rank 0 has \[64,1,16,16,10\], rank 1 has \[48,1,16,16,10\]/);
    }
  });
});
