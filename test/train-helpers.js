'use strict';
// A small learnable image problem for end-to-end training tests: 10 classes on 1x16x16 noise, class k
// marked by a bright 4x4 square at a class-specific position.
const rk = require('..');

function squaresDataset(count, seed) {
  const rng = new rk.data.Rng(seed, 0);
  const side = 16;
  const images = new Uint8Array(count * side * side);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const k = Math.floor(rng.nextFloat() * 10);
    labels[i] = k;
    const r = Math.floor(k / 4) * 5;
    const c = (k % 4) * 4;
    for (let p = 0; p < side * side; p++) images[i * side * side + p] = Math.floor(rng.nextFloat() * 60);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) images[i * side * side + (r + y) * side + c + x] = 200;
  }
  return { name: `squares-${seed}`, images, labels, count, channels: 1, height: side, width: side, numClasses: 10, mean: [0.2], std: [0.3] };
}

module.exports = { squaresDataset };
