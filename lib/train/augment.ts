// The on-device augmentation of the training step, callable on its own.
import { native } from '../native';
import { requireTensor } from '../nn/checks';
import { Tensor } from '../tensor';

export interface AugmentOptions {
  /** Zero padding on every side before the random crop back to the input size (default 4; 0 = no crop). */
  padding?: number;
  /** Random horizontal flip with probability 1/2 (default true). */
  flip?: boolean;
  /** Random-resized crop instead of the padded crop, with area fraction in [scaleMin, scaleMax] and log-uniform aspect ratio in [ratioMin, ratioMax]. */
  randomResizedCrop?: boolean;
  scaleMin?: number;
  scaleMax?: number;
  ratioMin?: number;
  ratioMax?: number;
  /** Per-channel mean and std in [0, 1] units for normalisation (default 0 and 1: pixel / 255). */
  mean?: number[];
  std?: number[];
  /** Seed of this call's crop offsets and flips (default 0). */
  seed?: number;
}

/**
 * Random crop with zero padding, horizontal flip and normalisation of a uint8 N×C×H×W batch, as the
 * trainer does on the device at every step (the ReviewKD CIFAR pipeline). Returns float32.
 *
 * @example
 * const x = rk.train.augmentImages(batch, { padding: 4, flip: true, mean: ds.mean, std: ds.std, seed: 1 });
 */
export function augmentImages(images: Tensor, options: AugmentOptions = {}): Tensor {
  requireTensor('augmentImages', 'images', images);
  const fn = native().augmentImages as (images: unknown, options: AugmentOptions) => import('../native-types').NativeTensor;
  return new Tensor(fn(images.handle, options));
}
