'use strict';
// Boundary fuzzing of the whole public API (and the raw native bindings under it): every exported
// function, method and getter with wrong types, wrong ranks, negative/huge sizes, NaN/Infinity, empty
// arrays, disposed tensors and modules, 'cuda' devices, and concurrent calls on one trainer. The cases
// (test/fuzz/boundary-cases.js) run in a child process so that a native crash or a hang is caught and
// reported with the case's name; the child is restarted after the failing case so one run finds all.
const assert = require('assert');
const { spawn } = require('child_process');
const path = require('path');

// The child's address space is capped (helpers.boundedNode): a case that allocates without bound fails
// inside the child instead of taking the machine's memory.
const { boundedNode, SLOWDOWN } = require('./helpers');

const CHILD = path.join(__dirname, 'fuzz', 'boundary-child.js');
// A stuck case (sync hang) is killed after this long without output.
const HANG_MS = 20000 * SLOWDOWN;

// Outcomes over all child runs: counts by outcome, raw engine messages, non-Error throws, timeouts.
const counts = {};
const raw = {};
const nonErrors = [];
const timeouts = [];
const wrong = [];

function runChild(start) {
  return new Promise((resolve) => {
    const child = spawn(...boundedNode(CHILD, [String(start)]), {
      cwd: path.join(__dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    let last = null; // [index, name] of the case started last and not finished
    let summary = null;
    let hung = false;
    let stderr = '';
    const unhandled = [];
    let watchdog;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, HANG_MS);
    };
    arm();
    child.stdout.on('data', (chunk) => {
      arm();
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('S ')) {
          const m = /^S (\d+) (.*)$/.exec(line);
          last = [Number(m[1]), m[2]];
        } else if (line.startsWith('E ')) {
          last = null;
          const outcome = line.split(' ')[2];
          counts[outcome] = (counts[outcome] || 0) + 1;
        } else if (line.startsWith('M ')) {
          raw[line.slice(2)] = (raw[line.slice(2)] || 0) + 1;
        } else if (line.startsWith('N ')) {
          nonErrors.push(line.slice(2));
        } else if (line.startsWith('F ')) {
          wrong.push(line.slice(2));
        } else if (line.startsWith('T ')) {
          timeouts.push(line.slice(2));
        } else if (line.startsWith('SUMMARY ')) {
          summary = JSON.parse(line.slice(8));
        } else if (line.startsWith('U ')) {
          unhandled.push(line.slice(2));
        } else if (line.startsWith('FATAL')) {
          stderr += line;
        }
      }
    });
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code, signal, last, summary, hung, stderr, unhandled });
    });
  });
}

describe('reliability: boundary fuzz of every export (child process)', function () {
  this.timeout(1200000 * SLOWDOWN); // the 38k cases took 675 s at load 9 on 2 cores

  it('every case ends in a JS exception or a normal result: no crash, no hang', async () => {
    const started = Date.now();
    const failures = [];
    const unhandled = [];
    let start = 0;
    let summary = null;
    let tried = 0;
    for (let round = 0; round < 40; round++) {
      const r = await runChild(start);
      unhandled.push(...r.unhandled);
      if (r.summary && r.code === 0) {
        summary = r.summary;
        tried += r.summary.ran;
        break;
      }
      if (!r.last) {
        assert.fail(`the fuzz child failed outside any case (exit ${r.code}, signal ${r.signal}): ${r.stderr}`);
      }
      const [index, name] = r.last;
      tried += index - start + 1;
      failures.push(`case ${index} '${name}': ${r.hung ? `hung (no output for ${HANG_MS / 1000} s)` : `process died (exit ${r.code}, signal ${r.signal})`} ${r.stderr.split('\n').filter(Boolean).slice(-2).join(' | ')}`);
      start = index + 1;
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`      boundary fuzz: ${tried} cases tried in ${seconds} s; outcomes ${JSON.stringify(counts)}`);
    const rawList = Object.entries(raw);
    console.log(`      ${rawList.length} call sites answered some bad input with a raw JS engine message (not naming the argument):`);
    for (const [k, count] of rawList.slice(0, 80)) console.log(`        ${count}x ${k}`);
    assert.ok(summary, `the fuzz never finished: ${failures.join('\n')}`);
    assert.deepStrictEqual(failures, [], `native crashes or hangs:\n  ${failures.join('\n  ')}`);
    assert.deepStrictEqual(wrong, [], 'concurrency cases with the wrong outcome');
    assert.deepStrictEqual(nonErrors, [], 'cases that threw something other than an Error');
    assert.deepStrictEqual(timeouts, [], 'async cases that never settled');
    assert.deepStrictEqual(unhandled, [], 'unhandled promise rejections in the child');
    assert.ok(tried >= 10000, `enough cases ran (${tried})`);
  });
});
