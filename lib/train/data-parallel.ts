// Data-parallel training of one Trainer over a process group (rk.distributed), what PyTorch's
// DistributedDataParallel does for a Python loop: the same start on every rank (parameters, buffers and
// optimizer state broadcast from rank 0, the configuration compared), a disjoint shard of each global
// batch per rank, gradients averaged by the fused step itself (native hook between backward and the
// update), one stop decision, statistics and evaluation summed over the ranks. BatchNorm statistics are
// per rank during an epoch, as in DDP, and taken from rank 0 before every evaluation and checkpoint.
import type { ProcessGroup } from '../distributed';
import { ShardedBatchSampler } from '../distributed/sampler';
import type { BatchSamplerOptions, ImageStream } from '../data';
import type { Module } from '../module';
import { Tensor } from '../tensor';
import type { EvalSums, NativeDistiller } from './binding';
import type { RunState, StepSums } from './run-state';
import { evaluateStream } from './stream-feed';

/** What the native evaluate() returns. */

/** What the trainer lends the data-parallel layer. */
export interface ParallelParts {
  distiller: NativeDistiller;
  /** The trained modules: the student, then the loss terms' modules. */
  trained: Module[];
  /** The teacher when its BatchNorm statistics change ('batch' mode), else undefined. */
  teacherWithBatchStats?: Module;
}

/**
 * The augmentation seed of a rank: its own stream (rank 0 keeps the run's seed, so a 1-rank job trains
 * exactly like a plain run). The data order keeps the run's seed on every rank.
 */
export function perRankSeed(seed: number, group: ProcessGroup | undefined): number {
  return group ? seed + group.rank * 1_000_003 : seed;
}

/** What a resumed run should know when it is or was data-parallel (undefined for plain runs). */
export function resumeNote(savedWorldSize: unknown, worldSize: number): string | undefined {
  const saved = typeof savedWorldSize === 'number' ? savedWorldSize : 1;
  if (saved === worldSize) {
    return worldSize > 1
      ? `resumed on the same world size (${worldSize}); ranks > 0 restart their augmentation streams from their seeds (only rank 0's is checkpointed), so the run is not bit-identical to an uninterrupted one`
      : undefined;
  }
  return (
    `the checkpoint was written by a job of world size ${saved}, this job has ${worldSize}: training continues at the same sample of the epoch order ` +
    '(batchSize is the global batch, unchanged) with the same weights and optimizer state; BatchNorm now sees batches of ' +
    `batchSize / ${worldSize} per rank and the augmentation streams restart from their seeds, so the run differs from an uninterrupted one`
  );
}

export class DataParallel {
  constructor(readonly group: ProcessGroup, private readonly parts: ParallelParts) {}

  /** Trainer.create's checks of option 'processGroup'. */
  static check(group: unknown): void {
    const g = group as ProcessGroup | null;
    if (typeof g !== 'object' || g === null || typeof g.allReduce !== 'function' || typeof g.rank !== 'number') {
      throw new TypeError("Trainer.create: option 'processGroup' must be a process group from rk.distributed.init()");
    }
    if (g.destroyed) throw new Error("Trainer.create: option 'processGroup' was destroyed");
  }

  get isMain(): boolean {
    return this.group.rank === 0;
  }

  /**
   * Compares what must agree on every rank (model, data, options, world size) with rank 0's and throws a
   * message listing each difference, before any rank trains.
   */
  async checkSameConfig(description: Record<string, unknown>): Promise<void> {
    const mine = JSON.stringify({ ...description, worldSize: this.group.worldSize });
    const all = (await this.group.allGatherStrings(mine)).map((s) => JSON.parse(s) as Record<string, unknown>);
    const differences: string[] = [];
    for (let r = 1; r < all.length; r++) {
      for (const key of new Set([...Object.keys(all[0]), ...Object.keys(all[r])])) {
        const a = JSON.stringify(all[0][key]);
        const b = JSON.stringify(all[r][key]);
        if (a !== b) differences.push(`${key}: rank 0 has ${a ?? 'nothing'}, rank ${r} has ${b ?? 'nothing'}`);
      }
    }
    if (differences.length > 0) {
      throw new Error(`Trainer.fit: the ranks of this data-parallel job were started with different configurations:\n  ${differences.join('\n  ')}\nStart every rank with the same command, data and options.`);
    }
  }

  /** Rank 0's parameters, buffers and momentum buffers on every rank (the start of a run or a resume). */
  async broadcastState(): Promise<void> {
    const tensors: Tensor[] = [];
    for (const m of this.parts.trained) tensors.push(...Object.values(m.namedParameters()), ...Object.values(m.namedBuffers()));
    if (this.parts.teacherWithBatchStats) tensors.push(...Object.values(this.parts.teacherWithBatchStats.namedBuffers()));
    const momentum = this.parts.distiller.momentumBuffers().filter((b): b is NonNullable<typeof b> => b !== null).map((b) => new Tensor(b));
    try {
      if (tensors.length + momentum.length > 0) await this.group.broadcast([...tensors, ...momentum], 0);
    } finally {
      for (const t of momentum) t.dispose();
    }
  }

  /** Rank 0's BatchNorm statistics on every rank (DDP's broadcast_buffers), before evaluating or saving. */
  async broadcastBuffers(): Promise<void> {
    const tensors: Tensor[] = [];
    for (const m of this.parts.trained) tensors.push(...Object.values(m.namedBuffers()));
    if (this.parts.teacherWithBatchStats) tensors.push(...Object.values(this.parts.teacherWithBatchStats.namedBuffers()));
    if (tensors.length > 0) await this.group.broadcast(tensors, 0);
  }

  /** Rank 0's run state (where a resumed run stands) on every rank. */
  async broadcastRunState(state: RunState): Promise<RunState> {
    const all = await this.group.allGatherStrings(this.isMain ? JSON.stringify(state) : '');
    return JSON.parse(all[0]) as RunState;
  }

  /** This rank's sampler: `options.batchSize` is the global batch. */
  sampler(count: number, options: BatchSamplerOptions): ShardedBatchSampler {
    const w = this.group.worldSize;
    if (options.batchSize % w !== 0 || options.batchSize / w < 2) {
      throw new RangeError(`Trainer.fit: option 'batchSize' is the global batch of a data-parallel run and must be a multiple of the world size (${w}) with at least 2 images per rank (BatchNorm); got ${options.batchSize}`);
    }
    return new ShardedBatchSampler(count, options, this.group.rank, w);
  }

  /** True on every rank when any rank wants to stop (Ctrl-C reaches ranks between different steps). */
  async agreeStop(local: boolean): Promise<boolean> {
    const [any] = await this.group.allReduceNumbers([local ? 1 : 0], 'max');
    return any > 0;
  }

  /**
   * The epoch's statistics over all ranks: losses are means of the ranks' means, correct and samples are
   * summed (so train top-1 and images/s are global); steps and skipped steps are the same on every rank.
   */
  async reduceSums(sums: StepSums): Promise<StepSums> {
    const names = Object.keys(sums.losses);
    const w = this.group.worldSize;
    const v = await this.group.allReduceNumbers([...names.map((n) => sums.losses[n]), sums.loss, sums.correct, sums.samples, sums.steps, sums.badSteps], 'sum');
    const k = names.length;
    return {
      losses: Object.fromEntries(names.map((n, i) => [n, v[i] / w])),
      loss: v[k] / w,
      correct: v[k + 1],
      samples: v[k + 2],
      steps: v[k + 3] / w,
      badSteps: v[k + 4] / w,
    };
  }

  /** This rank's contiguous part [start, end) of an evaluation set of `count` samples (empty for late ranks of tiny sets). */
  evalPart(count: number): [number, number] {
    const per = Math.ceil(count / this.group.worldSize);
    const start = Math.min(count, this.group.rank * per);
    return [start, Math.min(count, start + per)];
  }

  /** Evaluation over all ranks: each evaluates its contiguous part of the test set, the results are summed. */
  async evaluate(test: { images: Tensor; labels: Tensor }, numClasses: number): Promise<EvalSums> {
    const [start, end] = this.evalPart(test.labels.shape[0]);
    let r: EvalSums;
    if (end > start) {
      const images = test.images.slice(0, start, end);
      const labels = test.labels.slice(0, start, end);
      try {
        r = await this.parts.distiller.evaluate(images.handle, labels.handle, 256, numClasses);
      } finally {
        images.dispose();
        labels.dispose();
      }
    } else {
      r = { lossSum: 0, top1: 0, top5: 0, count: 0, classCorrect: new Array(numClasses).fill(0), classCount: new Array(numClasses).fill(0) };
    }
    return this.reduceEval(r);
  }

  /**
   * Evaluation of an image stream over all ranks, as for in-memory data: each rank decodes and evaluates
   * its contiguous part of the samples in index order (`evalChunk` runs the native evaluate on one
   * decoded chunk), the sums are combined.
   */
  async evaluateStream(stream: ImageStream, batchSize: number, evalChunk: (images: Tensor, labels: Tensor) => Promise<EvalSums>): Promise<EvalSums> {
    const [start, end] = this.evalPart(stream.count);
    const samples = new Int32Array(end - start);
    for (let k = 0; k < samples.length; k++) samples[k] = start + k;
    return this.reduceEval(await evaluateStream(stream, batchSize, stream.prefetch, evalChunk, samples));
  }

  /**
   * The fewest images any rank decoded for this step (streams leave unreadable images out): every rank
   * must run the step, whose gradient averaging is a collective, or none, so all skip it together when
   * one rank has fewer than BatchNorm needs.
   */
  async fewestImages(count: number): Promise<number> {
    const [fewest] = await this.group.allReduceNumbers([count], 'min');
    return fewest;
  }

  /** Sums a native evaluate() result over the ranks. */
  private async reduceEval(r: EvalSums): Promise<EvalSums> {
    const n = r.classCorrect.length;
    const v = await this.group.allReduceNumbers([r.lossSum, r.top1, r.top5, r.count, ...r.classCorrect, ...r.classCount], 'sum');
    return { lossSum: v[0], top1: v[1], top5: v[2], count: v[3], classCorrect: v.slice(4, 4 + n), classCount: v.slice(4 + n, 4 + 2 * n) };
  }

  /** The fused step averages its gradients over the group from now on (until detach). */
  attach(): void {
    this.parts.distiller.setProcessGroup(this.group.handle);
  }

  detach(): void {
    this.parts.distiller.setProcessGroup(null);
  }
}
