// rk.distributed on CPU (Gloo over 127.0.0.1): collectives on 2 and 3 ranks, the launcher environment,
// and the faults: a malformed variable, a port in use, an unreachable master, a rank killed mid-job.
'use strict';
const assert = require('assert');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const rk = require('..');
const { freePort, runRanks, rankEnv, RANK_SCRIPT } = require('./distributed-helpers');

function withEnv(vars, fn) {
  const saved = {};
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k];
    if (vars[k] === undefined) delete process.env[k];
    else process.env[k] = vars[k];
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const CLEAR = { RANK: undefined, WORLD_SIZE: undefined, LOCAL_RANK: undefined, LOCAL_WORLD_SIZE: undefined, SLURM_PROCID: undefined, SLURM_NTASKS: undefined, SLURM_LOCALID: undefined, SLURM_NTASKS_PER_NODE: undefined, MASTER_ADDR: undefined, MASTER_PORT: undefined, TORCHELASTIC_USE_AGENT_STORE: undefined, REVIEWKD_DIST_TIMEOUT: undefined };

describe('rk.distributed (Gloo on 127.0.0.1)', function () {
  this.timeout(120000);

  for (const world of [2, 3]) {
    it(`collectives on ${world} ranks are exact`, async () => {
      const runs = await runRanks(world, RANK_SCRIPT, ['collectives']);
      const sumOf = (f) => Array.from({ length: world }, (_, r) => f(r)).reduce((a, b) => a + b, 0);
      for (const [r, run] of runs.entries()) {
        assert.strictEqual(run.code, 0, `rank ${r}: ${run.stdout}\n${run.stderr}`);
        const o = run.json;
        assert.strictEqual(o.rank, r);
        assert.strictEqual(o.worldSize, world);
        assert.deepStrictEqual(o.sum.f32, [sumOf((k) => k + 1), sumOf((k) => -k), sumOf((k) => 0.5 * k)]);
        assert.deepStrictEqual(o.sum.f64, [sumOf((k) => 1e-3 * (k + 1)) === o.sum.f64[0] ? o.sum.f64[0] : NaN, world * 2 ** 40 + sumOf((k) => k)]);
        assert.ok(Math.abs(o.sum.f64[0] - sumOf((k) => 1e-3 * (k + 1))) < 1e-15);
        assert.deepStrictEqual(o.sum.i64, [sumOf((k) => k), 7 * world]);
        assert.deepStrictEqual(o.avg, [sumOf((k) => 3 * k) / world, 1]);
        assert.deepStrictEqual(o.max, [world - 1, 0]);
        assert.deepStrictEqual(o.broadcast, [world - 1, (world - 1) * 10, (world - 1) * 100, 5]);
        assert.deepStrictEqual(o.gather, Array.from({ length: world }, (_, k) => [k, k * k]));
        assert.deepStrictEqual(o.strings, Array.from({ length: world }, (_, k) => `rank ${k} says ${'x'.repeat(k)}`));
        assert.deepStrictEqual(o.numbers, [sumOf((k) => k), 0.25 * world]);
        assert.match(o.avgIntError, /op 'avg' needs floating-point tensors/);
      }
    });
  }

  it('a rank killed with SIGKILL stops the others with an error naming it, and TORCHELASTIC_ERROR_FILE gets it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-dist-'));
    const runs = await runRanks(3, RANK_SCRIPT, ['die'], { extraEnv: (r) => ({ TORCHELASTIC_ERROR_FILE: path.join(dir, `error-${r}.json`), TEST_TIMEOUT_MS: '30000' }) });
    assert.strictEqual(runs[1].signal, 'SIGKILL');
    for (const r of [0, 2]) {
      const o = runs[r].json;
      assert.ok(o && o.error, `rank ${r}: ${runs[r].stdout}\n${runs[r].stderr}`);
      assert.match(o.error, new RegExp(`allReduce failed on rank ${r} of 3: rank 1 is lost`));
      assert.ok(o.seconds < 30, `stopped after ${o.seconds} s, within the 30 s timeout`);
      const written = JSON.parse(fs.readFileSync(path.join(dir, `error-${r}.json`), 'utf8'));
      assert.match(written.message.message, /rank 1 is lost/);
      assert.match(written.message.extraInfo.timestamp, /^\d+$/);
    }
  });

  it('runs with torchrun-style variables set by hand and a store hosted elsewhere (TORCHELASTIC_USE_AGENT_STORE)', async () => {
    const port = await freePort();
    const agent = spawn(process.execPath, [RANK_SCRIPT, 'agent', String(port), '60000'], { env: { ...process.env, ...Object.fromEntries(Object.keys(CLEAR).map((k) => [k, ''])) }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve, reject) => {
        agent.stdout.on('data', (d) => String(d).includes('ready') && resolve());
        agent.on('exit', (code) => reject(new Error(`the agent exited with ${code}`)));
      });
      const runs = await runRanks(2, RANK_SCRIPT, ['collectives'], { port, extraEnv: () => ({ TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '1' }) });
      for (const [r, run] of runs.entries()) {
        assert.strictEqual(run.code, 0, `rank ${r}: ${run.stdout}\n${run.stderr}`);
        assert.deepStrictEqual(run.json.sum.i64, [1, 14]);
      }
    } finally {
      agent.kill('SIGKILL');
    }
  });

  it('reads the launcher environment, Slurm as fallback, and names a malformed variable', () => {
    withEnv({ ...CLEAR, RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: '10.0.0.5', MASTER_PORT: '1234', TORCHELASTIC_USE_AGENT_STORE: 'True' }, () => {
      const e = rk.distributed.launcherEnv();
      assert.deepStrictEqual(
        { source: e.source, rank: e.rank, worldSize: e.worldSize, localRank: e.localRank, localWorldSize: e.localWorldSize, masterAddr: e.masterAddr, masterPort: e.masterPort, agentStore: e.agentStore },
        { source: 'torchrun', rank: 1, worldSize: 4, localRank: 1, localWorldSize: 2, masterAddr: '10.0.0.5', masterPort: 1234, agentStore: true },
      );
    });
    withEnv({ ...CLEAR, SLURM_PROCID: '3', SLURM_NTASKS: '8', SLURM_LOCALID: '1', SLURM_NTASKS_PER_NODE: '4(x2)' }, () => {
      const e = rk.distributed.launcherEnv();
      assert.deepStrictEqual([e.source, e.rank, e.worldSize, e.localRank, e.localWorldSize, e.masterPort], ['slurm', 3, 8, 1, 4, 29500]);
    });
    withEnv(CLEAR, () => assert.strictEqual(rk.distributed.launcherEnv(), null));
    withEnv({ ...CLEAR, RANK: 'one', WORLD_SIZE: '2' }, () => assert.throws(() => rk.distributed.launcherEnv(), /RANK=one is not valid: expected an integer/));
    withEnv({ ...CLEAR, RANK: '2', WORLD_SIZE: '2' }, () => assert.throws(() => rk.distributed.launcherEnv(), /RANK=2 is not valid: it must be below WORLD_SIZE=2/));
    withEnv({ ...CLEAR, RANK: '0' }, () => assert.throws(() => rk.distributed.launcherEnv(), /RANK and WORLD_SIZE must be set together/));
    withEnv({ ...CLEAR, RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '70000' }, () => assert.throws(() => rk.distributed.launcherEnv(), /MASTER_PORT=70000 is not valid/));
    withEnv({ ...CLEAR, RANK: '0', WORLD_SIZE: '2', REVIEWKD_DIST_TIMEOUT: 'soon' }, () => assert.throws(() => rk.distributed.launcherEnv(), /REVIEWKD_DIST_TIMEOUT=soon is not valid/));
    withEnv({ ...CLEAR, RANK: '0', WORLD_SIZE: '2', TORCHELASTIC_USE_AGENT_STORE: 'maybe' }, () => assert.throws(() => rk.distributed.launcherEnv(), /TORCHELASTIC_USE_AGENT_STORE=maybe is not valid/));
  });

  it('init refuses bad options and a missing launcher with clear errors', async () => {
    await withEnv(CLEAR, () => assert.rejects(rk.distributed.init(), /no launcher environment .* --nproc N/));
    await assert.rejects(rk.distributed.init({ rank: 2, worldSize: 2 }), /option 'rank' must be an integer in \[0, 1\]; got a number \(2\)/);
    await assert.rejects(rk.distributed.init({ rank: 0, worldSize: 2, backend: 'mpi' }), /option 'backend' must be 'auto', 'gloo' or 'nccl'/);
    await assert.rejects(rk.distributed.init({ rank: 0, worldSize: 2, masterPort: 0 }), /option 'masterPort' must be an integer in \[1, 65535\]/);
    await assert.rejects(rk.distributed.init({ rank: 0, worldSize: 2, bogus: 1 }), /unknown option 'bogus'/);
    // Without a GPU a 'cuda' group is refused at once, before any rendezvous: the CPU build has no NCCL at all;
    // the CUDA variant has it but no usable device, and says why (a rank 0 waiting for peers would hang).
    if (!rk.cuda.isAvailable()) {
      const why = rk.info().libtorch.variant === 'cuda' ? /backend 'nccl' needs a CUDA device, and CUDA cannot be used here \(.+\); use device 'cpu'/ : /backend 'nccl' is not in this build/;
      await assert.rejects(rk.distributed.init({ rank: 0, worldSize: 2, device: 'cuda', timeoutMs: 5000 }), why);
    }
  });

  it('a one-rank group: identity collectives, and bad arguments throw errors (never a crash)', async () => {
    const pg = await rk.distributed.init({ rank: 0, worldSize: 1, masterPort: await freePort(), timeoutMs: 10000 });
    try {
      assert.deepStrictEqual([pg.rank, pg.worldSize, pg.localRank, pg.localWorldSize, pg.backend, pg.isMain, pg.timeoutMs], [0, 1, 0, 1, 'gloo', true, 10000]);
      const t = rk.tensor([1.5, -2], { dtype: 'float32' });
      await pg.allReduce(t, 'avg');
      assert.deepStrictEqual(Array.from(t.toArray()), [1.5, -2]);
      await assert.rejects(async () => pg.allReduce([]), /ProcessGroup.allReduce: no tensors given/);
      await assert.rejects(async () => pg.allReduce('x'), (e) => e instanceof TypeError && /argument 'tensors' must be a Tensor/.test(e.message));
      await assert.rejects(async () => pg.allReduce(t, 'median'), (e) => e instanceof RangeError && /op.*must be 'sum', 'avg', 'max', 'min' or 'product'; got 'median'/.test(e.message));
      await assert.rejects(async () => pg.broadcast(t, 1), (e) => e instanceof RangeError && /root/.test(e.message));
      await assert.rejects(async () => pg.allReduceNumbers(['1']), TypeError);
      const n = pg.handle;
      assert.throws(() => new n.constructor(), (e) => e instanceof TypeError && /cannot be constructed directly/.test(e.message));
      const rankGetter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(n), 'rank').get;
      assert.throws(() => rankGetter.call({}), Error);
      assert.throws(() => rankGetter.call(t.handle), (e) => e instanceof TypeError && /receiver is not a NativeProcessGroup/.test(e.message));
      const { native } = require('../dist/native');
      assert.throws(() => native().createProcessGroup(null), TypeError);
      assert.throws(() => native().createProcessGroup({ rank: 0 }), /worldSize' is required/);
      assert.throws(() => native().createProcessGroup({ rank: 3, worldSize: 2 }), RangeError);
    } finally {
      pg.destroy();
    }
    assert.strictEqual(pg.destroyed, true);
    await assert.rejects(async () => pg.allReduce(rk.tensor([1])), /the process group was destroyed/);
    await assert.rejects(async () => pg.barrier(), /the process group was destroyed/);
  });

  it('a port in use and an unreachable master give clear errors', async () => {
    const server = net.createServer();
    const port = await new Promise((resolve) => server.listen(0, () => resolve(server.address().port)));
    try {
      await assert.rejects(rk.distributed.init({ rank: 0, worldSize: 2, masterPort: port, timeoutMs: 3000 }), new RegExp(`port ${port} is already in use on this machine.*Choose a free MASTER_PORT`));
    } finally {
      server.close();
    }
    const free = await freePort();
    const started = Date.now();
    await assert.rejects(rk.distributed.init({ rank: 1, worldSize: 2, masterPort: free, timeoutMs: 1500 }), new RegExp(`could not reach the store at 127.0.0.1:${free} within 1.5 s`));
    assert.ok(Date.now() - started < 20000);
  });
});

module.exports = { rankEnv };
