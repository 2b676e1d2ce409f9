#!/usr/bin/env node
'use strict';
// The sanitizer stage (`npm run test:asan`, also run by .ci/run): builds the addon with AddressSanitizer +
// UndefinedBehaviorSanitizer into build-asan/ and runs the native-heavy tests, the boundary fuzz and the
// parser fuzz corpora against it (child processes included: they inherit the preload and REVIEWKD_ADDON).
// Every report goes to a file under build-asan/reports/; the stage fails if there is one.
//   node scripts/test-asan.js [test files...]
// Runtime options, each with its reason:
//   detect_leaks=0               Node and V8 keep their heaps at exit by design, so LeakSanitizer would
//                                report them; the project's own counters (rk.memory()) check the addon's leaks.
//   allocator_may_return_null=1  the boundary tests ask for absurd tensor sizes; without it ASan aborts
//                                instead of letting LibTorch's allocator fail and throw, as it does unsanitized.
//   verify_asan_link_order=0     node is not linked with ASan; the runtime comes first through LD_PRELOAD.
//   max_allocation_size_mb=8192  the fuzz children run without their usual `ulimit -v` (ASan reserves
//                                terabytes of address space for its shadow), so allocations are capped here.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'build-asan');
const reports = path.join(out, 'reports');
const log = (m) => process.stderr.write(`${m}\n`);

const DEFAULT_TESTS = [
  'tensor', 'optim-losses', 'review-head', 'review-golden', 'losses-golden', 'losses-stateful', 'io-safetensors',
  'io-torch-checkpoint', 'reliability-boundary', 'reliability-parsers', 'quiet-torch', 'workers',
].map((n) => `test/${n}.test.js`);
// Not run here: the tests that assert RSS bounds (memory-async, memory-sync-loop): ASan's quarantine holds
// freed memory by design (it is how a use after free is caught), so RSS grows there whatever the code
// does. dispose() and its unwrap run in every test above.

function runtimeLibrary(name) {
  const r = spawnSync(process.env.CXX || 'g++', [`-print-file-name=${name}`], { encoding: 'utf8' });
  const file = (r.stdout || '').trim();
  if (r.status !== 0 || !path.isAbsolute(file) || !fs.existsSync(file)) throw new Error(`the compiler does not know ${name} (install the gcc sanitizer runtimes: libasan, libubsan)`);
  return file;
}

function main() {
  const started = Date.now();
  const setup = spawnSync(process.execPath, [path.join(__dirname, 'setup.js')], { cwd: root, stdio: 'inherit' });
  if (setup.status !== 0) throw new Error('the set-up failed');
  require(path.join(root, 'dist', 'loader', 'native-build.js')).buildNativeAddon({ outRoot: out, sanitize: true, log });
  const built = Date.now();
  log(`reviewkd: sanitizer build ready in ${((built - started) / 1000).toFixed(0)} s`);

  fs.rmSync(reports, { recursive: true, force: true });
  fs.mkdirSync(reports, { recursive: true });
  const tests = process.argv.slice(2).length ? process.argv.slice(2) : DEFAULT_TESTS;
  const env = {
    ...process.env,
    LD_PRELOAD: [runtimeLibrary('libasan.so'), runtimeLibrary('libubsan.so')].join(':'),
    ASAN_OPTIONS: `detect_leaks=0:allocator_may_return_null=1:verify_asan_link_order=0:max_allocation_size_mb=8192:log_path=${path.join(reports, 'asan')}`,
    UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${path.join(reports, 'ubsan')}`,
    REVIEWKD_ADDON: path.join(out, 'build', 'Release', 'reviewkd.node'),
    REVIEWKD_SANITIZER: 'asan',
  };
  const mocha = spawnSync(process.execPath, [path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--no-config', '--reporter', 'dot', '--timeout', '1800000', ...tests], { cwd: root, env, stdio: 'inherit' });
  // A report file holds errors (ASan's "ERROR:", UBSan's "runtime error:") or only the warnings
  // allocator_may_return_null produces when a boundary test asks for an absurd size ("failed to allocate").
  let errors = 0;
  let allocationWarnings = 0;
  for (const f of fs.readdirSync(reports)) {
    const text = fs.readFileSync(path.join(reports, f), 'utf8');
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    if (lines.every((l) => /WARNING: AddressSanitizer failed to allocate/.test(l))) {
      allocationWarnings += lines.length;
      continue;
    }
    errors++;
    log(`\n==== ${f}\n${text}`);
  }
  log(`reviewkd: sanitizer stage: ${tests.length} test files in ${((Date.now() - built) / 1000).toFixed(0)} s, mocha exit ${mocha.status}, ` +
    `${errors} sanitizer report(s) with errors, ${allocationWarnings} refused absurd allocation(s) (expected)`);
  if (mocha.status !== 0 || errors > 0) process.exit(1);
}

try {
  main();
} catch (err) {
  log(`reviewkd test:asan failed: ${err.message}`);
  process.exit(1);
}
