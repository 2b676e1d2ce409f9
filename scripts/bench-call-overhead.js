#!/usr/bin/env node
'use strict';
// Cost of crossing the JS <-> C++ boundary: a raw no-op native call, a validated op on a 1-element
// tensor (creation of the result handle included), and a scoped step. Median of repeated timings.
//   node scripts/bench-call-overhead.js [--json]
const rk = require('..');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function nsPerCall(fn, iterations, repeats = 7) {
  for (let i = 0; i < iterations; i++) fn(); // warm-up
  const samples = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  return median(samples);
}

const noop = require('../dist/native').native().noop;
const one = rk.ones([1]);
const results = {
  'raw native call (noop)': nsPerCall(() => noop(), 1e6),
  'Tensor.add(1) + dispose (1 element)': nsPerCall(() => one.add(1).dispose(), 1e5),
  'Tensor.shape getter': nsPerCall(() => one.shape, 1e5),
  'scope(() => x.add(1).mul(2).sum().item())': nsPerCall(() => rk.scope(() => one.add(1).mul(2).sum().item()), 2e4),
};

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ libtorch: rk.info().libtorch.version, node: process.version, nsPerCall: results }, null, 2));
} else {
  console.log(`LibTorch ${rk.info().libtorch.version}, node ${process.version}`);
  for (const [name, ns] of Object.entries(results)) console.log(`${name.padEnd(48)} ${ns.toFixed(0).padStart(8)} ns`);
}
