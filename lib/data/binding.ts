// Native functions of native/data (the crop-only JPEG decoder), typed for lib/data.

/** The crop of {@link DataBinding.jpegDecodeCrop}: the displayed picture scaled to resizedWidth x resizedHeight, the size x size window at (left, top). */
export interface JpegCropPlan {
  resizedWidth: number;
  resizedHeight: number;
  left: number;
  top: number;
  size: number;
  flip: boolean;
  /** EXIF orientation 1-8 of the stored picture. */
  orientation: number;
}

export interface DataBinding {
  /** Opens libjpeg-turbo `name` once (dlopen) and checks it; the first that passes is the decoder's. */
  jpegDecoderLoad(name: string): { available: boolean; library: string; reason: string; compiledIn: boolean };
  /** Decodes the crop on libuv's thread pool and copies size*size*3 RGB bytes to out[offset...]. Rejects for broken or truncated JPEGs. */
  jpegDecodeCrop(bytes: Uint8Array, out: Uint8Array, offset: number, plan: JpegCropPlan): Promise<void>;
}
