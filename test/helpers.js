'use strict';
// Shared test helpers: the spec's deterministic tensors and tolerance checks.
const assert = require('assert');
const rk = require('..');

/** det(shape, a, b): sin(a*k + b) at row-major flat index k, float64 (the input of the golden values). */
function det(shape, a, b, dtype = 'float64') {
  const n = shape.reduce((x, y) => x * y, 1);
  const d = new Float64Array(n);
  for (let k = 0; k < n; k++) d[k] = Math.sin(a * k + b);
  return rk.tensor(d, { shape, dtype });
}

/** probe(t) = sum(t * det(t.shape, 0.05, 0.3)) as a tensor (differentiable). */
function probeTensor(t) {
  return t.mul(det(t.shape, 0.05, 0.3, t.dtype)).sum();
}

function probe(t) {
  return probeTensor(t).item();
}

function assertRel(actual, expected, rel = 1e-6, what = 'value') {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  assert.ok(err <= rel, `${what}: got ${actual}, expected ${expected} (relative error ${err.toExponential(2)} > ${rel})`);
}

function assertArrayClose(actual, expected, tol = 1e-6, what = 'array') {
  assert.strictEqual(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]);
    const e = Number(expected[i]);
    assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `${what}[${i}]: got ${a}, expected ${e}`);
  }
}

/** A seeded PRNG (mulberry32) for tests that need reproducible random choices. */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * spawn() arguments for a fuzz child whose address space is capped at 8 GiB (bash's ulimit -v), so an
 * allocation beyond the limits fails instead of taking the machine. Under the sanitizer stage
 * (REVIEWKD_SANITIZER, set by scripts/test-asan.js) there is no ulimit: AddressSanitizer reserves terabytes
 * of shadow address space, and its allocator enforces max_allocation_size_mb instead.
 */
function boundedNode(script, args = []) {
  if (process.env.REVIEWKD_SANITIZER) return [process.execPath, [script, ...args]];
  const quoted = [script, ...args].map((a) => `"${a}"`).join(' ');
  return ['bash', ['-c', `ulimit -v ${8 * 1024 * 1024} && exec "${process.execPath}" ${quoted}`]];
}

/** How much slower code runs here: 3 under the sanitizer stage (ASan/UBSan checks on every access), else 1. */
const SLOWDOWN = process.env.REVIEWKD_SANITIZER ? 3 : 1;

module.exports = { det, probe, probeTensor, assertRel, assertArrayClose, prng, boundedNode, SLOWDOWN };
