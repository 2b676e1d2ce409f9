'use strict';
// native/common/compute_thread.h: async LibTorch work runs on one compute thread with one OpenMP team;
// the JS thread's synchronous ops use one intra-op thread and so never create a team of their own.
// Threads are counted in /proc/self/task, in a child process so other tests' threads do not interfere.
const assert = require('assert');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');

const CHILD = `
const fs = require('fs');
const rk = require(${JSON.stringify(root)});
const threads = () => fs.readdirSync('/proc/self/task').length;
(async () => {
  rk.ones([1]).add(1);                       // the addon is loaded
  const loaded = threads();
  const a = rk.randn([384, 384]);
  for (let i = 0; i < 5; i++) a.matmul(a).relu().sum().item();   // parallel-sized sync ops on the JS thread
  const afterSync = threads();
  const conv = rk.randn([32, 16, 3, 3]);
  const x = rk.randn([8, 16, 64, 64]);
  await rk.conv2dAsync(x, conv, { padding: 1 });
  const afterFirstAsync = threads();
  for (let i = 0; i < 10; i++) await Promise.all([rk.conv2dAsync(x, conv, { padding: 1 }), rk.conv2dAsync(x, conv, { padding: 1 })]);
  const afterManyAsync = threads();
  rk.setNumThreads(1);
  const one = rk.getNumThreads();
  const y = await rk.conv2dAsync(x, conv, { padding: 1 });
  console.log(JSON.stringify({ loaded, afterSync, afterFirstAsync, afterManyAsync, one, shape: y.shape}));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('compute thread: one OpenMP team for the heavy work', function () {
  this.timeout(120000);

  it('sync ops on the JS thread create no threads; async work adds a fixed set that does not grow', () => {
    const r = spawnSync(process.execPath, ['-e', CHILD], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
    assert.strictEqual(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.strictEqual(out.afterSync, out.loaded, 'synchronous ops on the JS thread started OpenMP worker threads');
    assert.ok(out.afterFirstAsync > out.afterSync, 'async work needs its threads (libuv pool, compute thread)');
    assert.strictEqual(out.afterManyAsync, out.afterFirstAsync, 'more (and concurrent) async calls must not add OpenMP teams');
    assert.strictEqual(out.one, 1);
    assert.deepStrictEqual(out.shape, [8, 32, 64, 64]);
  });
});
