// One rank of a distributed test job (test/distributed.test.js). The scenario is argv[2]; the launcher
// variables come from the environment. Prints one JSON line with the results.
'use strict';
const rk = require('../..');

const scenario = process.argv[2];

async function collectives(pg) {
  const { rank, worldSize } = pg;
  const out = { rank, worldSize };
  const f32 = rk.tensor([rank + 1, -rank, 0.5 * rank], { dtype: 'float32' });
  const f64 = rk.tensor([1e-3 * (rank + 1), 2 ** 40 + rank], { dtype: 'float64' });
  const i64 = rk.tensor([rank, 7], { dtype: 'int64' });
  await pg.allReduce([f32, f64, i64], 'sum');
  out.sum = { f32: Array.from(f32.toArray()), f64: Array.from(f64.toArray()), i64: Array.from(i64.toArray(), Number) };
  const avg = rk.tensor([rank * 3, 1], { dtype: 'float64' });
  await pg.allReduce(avg, 'avg');
  out.avg = Array.from(avg.toArray());
  const mx = rk.tensor([rank, -rank], { dtype: 'float32' });
  await pg.allReduce(mx, 'max');
  out.max = Array.from(mx.toArray());
  const b = rk.tensor([[rank, rank * 10], [rank * 100, 5]], { dtype: 'float32' });
  await pg.broadcast(b, worldSize - 1);
  out.broadcast = Array.from(b.toArray());
  const g = await pg.allGather(rk.tensor([rank, rank * rank], { dtype: 'int32' }));
  out.gather = g.map((t) => Array.from(t.toArray()));
  out.strings = await pg.allGatherStrings(`rank ${rank} says ${'x'.repeat(rank)}`);
  out.numbers = await pg.allReduceNumbers([rank, 0.25], 'sum');
  await pg.barrier();
  try {
    await pg.allReduce(rk.tensor([1, 2], { dtype: 'int64' }), 'avg');
  } catch (e) {
    out.avgIntError = e.message;
  }
  return out;
}

async function dieDuringAllReduce(pg) {
  // Warm up, then rank 1 dies while the others enter the next collective.
  const t = rk.tensor([1], { dtype: 'float32' });
  await pg.allReduce(t);
  if (pg.rank === 1) process.kill(process.pid, 'SIGKILL');
  const started = Date.now();
  try {
    for (let i = 0; i < 1000; i++) await pg.allReduce(t);
    return { rank: pg.rank, error: null };
  } catch (e) {
    const file = rk.distributed.recordError(e);
    return { rank: pg.rank, error: e.message, seconds: (Date.now() - started) / 1000, file };
  }
}

async function agent() {
  // Hosts a store for the ranks (what torchrun's agent does), in a group of its own.
  const pg = await rk.distributed.init({ rank: 0, worldSize: 1, masterPort: Number(process.argv[3]) });
  process.stdout.write('ready\n');
  await new Promise((r) => setTimeout(r, Number(process.argv[4])));
  pg.destroy();
  return null;
}

(async () => {
  if (scenario === 'agent') return agent();
  const pg = await rk.distributed.init({ timeoutMs: Number(process.env.TEST_TIMEOUT_MS || 60000) });
  let result;
  if (scenario === 'collectives') result = await collectives(pg);
  else if (scenario === 'die') result = await dieDuringAllReduce(pg);
  else throw new Error(`unknown scenario ${scenario}`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  pg.destroy();
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ fatal: e.message })}\n`);
  process.exit(1);
});
