// The size and EXIF orientation of a JPEG or PNG read from its first bytes, so the crop box can be drawn
// before decoding without a second trip through the decoder (sharp's metadata() costs a thread-pool round
// trip and a second header parse per image).

/** Width and height as displayed (EXIF orientation 5-8 swaps them), or null when the bytes are not a readable JPEG/PNG header. */
export interface ImageSize {
  width: number;
  height: number;
  /** A JPEG's EXIF orientation (1-8; 1 without EXIF); absent for PNG. */
  orientation?: number;
}

/** EXIF orientation (1-8) from a JPEG APP1 segment's TIFF data, or 1. */
function exifOrientation(b: Uint8Array, start: number, end: number): number {
  // "Exif\0\0" then a TIFF header: byte order, 42, offset of IFD0.
  if (end - start < 14 || b[start] !== 0x45 || b[start + 1] !== 0x78 || b[start + 2] !== 0x69 || b[start + 3] !== 0x66) return 1;
  const t = start + 6;
  const little = b[t] === 0x49;
  const u16 = (p: number) => (little ? b[p] | (b[p + 1] << 8) : (b[p] << 8) | b[p + 1]);
  const u32 = (p: number) => (little ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 2 ** 24 : b[p] * 2 ** 24 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]));
  const ifd = t + u32(t + 4);
  if (ifd + 2 > end) return 1;
  const n = u16(ifd);
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + 12 * k;
    if (e + 12 > end) break;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/** The displayed size of a JPEG or PNG from its header bytes; null when it is neither or the header is cut. */
export function imageSize(b: Uint8Array): ImageSize | null {
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    const width = ((b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19]) >>> 0;
    const height = ((b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23]) >>> 0;
    return width > 0 && height > 0 ? { width, height } : null;
  }
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let p = 2;
  let orientation = 1;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return null;
    const marker = b[p + 1];
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      p += 2;
      continue;
    }
    const len = (b[p + 2] << 8) | b[p + 3];
    if (len < 2) return null;
    if (marker === 0xe1 && orientation === 1) orientation = exifOrientation(b, p + 4, Math.min(b.length, p + 2 + len));
    // Start-of-frame markers (not DHT c4, JPG c8, DAC cc) carry the size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (p + 9 > b.length) return null;
      const height = (b[p + 5] << 8) | b[p + 6];
      const width = (b[p + 7] << 8) | b[p + 8];
      if (!width || !height) return null;
      return orientation >= 5 ? { width: height, height: width, orientation } : { width, height, orientation };
    }
    if (marker === 0xda) return null; // scan data before any frame header
    p += 2 + len;
  }
  return null;
}
