// The in-memory image dataset every loader returns, its normalisation statistics, and the step that
// turns it into tensors. Images stay uint8 (N*C*H*W, CHW order) until they are on the device: 4x less
// memory than float32 and one copy per dataset, as in airbench-style loops.
import type { Device } from '../dtype';
import { tensor, type Tensor } from '../tensor';
import { describe, optionsOf, rejectUnknown } from './checks';
import { Rng } from './rng';

/** A labelled image dataset held in memory (what every loader in `rk.data` returns). */
export interface ImageDataset {
  /** Short name, e.g. `'cifar10-train'`, `'fashion-mnist-test'`, or the folder name for image folders. */
  name: string;
  /** Pixels, uint8, `count*channels*height*width` values: image-major, then channel, row, column (CHW). */
  images: Uint8Array;
  /** Class index of each image, in [0, numClasses). */
  labels: Int32Array;
  /** Number of images. */
  count: number;
  /** Channels per image (1 for (Fashion-)MNIST, 3 for CIFAR and colour image folders). */
  channels: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Number of classes; every label is below it. */
  numClasses: number;
  /** Class names, index = label, when the format has them. */
  classNames?: string[];
  /** Per-channel mean in [0, 1] units (pixel/255), for normalisation. */
  mean: number[];
  /** Per-channel standard deviation in [0, 1] units, for normalisation. */
  std: number[];
}

/**
 * CIFAR statistics used by the ReviewKD reference CIFAR code (inherited from the Wide-ResNet code):
 * mean (125.3, 123.0, 113.9)/255, std (63.0, 62.1, 66.7)/255. The reference uses the CIFAR-10 values
 * for CIFAR-100 too, so both datasets use these.
 */
export const CIFAR_MEAN: readonly number[] = Object.freeze([125.3 / 255, 123.0 / 255, 113.9 / 255]);
/** See {@link CIFAR_MEAN}. */
export const CIFAR_STD: readonly number[] = Object.freeze([63.0 / 255, 62.1 / 255, 66.7 / 255]);
/** MNIST: mean 0.1307, std 0.3081 (the PyTorch MNIST example's values, computed on the training set). */
export const MNIST_MEAN: readonly number[] = Object.freeze([0.1307]);
/** See {@link MNIST_MEAN}. */
export const MNIST_STD: readonly number[] = Object.freeze([0.3081]);
/** Fashion-MNIST: mean 0.2860, std 0.3530 (the commonly quoted values, computed on its training set). */
export const FASHION_MNIST_MEAN: readonly number[] = Object.freeze([0.286]);
/** See {@link FASHION_MNIST_MEAN}. */
export const FASHION_MNIST_STD: readonly number[] = Object.freeze([0.353]);

/**
 * Checks that a dataset is consistent (sizes, label range, statistics) and returns it; throws a
 * TypeError or RangeError naming the field otherwise. Use it on datasets built by hand.
 */
export function checkDataset(ds: ImageDataset, fn = 'checkDataset'): ImageDataset {
  if (typeof ds !== 'object' || ds === null) throw new TypeError(`${fn}: argument 'dataset' must be an ImageDataset object; got ${describe(ds)}`);
  for (const key of ['count', 'channels', 'height', 'width', 'numClasses'] as const) {
    const v = ds[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (key === 'count' ? 0 : 1)) {
      throw new TypeError(`${fn}: dataset.${key} must be ${key === 'count' ? 'a non-negative' : 'a positive'} integer; got ${describe(v)}`);
    }
  }
  if (!(ds.images instanceof Uint8Array)) throw new TypeError(`${fn}: dataset.images must be a Uint8Array; got ${describe(ds.images)}`);
  if (!(ds.labels instanceof Int32Array)) throw new TypeError(`${fn}: dataset.labels must be an Int32Array; got ${describe(ds.labels)}`);
  const pixels = ds.count * ds.channels * ds.height * ds.width;
  if (ds.images.length !== pixels) {
    throw new RangeError(`${fn}: dataset.images has ${ds.images.length} values; count*channels*height*width = ${ds.count}*${ds.channels}*${ds.height}*${ds.width} = ${pixels}`);
  }
  if (ds.labels.length !== ds.count) throw new RangeError(`${fn}: dataset.labels has ${ds.labels.length} values; count is ${ds.count}`);
  for (let i = 0; i < ds.count; i++) {
    const l = ds.labels[i];
    if (l < 0 || l >= ds.numClasses) throw new RangeError(`${fn}: dataset.labels[${i}] = ${l} is outside [0, ${ds.numClasses})`);
  }
  for (const key of ['mean', 'std'] as const) {
    const v = ds[key];
    if (!Array.isArray(v) || v.length !== ds.channels || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      throw new TypeError(`${fn}: dataset.${key} must be an Array of ${ds.channels} finite numbers (one per channel); got ${describe(v)}`);
    }
  }
  if (ds.std.some((x) => x <= 0)) throw new RangeError(`${fn}: dataset.std must be positive; got [${ds.std.join(', ')}]`);
  if (ds.classNames !== undefined && (!Array.isArray(ds.classNames) || ds.classNames.length !== ds.numClasses)) {
    throw new RangeError(`${fn}: dataset.classNames must list ${ds.numClasses} names (numClasses); got ${describe(ds.classNames)}${Array.isArray(ds.classNames) ? ` of length ${ds.classNames.length}` : ''}`);
  }
  return ds;
}

/** Options of {@link toTensors}. */
export interface ToTensorsOptions {
  /** Device of the returned tensors (default 'cpu'). */
  device?: Device;
}

/** The tensors made by {@link toTensors}. */
export interface DatasetTensors {
  /** uint8 `[N, C, H, W]`. */
  images: Tensor;
  /** int64 `[N]`. */
  labels: Tensor;
}

/**
 * Copies a dataset into native tensors: images uint8 `[N, C, H, W]` and labels int64 `[N]`. Normalise
 * on the device with `dataset.mean` / `dataset.std` (after dividing by 255).
 */
export function toTensors(dataset: ImageDataset, options?: ToTensorsOptions): DatasetTensors {
  const ds = checkDataset(dataset, 'toTensors');
  const opts = optionsOf('toTensors', options);
  rejectUnknown('toTensors', opts, ['device']);
  const device = opts.device as Device | undefined;
  const images = tensor(ds.images, { shape: [ds.count, ds.channels, ds.height, ds.width], dtype: 'uint8', ...(device ? { device } : {}) });
  const labels = tensor(ds.labels, { shape: [ds.count], dtype: 'int64', ...(device ? { device } : {}) });
  return { images, labels };
}

/**
 * Compares a saved class list (e.g. from a model) with the one found in the data; throws an Error that
 * lists the missing, extra and reordered names when they differ. `where` names the data source.
 */
export function checkClassNames(expected: readonly string[], actual: readonly string[], where: string): void {
  for (const [name, list] of [['expected', expected], ['actual', actual]] as const) {
    if (!Array.isArray(list) || list.some((n) => typeof n !== 'string')) {
      throw new TypeError(`checkClassNames: argument '${name}' must be an Array of class names (strings); got ${describe(list)}`);
    }
  }
  if (expected.length === actual.length && expected.every((n, i) => n === actual[i])) return;
  const want = new Set(expected);
  const have = new Set(actual);
  const missing = expected.filter((n) => !have.has(n));
  const extra = actual.filter((n) => !want.has(n));
  const parts: string[] = [];
  if (missing.length) parts.push(`missing from the data: ${missing.map((n) => JSON.stringify(n)).join(', ')}`);
  if (extra.length) parts.push(`not in the saved list: ${extra.map((n) => JSON.stringify(n)).join(', ')}`);
  if (!missing.length && !extra.length) {
    const moved = expected.map((n, i) => (actual[i] !== n ? `${JSON.stringify(n)} is class ${i} in the saved list but ${actual.indexOf(n)} in the data` : '')).filter(Boolean);
    parts.push(`same names in a different order: ${moved.join('; ')}`);
  }
  throw new Error(`${where}: the classes found (${actual.length}) do not match the saved class list (${expected.length}): ${parts.join('; ')}. Use the data the model was trained on, or retrain.`);
}

/** @internal Per-channel mean and std in [0, 1] units of uint8 CHW images (used for image folders). */
export function channelStats(images: Uint8Array, count: number, channels: number, plane: number): { mean: number[]; std: number[] } {
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < count; i++) {
      const base = (i * channels + c) * plane;
      for (let k = 0; k < plane; k++) {
        const v = images[base + k];
        sum += v;
        sq += v * v;
      }
    }
    const n = Math.max(1, count * plane);
    const m = sum / n;
    const variance = Math.max(0, sq / n - m * m);
    mean.push(m / 255);
    // A constant channel would give std 0 and a division by zero at normalisation: use 1/255 instead.
    std.push(Math.max(Math.sqrt(variance), 1) / 255);
  }
  return { mean, std };
}

/**
 * A smaller dataset: the first `count` images, or (with `seed`) `count` images drawn at random without
 * replacement (the same seed draws the same images), or the images at `indices`. The pixels are copied,
 * so the result stands alone; mean/std and class names are kept (normalisation stays the full set's).
 * Handy for a quick run on a CPU.
 * @example
 * const small = rk.data.subset(train, { count: 2000, seed: 1 });
 */
export function subset(dataset: ImageDataset, options: { count?: number; seed?: number; indices?: readonly number[] }): ImageDataset {
  const fn = 'data.subset';
  const ds = checkDataset(dataset, fn);
  if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: argument 'options' must be {count, seed?} or {indices}; got ${String(options)}`);
  let picked: number[];
  if (options.indices !== undefined) {
    if (options.count !== undefined || options.seed !== undefined) throw new TypeError(`${fn}: give either 'indices' or 'count' (with an optional 'seed'), not both`);
    if (!Array.isArray(options.indices) || options.indices.some((i) => !Number.isInteger(i) || i < 0 || i >= ds.count)) {
      throw new RangeError(`${fn}: option 'indices' must be an Array of integers in [0, ${ds.count - 1}]`);
    }
    picked = [...options.indices];
  } else {
    const n = options.count;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > ds.count) throw new RangeError(`${fn}: option 'count' must be an integer in [1, ${ds.count}]; got ${String(n)}`);
    if (options.seed === undefined) picked = Array.from({ length: n }, (_, i) => i);
    else {
      if (!Number.isInteger(options.seed) || options.seed < 0) throw new RangeError(`${fn}: option 'seed' must be an integer >= 0; got ${String(options.seed)}`);
      picked = new Rng(options.seed, 0x5b5e7).shuffle(Array.from({ length: ds.count }, (_, i) => i)).slice(0, n).sort((a, b) => a - b);
    }
  }
  const plane = ds.channels * ds.height * ds.width;
  const images = new Uint8Array(picked.length * plane);
  const labels = new Int32Array(picked.length);
  picked.forEach((src, i) => {
    images.set(ds.images.subarray(src * plane, (src + 1) * plane), i * plane);
    labels[i] = ds.labels[src];
  });
  return { ...ds, name: `${ds.name}[${picked.length}]`, images, labels, count: picked.length };
}
