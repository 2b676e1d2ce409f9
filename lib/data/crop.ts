// The geometry of the ImageNet transforms, with torchvision's semantics: RandomResizedCrop's box rule
// (scale [0.08, 1], log-uniform ratio [3/4, 4/3], 10 tries, then the centre fallback) for training, and
// Resize(shorter side) + CenterCrop for evaluation. Pure functions of the image size and a seeded Rng, so
// a sample's crop depends only on (seed, epoch, index), never on decode order or concurrency.
import { describe } from './checks';
import { Rng } from './rng';

/** Image and output sizes are whole numbers of pixels >= 1. */
function requireSize(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1 << 20) throw new RangeError(`${fn}: argument '${name}' must be an integer in [1, 1048576] (pixels); got ${describe(v)}`);
  return v;
}

/** A crop box in the (EXIF-oriented) source image: top row, left column, height, width. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** How a source image becomes `size`x`size` pixels: scale the whole image to `resized`, then cut `crop` from it. */
export interface ResizePlan {
  /** [width, height] the whole image is resized to. */
  resized: [number, number];
  /** The `size`x`size` window cut from the resized image (left, top). */
  left: number;
  top: number;
}

/** Python's round(): halves go to the even neighbour (torchvision computes with it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Scale and ratio ranges of {@link randomResizedCrop} (torchvision's defaults). */
export interface CropRanges {
  scale: [number, number];
  ratio: [number, number];
}

/** torchvision's defaults: scale [0.08, 1], ratio [3/4, 4/3]. */
export const DEFAULT_CROP_RANGES: Readonly<CropRanges> = Object.freeze({ scale: [0.08, 1] as [number, number], ratio: [3 / 4, 4 / 3] as [number, number] });

/**
 * torchvision's `RandomResizedCrop.get_params`: up to 10 draws of an area fraction (uniform in `scale`)
 * and an aspect ratio (log-uniform in `ratio`); the first box that fits is placed uniformly at random;
 * when none fits, the largest centred box whose ratio is clamped to the range.
 */
export function randomResizedCrop(width: number, height: number, rng: Rng, ranges: CropRanges = DEFAULT_CROP_RANGES): CropBox {
  const fn = 'randomResizedCrop';
  requireSize(fn, 'width', width);
  requireSize(fn, 'height', height);
  if (!(rng instanceof Rng)) throw new TypeError(`${fn}: argument 'rng' must be an rk.data.Rng; got ${describe(rng)}`);
  const okRange = (r: unknown, hi: number) => Array.isArray(r) && r.length === 2 && r.every((x) => typeof x === 'number' && Number.isFinite(x)) && r[0] > 0 && r[0] <= r[1] && r[1] <= hi;
  if (typeof ranges !== 'object' || ranges === null || !okRange(ranges.scale, 1) || !okRange(ranges.ratio, 100)) {
    throw new RangeError(`${fn}: argument 'ranges' must be {scale: [min, max] in (0, 1], ratio: [min, max] in (0, 100]}; got ${describe(ranges)}`);
  }
  const area = width * height;
  const [s0, s1] = ranges.scale;
  const l0 = Math.log(ranges.ratio[0]);
  const l1 = Math.log(ranges.ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (s0 + (s1 - s0) * rng.nextFloat());
    const aspect = Math.exp(l0 + (l1 - l0) * rng.nextFloat());
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: rng.nextInt(height - h + 1), left: rng.nextInt(width - w + 1), height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ranges.ratio[0]) h = roundHalfEven(width / ranges.ratio[0]);
  else if (inRatio > ranges.ratio[1]) w = roundHalfEven(height * ranges.ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/**
 * The crop box realised as resize-then-cut: the whole image is scaled so that the box becomes
 * `size`x`size`, then that window is cut out. The decoder computes only the window (libvips is
 * demand-driven) and a JPEG is decoded at 1/2, 1/4 or 1/8 scale (DCT-domain, shrink-on-load) when the
 * box is at least twice the output. The window's corner is rounded to whole output pixels: at most half
 * an output pixel from the exact box.
 */
export function cropPlan(width: number, height: number, box: CropBox, size: number): ResizePlan {
  const fn = 'cropPlan';
  requireSize(fn, 'width', width);
  requireSize(fn, 'height', height);
  requireSize(fn, 'size', size);
  const b = box as unknown as Record<string, unknown> | null;
  const inside = typeof b === 'object' && b !== null && [b.top, b.left, b.height, b.width].every((x) => Number.isInteger(x)) &&
    (b.top as number) >= 0 && (b.left as number) >= 0 && (b.width as number) >= 1 && (b.height as number) >= 1 &&
    (b.left as number) + (b.width as number) <= width && (b.top as number) + (b.height as number) <= height;
  if (!inside) throw new RangeError(`${fn}: argument 'box' must be a {top, left, height, width} box of whole pixels inside the ${width}x${height} image; got ${describe(box)}`);
  const sx = size / box.width;
  const sy = size / box.height;
  const rw = Math.max(size, Math.round(width * sx));
  const rh = Math.max(size, Math.round(height * sy));
  const left = Math.min(rw - size, Math.max(0, Math.round(box.left * sx)));
  const top = Math.min(rh - size, Math.max(0, Math.round(box.top * sy)));
  return { resized: [rw, rh], left, top };
}

/**
 * torchvision's evaluation transform `Resize(resize)` + `CenterCrop(size)`: the shorter side becomes
 * `resize` (the longer one `int(resize * long / short)`), then the centre `size`x`size` is cut with
 * CenterCrop's rounding.
 */
export function centerPlan(width: number, height: number, resize: number, size: number): ResizePlan {
  const fn = 'centerPlan';
  requireSize(fn, 'width', width);
  requireSize(fn, 'height', height);
  requireSize(fn, 'resize', resize);
  requireSize(fn, 'size', size);
  if (size > resize) throw new RangeError(`${fn}: argument 'size' (${size}) must not exceed 'resize' (${resize})`);
  let rw: number;
  let rh: number;
  if (width <= height) {
    rw = resize;
    rh = Math.floor((resize * height) / width);
  } else {
    rh = resize;
    rw = Math.floor((resize * width) / height);
  }
  return { resized: [rw, rh], left: roundHalfEven((rw - size) / 2), top: roundHalfEven((rh - size) / 2) };
}
