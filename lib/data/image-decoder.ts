// Decoding one image of a stream to `size`x`size` RGB uint8 (HWC) with sharp (libvips + libjpeg-turbo
// based mozjpeg): asynchronous on libuv's thread pool, so decoding never blocks the event loop nor the
// compute thread that runs the training step. sharp decodes PNGs, and JPEGs wherever the addon's
// crop-only decoder (jpeg-decoder.ts, libjpeg-turbo opened at run time) is unavailable or not chosen.
// Why that decoder is the default for JPEGs: sharp decodes the whole picture (shrink-on-load only by 2, 4
// or 8) with more overhead per image, and measured on this machine (docs/streaming-data.md) it spends
// about 1.5x PIL's CPU per image, where decoding only the crop spends a fraction. Why sharp stays: it
// ships prebuilt for every common platform without a compiler, reads PNG and odd JPEGs, and already
// serves loadImageFolder; it is loaded on first use, so `require('reviewkd')` works where it is missing.
import { imageSize } from './image-header';

/** The part of sharp's API used by the stream, typed locally (see image-folder.ts for why). */
interface SharpPipeline {
  resize(width: number, height: number, options: { fit: 'fill'; kernel: 'linear' }): SharpPipeline;
  extract(region: { left: number; top: number; width: number; height: number }): SharpPipeline;
  flop(): SharpPipeline;
  removeAlpha(): SharpPipeline;
  toColourspace(space: 'srgb'): SharpPipeline;
  raw(): SharpPipeline;
  metadata(): Promise<{ width?: number; height?: number; autoOrient?: { width: number; height: number } }>;
  toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}
type SharpFn = ((input: Buffer, options: { failOn: 'truncated'; autoOrient: true; limitInputPixels: number }) => SharpPipeline) & { cache(enabled: boolean): unknown };

let sharpFn: SharpFn | undefined;

/**
 * sharp, loaded on first use. A missing or broken binary is a clear error naming the fix, raised only
 * when a stream decodes (the rest of the package works without it).
 */
export function loadDecoder(): SharpFn {
  if (!sharpFn) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      sharpFn = require('sharp') as SharpFn;
    } catch (err) {
      throw new Error(
        `image stream: the image decoder 'sharp' could not be loaded (${(err as Error).message.split('\n')[0]}). ` +
          "Reinstall it with 'npm install sharp' (optional dependencies included; in Electron, unpack node_modules/sharp and node_modules/@img from the asar archive).",
      );
    }
    // libvips' operation cache keeps recent results for reuse; a stream never decodes the same bytes twice in a row.
    sharpFn.cache(false);
  }
  return sharpFn;
}

/** Where the decoded pixels come from in the displayed (EXIF-oriented) image. */
export type Placement = (width: number, height: number) => { resized: [number, number]; left: number; top: number; flip: boolean };

/**
 * Decodes `bytes` (JPEG or PNG; greyscale, CMYK and alpha converted to RGB, EXIF orientation applied),
 * resizes the whole image to `placement(...).resized` and cuts the `size`x`size` window (computed lazily:
 * only the window is resampled, and JPEG shrink-on-load applies), flipped when asked. Resolves to
 * `size*size*3` bytes, HWC. Rejects for truncated or undecodable bytes.
 */
export async function decodeImage(bytes: Buffer, size: number, placement: Placement): Promise<Buffer> {
  const sharp = loadDecoder();
  // Bounded: a 1-gigapixel "image" is refused before it is decoded (sharp's default limit is 268 Mpx).
  const options = { failOn: 'truncated' as const, autoOrient: true as const, limitInputPixels: 1 << 28 };
  let dims = imageSize(bytes);
  if (!dims) {
    const m = await sharp(bytes, options).metadata();
    const w = m.autoOrient?.width ?? m.width;
    const h = m.autoOrient?.height ?? m.height;
    if (!w || !h) throw new Error('not an image (no size in its header)');
    dims = { width: w, height: h };
  }
  const p = placement(dims.width, dims.height);
  // sharp mirrors (flop) before it resizes and extracts, whatever the call order: the window of the
  // mirrored picture that shows the planned box is at the mirrored left edge.
  const left = p.flip ? p.resized[0] - p.left - size : p.left;
  let img = sharp(bytes, options).resize(p.resized[0], p.resized[1], { fit: 'fill', kernel: 'linear' }).extract({ left, top: p.top, width: size, height: size });
  if (p.flip) img = img.flop();
  const { data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return data;
}
