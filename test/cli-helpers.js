'use strict';
// Helpers of the CLI tests: run `node bin/reviewkd.js`, and write a tiny learnable image-folder dataset.
const { spawnSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const sharp = require('sharp');

const BIN = path.join(__dirname, '..', 'bin', 'reviewkd.js');

/** Runs the CLI synchronously; returns {code, stdout, stderr}. */
function cli(args, options = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120000, ...options });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** Starts the CLI asynchronously (for Ctrl-C tests). */
function cliAsync(args, options = {}) {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

const tmp = (name) => fs.mkdtempSync(path.join(os.tmpdir(), `rk-cli-${name}-`));

/**
 * `perClass` 16x16 RGB PNGs per class in dir/<class>/, 4 classes: a bright bar whose position and
 * orientation is the class, on noise. Easy to learn in one or two epochs.
 */
async function imageFolder(dir, perClass = 50, side = 16, seed = 1) {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const classes = ['a-top', 'b-bottom', 'c-left', 'd-right'];
  for (let c = 0; c < classes.length; c++) {
    fs.mkdirSync(path.join(dir, classes[c]), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = Buffer.alloc(side * side * 3);
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const on = (c === 0 && y < side / 4) || (c === 1 && y >= (3 * side) / 4) || (c === 2 && x < side / 4) || (c === 3 && x >= (3 * side) / 4);
          for (let k = 0; k < 3; k++) px[(y * side + x) * 3 + k] = on ? 200 + Math.floor(rand() * 55) : Math.floor(rand() * 80);
        }
      }
      await sharp(px, { raw: { width: side, height: side, channels: 3 } }).png().toFile(path.join(dir, classes[c], `${i}.png`));
    }
  }
  return dir;
}

module.exports = { cli, cliAsync, tmp, imageFolder, BIN };
