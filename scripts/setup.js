#!/usr/bin/env node
'use strict';
// One idempotent set-up for a fresh clone: npm dependencies, LibTorch, the native addon, the TypeScript
// build. Each step is skipped when its inputs have not changed since it last ran, so `npm test` and
// `npm run demo` can call it every time.
//   node scripts/setup.js            all steps
//   node scripts/setup.js --native   only LibTorch + the addon
//   node scripts/setup.js --ts       only the TypeScript build
//   --force                          redo the steps even when up to date
//   --out DIR                        (with --native) build into DIR/build/Release instead of build/Release;
//                                    the loader uses this to build from source into the user's cache

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const args = new Set(argv);
const outIndex = argv.indexOf('--out');
const outRoot = outIndex >= 0 ? path.resolve(argv[outIndex + 1] || '.') : root;
const force = args.has('--force');
const onlyNative = args.has('--native');
const onlyTs = args.has('--ts');

function log(msg) {
  process.stderr.write(`${msg}\n`);
}

function run(cmd, cmdArgs, opts = {}) {
  log(`$ ${cmd} ${cmdArgs.join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(' ')} exited with ${r.status}`);
}

/** sha256 over the paths and contents of the given files (sorted), plus extra strings. */
function fingerprint(files, extra = []) {
  const h = crypto.createHash('sha256');
  for (const f of [...files].sort()) {
    h.update(path.relative(root, f));
    h.update(fs.readFileSync(f));
  }
  for (const e of extra) h.update(String(e));
  return h.digest('hex');
}

function listFiles(dir, filter) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(p, filter));
    else if (filter(p)) out.push(p);
  }
  return out;
}

function readStamp(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function ensureNpmDependencies() {
  const lock = path.join(root, 'package-lock.json');
  const stampFile = path.join(root, 'node_modules', '.reviewkd-deps.json');
  const fp = fingerprint([path.join(root, 'package.json'), ...(fs.existsSync(lock) ? [lock] : [])]);
  const stamp = readStamp(stampFile);
  if (!force && stamp && stamp.fingerprint === fp) return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const fresh = !fs.existsSync(path.join(root, 'node_modules'));
  run(npm, [fresh && fs.existsSync(lock) ? 'ci' : 'install', '--no-audit', '--no-fund', '--ignore-scripts']);
  fs.writeFileSync(stampFile, JSON.stringify({ fingerprint: fp }));
}

/** torch >= 2.14 headers need C++20; older ones build with the C++17 the project is written in. */
function cxxStandardFor(version) {
  const [major, minor] = String(version).split('.').map((n) => parseInt(n, 10));
  return major > 2 || (major === 2 && minor >= 14) ? 20 : 17;
}

/** Builds build/Release/reviewkd.node with cmake-js against the resolved LibTorch, unless up to date. */
function ensureNativeAddon() {
  const { resolveLibTorch } = require('./libtorch');
  const torch = resolveLibTorch({ log });
  const outDir = path.join(outRoot, 'build', 'Release');
  const infoFile = path.join(outDir, 'reviewkd-build.json');
  const sources = [
    ...listFiles(path.join(root, 'native'), (f) => /\.(cc|h)$/.test(f)),
    path.join(root, 'CMakeLists.txt'),
  ];
  const fp = fingerprint(sources, [torch.root, torch.version, torch.variant, process.version, process.env.TORCH_CUDA_ARCH_LIST || '']);
  const stamp = readStamp(infoFile);
  if (!force && stamp && stamp.fingerprint === fp && fs.existsSync(path.join(outDir, 'reviewkd.node'))) return;

  log(`reviewkd: building the native addon against LibTorch ${torch.version} (${torch.variant}) from ${torch.source}: ${torch.root}`);
  const started = Date.now();
  // cmake-js is a dependency: in an installed package npm may have hoisted it above this folder.
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const cmakeArgs = [
    cmakeJs, 'compile', '--directory', root, '--out', path.join(outRoot, 'build'),
    '--parallel', String(Math.max(1, require('os').cpus().length)),
    `--CDCMAKE_PREFIX_PATH=${torch.cmakePrefixPath}`,
    `--CDRK_LIBTORCH_VERSION=${torch.version}`,
    `--CDRK_LIBTORCH_VARIANT=${torch.variant}`,
    `--CDRK_CXX_STANDARD=${cxxStandardFor(torch.version)}`,
  ];
  if (spawnSync('ccache', ['--version'], { stdio: 'ignore' }).status === 0) {
    cmakeArgs.push('--CDCMAKE_CXX_COMPILER_LAUNCHER=ccache');
  }
  // ccache must ignore the precompiled header's timestamps, or it never hits.
  const env = { ...process.env, CCACHE_SLOPPINESS: 'pch_defines,time_macros,include_file_mtime,include_file_ctime' };
  if (torch.variant === 'cuda') {
    const cuda = require('./cuda-build-args').cudaBuildArgs(torch.root);
    cmakeArgs.push(...cuda.args);
    env.PATH = `${cuda.pathPrefix}${path.delimiter}${env.PATH}`;
    log(`reviewkd: CUDA toolkit ${cuda.toolkit}${cuda.nvrtc ? `, nvrtc ${cuda.nvrtc}` : ''}`);
  }
  run(process.execPath, cmakeArgs, { env });
  fs.writeFileSync(infoFile, JSON.stringify({
    fingerprint: fp,
    libtorch: { version: torch.version, variant: torch.variant, root: torch.root, libDir: torch.libDir, source: torch.source },
    builtAt: new Date().toISOString(),
    buildSeconds: (Date.now() - started) / 1000,
  }, null, 2));
  log(`reviewkd: native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Compiles lib/ to dist/ (CommonJS + .d.ts) and writes the ESM entry, unless up to date. */
function ensureTypeScript() {
  const stampFile = path.join(root, 'dist', '.reviewkd-ts.json');
  const sources = [...listFiles(path.join(root, 'lib'), (f) => f.endsWith('.ts')), path.join(root, 'tsconfig.json')];
  const fp = fingerprint(sources);
  const stamp = readStamp(stampFile);
  if (!force && stamp && stamp.fingerprint === fp) return;
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')]);
  writeEsmEntry();
  fs.writeFileSync(stampFile, JSON.stringify({ fingerprint: fp }));
}

/**
 * The ESM entry re-exports the CommonJS build by name. The names are read from the built module, which
 * is cheap because the native addon loads lazily on first use.
 */
function writeEsmEntry() {
  const cjs = require(path.join(root, 'dist', 'index.js'));
  const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
  const esmDir = path.join(root, 'dist', 'esm');
  fs.mkdirSync(esmDir, { recursive: true });
  const body = [
    '// Generated by scripts/setup.js: the ESM face of the CommonJS build.',
    "import cjs from '../index.js';",
    `export const { ${names.join(', ')} } = cjs;`,
    'export default cjs;',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(esmDir, 'index.mjs'), body);
  fs.writeFileSync(
    path.join(esmDir, 'index.d.mts'),
    "export * from '../index.js';\nimport rk from '../index.js';\nexport default rk;\n",
  );
}

/**
 * Serialises concurrent set-ups (two `npm test` in one clone) with a lock folder; a lock whose owner
 * process is gone is taken over.
 */
function withLock(body) {
  fs.mkdirSync(outRoot, { recursive: true });
  const lock = path.join(outRoot, '.setup.lock');
  const deadline = Date.now() + 30 * 60 * 1000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {}
      let alive = false;
      try {
        alive = Number.isInteger(owner) && owner > 0 && (process.kill(owner, 0), true);
      } catch {}
      if (!alive && Number.isInteger(owner)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by pid ${owner})`);
      spawnSync(process.execPath, ['-e', 'setTimeout(() => {}, 500)']);
    }
  }
  try {
    body();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

try {
  withLock(() => {
  if (!onlyNative && !onlyTs) ensureNpmDependencies();
  if (!onlyTs) ensureNativeAddon();
  if (!onlyNative) ensureTypeScript();
  });
} catch (err) {
  log(`\nreviewkd setup failed: ${err.message}`);
  process.exit(1);
}
