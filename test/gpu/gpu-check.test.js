'use strict';
// The CUDA-relevant checks of scripts/gpu-check.sh, run on a GPU machine (device 'cuda'). With
// RK_GPU_DEVICE=cpu (the script's --dry-run) the same checks run on the CPU, so the script and these tests
// are exercised where no GPU is lent. Not part of `npm test` (test/*.test.js only).
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const rk = require('../..');
const { det, assertRel } = require('../helpers');

const DEVICE = process.env.RK_GPU_DEVICE || 'cuda';
const onGpu = DEVICE.startsWith('cuda');
// The CPU dry-run exercises the same code on less data (a busy 2-core machine, not a measurement).
const SIZE = onGpu ? { train: 512, test: 256, epochs: 3, stopAt: 3 } : { train: 128, test: 64, epochs: 2, stopAt: 1 };
const tmp = (name) => fs.mkdtempSync(path.join(os.tmpdir(), `rk-gpu-${name}-`));

/** count RGB images of 32x32: a bright square whose position is the class, on noise (learnable, deterministic). */
function squares(count, seed) {
  const rng = new rk.data.Rng(seed, 0);
  const side = 32;
  const plane = side * side;
  const images = new Uint8Array(count * 3 * plane);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const k = Math.floor(rng.nextFloat() * 10);
    labels[i] = k;
    for (let c = 0; c < 3; c++) {
      const base = (i * 3 + c) * plane;
      for (let p = 0; p < plane; p++) images[base + p] = Math.floor(rng.nextFloat() * 60);
      for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) images[base + (Math.floor(k / 4) * 10 + y) * side + (k % 4) * 8 + x] = 220;
    }
  }
  return { name: `squares-${seed}`, images, labels, count, channels: 3, height: side, width: side, numClasses: 10, mean: [0.3, 0.3, 0.3], std: [0.3, 0.3, 0.3] };
}

const weightsOf = (m) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, Array.from(v.to({ device: 'cpu' }).toArray(), Number)]));

describe(`gpu check on ${DEVICE}`, function () {
  this.timeout(600000);
  const train = squares(SIZE.train, 1);
  const test = squares(SIZE.test, 2);

  before(() => {
    const info = rk.info();
    process.stderr.write(`      (LibTorch ${info.libtorch.version} ${info.libtorch.variant} from ${info.libtorch.source}; binary ${info.binary}; CUDA devices ${info.cuda.deviceCount})\n`);
    if (onGpu) assert.ok(rk.cuda.isAvailable(), `no CUDA device: ${rk.cuda.unavailableReason()}`);
  });

  it('tensors on the device: creation, math, dtypes and readback agree with the CPU', () => {
    const a = det([64, 48], 0.37, 0.1, 'float32');
    const b = det([48, 32], 0.23, -0.4, 'float32');
    const onDevice = a.to({ device: DEVICE }).matmul(b.to({ device: DEVICE })).relu();
    assert.strictEqual(onDevice.device, DEVICE === 'cuda' ? 'cuda:0' : DEVICE);
    const expected = a.matmul(b).relu().toArray();
    const got = onDevice.to({ device: 'cpu' }).toArray();
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - expected[i]) <= 1e-3 * (1 + Math.abs(expected[i])), `element ${i}: ${got[i]} vs ${expected[i]}`);
    for (const dtype of ['float16', 'bfloat16', 'float64', 'int64', 'uint8']) {
      const one = rk.ones([3, 5], { device: DEVICE, dtype });
      const t = one.add(one);
      assert.strictEqual(t.dtype, dtype);
      assert.strictEqual(Number(t.sum().item()), 30, dtype);
    }
    // E|N(0,1)| = 0.798: the device's generator draws normals.
    const meanAbs = rk.randn([4000], { device: DEVICE }).abs().mean().item();
    assert.ok(meanAbs > 0.7 && meanAbs < 0.9, `mean |randn| ${meanAbs}`);
  });

  it('the HCL parity fixtures (float64 goldens of the reference code) hold on the device', () => {
    const expected = { 1: 0.3052399692, 4: 0.7473083473, 8: 0.5958498519, 16: 0.6489971974 };
    for (const [h, value] of Object.entries(expected)) {
      const fs64 = det([2, 3, +h, +h], 0.37, 0.1).to({ device: DEVICE });
      const ft64 = det([2, 3, +h, +h], 0.23, -0.4).to({ device: DEVICE });
      assertRel(rk.losses.hcl([fs64], [ft64]).item(), value, 2e-9, `hcl h=${h}`);
    }
  });

  it('one distillation step agrees with the CPU step (fp32, same weights and batch)', async () => {
    const step = async (device) => {
      rk.manualSeed(5);
      const teacher = rk.models.create('resnet14', { numClasses: 10 });
      const student = rk.models.create('resnet8', { numClasses: 10 });
      rk.manualSeed(6);
      const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train: squares(64, 3), augment: false, seed: 1, device });
      const { history } = await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, lossWarmupEpochs: 0, progress: 'none', evaluateEvery: 0 });
      const w = weightsOf(student);
      trainer.dispose();
      return { losses: history[0].losses, w };
    };
    const cpu = await step('cpu');
    const dev = await step(DEVICE);
    for (const k of Object.keys(cpu.losses)) assertRel(dev.losses[k], cpu.losses[k], 2e-3, `loss ${k}`);
    let worst = 0;
    for (const k of Object.keys(cpu.w)) for (let i = 0; i < cpu.w[k].length; i++) worst = Math.max(worst, Math.abs(dev.w[k][i] - cpu.w[k][i]));
    assert.ok(worst < 1e-3, `largest weight difference after one step: ${worst}`);
  });

  it('the fused step with bf16 autocast and channels-last trains (finite losses, no bad steps, it learns)', async () => {
    rk.manualSeed(7);
    const teacher = rk.models.create('resnet14', { numClasses: 10 });
    const t = await rk.train.Trainer.create({ student: teacher, train, test, seed: 7, device: DEVICE, autocast: 'bf16', channelsLast: true });
    await t.fit({ epochs: onGpu ? SIZE.epochs : 1, batchSize: 64, lr: 0.05, progress: 'none' });
    t.dispose();
    const student = rk.models.create('resnet8', { numClasses: 10 });
    const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train, test, seed: 7, device: DEVICE, autocast: 'bf16', channelsLast: true });
    const { history } = await trainer.fit({ epochs: SIZE.epochs, batchSize: 64, lr: 0.05, lossWarmupEpochs: 1, progress: 'none' });
    for (const h of history) {
      assert.strictEqual(h.badSteps, 0);
      for (const [name, v] of Object.entries(h.losses)) assert.ok(Number.isFinite(v), `${name} ${v}`);
    }
    const last = history[history.length - 1];
    // Two CPU epochs of two steps are too few to ask for progress; the GPU run is long enough.
    if (onGpu) assert.ok(last.losses.ce < history[0].losses.ce, `CE ${history[0].losses.ce} -> ${last.losses.ce}`);
    const ev = await trainer.evaluate();
    process.stderr.write(`      (bf16 + channels-last student top-1 after ${SIZE.epochs} epochs: ${ev.top1.toFixed(1)}%)\n`);
    trainer.dispose();
  });

  it('a non-finite step is skipped on the device: weights unchanged, counted, then training goes on', async () => {
    rk.manualSeed(8);
    const student = rk.models.create('resnet8', { numClasses: 10 });
    const trainer = await rk.train.Trainer.create({ student, train: squares(64, 4), augment: false, seed: 8, device: DEVICE, autocast: onGpu ? 'bf16' : 'off' });
    await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, progress: 'none', evaluateEvery: 0 });
    const before = weightsOf(student);
    trainer.injectLossOffset(NaN);
    const { history } = await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, progress: 'none', evaluateEvery: 0 });
    assert.strictEqual(history[0].badSteps, 1);
    const after = weightsOf(student);
    for (const k of Object.keys(before)) assert.deepStrictEqual(after[k], before[k], `${k} changed by a skipped step`);
    const { history: h2 } = await trainer.fit({ epochs: 1, batchSize: 64, lr: 0.05, progress: 'none', evaluateEvery: 0 });
    assert.strictEqual(h2[0].badSteps, 0);
    trainer.dispose();
  });

  it(onGpu ? 'CUDA graphs: replayed steps (and the uncaptured last partial batch) train like eager steps' : 'CUDA graphs are refused on the CPU, naming what they need', async () => {
    // 200 images in batches of 32: 6 full batches (3 warm-up, a capture, 2 replays per epoch after the
    // first) and a last batch of 8 that runs uncaptured.
    const run = async (cudaGraphs) => {
      rk.manualSeed(10);
      const teacher = rk.models.create('resnet14', { numClasses: 10 });
      const student = rk.models.create('resnet8', { numClasses: 10 });
      rk.manualSeed(11);
      const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train: squares(200, 5), augment: false, seed: 3, device: DEVICE, cudaGraphs });
      const { history } = await trainer.fit({ epochs: 2, batchSize: 32, lr: 0.05, lossWarmupEpochs: 2, progress: 'none', evaluateEvery: 0 });
      const w = weightsOf(student);
      trainer.dispose();
      return { history, w };
    };
    if (!onGpu) {
      // The CPU variant names the variant and the device; the CUDA variant (a CUDA torch without a GPU) the device.
      await assert.rejects(run(true), /cudaGraphs: CUDA graphs need .*'cpu'/);
      return;
    }
    const eager = await run(false);
    const graphed = await run(true);
    for (let e = 0; e < 2; e++) {
      assert.strictEqual(graphed.history[e].badSteps, 0);
      for (const k of Object.keys(eager.history[e].losses)) assertRel(graphed.history[e].losses[k], eager.history[e].losses[k], 1e-3, `epoch ${e + 1} ${k}`);
    }
    let worst = 0;
    for (const k of Object.keys(eager.w)) for (let i = 0; i < eager.w[k].length; i++) worst = Math.max(worst, Math.abs(graphed.w[k][i] - eager.w[k][i]));
    assert.ok(worst < 1e-3, `largest weight difference, graphs vs eager, after 14 steps: ${worst}`);
  });

  it('checkpoint and resume on the device: an interrupted run resumes where it stopped and finishes', async () => {
    const dir = tmp('resume');
    const fitOptions = { epochs: SIZE.epochs, batchSize: 64, lr: 0.05, progress: 'none', runDir: dir, statsEvery: 2 };
    const perEpoch = SIZE.train / 64;
    rk.manualSeed(9);
    const student = rk.models.create('resnet8', { numClasses: 10 });
    const trainer = await rk.train.Trainer.create({ student, train, seed: 9, device: DEVICE });
    const controller = new AbortController();
    let steps = 0;
    const r = await trainer.fit({ ...fitOptions, signal: controller.signal, onStep: () => { if (++steps === perEpoch + SIZE.stopAt) controller.abort(); } });
    assert.strictEqual(r.aborted, true);
    trainer.dispose();
    const student2 = rk.models.create('resnet8', { numClasses: 10 });
    const trainer2 = await rk.train.Trainer.create({ student: student2, train, seed: 9, device: DEVICE });
    const r2 = await trainer2.fit({ ...fitOptions, resume: true });
    assert.deepStrictEqual(r2.resumedFrom, { epoch: 1, position: SIZE.stopAt });
    assert.strictEqual(r2.history.length, SIZE.epochs);
    assert.ok(Number.isFinite(r2.history[SIZE.epochs - 1].loss));
    const saved = rk.io.loadSafetensors(path.join(dir, fs.readdirSync(dir).find((f) => /^epoch-\d+\.safetensors$/.test(f))));
    assert.ok(Object.keys(saved).length > 0);
    trainer2.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
