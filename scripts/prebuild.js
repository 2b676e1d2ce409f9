#!/usr/bin/env node
'use strict';
// Makes the prebuilt binaries that ship in the npm tarball, with prebuildify, one folder per variant:
//   binaries/cpu/prebuilds/linux-x64/reviewkd.node    against the pinned CPU LibTorch (package.json
//                                                     libtorch.version): what users get on first use
//   binaries/cuda/prebuilds/linux-x64/reviewkd.node   against pip's CUDA torch (libtorch.cudaCheckVersion,
//                                                     cu130): used when python3's torch is exactly that one
// each with its reviewkd-build.json (the LibTorch it needs, read by the loader). Node-API 8: one file for
// every Node >= 20 and Electron. The CPU addon is compiled by the ordinary set-up (scripts/setup.js,
// incremental); the CUDA one is the CI compile check's build (scripts/cuda-compile-check.js, build-cuda/,
// incremental too, so CI compiles it once). prebuildify is pointed at scripts/prebuild-backend.js instead of
// node-gyp, which hands it that build. The build record is written with the loader's own writer
// (lib/loader/records.ts), so both kinds of binary carry one record shape.
//   node scripts/prebuild.js [--variant cpu|cuda]   (both by default; also run by `npm pack` / `npm publish`
//                                                    through "prepack": a release never silently lacks one)
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const log = (m) => process.stderr.write(`${m}\n`);

const VARIANTS = {
  cpu: {
    build: ['setup.js'],
    binary: path.join(root, 'build', 'Release', 'reviewkd.node'),
    wanted: () => `${require('../dist/loader/package-info').pinnedTorchVersion()}+cpu`,
    fits: (version, wanted) => version === wanted,
    fix: 'Unset LIBTORCH, or set REVIEWKD_PYTHON_TORCH=0, and rerun.',
  },
  cuda: {
    build: ['cuda-compile-check.js'],
    binary: path.join(root, 'build-cuda', 'build', 'Release', 'reviewkd.node'),
    wanted: () => `${require('../dist/loader/package-info').cudaCheckTorchVersion()}+cu130`,
    fits: (version, wanted) => version === wanted,
    fix: 'Rerun `npm run build:cuda-check`.',
  },
};

function prebuildify(options) {
  return new Promise((resolve, reject) => require('prebuildify')(options, (err) => (err ? reject(err) : resolve())));
}

async function prebuild(variant) {
  const spec = VARIANTS[variant];
  const setup = spawnSync(process.execPath, [path.join(__dirname, ...spec.build)], { cwd: root, stdio: 'inherit' });
  if (setup.status !== 0) throw new Error(`${spec.build.join(' ')} failed`);
  const { readBuildRecord, writeBuildRecord } = require('../dist/loader/records');
  const record = readBuildRecord(spec.binary);
  if (!record) throw new Error(`${path.relative(root, spec.binary)} has no readable build record`);
  const wanted = spec.wanted();
  if (!spec.fits(record.libtorch.version, wanted) || record.libtorch.variant !== variant) {
    throw new Error(
      `${path.relative(root, spec.binary)} was built against LibTorch ${record.libtorch.version} (${record.libtorch.variant}) from ${record.libtorch.source}; ` +
        `the prebuilt ${variant} binary must use ${wanted}. ${spec.fix}`,
    );
  }

  // prebuildify works in a folder of its own: it moves the binary it is handed, and names it after
  // the package.json it finds there.
  const staging = path.join(root, `build-prebuild-${variant}`);
  const out = path.join(root, 'binaries', variant);
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
  // scripts/prebuild-backend.js copies this binary in (prebuildify runs it in place of node-gyp).
  process.env.REVIEWKD_PREBUILD_BINARY = spec.binary;
  try {
    await prebuildify({
      napi: true,
      strip: true,
      cwd: staging,
      out,
      artifacts: path.join(staging, 'artifacts'),
      nodeGyp: path.join(__dirname, 'prebuild-backend.js'),
      targets: [],
    });
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  const dir = path.join(out, 'prebuilds', `${process.platform}-${process.arch}`);
  for (const f of fs.readdirSync(dir)) log(`reviewkd: ${path.relative(root, path.join(dir, f))} (${(fs.statSync(path.join(dir, f)).size / 1e6).toFixed(2)} MB)`);
  log(`reviewkd: ${variant} prebuild done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function main() {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--variant');
  const chosen = at >= 0 ? [argv[at + 1]] : Object.keys(VARIANTS);
  if (chosen.some((v) => !VARIANTS[v]) || argv.length !== (at >= 0 ? 2 : 0)) {
    throw new Error('usage: node scripts/prebuild.js [--variant cpu|cuda]');
  }
  for (const variant of chosen) await prebuild(variant);
}

main().catch((err) => {
  log(`reviewkd prebuild failed: ${err.message}`);
  process.exit(1);
});
