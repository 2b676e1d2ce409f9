#!/usr/bin/env node
'use strict';
// Makes the prebuilt binary that ships in the npm tarball, with prebuildify:
//   binaries/cpu/prebuilds/linux-x64/reviewkd.node   (Node-API 8: one file for every Node >= 20 and Electron)
//   binaries/cpu/prebuilds/linux-x64/reviewkd-build.json  (the LibTorch it needs, read by the loader)
// It must be built against the pinned CPU LibTorch (package.json libtorch.version): that is the LibTorch
// users get on first use. The addon is compiled by the ordinary set-up (scripts/setup.js, incremental), and
// prebuildify is pointed at scripts/prebuild-backend.js instead of node-gyp, which hands it that build. The
// build record is written with the loader's own writer (lib/loader/records.ts), so both kinds of binary
// carry one record shape.
//   node scripts/prebuild.js            (also run by `npm pack` / `npm publish` through "prepack")
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const staging = path.join(root, 'build-prebuild');
const variant = 'cpu';
const out = path.join(root, 'binaries', variant);
const log = (m) => process.stderr.write(`${m}\n`);

function main() {
  const setup = spawnSync(process.execPath, [path.join(__dirname, 'setup.js')], { cwd: root, stdio: 'inherit' });
  if (setup.status !== 0) throw new Error('the set-up failed');
  const { readBuildRecord, writeBuildRecord } = require('../dist/loader/records');
  const { pinnedTorchVersion } = require('../dist/loader/package-info');
  const record = readBuildRecord(path.join(root, 'build', 'Release', 'reviewkd.node'));
  if (!record) throw new Error('build/Release has no readable build record');
  const wanted = `${pinnedTorchVersion()}+cpu`;
  if (record.libtorch.version !== wanted || record.libtorch.variant !== variant) {
    throw new Error(
      `build/Release was built against LibTorch ${record.libtorch.version} (${record.libtorch.variant}) from ${record.libtorch.source}; ` +
        `the prebuilt binary must use the pinned ${wanted}. Unset LIBTORCH, or set REVIEWKD_PYTHON_TORCH=0, and rerun.`,
    );
  }

  // prebuildify works in a folder of its own: it moves the binary it is handed, and names it after
  // the package.json it finds there.
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(path.join(staging, 'artifacts'), { recursive: true });
  fs.writeFileSync(path.join(staging, 'package.json'), JSON.stringify({ name: 'reviewkd', private: true }));
  writeBuildRecord(path.join(staging, 'artifacts'), {
    libtorch: { version: record.libtorch.version, variant },
    prebuilt: true,
    napiVersion: 8,
    builtAt: new Date().toISOString(),
  });
  fs.rmSync(out, { recursive: true, force: true });

  const started = Date.now();
  const prebuildify = require('prebuildify');
  prebuildify({
    napi: true,
    strip: true,
    cwd: staging,
    out,
    artifacts: path.join(staging, 'artifacts'),
    nodeGyp: path.join(__dirname, 'prebuild-backend.js'),
    targets: [],
  }, (err) => {
    fs.rmSync(staging, { recursive: true, force: true });
    if (err) {
      log(`reviewkd prebuild failed: ${err.message}`);
      process.exit(1);
    }
    const dir = path.join(out, 'prebuilds', `${process.platform}-${process.arch}`);
    for (const f of fs.readdirSync(dir)) log(`reviewkd: ${path.relative(root, path.join(dir, f))} (${(fs.statSync(path.join(dir, f)).size / 1e6).toFixed(2)} MB)`);
    log(`reviewkd: prebuild done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
}

try {
  main();
} catch (err) {
  log(`reviewkd prebuild failed: ${err.message}`);
  process.exit(1);
}
