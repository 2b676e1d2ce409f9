// Decodes only the part of a JPEG that one random-resized (or centre) crop needs, straight to the
// size x size RGB output: libjpeg-turbo's DCT-domain scaling (shrink-on-load) to the smallest M/8 that
// keeps the crop at least as large as the output, jpeg_crop_scanline for the columns, jpeg_skip_scanlines
// for the rows above, and no decoding below; then PIL's antialiased bilinear resample (resample.h), the
// EXIF orientation and the flip applied while resampling. ImageNet-sized photos decode a quarter of
// their pixels this way (docs/streaming-data.md has the measurements).
#pragma once
#include <cstddef>
#include <cstdint>

namespace rk::jpeg {

// The crop as image-stream.ts plans it (lib/data/crop.ts): the displayed (EXIF-oriented) picture scaled
// to resizedWidth x resizedHeight, and the size x size window at (left, top) of it, mirrored when flip.
struct CropRequest {
  int resizedWidth = 0;
  int resizedHeight = 0;
  int left = 0;
  int top = 0;
  int size = 0;
  bool flip = false;
  int orientation = 1;  // EXIF orientation 1-8 of the stored picture
};

// Largest picture accepted (the stream's limit before decoding, as sharp's limitInputPixels).
constexpr int64_t kMaxPixels = int64_t{1} << 28;

// Writes size * size * 3 bytes to `out`. Throws std::runtime_error (message starting "libjpeg: ") for
// bytes libjpeg cannot decode, a truncated file, a picture over kMaxPixels, or when no library is loaded.
// Runs on any thread; nothing is shared between calls.
void decodeCrop(const uint8_t* data, size_t length, const CropRequest& request, uint8_t* out);

}  // namespace rk::jpeg
