#!/usr/bin/env node
'use strict';
// npm's install step, an accelerator only: it does now what the first `require('reviewkd')` call into
// the addon would do anyway (find or fetch LibTorch, pick and try the binary, build from source if none
// fits), so the first training run starts at once. It never fails the install: package managers that
// skip install scripts (pnpm 10, --ignore-scripts) get the same result on first use.
//   REVIEWKD_SKIP_INSTALL=1 skips it.
const fs = require('fs');
const path = require('path');

const entry = path.join(__dirname, '..', 'dist', 'native.js');
if (['1', 'true', 'yes'].includes(String(process.env.REVIEWKD_SKIP_INSTALL || '').toLowerCase())) process.exit(0);
// A git checkout has no dist/ until `npm run setup`; that script does the native set-up itself.
if (!fs.existsSync(entry)) process.exit(0);
try {
  const { native, loadedBinary } = require(entry);
  const info = native().buildInfo();
  const { kind, path: binary } = loadedBinary();
  process.stderr.write(`reviewkd: ready (${kind} ${binary}, LibTorch ${info.libtorchVersion})\n`);
} catch (err) {
  process.stderr.write(`reviewkd: could not prepare the native addon during install; it will be tried again on first use.\n${err.message}\n`);
}
