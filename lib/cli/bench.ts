// `reviewkd bench`: throughput of the distillation step, the student alone and the teacher forward, per
// pair, on synthetic data (rk.bench.runBench).
import { BENCH_PAIRS, runBench, type BenchResult } from '../bench';
import type { Device } from '../dtype';
import { setNumThreads } from '../runtime';
import { METHODS, type Method } from '../train/trainer';
import { checkDevice } from './device';
import { formatDistributedBench, runDistributedBench } from './bench-distributed';
import { UsageError, suggest, type CommandSpec, parseOrHelp, THREADS_OPTION } from './args';

/** The spec of `reviewkd bench`. */
export const spec: CommandSpec = {
  name: 'bench',
  summary: 'Measure images/s of the distillation step, the student alone and the teacher forward (synthetic data).',
  usage: 'reviewkd bench [--device cpu|cuda] [--pair teacher-student[,..]] [--batch n[,..]] [--json]',
  options: [
    { name: 'device', type: 'string', arg: 'cpu|cuda|cuda:N', help: 'device (default cpu)' },
    { name: 'pair', type: 'string', arg: 'a-b[,c-d]', help: `pairs, comma-separated (default: the CIFAR ones); known: ${Object.keys(BENCH_PAIRS).join(', ')}` },
    { name: 'batch', type: 'numbers', min: 2, help: 'batch sizes, comma-separated (default 64 on cpu, 128 on cuda)' },
    { name: 'steps', type: 'int', min: 1, max: 100000, help: 'steps per timing (default 8)' },
    { name: 'repeats', type: 'int', min: 1, max: 1000, help: 'timed repetitions, median reported (default 3)' },
    { name: 'method', type: 'string', choices: METHODS.filter((m) => m !== 'vanilla'), help: 'distillation method (default reviewkd)' },
    { name: 'channels-last', type: 'boolean', help: 'channels-last memory format' },
    { name: 'autocast', type: 'string', choices: ['bf16'], help: 'mixed precision' },
    THREADS_OPTION,
    { name: 'json', type: 'boolean', help: 'print the report as JSON' },
    { name: 'nproc', type: 'int', min: 1, max: 64, help: 'data-parallel: step img/s at world size 1 and n on this machine (1 thread per rank) and the all-reduce time per step' },
  ],
  examples: ['reviewkd bench --pair resnet56-resnet20 --batch 64', 'reviewkd bench --device cuda --batch 128,256 --json'],
};

/** Runs `reviewkd bench`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const device = (v.device as string | undefined) ?? 'cpu';
  checkDevice(device);
  const pairs = typeof v.pair === 'string' ? v.pair.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  for (const p of pairs ?? []) {
    if (!BENCH_PAIRS[p]) throw new UsageError(`option --pair: unknown pair '${p}'${suggest(p, Object.keys(BENCH_PAIRS))}; known: ${Object.keys(BENCH_PAIRS).join(', ')}`);
  }
  const batches = v.batch as number[] | undefined;
  if (batches?.some((b) => !Number.isInteger(b))) throw new UsageError(`option --batch must list whole numbers; got ${batches.join(',')}`);
  if (typeof v.threads === 'number') setNumThreads(v.threads);
  if (typeof v.nproc === 'number') {
    const rows = await runDistributedBench({ nproc: v.nproc, ...(batches ? { batch: batches[0] } : {}), ...(v.steps !== undefined ? { steps: v.steps as number } : {}) });
    process.stdout.write(v.json ? `${JSON.stringify(rows, null, 2)}\n` : formatDistributedBench(rows));
    return 0;
  }
  const print = (r: BenchResult) => {
    if (!v.json) process.stdout.write(`${r.pair.padEnd(22)} batch ${String(r.batchSize).padStart(4)}  distill ${r.distillImagesPerSecond.toFixed(0).padStart(7)} img/s  student alone ${r.studentImagesPerSecond.toFixed(0).padStart(7)} img/s  teacher forward ${r.teacherForwardImagesPerSecond.toFixed(0).padStart(7)} img/s\n`);
  };
  const started = Date.now();
  const report = await runBench({
    device: device as Device,
    ...(pairs ? { pairs } : {}),
    ...(batches ? { batchSizes: batches } : {}),
    ...(v.steps !== undefined ? { steps: v.steps as number } : {}),
    ...(v.repeats !== undefined ? { repeats: v.repeats as number } : {}),
    ...(v.method ? { method: v.method as Method } : {}),
    ...(v.channelsLast ? { channelsLast: true } : {}),
    ...(v.autocast ? { autocast: 'bf16' as const } : {}),
    onResult: print,
    // Each timing takes seconds to minutes on a CPU: say what is being measured, on stderr so --json stays clean.
    onProgress: (what: string) => process.stderr.write(`bench: ${what} (warm-up, then ${(v.repeats as number | undefined) ?? 3} timings of ${(v.steps as number | undefined) ?? 8} steps)... ${((Date.now() - started) / 1000).toFixed(0)} s so far\n`),
  });
  if (v.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`(${report.libtorch} ${report.variant}, ${report.device}, ${report.threads} threads, method ${report.method})\n`);
  return 0;
}
