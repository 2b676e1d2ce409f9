'use strict';
// Memory stays flat in a plain synchronous loop: dispose() (or rk.scope) frees the native tensor and
// takes its handle out of GC finalization at once, so nothing waits for the event loop to turn
// (native/tensor/tensor_wrap.cc, Dispose). Measured in a child process (RSS of a fresh process).
const assert = require('assert');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');

/** Runs `body` (JS source using rk and x) after a warm-up and reports the RSS growth in MB. */
function rssGrowth(body, { iterations, yieldEvery = 0 }) {
  const script = `
    const rk = require('.');
    const x = rk.randn([64]);
    const step = () => { ${body} };
    for (let i = 0; i < 2000; i++) step();
    (async () => {
      const before = process.memoryUsage().rss;
      for (let i = 0; i < ${iterations}; i++) {
        step();
        if (${yieldEvery} > 0 && i % ${yieldEvery} === 0) await new Promise((r) => setImmediate(r));
      }
      const after = process.memoryUsage().rss;
      process.stdout.write(JSON.stringify({ mb: (after - before) / 1e6, live: rk.memory().liveTensors }));
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 300000 });
  assert.strictEqual(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('memory in a synchronous loop', function () {
  this.timeout(300000);

  it('100,000 iterations with dispose(), without yielding: RSS grows < 50 MB and no tensor is left', () => {
    const r = rssGrowth('const a = x.add(1); const b = a.relu(); const c = b.mean(); a.dispose(); b.dispose(); c.dispose();', { iterations: 100000 });
    assert.ok(r.mb < 50, `RSS grew ${r.mb.toFixed(1)} MB`);
    assert.strictEqual(r.live, 1, 'only x is alive');
  });

  it('100,000 iterations in rk.scope, without yielding: RSS grows < 50 MB', () => {
    const r = rssGrowth('rk.scope(() => { x.add(1).relu().mean(); });', { iterations: 100000 });
    assert.ok(r.mb < 50, `RSS grew ${r.mb.toFixed(1)} MB`);
    assert.strictEqual(r.live, 1);
  });

  it('without dispose(), a loop that yields stays bounded (the GC finalizes the handles)', () => {
    const r = rssGrowth('x.add(1).relu().mean();', { iterations: 100000, yieldEvery: 1000 });
    assert.ok(r.mb < 150, `RSS grew ${r.mb.toFixed(1)} MB`);
  });
});
