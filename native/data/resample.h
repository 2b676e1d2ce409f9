// Antialiased bilinear resampling, as PIL's Image.resize(..., BILINEAR) that torchvision's Resize and
// RandomResizedCrop use on PIL images: a separable triangle filter whose support widens with the
// reduction (antialiasing), horizontal pass first into 8-bit rows, then vertical, in 22-bit fixed point.
// The source may be stored rotated or mirrored (EXIF orientation): each axis of the output walks its own
// stored axis with its own step, so the picture is turned while it is resampled, at no extra pass.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rk::jpeg {

// The filter taps of every output sample along one axis.
struct AxisTaps {
  std::vector<int> first;         // first source index of output sample k
  std::vector<int> count;         // taps of output sample k
  std::vector<int32_t> weights;   // k * stride + t: fixed-point weights, summing to 1 << kWeightBits
  int stride = 0;                 // weights per output sample (the widest)
  int lo = 0, hi = 0;             // source indices [lo, hi) used by any output sample
};

constexpr int kWeightBits = 22;  // PIL's PRECISION_BITS for 8-bit images

// Taps for output samples centred at `centers` (source pixel units, pixel i covering [i, i+1)), for a
// reduction of `scale` source pixels per output pixel, over a source axis of `pixels` pixels.
AxisTaps triangleTaps(const std::vector<double>& centers, double scale, int pixels);

// Resamples 3-channel 8-bit pixels into out (size x size x 3, row-major). Source pixel (u, v) of the
// output's axes is at src + u * stepU + v * stepV, indices relative to the taps' lo of each axis.
void resampleRgb(const uint8_t* src, std::ptrdiff_t stepU, std::ptrdiff_t stepV, const AxisTaps& u, const AxisTaps& v, int size,
                 uint8_t* out);

}  // namespace rk::jpeg
