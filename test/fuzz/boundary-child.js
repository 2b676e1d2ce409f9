'use strict';
// Child process of test/reliability-boundary.test.js: runs the boundary cases from index argv[2] on,
// writing "S <i>" before and "E <i> <outcome>" after each case to stdout (synchronously, so that the
// parent knows which case was running if this process dies), then one "SUMMARY <json>" line.
const fs = require('fs');
const os = require('os');
const path = require('path');

const { makeContext, buildCases, nativeCases } = require('./boundary-cases');

const start = Number(process.argv[2] || 0);
const caseTimeoutMs = Number(process.env.RK_FUZZ_CASE_TIMEOUT_MS || 8000);
const out = (line) => fs.writeSync(1, `${line}\n`);

// No case may reach the network: download() falls back to the global fetch.
globalThis.fetch = async () => {
  throw new Error('network disabled in the boundary fuzz');
};

// A raw JS engine message means the library let a bad value through to code that did not expect it.
const RAW = /Cannot read propert|is not a function|is not iterable|Cannot convert|Invalid value used in weak|Illegal invocation|undefined is not|null is not|Invalid argument$|Cannot create property|Maximum call stack|Invalid array length/;

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-boundary-'));
  process.chdir(tmp); // relative paths written by fuzzed calls land here
  const rk = require('../..');
  rk.setNumThreads(1);
  const ctx = await makeContext(tmp);
  const cases = [...buildCases(ctx), ...nativeCases(ctx)];
  const summary = { total: cases.length, ran: 0 };
  let current = '';
  process.on('unhandledRejection', (e) => out(`U during '${current}': ${String(e && e.message).slice(0, 160)}`));
  for (let i = start; i < cases.length; i++) {
    const c = cases[i];
    out(`S ${i} ${c.name}`);
    current = c.name;
    let outcome;
    try {
      let r = c.run(ctx);
      if (r && typeof r.then === 'function') {
        let timer;
        r = await Promise.race([
          r,
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(Object.assign(new Error(`timed out after ${caseTimeoutMs} ms`), { fuzzTimeout: true })), caseTimeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
      }
      outcome = 'ok';
    } catch (e) {
      if (e && e.fuzzFailure) {
        out(`F ${c.name}: ${String(e.message).slice(0, 300)}`);
        outcome = 'failed';
      } else if (e && e.fuzzTimeout) {
        out(`T ${c.name}`);
        outcome = 'timeout';
      } else if (!(e instanceof Error)) {
        out(`N ${c.name}: ${String(e)}`);
        outcome = 'non-error';
      } else {
        const msg = String(e.message).split('\n')[0];
        if (RAW.test(msg)) {
          const target = c.name.replace(/ (arg\d+|options\.\w+|dataset\.\w+)=.*$/, '').replace(/\(valid\)$/, '');
          out(`M ${target}: ${msg.slice(0, 120)}`);
        }
        outcome = `threw ${e.constructor.name}`;
      }
    }
    summary.ran++;
    out(`E ${i} ${outcome.replace(' ', ':')}`);
  }
  out(`SUMMARY ${JSON.stringify(summary)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  out(`FATAL ${String(e && e.stack)}`);
  process.exit(3);
});
