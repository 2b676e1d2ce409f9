#include "data/jpeg_crop_decoder.h"

#include <stdexcept>
#include <string>

#ifdef RK_WITH_LIBJPEG

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "data/libjpeg_functions.h"
#include "data/resample.h"

namespace rk::jpeg {

namespace {

// The decoded rows and columns, in the DCT-scaled stored (not yet oriented) picture.
struct Region {
  std::vector<uint8_t> pixels;  // width * height * components
  std::vector<uint8_t> scratch;  // one row, for reading past the crop to the end of a file
  int x0 = 0, y0 = 0, width = 0, height = 0, components = 3;
  bool adobe = false;  // CMYK from an Adobe (Photoshop) file: stored inverted
  bool swap = false;   // EXIF orientation 5-8: the output's horizontal axis is the stored vertical one
};

// EXIF orientation -> whether the stored x and y axes run mirrored on the display (index 1-8).
constexpr bool kMirrorX[9] = {false, false, true, true, false, false, false, true, true};
constexpr bool kMirrorY[9] = {false, false, false, true, true, false, true, true, false};

// The taps of one output axis: output sample k is centred at (start + k + 0.5) resized pixels, i.e.
// (start + k + 0.5) * length / resized full-size pixels of the displayed axis, mirrored onto the stored
// axis when the orientation says so, then scaled by the DCT factor `f`. Kept in its own frame: its vectors
// are gone before libjpeg runs again (a longjmp must not skip destructors).
AxisTaps axisTaps(int size, int start, int resized, double length, bool mirrored, bool reversed, double f, int pixels) {
  std::vector<double> centers(size);
  const double step = length / resized;
  for (int k = 0; k < size; ++k) {
    const int o = reversed ? size - 1 - k : k;
    const double c = (start + o + 0.5) * step;
    centers[k] = (mirrored ? length - c : c) * f;
  }
  return triangleTaps(centers, step * f, pixels);
}

// Everything between jpeg_CreateDecompress and jpeg_destroy_decompress. No automatic C++ object lives in
// this frame while libjpeg runs: an error longjmps from inside libjpeg to decode()'s setjmp.
void decodeRows(const Functions& fn, j_decompress_ptr ci, const uint8_t* data, size_t length, const CropRequest& rq, Region* region,
                AxisTaps* u, AxisTaps* v) {
  fn.mem_src(ci, data, static_cast<unsigned long>(length));
  fn.read_header(ci, TRUE);
  const int64_t W = ci->image_width, H = ci->image_height;
  if (W * H > kMaxPixels) throw std::runtime_error("libjpeg: the picture is " + std::to_string(W) + "x" + std::to_string(H) + ", over the 268 Mpx limit");
  const bool swap = rq.orientation >= 5;
  const double Wd = static_cast<double>(swap ? H : W), Hd = static_cast<double>(swap ? W : H);  // displayed
  // Shrink-on-load: the smallest M/8 that keeps the crop at least as large as the output on both axes,
  // so the resample after it still only reduces (and antialiases) and never enlarges.
  const int M = std::clamp(static_cast<int>(std::max(std::ceil(8.0 * rq.resizedWidth / Wd - 1e-9), std::ceil(8.0 * rq.resizedHeight / Hd - 1e-9))), 1, 8);
  ci->scale_num = M;
  ci->scale_denom = 8;
  const bool cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
  ci->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;  // greyscale, YCbCr and RGB files all come out as RGB
  fn.start_decompress(ci);
  const int Ws = static_cast<int>(ci->output_width), Hs = static_cast<int>(ci->output_height);
  const double f = M / 8.0;
  const bool mx = kMirrorX[rq.orientation], my = kMirrorY[rq.orientation];
  *u = axisTaps(rq.size, rq.left, rq.resizedWidth, Wd, swap ? my : mx, rq.flip, f, swap ? Hs : Ws);
  *v = axisTaps(rq.size, rq.top, rq.resizedHeight, Hd, swap ? mx : my, false, f, swap ? Ws : Hs);
  const AxisTaps& tx = swap ? *v : *u;  // taps along the stored x axis
  const AxisTaps& ty = swap ? *u : *v;
  JDIMENSION xoff = static_cast<JDIMENSION>(tx.lo), width = static_cast<JDIMENSION>(tx.hi - tx.lo);
  if (static_cast<int>(width) < Ws) fn.crop_scanline(ci, &xoff, &width);  // widened to whole iMCUs
  region->swap = swap;
  region->adobe = ci->saw_Adobe_marker;
  region->components = ci->output_components;
  region->x0 = static_cast<int>(xoff);
  region->width = static_cast<int>(ci->output_width);
  region->y0 = ty.lo;
  region->height = ty.hi - ty.lo;
  const size_t stride = static_cast<size_t>(region->width) * region->components;
  region->pixels.resize(stride * region->height);
  if (ty.lo > 0 && fn.skip_scanlines(ci, static_cast<JDIMENSION>(ty.lo)) != static_cast<JDIMENSION>(ty.lo)) {
    throw std::runtime_error("libjpeg: could not skip to row " + std::to_string(ty.lo));
  }
  while (ci->output_scanline < static_cast<JDIMENSION>(ty.hi)) {
    JSAMPROW row = region->pixels.data() + (ci->output_scanline - ty.lo) * stride;
    if (fn.read_scanlines(ci, &row, 1) != 1) throw std::runtime_error("libjpeg: no data for row " + std::to_string(ci->output_scanline));
  }
  // A file that does not end with the EOI marker (FF D9) may be truncated below the crop: decode on to
  // its end so a truncated file is rejected whatever the crop, as a whole-picture decoder would. (FF D9
  // cannot occur inside entropy-coded data, so a cut file almost never ends with it; most files do, and
  // skip this.) Progressive files were read whole by jpeg_start_decompress already.
  const bool endsWithEoi = length >= 2 && data[length - 2] == 0xFF && data[length - 1] == 0xD9;
  if (endsWithEoi) {
    fn.abort_decompress(ci);
    return;
  }
  if (ci->output_scanline < ci->output_height) {
    const JDIMENSION last = ci->output_height - 1;
    if (ci->output_scanline < last) fn.skip_scanlines(ci, last - ci->output_scanline);
    region->scratch.resize(stride);
    JSAMPROW row = region->scratch.data();
    while (ci->output_scanline < ci->output_height) {
      if (fn.read_scanlines(ci, &row, 1) != 1) throw std::runtime_error("libjpeg: no data for row " + std::to_string(ci->output_scanline));
    }
  }
  fn.finish_decompress(ci);
}

// Returns false with `message` set when libjpeg reported an error.
bool decodeRegion(const Functions& fn, const uint8_t* data, size_t length, const CropRequest& rq, Region* region, AxisTaps* u, AxisTaps* v,
                  char* message) {
  jpeg_decompress_struct cinfo;
  ErrorTrap trap;
  installTrap(fn, &cinfo, &trap);
  if (setjmp(trap.jump)) {
    std::memcpy(message, trap.message, JMSG_LENGTH_MAX);
    fn.destroy_decompress(&cinfo);
    return false;
  }
  fn.CreateDecompress(&cinfo, JPEG_LIB_VERSION, sizeof(jpeg_decompress_struct));
  try {
    decodeRows(fn, &cinfo, data, length, rq, region, u, v);
  } catch (...) {
    fn.destroy_decompress(&cinfo);
    throw;
  }
  fn.destroy_decompress(&cinfo);
  return true;
}

int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

// CMYK to RGB in place (4 -> 3 bytes a pixel), as PIL's convert('RGB'): R = (255 - C)(255 - K) / 255.
// Adobe files store the inks inverted (PIL reads them as "CMYK;I").
void cmykToRgb(Region* r) {
  const size_t n = static_cast<size_t>(r->width) * r->height;
  uint8_t* p = r->pixels.data();
  for (size_t i = 0; i < n; ++i) {
    int c = p[4 * i], m = p[4 * i + 1], y = p[4 * i + 2], k = p[4 * i + 3];
    if (r->adobe) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
    const int nk = 255 - k;
    p[3 * i] = static_cast<uint8_t>(std::clamp(nk - muldiv255(c, nk), 0, 255));
    p[3 * i + 1] = static_cast<uint8_t>(std::clamp(nk - muldiv255(m, nk), 0, 255));
    p[3 * i + 2] = static_cast<uint8_t>(std::clamp(nk - muldiv255(y, nk), 0, 255));
  }
  r->components = 3;
}

}  // namespace

void decodeCrop(const uint8_t* data, size_t length, const CropRequest& rq, uint8_t* out) {
  const Functions* fn = active();
  if (!fn) throw std::runtime_error("libjpeg: no libjpeg-turbo is loaded (rk.data.jpegDecoder() says why)");
  Region region;
  AxisTaps u, v;
  char message[JMSG_LENGTH_MAX];
  if (!decodeRegion(*fn, data, length, rq, &region, &u, &v, message)) throw std::runtime_error(std::string("libjpeg: ") + message);
  if (region.components == 4) cmykToRgb(&region);
  const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(region.width) * 3;
  const int xlo = region.swap ? v.lo : u.lo, ylo = region.swap ? u.lo : v.lo;
  const uint8_t* src = region.pixels.data() + (xlo - region.x0) * 3 + (ylo - region.y0) * row;
  resampleRgb(src, region.swap ? row : 3, region.swap ? 3 : row, u, v, rq.size, out);
}

}  // namespace rk::jpeg

#else  // built without jpeglib.h

namespace rk::jpeg {

void decodeCrop(const uint8_t*, size_t, const CropRequest&, uint8_t*) {
  throw std::runtime_error("libjpeg: this reviewkd binary was built without jpeglib.h, so the fast JPEG decoder is not compiled in");
}

}  // namespace rk::jpeg

#endif
