// DistributedSampler semantics for data-parallel training, on the global batch: every rank walks the same
// seeded epoch order (BatchSampler, same seed on all ranks) in global batches of `batchSize` and takes its
// own contiguous, disjoint slice of each, all slices of one batch the same size. So step k trains, over all
// ranks, exactly the samples a single process takes at step k with the same batch size (the union batch),
// whatever the world size, and every rank takes the same number of steps.
import { describe } from '../checks';
import { BatchSampler, type BatchSamplerOptions } from '../data';

export class ShardedBatchSampler extends BatchSampler {
  /** This rank and the world size. */
  readonly rank: number;
  readonly worldSize: number;

  /** `options.batchSize` is the global batch; it must be a multiple of `worldSize`. */
  constructor(count: number, options: BatchSamplerOptions, rank: number, worldSize: number) {
    super(count, options);
    if (!Number.isInteger(worldSize) || worldSize < 1) throw new RangeError(`ShardedBatchSampler: argument 'worldSize' must be a positive integer; got ${describe(worldSize)}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new RangeError(`ShardedBatchSampler: argument 'rank' must be an integer in [0, ${worldSize - 1}]; got ${describe(rank)}`);
    if (this.batchSize % worldSize !== 0) {
      throw new RangeError(`the global batch size (${this.batchSize}) must be a multiple of the world size (${worldSize}): each rank takes batchSize / worldSize samples per step`);
    }
    this.rank = rank;
    this.worldSize = worldSize;
  }

  /** This rank's slice of each global batch of epoch `epoch`, from batch `from` on. */
  override *batches(epoch: number, from = 0): IterableIterator<Int32Array> {
    for (const global of super.batches(epoch, from)) {
      // A short last batch is split evenly too; its remainder (< worldSize samples) is left out.
      const per = Math.floor(global.length / this.worldSize);
      yield global.slice(this.rank * per, (this.rank + 1) * per);
    }
  }
}
