// `reviewkd bench`: throughput of the distillation step, the student alone and the teacher forward, per
// pair, on synthetic data (rk.bench.runBench); with --data, the input pipeline on an image folder and the
// step fed by it vs synthetic input (rk.bench.runPipelineBench).
import { BENCH_PAIRS, runBench, runPipelineBench, type BenchResult } from '../bench';
import type { Device } from '../dtype';
import { setNumThreads } from '../runtime';
import { METHODS, type Method } from '../train/trainer';
import { checkDevice } from './device';
import { formatDistributedBench, runDistributedBench } from './bench-distributed';
import { UsageError, suggest, type CommandSpec, parseOrHelp, THREADS_OPTION } from './args';

/** The spec of `reviewkd bench`. */
export const spec: CommandSpec = {
  name: 'bench',
  summary: 'Measure images/s of the distillation step, the student alone and the teacher forward (synthetic data), or of the input pipeline (--data).',
  usage: 'reviewkd bench [--device cpu|cuda] [--pair teacher-student[,..]] [--batch n[,..]] [--json]\n       reviewkd bench --data DIR [--workers N] [--json]',
  options: [
    { name: 'device', type: 'string', arg: 'cpu|cuda|cuda:N', help: 'device (default cpu)' },
    { name: 'pair', type: 'string', arg: 'a-b[,c-d]', help: `pairs, comma-separated (default: the CIFAR ones); known: ${Object.keys(BENCH_PAIRS).join(', ')}` },
    { name: 'batch', type: 'numbers', min: 2, help: 'batch sizes, comma-separated (default 64 on cpu, 128 on cuda)' },
    { name: 'steps', type: 'int', min: 1, max: 100000, help: 'steps per timing (default 8)' },
    { name: 'repeats', type: 'int', min: 1, max: 1000, help: 'timed repetitions, median reported (default 3)' },
    { name: 'method', type: 'string', choices: METHODS.filter((m) => m !== 'vanilla'), help: 'distillation method (default reviewkd)' },
    { name: 'channels-last', type: 'boolean', help: 'channels-last memory format' },
    { name: 'autocast', type: 'string', choices: ['bf16'], help: 'mixed precision' },
    { name: 'cuda-graphs', type: 'boolean', help: 'CUDA only: replay the step from a CUDA graph' },
    THREADS_OPTION,
    { name: 'data', type: 'string', arg: 'DIR', help: 'time the input pipeline on this image folder (an ILSVRC root uses train/) and the step fed by it vs synthetic input' },
    { name: 'workers', type: 'int', min: 1, max: 256, help: 'with --data: images decoded at once (default 8)' },
    { name: 'images', type: 'int', min: 2, max: 10000000, help: 'with --data: at most this many images in the pipeline timing (default 2000)' },
    { name: 'no-step', type: 'boolean', help: 'with --data: time the pipeline only' },
    { name: 'json', type: 'boolean', help: 'print the report as JSON' },
    { name: 'nproc', type: 'int', min: 1, max: 64, help: 'data-parallel: step img/s at world size 1 and n on this machine (1 thread per rank) and the all-reduce time per step' },
  ],
  examples: ['reviewkd bench --pair resnet56-resnet20 --batch 64', 'reviewkd bench --device cuda --batch 128,256 --json', 'reviewkd bench --data imagenet --workers 8'],
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
  if (typeof v.data === 'string') return pipelineMain(v, device as Device, pairs);
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
    ...(v.cudaGraphs ? { cudaGraphs: true } : {}),
    onResult: print,
    // Each timing takes seconds to minutes on a CPU: say what is being measured, on stderr so --json stays clean.
    onProgress: (what: string) => process.stderr.write(`bench: ${what} (warm-up, then ${(v.repeats as number | undefined) ?? 3} timings of ${(v.steps as number | undefined) ?? 8} steps)... ${((Date.now() - started) / 1000).toFixed(0)} s so far\n`),
  });
  if (v.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`(${report.libtorch} ${report.variant}, ${report.device}, ${report.threads} threads, method ${report.method})\n`);
  return 0;
}

/** `reviewkd bench --data DIR`: the input pipeline alone, then the step fed by it vs synthetic input. */
async function pipelineMain(v: Record<string, unknown>, device: Device, pairs: string[] | undefined): Promise<number> {
  const started = Date.now();
  const batches = v.batch as number[] | undefined;
  if (pairs && pairs.length > 1) throw new UsageError('option --pair: give one pair with --data');
  const r = await runPipelineBench({
    data: v.data as string,
    device,
    ...(v.workers !== undefined ? { workers: v.workers as number } : {}),
    ...(v.images !== undefined ? { images: v.images as number } : {}),
    ...(v.noStep ? { pair: null } : pairs ? { pair: pairs[0] } : {}),
    ...(batches ? { stepBatchSize: batches[0] } : {}),
    ...(v.steps !== undefined ? { steps: v.steps as number } : {}),
    onProgress: (what) => process.stderr.write(`bench: ${what}... ${((Date.now() - started) / 1000).toFixed(0)} s so far\n`),
  });
  if (v.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`input pipeline (decode + random-resized crop ${r.size} + flip, uint8): ${r.pipelineImagesPerSecond.toFixed(0)} img/s over ${r.images} images, batch ${r.batchSize}, ${r.workers} at once, JPEGs decoded by ${r.decoder === 'libjpeg' ? 'libjpeg-turbo (the addon)' : 'sharp'}\n`);
  if (r.step) {
    const s = r.step;
    process.stdout.write(`${s.pair} distillation step, batch ${s.batchSize}: fed by the pipeline ${s.pipelineImagesPerSecond.toFixed(1)} img/s, synthetic input ${s.syntheticImagesPerSecond.toFixed(1)} img/s (${(100 * s.ratio).toFixed(0)} %)\n`);
  }
  return 0;
}
