'use strict';
// Test images from a formula: raw pixels, and a sharp pipeline over them (to write JPEGs and PNGs).
const sharp = require('sharp');

/** width x height pixels of `channels` bytes each, from f(x, y) -> [r, g, b(, a)]. */
function pixels(width, height, channels, f) {
  const px = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) px.set(f(x, y), (y * width + x) * channels);
  return px;
}

/** A sharp pipeline over pixels(width, height, channels, f). */
const raw = (width, height, channels, f) => sharp(pixels(width, height, channels, f), { raw: { width, height, channels } });

module.exports = { pixels, raw };
