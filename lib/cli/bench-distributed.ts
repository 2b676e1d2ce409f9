// `reviewkd bench --nproc N`: data-parallel step throughput at world size 1 and N on this machine (one
// thread per rank, the same global batch), and the time the steps spend averaging gradients. Each world
// size runs as its own job of child processes (this file is also their entry point).
import { spawn } from 'child_process';
import * as net from 'net';

import { init } from '../distributed';
import { Trainer } from '../train/trainer';
import * as models from '../models';
import { manualSeed } from '../tensor';
import { setNumThreads } from '../runtime';

/** One world size's measurement (rank 0's view; img/s counts every rank's images). */
export interface DistributedBenchRow {
  worldSize: number;
  model: string;
  globalBatch: number;
  steps: number;
  imagesPerSecond: number;
  /** Milliseconds per step inside the gradient all-reduce (0 at world size 1). */
  allReduceMsPerStep: number;
  /** Parameters averaged per step. */
  parameters: number;
}

interface Job {
  model: string;
  batch: number;
  steps: number;
  warmup: number;
}

/** A rank of the benchmark: trains `warmup + steps` steps on synthetic CIFAR-shaped data. */
async function rank(job: Job): Promise<DistributedBenchRow> {
  setNumThreads(1);
  const group = await init({});
  try {
    manualSeed(0);
    const student = models.create(job.model, { numClasses: 10 });
    const count = job.batch * (job.warmup + job.steps);
    const images = new Uint8Array(count * 3 * 32 * 32);
    for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
    const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
    const trainer = await Trainer.create({
      student, train: { name: 'synthetic', images, labels, count, channels: 3, height: 32, width: 32, numClasses: 10, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, processGroup: group,
    });
    let t0 = 0;
    let taken = 0;
    await trainer.fit({
      epochs: 1, batchSize: job.batch, progress: 'none', warmupEpochs: 0, dropLast: true,
      onStep: ({ step }) => {
        if (step === job.warmup) {
          group.handle.takeGradientSeconds();
          t0 = Date.now();
        }
        taken = step;
      },
    });
    const seconds = (Date.now() - t0) / 1000;
    const steps = taken - job.warmup;
    const row: DistributedBenchRow = {
      worldSize: group.worldSize, model: job.model, globalBatch: job.batch, steps,
      imagesPerSecond: (steps * job.batch) / seconds,
      allReduceMsPerStep: group.worldSize > 1 ? (1000 * group.handle.takeGradientSeconds()) / steps : 0,
      parameters: student.numParameters(),
    };
    trainer.dispose();
    return row;
  } finally {
    group.destroy();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Runs the job on `world` local ranks; resolves to rank 0's row. */
async function runWorld(world: number, job: Job): Promise<DistributedBenchRow> {
  const port = await freePort();
  const outputs = await Promise.all(
    Array.from({ length: world }, (_, r) => new Promise<string>((resolve, reject) => {
      const env = { ...process.env, RANK: String(r), WORLD_SIZE: String(world), LOCAL_RANK: String(r), LOCAL_WORLD_SIZE: String(world), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
      const child = spawn(process.execPath, [__filename, JSON.stringify(job)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bench rank ${r} of ${world} exited with ${code}`))));
    })),
  );
  return JSON.parse(outputs[0].trim().split('\n').pop() as string) as DistributedBenchRow;
}

/** World size 1, then `nproc`: one row each. */
export async function runDistributedBench(options: { nproc: number; model?: string; batch?: number; steps?: number }): Promise<DistributedBenchRow[]> {
  const job: Job = { model: options.model ?? 'resnet20', batch: options.batch ?? 64, steps: options.steps ?? 20, warmup: 3 };
  if (job.batch % options.nproc !== 0) throw new RangeError(`the global batch (${job.batch}) must be a multiple of --nproc (${options.nproc})`);
  const rows = [await runWorld(1, job)];
  if (options.nproc > 1) rows.push(await runWorld(options.nproc, job));
  return rows;
}

/** The table `reviewkd bench --nproc` prints. */
export function formatDistributedBench(rows: DistributedBenchRow[]): string {
  const base = rows[0].imagesPerSecond;
  const lines = [`data-parallel step, ${rows[0].model} (${rows[0].parameters} parameters), global batch ${rows[0].globalBatch}, ${rows[0].steps} timed steps, 1 thread per rank`];
  lines.push('world size   img/s   speed-up   all-reduce ms/step');
  for (const r of rows) lines.push(`${String(r.worldSize).padStart(10)} ${r.imagesPerSecond.toFixed(0).padStart(7)} ${(r.imagesPerSecond / base).toFixed(2).padStart(9)}x ${r.allReduceMsPerStep.toFixed(2).padStart(20)}`);
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  rank(JSON.parse(process.argv[2]) as Job).then(
    (row) => process.stdout.write(`${JSON.stringify(row)}\n`),
    (err: Error) => {
      process.stderr.write(`reviewkd bench rank: ${err.message}\n`);
      process.exit(1);
    },
  );
}
