#include "data/resample.h"

#include <algorithm>
#include <cmath>

namespace rk::jpeg {

namespace {

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kWeightBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

}  // namespace

AxisTaps triangleTaps(const std::vector<double>& centers, double scale, int pixels) {
  // PIL's precompute_coeffs: support 1 (bilinear) times the reduction when reducing; taps [xmin, xmax)
  // clipped to the image; weights normalised to sum 1, then rounded to fixed point.
  const double filterScale = std::max(scale, 1.0);
  const double support = filterScale;
  AxisTaps t;
  const size_t n = centers.size();
  t.stride = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(n);
  t.count.resize(n);
  t.weights.assign(n * t.stride, 0);
  t.lo = pixels;
  t.hi = 0;
  std::vector<double> w(t.stride);
  for (size_t k = 0; k < n; ++k) {
    const double c = centers[k];
    int xmin = static_cast<int>(c - support + 0.5);
    if (c - support + 0.5 < 0) xmin = 0;
    int xmax = static_cast<int>(c + support + 0.5);
    if (xmax > pixels) xmax = pixels;
    if (xmin > pixels - 1) xmin = pixels - 1;  // a centre at the very edge still gets one tap
    if (xmax <= xmin) xmax = xmin + 1;
    int taps = std::min(xmax - xmin, t.stride);
    double sum = 0;
    for (int i = 0; i < taps; ++i) {
      w[i] = triangle((i + xmin - c + 0.5) / filterScale);
      sum += w[i];
    }
    if (sum == 0) {  // cannot happen for a centre inside the image; one tap at the nearest pixel keeps it safe
      taps = 1;
      w[0] = sum = 1;
    }
    for (int i = 0; i < taps; ++i) {
      const double v = w[i] / sum * (1 << kWeightBits);
      t.weights[k * t.stride + i] = static_cast<int32_t>(v < 0 ? v - 0.5 : v + 0.5);
    }
    t.first[k] = xmin;
    t.count[k] = taps;
    t.lo = std::min(t.lo, xmin);
    t.hi = std::max(t.hi, xmin + taps);
  }
  for (size_t k = 0; k < n; ++k) t.first[k] -= t.lo;  // relative to the first source index used
  return t;
}

void resampleRgb(const uint8_t* src, std::ptrdiff_t stepU, std::ptrdiff_t stepV, const AxisTaps& u, const AxisTaps& v, int size,
                 uint8_t* out) {
  const int rows = v.hi - v.lo;
  const std::ptrdiff_t rowBytes = static_cast<std::ptrdiff_t>(size) * 3;
  std::vector<uint8_t> mid(static_cast<size_t>(rows) * rowBytes);
  const int32_t half = 1 << (kWeightBits - 1);
  // Horizontal (output's u axis) pass over every source row the vertical taps need.
  for (int r = 0; r < rows; ++r) {
    const uint8_t* line = src + r * stepV;
    uint8_t* dst = mid.data() + r * rowBytes;
    for (int q = 0; q < size; ++q) {
      const int32_t* w = u.weights.data() + static_cast<size_t>(q) * u.stride;
      const uint8_t* p = line + u.first[q] * stepU;
      int32_t a0 = half, a1 = half, a2 = half;
      for (int i = 0; i < u.count[q]; ++i, p += stepU) {
        a0 += p[0] * w[i];
        a1 += p[1] * w[i];
        a2 += p[2] * w[i];
      }
      dst[3 * q] = clip8(a0);
      dst[3 * q + 1] = clip8(a1);
      dst[3 * q + 2] = clip8(a2);
    }
  }
  // Vertical pass: a weighted sum of whole rows, which the compiler vectorises.
  std::vector<int32_t> acc(rowBytes);
  for (int o = 0; o < size; ++o) {
    std::fill(acc.begin(), acc.end(), half);
    const int32_t* w = v.weights.data() + static_cast<size_t>(o) * v.stride;
    for (int i = 0; i < v.count[o]; ++i) {
      const uint8_t* row = mid.data() + (v.first[o] + i) * rowBytes;
      const int32_t wi = w[i];
      for (std::ptrdiff_t x = 0; x < rowBytes; ++x) acc[x] += row[x] * wi;
    }
    uint8_t* dst = out + o * rowBytes;
    for (std::ptrdiff_t x = 0; x < rowBytes; ++x) dst[x] = clip8(acc[x]);
  }
}

}  // namespace rk::jpeg
