// How Trainer.fit and evaluate consume an ImageStream: the fit loop still draws sample indices from its
// sampler (a BatchSampler, or a data-parallel rank's ShardedBatchSampler), so resume and checkpoints work
// unchanged; the feeder below wraps that sampler, tells a Prefetcher which batches come next, and the step
// takes the decoded batch for its indices.
import { BatchSampler, type ImageStream, type StreamBatch } from '../data';
import { Prefetcher } from '../data/prefetch';
import { noGrad, tensor, type Tensor } from '../tensor';
import type { EvalSums } from './binding';

/** A sampler that yields `inner`'s batches and starts decoding them ahead of the steps. */
export class StreamFeeder extends BatchSampler {
  private ahead: Prefetcher<Int32Array, StreamBatch> | null = null;

  constructor(
    private readonly stream: ImageStream,
    private readonly inner: BatchSampler,
    private readonly depth: number,
  ) {
    super(inner.count, { batchSize: inner.batchSize, shuffle: inner.shuffle, seed: inner.seed, dropLast: inner.dropLast });
    if (inner.count !== stream.count) throw new RangeError(`StreamFeeder: the sampler draws from ${inner.count} samples but the stream has ${stream.count}`);
  }

  override *batches(epoch: number, from = 0): IterableIterator<Int32Array> {
    this.ahead?.close();
    this.ahead = new Prefetcher(this.inner.batches(epoch, from), (ix: Int32Array) => this.stream.loadBatch(ix, { epoch, seed: this.seed }), this.depth);
    for (const b of this.inner.batches(epoch, from)) yield b;
    this.stream.warnSkipped();
  }

  /** The decoded batch for `indices` (the loop's next batch; batches it skipped are dropped). */
  async take(indices: Int32Array): Promise<StreamBatch> {
    const same = (a: Int32Array | undefined) => !!a && a.length === indices.length && a.every((v, k) => v === indices[k]);
    while (this.ahead && this.ahead.peekKey() !== undefined && !same(this.ahead.peekKey())) await this.ahead.next().catch(() => null);
    const item = this.ahead ? await this.ahead.next() : null;
    // Not the loop's sequence (a caller drew batches by hand): decode this one now.
    return item ? item.value : this.stream.loadBatch(indices, { epoch: 0, seed: this.seed });
  }

  /** Stops reading ahead (end of fit). */
  close(): void {
    this.ahead?.close();
    this.ahead = null;
  }
}

/** A decoded batch as tensors: images uint8 [N, 3, H, W] (a permuted view of the HWC buffer), labels int64 [N]. */
export function batchTensors(b: StreamBatch): { images: Tensor; labels: Tensor } {
  return noGrad(() => {
    const hwc = tensor(b.images, { shape: [b.count, b.size, b.size, 3], dtype: 'uint8' });
    const images = hwc.permute([0, 3, 1, 2]);
    hwc.dispose();
    return { images, labels: tensor(b.labels, { dtype: 'int64' }) };
  });
}


/**
 * Evaluates a stream chunk by chunk (decoding `depth` chunks ahead) and sums the results: all samples in
 * index order, or only `samples` (a data-parallel rank's part).
 */
export async function evaluateStream(
  stream: ImageStream,
  batchSize: number,
  depth: number,
  evalChunk: (images: Tensor, labels: Tensor) => Promise<EvalSums>,
  samples?: Int32Array,
): Promise<EvalSums> {
  const sums: EvalSums = { lossSum: 0, top1: 0, top5: 0, count: 0, classCorrect: new Array(stream.numClasses).fill(0), classCount: new Array(stream.numClasses).fill(0) };
  const order = samples ?? stream.order(0, { shuffle: false });
  function* chunks() {
    for (let s = 0; s < order.length; s += batchSize) yield order.subarray(s, Math.min(order.length, s + batchSize));
  }
  const ahead = new Prefetcher(chunks(), (ix: Int32Array) => stream.loadBatch(ix), depth);
  try {
    for (;;) {
      const item = await ahead.next();
      if (!item) break;
      if (item.value.count === 0) continue;
      const t = batchTensors(item.value);
      try {
        const r = await evalChunk(t.images, t.labels);
        sums.lossSum += r.lossSum;
        sums.top1 += r.top1;
        sums.top5 += r.top5;
        sums.count += r.count;
        r.classCorrect.forEach((v, i) => (sums.classCorrect[i] += v));
        r.classCount.forEach((v, i) => (sums.classCount[i] += v));
      } finally {
        t.images.dispose();
        t.labels.dispose();
      }
    }
    stream.warnSkipped();
  } finally {
    ahead.close();
  }
  return sums;
}
