#!/usr/bin/env node
'use strict';
// Forward time per image of every zoo model on this machine (eval mode, no grad, float32, CPU), printed
// as the markdown table of docs/models.md. CIFAR models run batches of 32 at 32x32, ImageNet models
// batches of 4 at 224x224; one warm-up batch, then the median of `--reps` timed batches (default 3).
//   node scripts/bench-models.js [--reps 3] [--only resnet20,wrn-40-2]
const os = require('os');

const rk = require('..');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const reps = Math.max(1, Number(option('reps', '3')));
const only = option('only', '') ? new Set(option('only', '').split(',')) : null;

async function timeForward(net, x) {
  let promise;
  rk.noGrad(() => {
    promise = net.forward(x); // the native call captures the grad mode synchronously
  });
  const t0 = process.hrtime.bigint();
  (await promise).dispose();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function shapes(featureShapes) {
  return featureShapes.map(([c, h]) => `${c}@${h}`).join(', ');
}

async function main() {
  const info = rk.info();
  console.log(`<!-- ${new Date().toISOString()} LibTorch ${info.libtorch.version}, ${info.threads} threads, ${os.cpus()[0].model}, node ${process.version} -->`);
  // Process-wide warm-up (thread pool, oneDNN primitives) so the first model is not penalised.
  {
    const net = rk.models.create('resnet20').eval();
    const x = rk.randn([32, 3, 32, 32]);
    for (let i = 0; i < 3; i++) await timeForward(net, x);
    net.dispose();
  }
  console.log('| model | dataset | parameters | features (C@H, shallow → deep, pooled last) | forward ms / image |');
  console.log('| --- | --- | ---: | --- | ---: |');
  for (const m of rk.models.list()) {
    if (only && !only.has(m.name)) continue;
    const batch = m.dataset === 'cifar' ? 32 : 4;
    const net = rk.models.create(m.name).eval();
    const x = rk.randn([batch, 3, m.inputSize, m.inputSize]);
    await timeForward(net, x);
    const times = [];
    for (let r = 0; r < reps; r++) times.push(await timeForward(net, x));
    times.sort((a, b) => a - b);
    const perImage = times[Math.floor(times.length / 2)] / batch;
    console.log(`| ${m.name} | ${m.dataset} ${m.inputSize}² | ${m.numParameters.toLocaleString('en-US')} | ${shapes(m.featureShapes)} | ${perImage.toFixed(2)} |`);
    x.dispose();
    net.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
