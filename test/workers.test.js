'use strict';
// worker_threads: the addon is context-aware, so each worker loads its own instance. Two workers train
// (real ReviewKD steps) at the same time; a worker that exits leaves the main thread's instance working;
// stopping a worker in the middle of native work (terminate(), process.exit()) does not take the process
// down. The worker body is test/workers/train-worker.js.
const assert = require('assert');
const { spawnSync } = require('child_process');
const path = require('path');
const { Worker } = require('worker_threads');

const root = path.resolve(__dirname, '..');
const rk = require(root);
const { squaresDataset } = require('./train-helpers');

const workerFile = path.join(__dirname, 'workers', 'train-worker.js');

// Starts a 'train' worker; resolves its 'ready' message, then (after go()) its 'done' message and exit code.
function trainWorker(seed) {
  const w = new Worker(workerFile, { workerData: { root, mode: 'train', seed } });
  let onReady;
  const ready = new Promise((resolve) => { onReady = resolve; });
  const done = new Promise((resolve, reject) => {
    let result;
    w.on('message', (m) => {
      if (m.type === 'ready') onReady();
      else if (m.type === 'done') result = m;
      else if (m.type === 'error') reject(new Error(`worker ${seed}: ${m.message}`));
    });
    w.on('error', reject);
    w.on('exit', (code) => (result ? resolve({ ...result, code }) : reject(new Error(`worker ${seed} exited with ${code} before finishing`))));
  });
  return { ready, done, go: () => w.postMessage('go') };
}

describe('worker threads', function () {
  this.timeout(60000);

  it('two workers each load the package and train concurrently, with finite losses and working tensors', async () => {
    const a = trainWorker(1);
    const b = trainWorker(2);
    await Promise.all([a.ready, b.ready]);
    a.go();
    b.go();
    // The main thread keeps using its own instance meanwhile.
    const mainSum = rk.scope(() => rk.ones([4, 4]).matmul(rk.ones([4, 4])).sum().item());
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.strictEqual(mainSum, 64);
    for (const r of [ra, rb]) {
      assert.strictEqual(r.code, 0);
      assert.deepStrictEqual(r.tensors.matmul, [8, 11, 16, 23]);
      assert.deepStrictEqual(r.tensors.shape, [2, 2]);
      assert.strictEqual(r.tensors.dtype, 'float32');
      assert.deepStrictEqual(r.tensors.gradShape, [2, 2]);
      assert.strictEqual(r.tensors.scoped, 3.5);
      assert.deepStrictEqual(r.tensors.matmulAsync, [1, 2, 3, 4]);
      assert.ok(Number.isFinite(r.tensors.kd));
      assert.strictEqual(r.losses.length, 2);
      for (const h of r.losses) {
        assert.ok(Number.isFinite(h.loss) && h.loss > 0, `loss ${h.loss}`);
        assert.ok(Number.isFinite(h.losses.ce) && Number.isFinite(h.losses.hcl) && h.losses.hcl > 0, JSON.stringify(h));
      }
    }
    // go() released both together: their training windows overlap.
    assert.ok(ra.start < rb.end && rb.start < ra.end, `worker runs did not overlap: ${JSON.stringify([ra.start, ra.end, rb.start, rb.end])}`);
  });

  it('after a worker has exited, the main thread still creates tensors and trains', async () => {
    const kept = rk.tensor([1, 2, 3]);
    const w = trainWorker(3);
    await w.ready;
    w.go();
    const r = await w.done;
    assert.strictEqual(r.code, 0);
    assert.deepStrictEqual(Array.from(kept.mul(2).toArray()), [2, 4, 6]);
    kept.dispose();

    rk.manualSeed(4);
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const teacher = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train: squaresDataset(32, 4), augment: false, seed: 4 });
    const { history } = await trainer.fit({ epochs: 1, batchSize: 16, lr: 0.05, lossWarmupEpochs: 0, progress: 'none' });
    assert.ok(Number.isFinite(history[0].loss) && history[0].loss > 0, `loss ${history[0].loss}`);
    trainer.dispose();
    student.dispose();
    teacher.dispose();
  });

  it('terminating a worker mid-step (or mid-forward, or process.exit() in it) does not crash the process', () => {
    // In a child process: a regression would abort the process ('terminate called after throwing an
    // instance of Napi::Error'), which must fail this test rather than kill mocha.
    const r = spawnSync(process.execPath, [path.join(__dirname, 'workers', 'terminate-main.js')], { encoding: 'utf8', timeout: 50000 });
    assert.strictEqual(r.signal, null, `child killed by ${r.signal}\n${r.stderr}`);
    assert.strictEqual(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.strictEqual(out.ok, true);
    assert.deepStrictEqual(out.exits.map((e) => [e.mode, e.code]), [['step', 1], ['forward', 1], ['exit', 3], ['step', 1], ['forward', 1]]);
    assert.strictEqual(out.sum, 6);
    assert.ok(Number.isFinite(out.loss) && out.loss > 0, `loss ${out.loss}`);
  });
});
