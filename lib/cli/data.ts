// Finding and loading a dataset for the CLI: `--data <folder or archive>` with the format detected, or
// `--dataset <name>` (Fashion-MNIST is found in /usr/share/datasets/fashion-mnist by itself). `--dataset
// imagenet` (set by the imagenet/* recipes) streams an ILSVRC-layout folder instead of loading it.
import * as fs from 'fs';
import * as path from 'path';

import * as data from '../data';
import type { ImageDataset, ImageStream } from '../data';
import { Rng } from '../data';
import { UsageError } from './args';

/** Dataset names the CLI understands. */
export const DATASETS = ['cifar10', 'cifar100', 'mnist', 'fashion-mnist', 'imagefolder', 'imagenet'] as const;
export type DatasetName = (typeof DATASETS)[number];

/** What the CLI passes to {@link loadData}. */
export interface DataOptions {
  data?: string;
  dataset?: string;
  /** Image folders: resize every image to this square size. */
  imageSize?: number;
  /** Image folders without train/test subfolders: fraction held out as the test set. */
  holdout?: number;
  /** Use only the first N training (test) images, e.g. for a smoke run. */
  limit?: number;
  testLimit?: number;
  seed?: number;
  /**
   * Image streams (--dataset imagenet): the transform of the train split. 'train' (default) is the random
   * resized crop + flip; 'eval' the resize + centre crop, for `--no-augment` and for `eval --split train`.
   */
  trainTransform?: 'train' | 'eval';
}

/** A loaded train/test pair, with what was detected. */
export interface LoadedData {
  /** In memory, or (--dataset imagenet) an image stream. */
  train?: ImageDataset | ImageStream;
  test?: ImageDataset | ImageStream;
  /** The detected or given format. */
  format: DatasetName;
  /** The resolved path (absolute), absent for datasets found by name. */
  path?: string;
}

const IDX_NAMES = ['train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz', 'train-images.idx3-ubyte', 'train-images.idx3-ubyte.gz',
  't10k-images-idx3-ubyte', 't10k-images-idx3-ubyte.gz', 't10k-images.idx3-ubyte', 't10k-images.idx3-ubyte.gz'];

const isDir = (p: string) => fs.existsSync(p) && fs.statSync(p).isDirectory();
const isFile = (p: string) => fs.existsSync(p) && fs.statSync(p).isFile();

/** Sub-folders of `dir` (not hidden). */
function subdirs(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
}

/**
 * The format of a data folder or archive: CIFAR-10/100 (binary batches, their folders or tar.gz),
 * an IDX folder ((Fashion-)MNIST), or an image folder (class subfolders, optionally under train/ and
 * test/ or val/). Throws a UsageError naming the path when nothing matches.
 */
export function detectFormat(p: string): DatasetName {
  if (isFile(p)) {
    const base = path.basename(p).toLowerCase();
    if (base.includes('cifar-100') || base.includes('cifar100')) return 'cifar100';
    if (base.includes('cifar-10') || base.includes('cifar10')) return 'cifar10';
    throw new UsageError(`option --data: cannot tell the format of archive '${p}' from its name; pass --dataset cifar10 or --dataset cifar100`);
  }
  if (!isDir(p)) throw new UsageError(`option --data: '${p}' does not exist`);
  const has = (...names: string[]) => names.some((n) => fs.existsSync(path.join(p, n)));
  if (has('train.bin', 'cifar-100-binary', 'cifar-100-binary.tar.gz')) return 'cifar100';
  if (has('data_batch_1.bin', 'test_batch.bin', 'cifar-10-batches-bin', 'cifar-10-binary.tar.gz')) return 'cifar10';
  if (has(...IDX_NAMES)) return /fashion/i.test(path.resolve(p)) ? 'fashion-mnist' : 'mnist';
  if (subdirs(p).length > 0) return 'imagefolder';
  throw new UsageError(`option --data: '${p}' holds no CIFAR batches, no IDX files and no class subfolders`);
}

/** A subset of a dataset by image indices (rk.data.subset copies the pixels), under its own name. */
function subset(ds: ImageDataset, indices: number[], name: string): ImageDataset {
  return { ...data.subset(ds, { indices }), name };
}

function limit(ds: ImageDataset | undefined, n: number | undefined): ImageDataset | undefined {
  if (!ds || n === undefined || n >= ds.count) return ds;
  return subset(ds, Array.from({ length: n }, (_, i) => i), `${ds.name}[:${n}]`);
}

/**
 * ILSVRC layout (`train/<wnid>/*.JPEG`, `val/<wnid>/*.JPEG`; or tar shards in train/ and val/) as image
 * streams: training with RandomResizedCrop + flip (Resize + CenterCrop with `trainTransform: 'eval'`),
 * validation with Resize + CenterCrop, at `imageSize` (224).
 */
async function openImagenet(dir: string, o: DataOptions, need: 'train' | 'test' | 'both'): Promise<{ train?: ImageStream; test?: ImageStream }> {
  if (o.limit !== undefined || o.testLimit !== undefined) throw new UsageError('options --limit and --test-limit apply to data loaded into memory; for --dataset imagenet make a smaller folder');
  const size = o.imageSize ?? 224;
  const trainDir = isDir(path.join(dir, 'train')) ? path.join(dir, 'train') : undefined;
  const valDir = ['val', 'validation', 'test'].map((d) => path.join(dir, d)).find(isDir);
  if (!trainDir && !valDir) throw new UsageError(`option --data: '${dir}' has no train/ or val/ folder (the ILSVRC layout: train/<wnid>/*.JPEG, val/<wnid>/*.JPEG)`);
  const train = need !== 'test' && trainDir ? await data.openImageStream(trainDir, { size, transform: o.trainTransform ?? 'train' }) : undefined;
  const test = need !== 'train' && valDir ? await data.openImageStream(valDir, { transform: 'eval', size, ...(train?.classNames ? { classNames: train.classNames } : {}) }) : undefined;
  if (need !== 'test' && !train) throw new UsageError(`option --data: '${dir}' has no train/ folder`);
  if (need === 'test' && !test) throw new UsageError(`option --data: '${dir}' has no val/ folder to evaluate on`);
  return { train, test };
}

/** Image folder with train/ and test/ (or val/) subfolders, or one folder split by `holdout`. */
async function loadImageFolders(dir: string, o: DataOptions, need: 'train' | 'test' | 'both'): Promise<{ train?: ImageDataset; test?: ImageDataset }> {
  const opts = o.imageSize ? { size: [o.imageSize, o.imageSize] as [number, number] } : {};
  const testDir = ['test', 'val', 'valid', 'validation'].map((d) => path.join(dir, d)).find(isDir);
  const trainDir = path.join(dir, 'train');
  if (isDir(trainDir) || testDir) {
    const train = need !== 'test' && isDir(trainDir) ? await data.loadImageFolder(trainDir, opts) : undefined;
    const test = need !== 'train' && testDir ? await data.loadImageFolder(testDir, { ...opts, ...(train?.classNames ? { classNames: train.classNames } : {}) }) : undefined;
    if (need === 'test' && !test) throw new UsageError(`option --data: '${dir}' has no test/ or val/ folder to evaluate on`);
    return { train, test };
  }
  const all = await data.loadImageFolder(dir, opts);
  const holdout = o.holdout ?? 0.1;
  if (holdout <= 0) return need === 'test' ? { test: all } : { train: all };
  // A seeded shuffle, so the same seed always holds out the same images.
  const order = new Rng(o.seed ?? 0, 0x401d).shuffle(Array.from({ length: all.count }, (_, i) => i));
  const nTest = Math.max(1, Math.round(all.count * holdout));
  return {
    train: subset(all, order.slice(nTest).sort((a, b) => a - b), `${all.name}-train`),
    test: subset(all, order.slice(0, nTest).sort((a, b) => a - b), `${all.name}-test`),
  };
}

/**
 * Loads the train and/or test split named by the options. Errors in the data are reported with the
 * file they are in; a missing or unrecognised path is a UsageError naming --data or --dataset.
 */
export async function loadData(o: DataOptions, need: 'train' | 'test' | 'both' = 'both'): Promise<LoadedData> {
  if (o.dataset !== undefined && !(DATASETS as readonly string[]).includes(o.dataset)) {
    throw new UsageError(`option --dataset must be one of ${DATASETS.join(', ')}; got '${o.dataset}'`);
  }
  let format = o.dataset as DatasetName | undefined;
  let where = o.data;
  if (!where) {
    if (format === 'fashion-mnist') {
      const found = data.findFashionMnist();
      if (!found) throw new UsageError(`option --dataset fashion-mnist: not found in ${data.FASHION_MNIST_DIRS.join(', ')}; install it (apt-get install dataset-fashion-mnist) or pass --data <folder>`);
      where = found;
    } else {
      throw new UsageError(format ? `option --data is required for --dataset ${format} (a folder or archive)` : 'option --data (a dataset folder or archive) or --dataset fashion-mnist is required');
    }
  }
  if (!fs.existsSync(where)) throw new UsageError(`option --data: '${where}' does not exist`);
  where = path.resolve(where);
  format ??= detectFormat(where);
  const wantTrain = need !== 'test';
  const wantTest = need !== 'train';
  let train: ImageDataset | ImageStream | undefined;
  let test: ImageDataset | ImageStream | undefined;
  switch (format) {
    case 'cifar10':
      if (wantTrain) train = await data.loadCifar10(where, { split: 'train' });
      if (wantTest) test = await data.loadCifar10(where, { split: 'test' });
      break;
    case 'cifar100':
      if (wantTrain) train = await data.loadCifar100(where, { split: 'train' });
      if (wantTest) test = await data.loadCifar100(where, { split: 'test' });
      break;
    case 'mnist':
    case 'fashion-mnist':
      if (wantTrain) train = await data.loadMnist(where, { kind: format, split: 'train' });
      if (wantTest) test = await data.loadMnist(where, { kind: format, split: 'test' });
      break;
    case 'imagefolder':
      ({ train, test } = await loadImageFolders(where, o, need));
      break;
    case 'imagenet':
      ({ train, test } = await openImagenet(where, o, need));
      break;
  }
  if (format !== 'imagenet') {
    train = limit(train as ImageDataset | undefined, o.limit);
    test = limit(test as ImageDataset | undefined, o.testLimit);
  }
  checkClasses(train, test, where, o);
  return { train, test, format, path: where };
}

/** What the class checks read of a dataset or stream. */
type Labelled = Pick<ImageDataset, 'labels' | 'count' | 'classNames'>;

/** The class names of a dataset, or 'class <i>' when it has none. */
function className(ds: Labelled, label: number): string {
  return ds.classNames?.[label] ?? `class ${label}`;
}

/** The labels that occur in a dataset, ascending. */
function labelsPresent(ds: Labelled): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < ds.count; i++) seen.add(ds.labels[i]);
  return [...seen].sort((a, b) => a - b);
}

/**
 * A classifier needs two classes to tell apart, and a test set is only meaningful on classes the training
 * set taught: a one-class folder would otherwise "train" to top-1 100 % at loss 0, and a test class never
 * seen in training counts against the model however well it learnt. Both are usage errors naming --data
 * (or --limit, when the limit is what removed the classes).
 */
function checkClasses(train: Labelled | undefined, test: Labelled | undefined, where: string, o: DataOptions): void {
  const cut = (ds: Labelled, n: number | undefined, flag: string) => (n !== undefined && ds.count === n ? `; ${flag} ${n} keeps only the first ${n} images` : '');
  if (train) {
    const present = labelsPresent(train);
    if (present.length < 2) {
      const names = present.map((l) => `'${className(train, l)}'`).join(', ') || 'none';
      throw new UsageError(
        `option --data: the training images of '${where}' hold ${present.length} class (${names})${cut(train, o.limit, '--limit')}; a classifier needs at least 2 classes` +
          ' (an image folder needs one subfolder per class)',
      );
    }
    if (test) {
      const taught = new Set(present);
      const missing = labelsPresent(test).filter((l) => !taught.has(l));
      if (missing.length > 0) {
        const names = missing.slice(0, 5).map((l) => `'${className(test, l)}'`).join(', ') + (missing.length > 5 ? `, ... (${missing.length} in all)` : '');
        throw new UsageError(
          `option --data: the test images of '${where}' hold class(es) ${names} that the training images lack${cut(train, o.limit, '--limit')}; ` +
            'every test class must appear in training (add training images of those classes, or raise --limit)',
        );
      }
    }
  }
}
