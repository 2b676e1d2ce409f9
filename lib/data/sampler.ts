// Index batches for an epoch: seeded, reproducible shuffling (epoch e's order depends only on the seed
// and e, so a resumed run need not replay earlier epochs), a batch size and a drop-last option.
import { describe, optionsOf, rejectUnknown, requireBool, requireInt } from './checks';
import { Rng } from './rng';

/** Options of {@link BatchSampler}. */
export interface BatchSamplerOptions {
  /** Indices per batch (the last batch of an epoch may be smaller unless `dropLast`). */
  batchSize: number;
  /** Shuffle every epoch (default true); false gives 0..count-1 in order. */
  shuffle?: boolean;
  /** Seed of the shuffles, a non-negative safe integer (default 0). */
  seed?: number;
  /** Drop the last, smaller batch of each epoch (default false). */
  dropLast?: boolean;
}

/** Where a {@link BatchSampler} stands, for checkpoints: the next batch is `position` of `epoch`. */
export interface SamplerState {
  /** The sampler's seed (restore refuses a state saved with another one). */
  seed: number;
  /** The epoch of the next batch. */
  epoch: number;
  /** Index of the next batch within that epoch. */
  position: number;
}

/** One batch from {@link BatchSampler.next}. */
export interface SampledBatch {
  /** The epoch this batch belongs to. */
  epoch: number;
  /** Index of this batch in its epoch. */
  position: number;
  /** Dataset indices. */
  indices: Int32Array;
}

const MAX_COUNT = 2 ** 31 - 1;

/**
 * Splits `0..count-1` into batches, shuffled per epoch with a Fisher-Yates shuffle driven by a
 * generator keyed by (seed, epoch).
 *
 * @example
 * const sampler = new rk.data.BatchSampler(50000, { batchSize: 128, seed: 1, dropLast: true });
 * for (const idx of sampler.batches(0)) { ... }           // epoch 0
 * const { indices } = sampler.next(); saveJson(sampler.state); // resumable cursor
 */
export class BatchSampler {
  /** Number of items sampled from. */
  readonly count: number;
  /** Indices per batch. */
  readonly batchSize: number;
  /** Whether each epoch is shuffled. */
  readonly shuffle: boolean;
  /** Seed of the shuffles. */
  readonly seed: number;
  /** Whether the last, smaller batch of an epoch is dropped. */
  readonly dropLast: boolean;
  private cursorEpoch = 0;
  private cursorPosition = 0;
  private cached: { epoch: number; order: Int32Array } | null = null;

  /** A sampler over `count` items; throws TypeError/RangeError for bad arguments. */
  constructor(count: number, options: BatchSamplerOptions) {
    const fn = 'BatchSampler';
    if (typeof count !== 'number' || !Number.isInteger(count)) throw new TypeError(`${fn}: argument 'count' must be an integer; got ${describe(count)}`);
    if (count < 1 || count > MAX_COUNT) throw new RangeError(`${fn}: argument 'count' must be in [1, ${MAX_COUNT}]; got ${count}`);
    if (options === undefined) throw new TypeError(`${fn}: argument 'options' is required ({ batchSize })`);
    const opts = optionsOf(fn, options);
    rejectUnknown(fn, opts, ['batchSize', 'shuffle', 'seed', 'dropLast']);
    this.count = count;
    this.batchSize = requireInt(fn, 'batchSize', opts.batchSize, 1, MAX_COUNT);
    this.shuffle = requireBool(fn, 'shuffle', opts.shuffle, true);
    this.seed = requireInt(fn, 'seed', opts.seed, 0, Number.MAX_SAFE_INTEGER, 0);
    this.dropLast = requireBool(fn, 'dropLast', opts.dropLast, false);
    if (this.dropLast && this.batchSize > count) {
      throw new RangeError(`${fn}: with dropLast, batchSize (${this.batchSize}) must not exceed count (${count}): every epoch would be empty`);
    }
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.count / this.batchSize) : Math.ceil(this.count / this.batchSize);
  }

  /** The order of all `count` indices in epoch `epoch` (a fresh array). */
  order(epoch: number): Int32Array {
    requireInt('BatchSampler.order', "argument 'epoch'", epoch, 0, Number.MAX_SAFE_INTEGER);
    return this.orderOf(epoch).slice();
  }

  private orderOf(epoch: number): Int32Array {
    if (this.cached && this.cached.epoch === epoch) return this.cached.order;
    const order = new Int32Array(this.count);
    for (let i = 0; i < this.count; i++) order[i] = i;
    if (this.shuffle) new Rng(this.seed, epoch).shuffle(order);
    this.cached = { epoch, order };
    return order;
  }

  /** The batches of epoch `epoch`, from batch `from` (default 0) on; each a fresh Int32Array. */
  *batches(epoch: number, from = 0): IterableIterator<Int32Array> {
    requireInt('BatchSampler.batches', "argument 'epoch'", epoch, 0, Number.MAX_SAFE_INTEGER);
    requireInt('BatchSampler.batches', "argument 'from'", from, 0, this.batchesPerEpoch);
    const order = this.orderOf(epoch);
    for (let b = from; b < this.batchesPerEpoch; b++) yield order.slice(b * this.batchSize, Math.min(this.count, (b + 1) * this.batchSize));
  }

  /** All batches of epoch `epoch` as an array. */
  epoch(epoch: number): Int32Array[] {
    return [...this.batches(epoch)];
  }

  /** The next batch of the built-in cursor, moving on to the next epoch after the last batch. */
  next(): SampledBatch {
    if (this.cursorPosition >= this.batchesPerEpoch) {
      this.cursorEpoch++;
      this.cursorPosition = 0;
    }
    const order = this.orderOf(this.cursorEpoch);
    const b = this.cursorPosition++;
    return { epoch: this.cursorEpoch, position: b, indices: order.slice(b * this.batchSize, Math.min(this.count, (b + 1) * this.batchSize)) };
  }

  /** The cursor's state (plain JSON), to save with a checkpoint and pass to {@link restore}. */
  get state(): SamplerState {
    return { seed: this.seed, epoch: this.cursorEpoch, position: this.cursorPosition };
  }

  /** Moves the cursor to a saved state; the seed must be this sampler's. */
  restore(state: SamplerState): void {
    const fn = 'BatchSampler.restore';
    if (typeof state !== 'object' || state === null) throw new TypeError(`${fn}: argument 'state' must be a {seed, epoch, position} object; got ${describe(state)}`);
    const s = state as unknown as Record<string, unknown>;
    if (s.seed !== this.seed) throw new RangeError(`${fn}: the state was saved with seed ${typeof s.seed === 'number' ? s.seed : describe(s.seed)}, this sampler has seed ${this.seed}`);
    const epoch = requireInt(fn, "argument 'state.epoch'", s.epoch, 0, Number.MAX_SAFE_INTEGER);
    const position = requireInt(fn, "argument 'state.position'", s.position, 0, this.batchesPerEpoch);
    this.cursorEpoch = epoch;
    this.cursorPosition = position;
  }
}
