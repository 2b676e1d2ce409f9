// `reviewkd bench --data DIR`: the input pipeline alone (decode + random-resized crop + flip to uint8
// batches, images/s), and the training step fed by it against the same step on synthetic in-memory
// input, so a user sees whether decoding keeps up with the step on their machine.
import * as fs from 'fs';
import * as path from 'path';

import { openImageStream, type ImageDataset, type ImageStream } from '../data';
import type { Device } from '../dtype';
import { create as createModel } from '../models';
import { info } from '../runtime';
import { Trainer } from '../train/trainer';
import { BENCH_PAIRS } from './index';

/** Options of {@link runPipelineBench}. */
export interface PipelineBenchOptions {
  /** An image folder (`<class>/<image>`), an ILSVRC root (its train/ is used) or a folder of tar shards. */
  data: string;
  /** Images decoded at once (default 8; libuv's thread pool, UV_THREADPOOL_SIZE, bounds the real parallelism). */
  workers?: number;
  /** Batch size of the pipeline timing (default 64, or half the images when there are fewer than 128). */
  batchSize?: number;
  /** At most this many images in the pipeline timing (default: all, up to 2,000). */
  images?: number;
  /** Output side (default 224). */
  size?: number;
  /** Who decodes the JPEGs (the stream's `decoder` option; default 'auto'). */
  decoder?: 'auto' | 'libjpeg' | 'sharp';
  /** Also time the training step fed by the pipeline vs synthetic input, for this pair of BENCH_PAIRS (default 'resnet34-resnet18'); null skips it. */
  pair?: string | null;
  /** Batch size of the step timing (default 32). */
  stepBatchSize?: number;
  /** Timed steps (default 4, after one warm-up step). */
  steps?: number;
  device?: Device;
  onProgress?: (what: string) => void;
}

/** What {@link runPipelineBench} measured. */
export interface PipelineBenchReport {
  data: string;
  /** Images timed (after the first batch, which is decoded but not timed). */
  images: number;
  workers: number;
  batchSize: number;
  size: number;
  /** Who decoded the JPEGs: 'libjpeg' (the addon's crop-only libjpeg-turbo decoder) or 'sharp'. */
  decoder: 'libjpeg' | 'sharp';
  /** Steady-state images/s of decode + crop + flip to uint8 batches (the first batch, with its start-up, excluded). */
  pipelineImagesPerSecond: number;
  /**
   * CPU time of the process (every thread: the event loop and the decoder's pool) per image decoded, in ms,
   * the first batch included: a measure that holds on a machine shared with other work, where img/s does not.
   */
  cpuMsPerImage: number;
  threads: number;
  step?: {
    pair: string;
    batchSize: number;
    steps: number;
    /** Images/s of the distillation step fed by the pipeline (decoding overlapping the steps). */
    pipelineImagesPerSecond: number;
    /** Images/s of the same step on synthetic uint8 input already in memory. */
    syntheticImagesPerSecond: number;
    /** pipeline / synthetic. */
    ratio: number;
  };
}

/** The folder to stream: DIR/train when DIR is an ILSVRC root, else DIR. */
function trainFolder(dir: string): string {
  const t = path.join(dir, 'train');
  return fs.existsSync(t) && fs.statSync(t).isDirectory() ? t : dir;
}

/** Images/s of `steps` distillation steps (after one warm-up step) on `train`. */
async function stepRate(train: ImageDataset | ImageStream, pair: string, batchSize: number, steps: number, device: Device): Promise<number> {
  const p = BENCH_PAIRS[pair];
  const classes = train.numClasses;
  const trainer = await Trainer.create({
    student: createModel(p.student, { numClasses: classes }),
    teacher: createModel(p.teacher, { numClasses: classes }),
    method: 'reviewkd',
    train,
    device,
    augment: false,
    seed: 0,
  });
  try {
    let t0 = 0n;
    let taken = 0;
    const ctl = new AbortController();
    await trainer.fit({
      epochs: 1, batchSize, lr: 0.01, lossWarmupEpochs: 0, statsEvery: 1_000_000, progress: 'none', signal: ctl.signal,
      onStep: () => {
        if (taken === 0) t0 = process.hrtime.bigint(); // after the warm-up step
        if (taken++ === steps) ctl.abort();
      },
    });
    if (taken <= steps) throw new RangeError(`bench: the data has too few images for ${steps + 1} steps of batch ${batchSize}`);
    return (batchSize * steps) / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    trainer.dispose();
  }
}

/**
 * Times the input pipeline alone and, unless `pair: null`, the distillation step fed by it vs synthetic input.
 * @example const r = await rk.bench.runPipelineBench({ data: 'imagenet', pair: null }); // r.pipelineImagesPerSecond
 */
export async function runPipelineBench(options: PipelineBenchOptions): Promise<PipelineBenchReport> {
  if (typeof options !== 'object' || options === null || typeof options.data !== 'string') throw new TypeError("runPipelineBench: option 'data' (a folder) is required");
  const dir = trainFolder(options.data);
  const workers = options.workers ?? 8;
  const size = options.size ?? 224;
  const device = options.device ?? 'cpu';
  const stream = await openImageStream(dir, { size, concurrency: workers, ...(options.decoder ? { decoder: options.decoder } : {}) });
  const images = Math.min(stream.count, options.images ?? 2000);
  // Two batches at least: the first one (start-up) is not timed.
  const batchSize = options.batchSize ?? Math.max(1, Math.min(64, Math.floor(images / 2)));
  if (images < 2 * batchSize) throw new RangeError(`runPipelineBench: '${dir}' has ${stream.count} images; the timing needs at least 2 batches of ${batchSize}`);
  options.onProgress?.(`input pipeline: ${images} images of ${dir}, batch ${batchSize}, ${workers} at once, decoded by ${stream.decoder}`);
  let seen = 0;
  let decoded = 0;
  let first = 0n;
  const cpu0 = process.cpuUsage();
  for await (const b of stream.batches({ batchSize, epoch: 0 })) {
    decoded += b.count;
    if (first === 0n) first = process.hrtime.bigint();
    else seen += b.count;
    if (seen + batchSize > images) break;
  }
  const pipelineImagesPerSecond = seen / (Number(process.hrtime.bigint() - first) / 1e9);
  const cpu = process.cpuUsage(cpu0);
  const cpuMsPerImage = (cpu.user + cpu.system) / 1000 / Math.max(1, decoded);
  const report: PipelineBenchReport = { data: dir, images: seen, workers, batchSize, size, decoder: stream.decoder, pipelineImagesPerSecond, cpuMsPerImage, threads: info().threads };
  const pair = options.pair === undefined ? 'resnet34-resnet18' : options.pair;
  if (pair !== null) {
    if (!BENCH_PAIRS[pair]) throw new RangeError(`runPipelineBench: unknown pair '${pair}'; known: ${Object.keys(BENCH_PAIRS).join(', ')}`);
    const sb = options.stepBatchSize ?? 32;
    const steps = options.steps ?? 4;
    options.onProgress?.(`${pair} step fed by the pipeline, batch ${sb}, ${steps} steps`);
    const fed = await stepRate(stream, pair, sb, steps, device);
    options.onProgress?.(`${pair} step on synthetic input, batch ${sb}, ${steps} steps`);
    const n = sb * (steps + 1);
    const px = new Uint8Array(n * 3 * size * size);
    for (let i = 0; i < px.length; i++) px[i] = (i * 2654435761) >>> 24;
    const labels = new Int32Array(n).map((_, i) => i % stream.numClasses);
    const synthetic: ImageDataset = { name: 'synthetic', images: px, labels, count: n, channels: 3, height: size, width: size, numClasses: stream.numClasses, mean: stream.mean, std: stream.std };
    const syn = await stepRate(synthetic, pair, sb, steps, device);
    report.step = { pair, batchSize: sb, steps, pipelineImagesPerSecond: fed, syntheticImagesPerSecond: syn, ratio: fed / syn };
  }
  return report;
}
