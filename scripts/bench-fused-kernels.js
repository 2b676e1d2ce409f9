#!/usr/bin/env node
'use strict';
// The fused CPU kernels on and off in one process (rk.setFusedKernels), interleaved, so both see the same
// machine: img/s of the teacher forward and of the ReviewKD distillation step, 4 rounds each way.
//   node scripts/bench-fused-kernels.js [fp32|fast] [teacher,student] [batch]
//   e.g. node scripts/bench-fused-kernels.js fast resnet56,resnet20 64
const rk = require('..');
const { Trainer } = require('../dist/train');

function synthetic(count, size, classes) {
  const images = new Uint8Array(count * 3 * size * size);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % classes;
  return { name: 'synthetic', images, labels, count, channels: 3, height: size, width: size, numClasses: classes, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
}

(async () => {
  const fast = process.argv[2] === 'fast';
  const [teacherName, studentName] = (process.argv[3] || 'resnet56,resnet20').split(',');
  const batch = Number(process.argv[4] || 64);
  const steps = 6;
  const data = synthetic(batch * steps, 32, 100);
  const options = { seed: 0, channelsLast: fast, autocast: fast ? 'bf16' : false };
  const teacher = rk.models.create(teacherName, { numClasses: 100 });
  const floor = await Trainer.create({ student: teacher, train: data, test: data, ...options });
  const distill = await Trainer.create({ student: rk.models.create(studentName, { numClasses: 100 }), teacher, method: 'reviewkd', train: data, ...options });
  const fit = () => distill.fit({ epochs: 1, batchSize: batch, lr: 0.01, lossWarmupEpochs: 0, statsEvery: 1e6, progress: 'none' });
  await floor.evaluate(undefined, { batchSize: batch }); // warm-up
  await fit();
  const rates = { teacher: { off: [], on: [] }, distill: { off: [], on: [] } };
  const timed = async (fn) => {
    const t0 = process.hrtime.bigint();
    await fn();
    return (batch * steps) / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  for (let round = 0; round < 4; round++) {
    for (const on of [false, true]) {
      rk.setFusedKernels(on);
      rates.teacher[on ? 'on' : 'off'].push(await timed(() => floor.evaluate(undefined, { batchSize: batch })));
      rates.distill[on ? 'on' : 'off'].push(await timed(fit));
    }
  }
  rk.setFusedKernels(true);
  const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  console.log(`${fast ? 'fast (channels-last + bf16)' : 'fp32'} ${teacherName}->${studentName} batch ${batch}, img/s per round, kernels off / on:`);
  for (const what of ['teacher', 'distill']) {
    const { off, on } = rates[what];
    console.log(`  ${what.padEnd(8)} off ${off.map((v) => v.toFixed(0)).join(' ')}  on ${on.map((v) => v.toFixed(0)).join(' ')}  median ratio ${(median(on) / median(off)).toFixed(2)}x`);
  }
})().catch((err) => {
  console.error(err.stack || err.message);
  process.exit(1);
});
