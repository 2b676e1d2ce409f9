// Image folders in the torchvision ImageFolder layout: one subfolder per class (classes sorted by
// name), PNG or JPEG files inside. Decoding and resizing use sharp (libvips): a well-kept library with
// prebuilt binaries on npm for every common platform, fast, and asynchronous on libuv's thread pool.
import { promises as fsp } from 'fs';
import * as path from 'path';

import { describe, optionalStringList, optionsOf, rejectUnknown, requireInt, requirePath } from './checks';
import { channelStats, checkClassNames, type ImageDataset } from './dataset';
import { DataFormatError } from './errors';

/** File extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze(['.png', '.jpg', '.jpeg']);

/** Options of {@link loadImageFolder}. */
export interface LoadImageFolderOptions {
  /**
   * `[height, width]` every image is resized to (stretched, as torchvision's `Resize((h, w))`). Without
   * it every image must already have the size of the first one.
   */
  size?: [number, number];
  /**
   * How `size` is reached: 'stretch' (default; torchvision's `Resize((h, w))`) or 'center-crop' (scale
   * the shorter side to fit, keeping the aspect ratio, then crop the centre: `Resize` + `CenterCrop`,
   * the usual evaluation transform).
   */
  fit?: 'stretch' | 'center-crop';
  /**
   * The class list saved with a model: the subfolders must match it exactly (same names, same order),
   * else an Error lists the differences.
   */
  classNames?: string[];
  /** 3 (RGB, default; grey images are expanded) or 1 (greyscale; colour images are converted). */
  channels?: 1 | 3;
  /** How many images are decoded at once (default 8). */
  concurrency?: number;
}

/**
 * The part of sharp's API used here, typed locally: sharp's own declarations need a module resolution
 * mode this package does not compile with, and the .d.ts we ship then does not depend on them.
 */
interface SharpImage {
  resize(options: { width: number; height: number; fit: 'fill' | 'cover'; position?: 'centre' }): SharpImage;
  greyscale(): SharpImage;
  toColourspace(space: 'srgb'): SharpImage;
  removeAlpha(): SharpImage;
  raw(): SharpImage;
  toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}
type SharpModule = (input: string, options?: { failOn?: 'none' | 'truncated' | 'error' | 'warning' }) => SharpImage;

let sharpModule: SharpModule | undefined;
/** sharp is loaded on first use, so the rest of the package works where its binary is missing. */
function loadSharp(): SharpModule {
  if (!sharpModule) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      sharpModule = require('sharp') as SharpModule;
    } catch (err) {
      throw new Error(`loadImageFolder: the image decoder 'sharp' could not be loaded (${(err as Error).message.split('\n')[0]}); reinstall it with 'npm install sharp'`);
    }
  }
  return sharpModule;
}

/** Byte-wise name order (like Python's sorted()), so the class indices do not depend on the locale. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Loads an image-folder dataset: `dir/<class>/<image>.png|jpg|jpeg`, classes in sorted order (label =
 * index in that order). Hidden entries (starting with '.') are skipped; other files in a class folder
 * are ignored. Every unreadable image is reported by path in one {@link DataFormatError}. `mean`/`std`
 * are computed from the loaded images.
 *
 * @example const ds = await rk.data.loadImageFolder('photos/train', { size: [64, 64], classNames: saved });
 */
export async function loadImageFolder(dir: string, options?: LoadImageFolderOptions): Promise<ImageDataset> {
  const fn = 'loadImageFolder';
  requirePath(fn, 'dir', dir);
  const opts = optionsOf(fn, options);
  rejectUnknown(fn, opts, ['size', 'fit', 'classNames', 'channels', 'concurrency']);
  const fit = opts.fit ?? 'stretch';
  if (fit !== 'stretch' && fit !== 'center-crop') throw new RangeError(`${fn}: option 'fit' must be 'stretch' or 'center-crop'; got ${describe(fit)}`);
  if (opts.fit !== undefined && opts.size === undefined) throw new RangeError(`${fn}: option 'fit' needs option 'size'`);
  let size: [number, number] | undefined;
  if (opts.size !== undefined) {
    const s = opts.size;
    if (!Array.isArray(s) || s.length !== 2) throw new TypeError(`${fn}: option 'size' must be [height, width]; got ${describe(s)}`);
    size = [requireInt(fn, 'size[0]', s[0], 1, 65535), requireInt(fn, 'size[1]', s[1], 1, 65535)];
  }
  const expected = optionalStringList(fn, 'classNames', opts.classNames);
  const channels = requireInt(fn, 'channels', opts.channels, 1, 3, 3);
  if (channels === 2) throw new RangeError(`${fn}: option 'channels' must be 1 or 3; got 2`);
  const concurrency = requireInt(fn, 'concurrency', opts.concurrency, 1, 256, 8);

  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new Error(`${fn}: cannot read folder ${dir}: ${(err as Error).message}`);
  }
  const classes = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(byName);
  if (classes.length === 0) throw new Error(`${fn}: ${dir} has no class subfolders (expected ${dir}/<class>/<image>.png)`);
  if (expected) checkClassNames(expected, classes, `${fn}: ${dir}`);

  const files: { file: string; label: number }[] = [];
  for (let c = 0; c < classes.length; c++) {
    const classDir = path.join(dir, classes[c]);
    const names = (await fsp.readdir(classDir, { withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort(byName);
    if (names.length === 0) throw new Error(`${fn}: class folder ${classDir} has no ${IMAGE_EXTENSIONS.join('/')} images`);
    for (const n of names) files.push({ file: path.join(classDir, n), label: c });
  }

  const sharp = loadSharp();
  const decoded: (Buffer | null)[] = new Array(files.length).fill(null);
  const failures: string[] = [];
  let height = size?.[0] ?? 0;
  let width = size?.[1] ?? 0;
  const decode = async (i: number) => {
    const { file } = files[i];
    try {
      let img = sharp(file, { failOn: 'error' });
      if (size) img = img.resize(fit === 'center-crop' ? { width: size[1], height: size[0], fit: 'cover', position: 'centre' } : { width: size[1], height: size[0], fit: 'fill' });
      img = channels === 1 ? img.greyscale() : img.toColourspace('srgb');
      const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== channels) throw new Error(`decoded to ${info.channels} channels, expected ${channels}`);
      if (!height) {
        height = info.height;
        width = info.width;
      }
      if (info.height !== height || info.width !== width) {
        throw new Error(`is ${info.height}x${info.width} but the first image is ${height}x${width}; pass the 'size' option to resize`);
      }
      decoded[i] = data;
    } catch (err) {
      failures.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  };
  // Decode the first image alone so that it fixes the size when 'size' is not given.
  await decode(0);
  for (let start = 1; start < files.length; start += concurrency) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(files.length, start + concurrency); i++) batch.push(decode(i));
    await Promise.all(batch);
  }
  if (failures.length) {
    const shown = failures.sort(byName).slice(0, 20);
    throw new DataFormatError(dir, null, `${failures.length} image${failures.length > 1 ? 's' : ''} could not be read:\n  ${shown.join('\n  ')}${failures.length > shown.length ? `\n  ... and ${failures.length - shown.length} more` : ''}`);
  }

  // sharp returns interleaved HWC pixels; the dataset stores CHW.
  const plane = height * width;
  const count = files.length;
  const images = new Uint8Array(count * channels * plane);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const hwc = decoded[i]!;
    const base = i * channels * plane;
    for (let c = 0; c < channels; c++) {
      const dst = base + c * plane;
      for (let k = 0; k < plane; k++) images[dst + k] = hwc[k * channels + c];
    }
    labels[i] = files[i].label;
  }
  const { mean, std } = channelStats(images, count, channels, plane);
  return { name: path.basename(path.resolve(dir)), images, labels, count, channels, height, width, numClasses: classes.length, classNames: classes, mean, std };
}
