// Image data larger than memory: a stream over an image folder or tar shards that decodes each batch
// when it is needed (a bounded number ahead), crops on the original picture (torchvision's
// RandomResizedCrop + flip for training, Resize + CenterCrop for evaluation) and hands uint8 batches to
// the trainer, which normalises them on the device. Order and crops are functions of (seed, epoch,
// index) alone, so a run resumed mid-epoch sees exactly the batches it would have seen.
import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';

import { describe, optionalStringList, optionsOf, rejectUnknown, requireBool, requireChoice, requireInt } from './checks';
import { centerPlan, cropPlan, randomResizedCrop, DEFAULT_CROP_RANGES, type CropRanges } from './crop';
import { checkClassNames } from './dataset';
import { DataFormatError } from './errors';
import { decodeImage, loadDecoder } from './image-decoder';
import { indexImages, type ImageIndex } from './image-index';
import { decodeJpegInto, isJpeg, jpegDecoder } from './jpeg-decoder';
import { Prefetcher } from './prefetch';
import { Rng } from './rng';

/** ImageNet's per-channel mean in [0, 1] units (torchvision's reference training scripts). */
export const IMAGENET_MEAN: readonly number[] = Object.freeze([0.485, 0.456, 0.406]);
/** ImageNet's per-channel std, see {@link IMAGENET_MEAN}. */
export const IMAGENET_STD: readonly number[] = Object.freeze([0.229, 0.224, 0.225]);

/** Options of {@link openImageStream}. */
export interface ImageStreamOptions {
  /** 'train' (default): random-resized crop + horizontal flip. 'eval': resize the shorter side, centre crop. */
  transform?: 'train' | 'eval';
  /** Side of the square output in pixels (default 224). */
  size?: number;
  /** 'eval': the shorter side before the centre crop (default round(size * 256 / 224), 256 at 224). */
  resize?: number;
  /** 'train': area fraction range of the crop (default [0.08, 1]). */
  scale?: [number, number];
  /** 'train': aspect-ratio range of the crop (default [3/4, 4/3]). */
  ratio?: [number, number];
  /** 'train': random horizontal flip (default true). */
  flip?: boolean;
  /** The class list saved with a model: an image folder's class folders must match it exactly. */
  classNames?: string[];
  /** Per-channel mean and std in [0, 1] units for the device-side normalisation (default ImageNet's). */
  mean?: number[];
  std?: number[];
  /** An unreadable image (truncated, not an image): 'skip' (default; counted and named in one warning line per epoch) or 'fail' (throw). */
  onBadImage?: 'skip' | 'fail';
  /** Images decoded at once (default 8; libuv's thread pool, UV_THREADPOOL_SIZE, bounds the real parallelism). */
  concurrency?: number;
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** Keep the sample list in a cache file beside the data or in the cache folder (default true). */
  indexCache?: boolean;
  /** Where the one-line warnings about skipped images go (default: stderr, prefixed 'reviewkd: '). */
  onWarning?: (line: string) => void;
  /**
   * Who decodes JPEGs: 'auto' (default: the addon's crop-only libjpeg-turbo decoder when it loaded, else
   * sharp), 'libjpeg' (the addon's; throws naming why when it is unavailable) or 'sharp'. PNGs always
   * go to sharp. rk.data.jpegDecoder() says whether the addon's decoder is available and why not.
   */
  decoder?: 'auto' | 'libjpeg' | 'sharp';
}

/** A decoded batch: `count` images of `size`x`size` RGB, uint8, HWC (N*H*W*3), and their labels. */
export interface StreamBatch {
  images: Uint8Array;
  labels: Int32Array;
  /** The sample indices of the images (skipped ones left out). */
  indices: Int32Array;
  count: number;
  size: number;
}

/** Options of {@link ImageStream.batches}. */
export interface StreamBatchesOptions {
  batchSize: number;
  /** 0-based epoch: keys the shuffle and the crops (default 0). */
  epoch?: number;
  /** Seed of the order and the crops (default 0). */
  seed?: number;
  /** Shuffle the order (default: true for 'train' streams, false for 'eval'). */
  shuffle?: boolean;
  /** Start at this batch of the epoch (resume; default 0). */
  from?: number;
  /** Drop the last, smaller batch (default false). */
  dropLast?: boolean;
  /**
   * Data-parallel ranks: rank `rank` of `worldSize` reads positions rank, rank+worldSize, ... of the
   * epoch's order (disjoint parts, padded by wrapping so every rank has as many batches). Default 0 of 1.
   */
  rank?: number;
  worldSize?: number;
}

const defaultWarning = (line: string) => {
  process.stderr.write(`reviewkd: ${line}\n`);
};

/**
 * A stream of labelled images read from disk batch by batch (see {@link openImageStream}). It has the
 * shape fields of an in-memory dataset (count, channels, height, width, numClasses, classNames, mean,
 * std) so `Trainer.create({train, test})` takes it in place of one.
 */
export class ImageStream {
  /** Tells a stream from an in-memory {@link ImageDataset}. */
  readonly kind = 'image-stream' as const;
  readonly channels = 3;
  readonly height: number;
  readonly width: number;
  readonly count: number;
  readonly numClasses: number;
  readonly classNames?: string[];
  readonly mean: number[];
  readonly std: number[];
  /** Per-sample labels (index order). */
  readonly labels: Int32Array;
  private readonly bad = new Map<number, string>();
  private reported = 0;
  private digest: string | undefined;

  private constructor(
    /** The folder or shard folder's name. */
    readonly name: string,
    private readonly index: ImageIndex,
    private readonly opts: Required<Omit<ImageStreamOptions, 'classNames' | 'mean' | 'std' | 'scale' | 'ratio' | 'decoder'>> & { ranges: CropRanges; decoder: 'libjpeg' | 'sharp' },
    mean: number[],
    std: number[],
  ) {
    this.height = opts.size;
    this.width = opts.size;
    this.count = index.labels.length;
    this.labels = index.labels;
    this.numClasses = index.numClasses;
    if (index.classNames) this.classNames = index.classNames;
    this.mean = mean;
    this.std = std;
  }

  /** 'train' or 'eval'. */
  get transform(): 'train' | 'eval' {
    return this.opts.transform;
  }

  /** Who decodes this stream's JPEGs: 'libjpeg' (the addon's crop-only decoder) or 'sharp' (PNGs always go to sharp). */
  get decoder(): 'libjpeg' | 'sharp' {
    return this.opts.decoder;
  }

  /** Batches decoded ahead of the consumer (the `prefetch` option). */
  get prefetch(): number {
    return this.opts.prefetch;
  }

  /**
   * What identifies the stream's data and transform, for comparing ranks of a data-parallel job: the
   * source's name, a digest of its sample list (relative paths or shard names and members, with labels;
   * independent of where the data is mounted, so machines may keep it at different paths), the counts
   * and every transform option that changes the decoded pixels. Not the decoder: libjpeg-turbo and sharp
   * give the same crops within a few grey levels (docs/streaming-data.md), so ranks on machines with and
   * without the addon's decoder may train together.
   */
  get identity(): Record<string, unknown> {
    if (!this.digest) {
      const ix = this.index;
      const h = createHash('sha1');
      const names = ix.kind === 'folder' ? ix.files : ix.members!.map((m, i) => `${path.basename(ix.files[ix.shardOf![i]])}:${m}`);
      for (let i = 0; i < names.length; i++) h.update(`${names[i]}\t${ix.labels[i]}\n`);
      this.digest = h.digest('hex').slice(0, 16);
    }
    const { transform, size, resize, flip, ranges } = this.opts;
    return {
      source: this.name, samples: this.digest, count: this.count, numClasses: this.numClasses, transform, size,
      ...(transform === 'eval' ? { resize } : { scale: ranges.scale, ratio: ranges.ratio, flip }), mean: this.mean, std: this.std,
    };
  }

  /** Whether the sample list came from the cache file. */
  get indexCached(): boolean {
    return this.index.cached;
  }

  /** Distinct images skipped as unreadable so far. */
  get skipped(): number {
    return this.bad.size;
  }

  /** The files skipped so far, with why (`path: reason`). */
  get skippedFiles(): string[] {
    return [...this.bad].sort((a, b) => a[0] - b[0]).map(([i, why]) => `${this.where(i)}: ${why}`);
  }

  /** @internal Opens a stream; use {@link openImageStream}. */
  static async open(source: string | string[], options?: ImageStreamOptions): Promise<ImageStream> {
    const fn = 'openImageStream';
    if (Array.isArray(source)) {
      if (source.length === 0 || source.some((s) => typeof s !== 'string' || s.length === 0)) throw new TypeError(`${fn}: argument 'source' must be a folder or a non-empty list of .tar shard paths; got ${describe(source)}`);
    } else if (typeof source !== 'string' || source.length === 0) {
      throw new TypeError(`${fn}: argument 'source' must be a folder (class subfolders or .tar shards) or a list of .tar shard paths; got ${describe(source)}`);
    }
    const o = optionsOf(fn, options);
    rejectUnknown(fn, o, ['transform', 'size', 'resize', 'scale', 'ratio', 'flip', 'classNames', 'mean', 'std', 'onBadImage', 'concurrency', 'prefetch', 'indexCache', 'onWarning', 'decoder']);
    const transform = requireChoice(fn, 'transform', o.transform, ['train', 'eval'] as const, 'train');
    const size = requireInt(fn, 'size', o.size, 8, 4096, 224);
    const resize = requireInt(fn, 'resize', o.resize, size, 8192, Math.round((size * 256) / 224));
    const range = (name: 'scale' | 'ratio', v: unknown, lo: number, hi: number, fallback: [number, number]): [number, number] => {
      if (v === undefined) return fallback;
      if (!Array.isArray(v) || v.length !== 2 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x)) || !(v[0] > lo && v[0] <= v[1] && v[1] <= hi)) {
        throw new RangeError(`${fn}: option '${name}' must be [min, max] with ${lo} < min <= max <= ${hi}; got ${describe(v)}`);
      }
      return [v[0], v[1]];
    };
    const ranges = { scale: range('scale', o.scale, 0, 1, DEFAULT_CROP_RANGES.scale), ratio: range('ratio', o.ratio, 0, 100, DEFAULT_CROP_RANGES.ratio) };
    const flip = requireBool(fn, 'flip', o.flip, true);
    const expected = optionalStringList(fn, 'classNames', o.classNames);
    const stat = (name: 'mean' | 'std', v: unknown, fallback: readonly number[]): number[] => {
      if (v === undefined) return [...fallback];
      if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || (name === 'std' && x <= 0))) {
        throw new RangeError(`${fn}: option '${name}' must be 3 finite numbers (one per RGB channel${name === 'std' ? ', positive' : ''}); got ${describe(v)}`);
      }
      return [...v];
    };
    const mean = stat('mean', o.mean, IMAGENET_MEAN);
    const std = stat('std', o.std, IMAGENET_STD);
    const onBadImage = requireChoice(fn, 'onBadImage', o.onBadImage, ['skip', 'fail'] as const, 'skip');
    const concurrency = requireInt(fn, 'concurrency', o.concurrency, 1, 256, 8);
    const prefetch = requireInt(fn, 'prefetch', o.prefetch, 1, 64, 2);
    const indexCache = requireBool(fn, 'indexCache', o.indexCache, true);
    if (o.onWarning !== undefined && typeof o.onWarning !== 'function') throw new TypeError(`${fn}: option 'onWarning' must be a function; got ${describe(o.onWarning)}`);
    const onWarning = (o.onWarning as ((line: string) => void) | undefined) ?? defaultWarning;
    const choice = requireChoice(fn, 'decoder', o.decoder, ['auto', 'libjpeg', 'sharp'] as const, 'auto');
    // The decoder is needed by every batch: a missing one is reported now, not at the first step. sharp
    // stays required unless the addon's decoder was asked for (PNGs and the fallback need it).
    let decoder: 'libjpeg' | 'sharp' = 'sharp';
    if (choice !== 'libjpeg') loadDecoder();
    if (choice !== 'sharp') {
      const jpeg = jpegDecoder();
      if (jpeg.available) decoder = 'libjpeg';
      else if (choice === 'libjpeg') throw new Error(`${fn}: decoder 'libjpeg' is unavailable: ${jpeg.reason}. Use decoder: 'auto' (sharp then decodes JPEGs) or 'sharp'.`);
    }
    let index: ImageIndex;
    try {
      index = await indexImages(source, indexCache);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${fn}: ${(err as NodeJS.ErrnoException).path ?? String(source)} does not exist`);
      throw err;
    }
    if (expected) {
      if (!index.classNames) throw new RangeError(`${fn}: option 'classNames' applies to image folders; tar shards carry class indices`);
      checkClassNames(expected, index.classNames, `${fn}: ${index.root}`);
    }
    const name = Array.isArray(source) ? path.basename(index.root) : path.basename(path.resolve(source));
    return new ImageStream(name, index, { transform, size, resize, flip, onBadImage, concurrency, prefetch, indexCache, onWarning, ranges, decoder }, mean, std);
  }

  /** A sample's file (folder) or `shard:member` (shards), for messages. */
  private where(i: number): string {
    const ix = this.index;
    return ix.kind === 'folder' ? path.join(ix.root, ix.files[i]) : `${ix.files[ix.shardOf![i]]}:${ix.members![i]}`;
  }

  private async bytes(i: number): Promise<Buffer> {
    const ix = this.index;
    if (ix.kind === 'folder') return fsp.readFile(path.join(ix.root, ix.files[i]));
    const fh = await fsp.open(ix.files[ix.shardOf![i]], 'r');
    try {
      const buf = Buffer.allocUnsafe(ix.lengths![i]);
      const { bytesRead } = await fh.read(buf, 0, buf.length, ix.offsets![i]);
      if (bytesRead !== buf.length) throw new Error(`the shard ends ${buf.length - bytesRead} bytes early (changed since it was indexed?)`);
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** Decodes sample `i` with its transform into `out` at `offset`; the crop and flip are drawn from (seed, epoch, i). */
  private async decodeInto(i: number, epoch: number, seed: number, out: Uint8Array, offset: number): Promise<void> {
    const { size, resize, flip, transform, ranges, decoder } = this.opts;
    const bytes = await this.bytes(i);
    const placement = (w: number, h: number) => {
      if (transform === 'eval') return { ...centerPlan(w, h, resize, size), flip: false };
      const rng = new Rng(seed, 0xc409, epoch, i);
      const box = randomResizedCrop(w, h, rng, ranges);
      return { ...cropPlan(w, h, box, size), flip: flip && rng.nextFloat() < 0.5 };
    };
    if (decoder === 'libjpeg' && isJpeg(bytes)) return decodeJpegInto(bytes, size, placement, out, offset);
    out.set(await decodeImage(bytes, size, placement), offset);
  }

  /**
   * Decodes the samples `indices` into one batch (images HWC uint8, labels). Unreadable images are left
   * out (or, with `onBadImage: 'fail'`, throw a DataFormatError naming the file). `epoch` and `seed` key
   * the random crops and flips.
   */
  async loadBatch(indices: ArrayLike<number>, options: { epoch?: number; seed?: number } = {}): Promise<StreamBatch> {
    const fn = 'ImageStream.loadBatch';
    if (!indices || typeof indices.length !== 'number') throw new TypeError(`${fn}: argument 'indices' must be an array of sample indices; got ${describe(indices)}`);
    const o = optionsOf(fn, options);
    rejectUnknown(fn, o, ['epoch', 'seed']);
    const epoch = requireInt(fn, 'epoch', o.epoch, 0, Number.MAX_SAFE_INTEGER, 0);
    const seed = requireInt(fn, 'seed', o.seed, 0, Number.MAX_SAFE_INTEGER, 0);
    const n = indices.length;
    for (let k = 0; k < n; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RangeError(`${fn}: indices[${k}] = ${String(i)} is outside [0, ${this.count})`);
    }
    const { size, concurrency, onBadImage } = this.opts;
    const plane = size * size * 3;
    // Not zero-filled (a batch of 64 at 224 is 9.6 MB): every slot is written by its decode, and the slots
    // of skipped images are closed up below before the batch is handed out.
    const images = new Uint8Array(Buffer.allocUnsafeSlow(n * plane).buffer, 0, n * plane);
    const ok = new Uint8Array(n);
    let next = 0;
    let failure: Error | undefined;
    const worker = async () => {
      while (next < n && !failure) {
        const k = next++;
        const i = indices[k];
        if (this.bad.has(i)) continue;
        try {
          await this.decodeInto(i, epoch, seed, images, k * plane);
          ok[k] = 1;
        } catch (err) {
          const why = (err as Error).message.split('\n')[0];
          if (onBadImage === 'fail') failure = new DataFormatError(this.where(i), null, `cannot read the image: ${why}`);
          else this.bad.set(i, why);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    if (failure) throw failure;
    // Close the gaps of skipped images.
    let m = 0;
    const kept = new Int32Array(n);
    const labels = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      if (!ok[k]) continue;
      if (m !== k) images.copyWithin(m * plane, k * plane, (k + 1) * plane);
      kept[m] = indices[k];
      labels[m] = this.labels[indices[k]];
      m++;
    }
    return { images: m === n ? images : images.slice(0, m * plane), labels: labels.slice(0, m), indices: kept.slice(0, m), count: m, size };
  }

  /**
   * The order of epoch `epoch`: a seeded shuffle (the same as rk.data.BatchSampler's for that seed and
   * epoch), or 0..count-1; for rank `rank` of `worldSize`, its strided part (padded by wrapping).
   */
  order(epoch: number, options: { seed?: number; shuffle?: boolean; rank?: number; worldSize?: number } = {}): Int32Array {
    const fn = 'ImageStream.order';
    requireInt(fn, "argument 'epoch'", epoch, 0, Number.MAX_SAFE_INTEGER);
    const o = optionsOf(fn, options);
    rejectUnknown(fn, o, ['seed', 'shuffle', 'rank', 'worldSize']);
    const seed = requireInt(fn, 'seed', o.seed, 0, Number.MAX_SAFE_INTEGER, 0);
    const shuffle = requireBool(fn, 'shuffle', o.shuffle, this.opts.transform === 'train');
    const worldSize = requireInt(fn, 'worldSize', o.worldSize, 1, 1 << 20, 1);
    const rank = requireInt(fn, 'rank', o.rank, 0, worldSize - 1, 0);
    const all = new Int32Array(this.count);
    for (let i = 0; i < this.count; i++) all[i] = i;
    if (shuffle) new Rng(seed, epoch).shuffle(all);
    if (worldSize === 1) return all;
    const per = Math.ceil(this.count / worldSize);
    const part = new Int32Array(per);
    for (let k = 0; k < per; k++) part[k] = all[(rank + k * worldSize) % this.count];
    return part;
  }

  /**
   * The batches of one epoch, decoded `prefetch` batches ahead of the consumer (a bounded queue), from
   * batch `from` on. At the end, one warning line names the images skipped in it (if any).
   * @example for await (const b of stream.batches({ batchSize: 64, epoch: 0 })) console.log(b.count);
   */
  async *batches(options: StreamBatchesOptions): AsyncGenerator<StreamBatch> {
    const fn = 'ImageStream.batches';
    const o = optionsOf(fn, options);
    rejectUnknown(fn, o, ['batchSize', 'epoch', 'seed', 'shuffle', 'from', 'dropLast', 'rank', 'worldSize']);
    const batchSize = requireInt(fn, 'batchSize', o.batchSize, 1, 1 << 20);
    const epoch = requireInt(fn, 'epoch', o.epoch, 0, Number.MAX_SAFE_INTEGER, 0);
    const seed = requireInt(fn, 'seed', o.seed, 0, Number.MAX_SAFE_INTEGER, 0);
    const dropLast = requireBool(fn, 'dropLast', o.dropLast, false);
    const order = this.order(epoch, { seed, ...(o.shuffle !== undefined ? { shuffle: o.shuffle as boolean } : {}), ...(o.rank !== undefined ? { rank: o.rank as number } : {}), ...(o.worldSize !== undefined ? { worldSize: o.worldSize as number } : {}) });
    const total = dropLast ? Math.floor(order.length / batchSize) : Math.ceil(order.length / batchSize);
    const from = requireInt(fn, 'from', o.from, 0, total, 0);
    function* keys() {
      for (let b = from; b < total; b++) yield order.subarray(b * batchSize, Math.min(order.length, (b + 1) * batchSize));
    }
    const ahead = new Prefetcher(keys(), (ix: Int32Array) => this.loadBatch(ix, { epoch, seed }), this.opts.prefetch);
    try {
      for (;;) {
        const item = await ahead.next();
        if (!item) break;
        yield item.value;
      }
      this.warnSkipped();
    } finally {
      ahead.close();
    }
  }

  /** @internal Reports the images skipped since the last report, in one line (the trainer calls it per epoch). */
  warnSkipped(): void {
    if (this.bad.size === this.reported) return;
    const all = [...this.bad];
    const fresh = all.slice(this.reported);
    this.reported = all.length;
    const shown = fresh.slice(0, 5).map(([i, why]) => `${this.where(i)} (${why})`);
    this.opts.onWarning(
      `skipped ${fresh.length} unreadable image${fresh.length > 1 ? 's' : ''} of ${this.name} (${this.bad.size} in all): ${shown.join('; ')}` +
        (fresh.length > shown.length ? `; and ${fresh.length - shown.length} more (stream.skippedFiles lists them)` : ''),
    );
  }
}

/**
 * Opens an image stream over an image folder (`<class>/<image>.jpg|jpeg|png`, classes sorted by name;
 * ILSVRC `train/` and `val/` included) or WebDataset tar shards (a folder of `*.tar`, or a list of them,
 * each holding `<key>.jpg|png` + `<key>.cls`). Nothing is decoded up front: batches are decoded on
 * libuv's thread pool when asked for, `prefetch` ahead. Pass it to `Trainer.create` as `train` or `test`.
 * @example
 * const train = await rk.data.openImageStream('imagenet/train');
 * const val = await rk.data.openImageStream('imagenet/val', { transform: 'eval', classNames: train.classNames });
 */
export function openImageStream(source: string | string[], options?: ImageStreamOptions): Promise<ImageStream> {
  return ImageStream.open(source, options);
}

/** True for an {@link ImageStream} (as opposed to an in-memory dataset). */
export function isImageStream(x: unknown): x is ImageStream {
  return x instanceof ImageStream;
}
