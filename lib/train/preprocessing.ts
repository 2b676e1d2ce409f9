// What a trained model expects of its input, recorded with every export so deploying it needs no
// constants dug out of the API: input size, channels, the normalisation (pixel / 255, then per-channel
// mean and std, as the trainer does on the device), class names and the library version.
import type { ImageDataset } from '../data';

/** The input a model was trained on. */
export interface Preprocessing {
  /** [height, width] of the training images. */
  inputSize: [number, number];
  channels: number;
  /** Per-channel mean and std of pixel / pixelScale; the network saw (pixel / pixelScale - mean) / std. */
  mean: number[];
  std: number[];
  /** What raw pixel values are divided by before mean/std: 255 (uint8 images). */
  pixelScale: number;
  numClasses: number;
  /** Class names by label, when the data has them (image folders). */
  classNames?: string[];
  /** The dataset's name. */
  dataset?: string;
  /** 'reviewkd <version>' that wrote the file. */
  library: string;
}

/** 'reviewkd <version>' of this package. */
export function libraryVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return `reviewkd ${(require('../../package.json') as { version: string }).version}`;
  } catch {
    return 'reviewkd';
  }
}

/** The preprocessing of a dataset as the trainer applies it. */
export function preprocessingOf(ds: Pick<ImageDataset, 'height' | 'width' | 'channels' | 'mean' | 'std' | 'numClasses' | 'classNames' | 'name'>): Preprocessing {
  return {
    inputSize: [ds.height, ds.width],
    channels: ds.channels,
    mean: [...ds.mean],
    std: [...ds.std],
    pixelScale: 255,
    numClasses: ds.numClasses,
    ...(ds.classNames ? { classNames: [...ds.classNames] } : {}),
    ...(ds.name ? { dataset: ds.name } : {}),
    library: libraryVersion(),
  };
}

/** As safetensors `__metadata__` (string values only): inputSize '28x28', channels '1', mean '[0.286]', ... */
export function preprocessingMetadata(p: Preprocessing): Record<string, string> {
  return {
    inputSize: `${p.inputSize[0]}x${p.inputSize[1]}`,
    channels: String(p.channels),
    mean: JSON.stringify(p.mean),
    std: JSON.stringify(p.std),
    pixelScale: String(p.pixelScale),
    numClasses: String(p.numClasses),
    ...(p.classNames ? { classNames: JSON.stringify(p.classNames) } : {}),
    ...(p.dataset ? { dataset: p.dataset } : {}),
    library: p.library,
  };
}

/** Reads {@link preprocessingMetadata} back; undefined when the metadata lacks the normalisation (older files, foreign files). */
export function preprocessingFromMetadata(meta: Record<string, string>): Preprocessing | undefined {
  try {
    const size = meta.inputSize?.split('x').map(Number);
    const mean = JSON.parse(meta.mean ?? 'null') as unknown;
    const std = JSON.parse(meta.std ?? 'null') as unknown;
    const nums = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!size || size.length !== 2 || !size.every((x) => Number.isInteger(x) && x > 0) || !nums(mean) || !nums(std)) return undefined;
    const classNames = meta.classNames ? (JSON.parse(meta.classNames) as unknown) : undefined;
    return {
      inputSize: [size[0], size[1]],
      channels: Number(meta.channels ?? mean.length),
      mean,
      std,
      pixelScale: Number(meta.pixelScale ?? 255),
      numClasses: Number(meta.numClasses ?? 0),
      ...(Array.isArray(classNames) && classNames.every((c) => typeof c === 'string') ? { classNames: classNames as string[] } : {}),
      ...(meta.dataset ? { dataset: meta.dataset } : {}),
      library: meta.library ?? 'unknown',
    };
  } catch {
    // Unparseable metadata is treated as absent: the weights themselves still load.
    return undefined;
  }
}
