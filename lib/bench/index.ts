// rk.bench: throughput of the full distillation step per teacher/student pair, the student-only step,
// and the teacher forward alone (the floor), on synthetic data of the paper's input sizes. Warm-up
// first, then the median of repeated timings; the device is synchronised only at the edges of a timing
// (an epoch of `steps` steps ends with one statistics readback).
import type { ImageDataset } from '../data';
import type { Device } from '../dtype';
import { create as createModel } from '../models';
import { info } from '../runtime';
import { Trainer, type Method } from '../train';

export interface BenchPair {
  teacher: string;
  student: string;
  /** Input side (32 for CIFAR models, 224 for ImageNet models). */
  size: number;
  classes: number;
}

/** The pairs of the speed issue (and the reference timings it quotes). */
export const BENCH_PAIRS: Readonly<Record<string, BenchPair>> = Object.freeze({
  'resnet56-resnet20': { teacher: 'resnet56', student: 'resnet20', size: 32, classes: 100 },
  'wrn-40-2-wrn-16-2': { teacher: 'wrn-40-2', student: 'wrn-16-2', size: 32, classes: 100 },
  'resnet32x4-resnet8x4': { teacher: 'resnet32x4', student: 'resnet8x4', size: 32, classes: 100 },
  'resnet34-resnet18': { teacher: 'resnet34', student: 'resnet18', size: 224, classes: 1000 },
});

export interface BenchOptions {
  /** Pair names of BENCH_PAIRS (default: the CIFAR pairs). */
  pairs?: string[];
  device?: Device;
  batchSizes?: number[];
  /** Steps per timing (default 8). */
  steps?: number;
  /** Timed repetitions; the median is reported (default 3). */
  repeats?: number;
  method?: Method;
  /** Fast paths of the step (see TrainerOptions): channels-last memory format, bf16 autocast. */
  channelsLast?: boolean;
  autocast?: 'bf16' | false;
  /** CUDA only: the step replayed from a CUDA graph (TrainerOptions.cudaGraphs). */
  cudaGraphs?: boolean;
  /** Called after each measurement, e.g. to print progress. */
  onResult?: (r: BenchResult) => void;
  /** Called before each timing starts (e.g. 'resnet56-resnet20 batch 64: distillation step'), so a caller can show what it waits for. */
  onProgress?: (what: string) => void;
}

export interface BenchResult {
  pair: string;
  batchSize: number;
  /** Images per second of the full distillation step (augmentation included). */
  distillImagesPerSecond: number;
  /** Images per second of the student trained alone (vanilla step). */
  studentImagesPerSecond: number;
  /** Images per second of the teacher forward alone (no grad, eval mode). */
  teacherForwardImagesPerSecond: number;
}

export interface BenchReport {
  libtorch: string;
  variant: string;
  device: string;
  threads: number;
  method: Method;
  channelsLast: boolean;
  autocast: string;
  cudaGraphs: boolean;
  results: BenchResult[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function syntheticDataset(count: number, size: number, classes: number): ImageDataset {
  const images = new Uint8Array(count * 3 * size * size);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % classes;
  return { name: 'synthetic', images, labels, count, channels: 3, height: size, width: size, numClasses: classes, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
}

async function stepRate(trainer: Trainer, batchSize: number, steps: number, repeats: number): Promise<number> {
  const fit = () => trainer.fit({ epochs: 1, batchSize, lr: 0.01, lossWarmupEpochs: 0, statsEvery: 1_000_000, progress: 'none' });
  await fit(); // warm-up: allocator caches, oneDNN/cuDNN kernel choice
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    await fit();
    rates.push((batchSize * steps) / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return median(rates);
}

/** Runs the benchmark; see {@link BenchOptions}. */
export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const device = options.device ?? 'cpu';
  const pairs = options.pairs ?? ['resnet56-resnet20', 'wrn-40-2-wrn-16-2', 'resnet32x4-resnet8x4'];
  const batchSizes = options.batchSizes ?? [device === 'cpu' ? 64 : 128];
  const steps = options.steps ?? 8;
  const repeats = options.repeats ?? 3;
  const method = options.method ?? 'reviewkd';
  const results: BenchResult[] = [];
  for (const name of pairs) {
    const pair = BENCH_PAIRS[name];
    if (!pair) throw new RangeError(`runBench: unknown pair '${name}'; known: ${Object.keys(BENCH_PAIRS).join(', ')}`);
    for (const batchSize of batchSizes) {
      const data = syntheticDataset(batchSize * steps, pair.size, pair.classes);
      const teacher = createModel(pair.teacher, { numClasses: pair.classes });
      const student = createModel(pair.student, { numClasses: pair.classes });
      const fast = { channelsLast: options.channelsLast ?? false, autocast: options.autocast ?? false, cudaGraphs: options.cudaGraphs ?? false };
      const at = `${name} batch ${batchSize}`;
      options.onProgress?.(`${at}: ${method} distillation step`);
      const distill = await Trainer.create({ student, teacher, method, train: data, device, seed: 0, ...fast });
      const distillRate = await stepRate(distill, batchSize, steps, repeats);
      distill.dispose();
      options.onProgress?.(`${at}: student alone`);
      const alone = await Trainer.create({ student: createModel(pair.student, { numClasses: pair.classes }), train: data, device, seed: 0, ...fast });
      const studentRate = await stepRate(alone, batchSize, steps, repeats);
      alone.dispose();
      // The floor: the teacher's forward alone (eval mode, no grad), through the same native path and
      // fast-path options as the step (channels-last input, bf16 autocast), over the same batches.
      options.onProgress?.(`${at}: teacher forward`);
      const floor = await Trainer.create({ student: teacher, train: data, test: data, device, seed: 0, ...fast });
      await floor.evaluate(undefined, { batchSize }); // warm-up
      const rates: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const t0 = process.hrtime.bigint();
        await floor.evaluate(undefined, { batchSize });
        rates.push((batchSize * steps) / (Number(process.hrtime.bigint() - t0) / 1e9));
      }
      floor.dispose();
      const result: BenchResult = {
        pair: name,
        batchSize,
        distillImagesPerSecond: distillRate,
        studentImagesPerSecond: studentRate,
        teacherForwardImagesPerSecond: median(rates),
      };
      results.push(result);
      options.onResult?.(result);
      teacher.dispose();
      student.dispose();
    }
  }
  const i = info();
  return {
    libtorch: i.libtorch.version,
    variant: i.libtorch.variant,
    device,
    threads: i.threads,
    method,
    channelsLast: options.channelsLast ?? false,
    autocast: options.autocast || 'off',
    cudaGraphs: options.cudaGraphs ?? false,
    results,
  };
}

export { runPipelineBench } from './pipeline';
export type { PipelineBenchOptions, PipelineBenchReport } from './pipeline';
