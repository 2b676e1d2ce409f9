// MNIST and Fashion-MNIST from their IDX files (raw or gzipped), as published by their authors and as
// Debian's dataset-fashion-mnist package installs them in /usr/share/datasets/fashion-mnist.
import * as fs from 'fs';
import * as path from 'path';

import { optionsOf, rejectUnknown, requireChoice, requirePath } from './checks';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_MEAN, MNIST_STD, type ImageDataset } from './dataset';
import { DataFormatError } from './errors';
import { readMaybeGzip, statKind } from './files';

/** IDX magic numbers: 0x0000 08 0N = unsigned bytes, N dimensions. */
export const IDX_IMAGES_MAGIC = 2051;
/** See {@link IDX_IMAGES_MAGIC}. */
export const IDX_LABELS_MAGIC = 2049;

/** An IDX file's contents: its dimension sizes and its unsigned-byte data (a view, not a copy). */
export interface IdxArray {
  /** Dimension sizes from the header, e.g. `[60000, 28, 28]`. */
  dims: number[];
  /** The bytes after the header, row-major. */
  data: Uint8Array;
}

/**
 * Reads one IDX file of unsigned bytes (raw or gzipped) and validates it: the magic number must be
 * `expectedMagic` (2051 for images, 2049 for labels), no dimension may be zero, and the file length
 * must be exactly the header plus the product of the dimensions. Errors are {@link DataFormatError}s
 * naming the file and byte offset (in the decompressed data for .gz files).
 */
export async function loadIdx(file: string, expectedMagic: number): Promise<IdxArray> {
  requirePath('loadIdx', 'file', file);
  if (expectedMagic !== IDX_IMAGES_MAGIC && expectedMagic !== IDX_LABELS_MAGIC) {
    throw new RangeError(`loadIdx: argument 'expectedMagic' must be ${IDX_IMAGES_MAGIC} (images) or ${IDX_LABELS_MAGIC} (labels); got ${expectedMagic}`);
  }
  const bytes = await readMaybeGzip(file);
  if (bytes.length < 4) throw new DataFormatError(file, 0, `file truncated: it is ${bytes.length} bytes, too short for an IDX header`);
  const magic = bytes.readUInt32BE(0);
  if (magic !== expectedMagic) {
    throw new DataFormatError(file, 0, `bad IDX magic number ${magic} (0x${magic.toString(16).padStart(8, '0')}), expected ${expectedMagic} (${expectedMagic === IDX_IMAGES_MAGIC ? 'images' : 'labels'})`);
  }
  const rank = magic & 0xff;
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) throw new DataFormatError(file, bytes.length, `file truncated: it is ${bytes.length} bytes, too short for the ${headerLength}-byte IDX header`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) {
    const d = bytes.readUInt32BE(4 + 4 * i);
    if (d === 0) throw new DataFormatError(file, 4 + 4 * i, `IDX dimension ${i} is 0`);
    dims.push(d);
  }
  const payload = dims.reduce((a, b) => a * b, 1);
  const expected = headerLength + payload;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'has trailing bytes';
    throw new DataFormatError(file, Math.min(bytes.length, expected), `file ${what}: it is ${bytes.length} bytes, the header (dims ${dims.join('x')}) needs exactly ${expected}`);
  }
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerLength, payload) };
}

/** Which IDX dataset: digits or Zalando's Fashion-MNIST. */
export type MnistKind = 'mnist' | 'fashion-mnist';

/** Options of {@link loadMnist}. */
export interface LoadMnistOptions {
  /** 'train' (60000 images in the official data) or 'test' (10000); default 'train'. */
  split?: 'train' | 'test';
  /** Default 'mnist'; 'fashion-mnist' also finds the data by itself when `dir` is null/undefined. */
  kind?: MnistKind;
}

/** Fashion-MNIST's class names, in label order (from the dataset's README). */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]);

/** Folders searched by {@link findFashionMnist}: Debian/Ubuntu's `dataset-fashion-mnist` package. */
export const FASHION_MNIST_DIRS: readonly string[] = Object.freeze(['/usr/share/datasets/fashion-mnist']);

const SIDE = 28;

/** The path of an IDX file in `dir`: `<stem>` or `<stem>.gz`, also with MNIST's dotted variant names. */
function idxFile(dir: string, stem: string): string | null {
  const dotted = stem.replace(/-(idx\d-ubyte)$/, '.$1');
  for (const name of [stem, `${stem}.gz`, dotted, `${dotted}.gz`]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/**
 * The folder holding Fashion-MNIST's four IDX files, or null. Looks in {@link FASHION_MNIST_DIRS}
 * (`apt-get install dataset-fashion-mnist` puts the four .gz files in /usr/share/datasets/fashion-mnist).
 */
export function findFashionMnist(): string | null {
  for (const dir of FASHION_MNIST_DIRS) {
    const stems = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
    if (stems.every((s) => idxFile(dir, s) !== null)) return dir;
  }
  return null;
}

/**
 * Loads MNIST or Fashion-MNIST from a folder holding `train-images-idx3-ubyte[.gz]`,
 * `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]` and `t10k-labels-idx1-ubyte[.gz]`.
 * Images are 1x28x28; labels must be below 10 and as many as the images. Malformed files throw a
 * {@link DataFormatError} naming the file and byte offset.
 *
 * @example const train = await rk.data.loadMnist(null, { kind: 'fashion-mnist', split: 'train' });
 */
export async function loadMnist(dir: string | null | undefined, options?: LoadMnistOptions): Promise<ImageDataset> {
  const fn = 'loadMnist';
  const opts = optionsOf(fn, options);
  rejectUnknown(fn, opts, ['split', 'kind']);
  const split = requireChoice(fn, 'split', opts.split, ['train', 'test'] as const, 'train');
  const kind = requireChoice(fn, 'kind', opts.kind, ['mnist', 'fashion-mnist'] as const, 'mnist');
  let folder: string;
  if (dir === null || dir === undefined) {
    const found = kind === 'fashion-mnist' ? findFashionMnist() : null;
    if (!found) {
      throw new Error(kind === 'fashion-mnist'
        ? `${fn}: Fashion-MNIST not found in ${FASHION_MNIST_DIRS.join(', ')}; install it (apt-get install dataset-fashion-mnist), or download it with rk.data.download('fashion-mnist', dir) and pass that dir`
        : `${fn}: argument 'dir' is required for MNIST (a folder with the four IDX files)`);
    }
    folder = found;
  } else {
    folder = requirePath(fn, 'dir', dir);
    if ((await statKind(folder)) !== 'dir') throw new Error(`${fn}: ${folder} is not a folder`);
  }
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesPath = idxFile(folder, `${prefix}-images-idx3-ubyte`);
  const labelsPath = idxFile(folder, `${prefix}-labels-idx1-ubyte`);
  const missing = [!imagesPath && `${prefix}-images-idx3-ubyte[.gz]`, !labelsPath && `${prefix}-labels-idx1-ubyte[.gz]`].filter(Boolean);
  if (missing.length) throw new Error(`${fn}: ${folder} has no ${missing.join(' and no ')}`);

  const [images, labels] = await Promise.all([loadIdx(imagesPath!, IDX_IMAGES_MAGIC), loadIdx(labelsPath!, IDX_LABELS_MAGIC)]);
  const [count, height, width] = images.dims;
  if (height !== SIDE || width !== SIDE) {
    throw new DataFormatError(imagesPath!, 8, `images are ${height}x${width}; ${kind} images are ${SIDE}x${SIDE}`);
  }
  if (labels.dims[0] !== count) {
    throw new DataFormatError(labelsPath!, 4, `${labels.dims[0]} labels for ${count} images (in ${path.basename(imagesPath!)})`);
  }
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = labels.data[i];
    if (l >= 10) throw new DataFormatError(labelsPath!, 8 + i, `label ${l} of item ${i} is out of range [0, 10)`);
    out[i] = l;
  }
  const fashion = kind === 'fashion-mnist';
  return {
    name: `${kind}-${split}`,
    // A copy: the IDX data is a view into the whole (possibly decompressed) file buffer.
    images: new Uint8Array(images.data),
    labels: out,
    count,
    channels: 1,
    height,
    width,
    numClasses: 10,
    classNames: fashion ? [...FASHION_MNIST_CLASSES] : ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    mean: [...(fashion ? FASHION_MNIST_MEAN : MNIST_MEAN)],
    std: [...(fashion ? FASHION_MNIST_STD : MNIST_STD)],
  };
}
