#!/usr/bin/env node
'use strict';
// Stands in for node-gyp when scripts/prebuild.js runs prebuildify: prebuildify calls
// `<this> rebuild --target=... --release` in its working folder and then takes build/Release/*.node from
// there. The real build is CMake (scripts/prebuild.js has just run it), so this copies that binary in:
// REVIEWKD_PREBUILD_BINARY, set by scripts/prebuild.js (build/Release or build-cuda/build/Release).
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const from = process.env.REVIEWKD_PREBUILD_BINARY || path.join(root, 'build', 'Release', 'reviewkd.node');
const to = path.join(process.cwd(), 'build', 'Release', 'reviewkd.node');
if (!fs.existsSync(from)) {
  process.stderr.write(`prebuild-backend: ${from} does not exist; run node scripts/prebuild.js\n`);
  process.exit(1);
}
fs.mkdirSync(path.dirname(to), { recursive: true });
fs.copyFileSync(from, to);
