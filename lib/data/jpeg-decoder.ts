// The addon's crop-only JPEG decoder (native/data/): which libjpeg-turbo it opened (or why none), and
// decoding one crop of a JPEG straight into a batch buffer on libuv's thread pool. It decodes only the
// rows and columns the crop needs, at the smallest DCT scale that still covers the output, so an
// ImageNet-sized photo costs about a quarter of a whole decode (docs/streaming-data.md, "Decoders").
import { setting } from '../loader/settings';
import { native } from '../native';
import type { Placement } from './image-decoder';
import { imageSize } from './image-header';

/** What {@link jpegDecoder} reports. */
export interface JpegDecoderInfo {
  /** True when image streams can decode JPEGs in the addon (their default then). */
  available: boolean;
  /** The libjpeg-turbo file opened (a resolved path), or the name that could not be opened; null when none was tried. */
  library: string | null;
  /** Why it is unavailable ('' when available). */
  reason: string;
}

/** The library opened when REVIEWKD_LIBJPEG is unset: libjpeg-turbo with the libjpeg 6.2 API (Debian, Fedora). */
export const DEFAULT_LIBJPEG = 'libjpeg.so.62';

let known: JpegDecoderInfo | undefined;

/**
 * Whether the addon's JPEG decoder can run here, which library it uses, and why not. The library is
 * opened on the first call (`REVIEWKD_LIBJPEG` names another one, or `0` turns the decoder off); this
 * loads the addon. Never throws: a missing addon is a reason like any other.
 * @example const d = rk.data.jpegDecoder(); console.log(d.available ? d.library : d.reason);
 */
export function jpegDecoder(): JpegDecoderInfo {
  if (!known) {
    const name = setting('REVIEWKD_LIBJPEG') ?? DEFAULT_LIBJPEG;
    if (['0', 'off', 'false', 'no'].includes(name.toLowerCase())) {
      known = { available: false, library: null, reason: `turned off by REVIEWKD_LIBJPEG=${name}` };
    } else {
      try {
        const r = native().jpegDecoderLoad(name);
        known = { available: r.available, library: r.library, reason: r.reason };
      } catch (err) {
        known = { available: false, library: null, reason: `the reviewkd addon could not be loaded: ${(err as Error).message.split('\n')[0]}` };
      }
    }
  }
  return { ...known };
}

/** True for bytes that start like a JPEG (SOI marker). */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * Decodes the `size`x`size` window of `placement` from JPEG `bytes` into `out` at `offset` (HWC RGB
 * uint8), EXIF orientation and flip applied. Rejects for undecodable or truncated bytes, naming why.
 */
export async function decodeJpegInto(bytes: Uint8Array, size: number, placement: Placement, out: Uint8Array, offset: number): Promise<void> {
  const d = jpegDecoder(); // opens the library on first use
  if (!d.available) throw new Error(`the addon's JPEG decoder is unavailable: ${d.reason}`);
  const dims = imageSize(bytes);
  if (!dims) throw new Error('not a JPEG image (no size in its header)');
  const p = placement(dims.width, dims.height);
  await native().jpegDecodeCrop(bytes, out, offset, {
    resizedWidth: p.resized[0], resizedHeight: p.resized[1], left: p.left, top: p.top, size, flip: p.flip, orientation: dims.orientation ?? 1,
  });
}
