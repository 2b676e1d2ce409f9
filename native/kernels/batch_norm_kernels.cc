#include "kernels/batch_norm_kernels.h"

#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/native_batch_norm_backward_native.h>
#include <ATen/ops/native_batch_norm_native.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include "kernels/float_io.h"

namespace rk {

namespace {

using at::Tensor;
using OptionalTensor = std::optional<Tensor>;
using kernels::loadFloat;
using kernels::storeFloat;

// Float sums run over at most this many values before they are added into a double: float speed, and an
// error no larger than LibTorch's double accumulation gives at the precision of a float result.
constexpr int64_t kFloatRun = 512;
// Channels-last maps are reduced in fixed chunks of pixels, each chunk's sums kept apart and added in chunk
// order afterwards: the result does not depend on how many threads ran (a resumed run must be bit-identical).
constexpr int64_t kChunkPixels = 256;

// The two memory layouts handled. NCHW: value (n, c, i) at (n * C + c) * HW + i. Channels-last: pixel p
// (of N * HW) holds its C channel values contiguously at p * C.
struct Geometry {
  bool channelsLast;
  int64_t n, c, hw;
  int64_t count() const { return n * hw; }  // values per channel
  int64_t pixels() const { return n * hw; }
  int64_t chunks() const { return (pixels() + kChunkPixels - 1) / kChunkPixels; }
};

bool definedTensor(const OptionalTensor& t) { return t.has_value() && t->defined(); }

// Only float parameters of C values on the CPU (what every BatchNorm2d module holds).
bool parameterFits(const OptionalTensor& t, int64_t channels) {
  return !definedTensor(t) || (t->device().is_cpu() && t->scalar_type() == at::kFloat && t->is_contiguous() && t->numel() == channels);
}

// The layout of a map these kernels handle, or nothing (then LibTorch's kernel runs).
std::optional<Geometry> geometryOf(const Tensor& input, const OptionalTensor& weight, const OptionalTensor& bias, const OptionalTensor& mean,
                                   const OptionalTensor& var) {
  if (!input.device().is_cpu() || input.dim() != 4 || input.numel() == 0) return std::nullopt;
  if (input.scalar_type() != at::kFloat && input.scalar_type() != at::kBFloat16) return std::nullopt;
  // A bfloat16 map with no float parameter would give LibTorch's kernel bfloat16 statistics: leave it to it.
  if (input.scalar_type() == at::kBFloat16 && !definedTensor(weight)) return std::nullopt;
  const int64_t c = input.size(1);
  for (const auto* p : {&weight, &bias, &mean, &var}) {
    if (!parameterFits(*p, c)) return std::nullopt;
  }
  Geometry g{false, input.size(0), c, input.size(2) * input.size(3)};
  if (input.is_contiguous()) return g;
  if (input.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    g.channelsLast = true;
    return g;
  }
  return std::nullopt;
}

const float* floatData(const OptionalTensor& t) { return definedTensor(t) ? t->data_ptr<float>() : nullptr; }

// ---- sums per channel ----
// Each kernel fills `out` (double, [parts][2][C]) with two sums per channel over one part of the map:
// NCHW parts are the N images, channels-last parts are chunks of kChunkPixels pixels.

// The two sums of one NCHW plane of hw values: float over runs of kFloatRun, double across runs.
// `terms(i, a, b)` adds value i's two terms (inlined into each multiversioned caller, so it vectorises).
template <typename Terms>
inline __attribute__((always_inline)) void planeSums(int64_t hw, const Terms& terms, double* sumA, double* sumB) {
  double a = 0, b = 0;
  for (int64_t start = 0; start < hw; start += kFloatRun) {
    const int64_t end = std::min(hw, start + kFloatRun);
    float fa = 0, fb = 0;
#pragma omp simd reduction(+ : fa, fb)
    for (int64_t i = start; i < end; ++i) terms(i, fa, fb);
    a += fa;
    b += fb;
  }
  *sumA = a;
  *sumB = b;
}

// The two sums per channel of one channels-last chunk of `rows` pixels: float accumulators fa/fb (c values
// each), copied out to doubles. `terms(offset, k, a, b)` adds the terms of value `offset` (channel k).
template <typename Terms>
inline __attribute__((always_inline)) void chunkSums(int64_t rows, int64_t c, const Terms& terms, float* fa, float* fb, double* sumA, double* sumB) {
  for (int64_t k = 0; k < c; ++k) fa[k] = fb[k] = 0;
  for (int64_t r = 0; r < rows; ++r) {
#pragma omp simd
    for (int64_t k = 0; k < c; ++k) terms(r * c + k, k, fa[k], fb[k]);
  }
  for (int64_t k = 0; k < c; ++k) {
    sumA[k] = fa[k];
    sumB[k] = fb[k];
  }
}

// Forward statistics: sum of (x - shift) and of its square, shift being one sample of the channel (it
// keeps the one-pass variance free of cancellation when the mean is large against the spread).
template <typename T>
RK_MULTIVERSION void momentsPlane(const T* x, int64_t hw, float shift, double* sum, double* squares) {
  planeSums(
      hw,
      [&](int64_t i, float& s, float& ss) {
        const float v = loadFloat(x[i]) - shift;
        s += v;
        ss += v * v;
      },
      sum, squares);
}

template <typename T>
RK_MULTIVERSION void momentsChunk(const T* x, int64_t rows, int64_t c, const float* shift, float* fs, float* fss, double* sum, double* squares) {
  chunkSums(
      rows, c,
      [&](int64_t i, int64_t k, float& s, float& ss) {
        const float v = loadFloat(x[i]) - shift[k];
        s += v;
        ss += v * v;
      },
      fs, fss, sum, squares);
}

// Backward sums: sum of g and of g * (x - mean).
template <typename T>
RK_MULTIVERSION void gradSumsPlane(const T* g, const T* x, int64_t hw, float mean, double* sumG, double* sumGx) {
  planeSums(
      hw,
      [&](int64_t i, float& s, float& sx) {
        const float gv = loadFloat(g[i]);
        s += gv;
        sx += gv * (loadFloat(x[i]) - mean);
      },
      sumG, sumGx);
}

template <typename T>
RK_MULTIVERSION void gradSumsChunk(const T* g, const T* x, int64_t rows, int64_t c, const float* mean, float* fs, float* fsx, double* sumG,
                                   double* sumGx) {
  chunkSums(
      rows, c,
      [&](int64_t i, int64_t k, float& s, float& sx) {
        const float gv = loadFloat(g[i]);
        s += gv;
        sx += gv * (loadFloat(x[i]) - mean[k]);
      },
      fs, fsx, sumG, sumGx);
}

// Runs a sums kernel over every part of the map in parallel and adds the parts in order: returns
// [2][C] doubles. `plane(x-offset, channel, &a, &b)` for NCHW, `chunk(first pixel, pixels, a*, b*)` for
// channels-last (a and b point at C doubles each).
template <typename Plane, typename Chunk>
std::vector<double> channelSums(const Geometry& geo, const Plane& plane, const Chunk& chunk) {
  const int64_t c = geo.c;
  const int64_t parts = geo.channelsLast ? geo.chunks() : geo.n;
  std::vector<double> partial(static_cast<size_t>(parts * 2 * c));
  if (geo.channelsLast) {
    at::parallel_for(0, parts, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(static_cast<size_t>(2 * c));
      for (int64_t p = begin; p < end; ++p) {
        const int64_t first = p * kChunkPixels;
        const int64_t rows = std::min(kChunkPixels, geo.pixels() - first);
        double* out = partial.data() + p * 2 * c;
        chunk(first, rows, scratch.data(), scratch.data() + c, out, out + c);
      }
    });
  } else {
    // One task per (image, channel) plane; a plane of a few hundred values is too small alone.
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, geo.hw));
    at::parallel_for(0, geo.n * c, grain, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        const int64_t image = k / c, channel = k % c;
        double* out = partial.data() + image * 2 * c;
        plane(k * geo.hw, channel, out + channel, out + c + channel);
      }
    });
  }
  std::vector<double> total(static_cast<size_t>(2 * c), 0.0);
  for (int64_t p = 0; p < parts; ++p) {
    const double* part = partial.data() + p * 2 * c;
    for (int64_t k = 0; k < 2 * c; ++k) total[k] += part[k];
  }
  return total;
}

// ---- elementwise passes ----

// y = x * scale[c] + shift[c]
template <typename T>
RK_MULTIVERSION void affinePlane(const T* x, T* y, int64_t hw, float scale, float shift) {
#pragma omp simd
  for (int64_t i = 0; i < hw; ++i) y[i] = storeFloat<T>(loadFloat(x[i]) * scale + shift);
}

template <typename T>
RK_MULTIVERSION void affineRows(const T* x, T* y, int64_t rows, int64_t c, const float* scale, const float* shift) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * c;
    T* yr = y + r * c;
#pragma omp simd
    for (int64_t k = 0; k < c; ++k) yr[k] = storeFloat<T>(loadFloat(xr[k]) * scale[k] + shift[k]);
  }
}

// gx = a * (g - (x - mean) * k - m), per channel a = w * invstd, k = invstd^2 * sum(g (x - mean)) / M,
// m = sum(g) / M: the gradient of a training-mode BatchNorm.
template <typename T>
RK_MULTIVERSION void gradInputPlane(const T* g, const T* x, T* gx, int64_t hw, float a, float mean, float k, float m) {
#pragma omp simd
  for (int64_t i = 0; i < hw; ++i) gx[i] = storeFloat<T>(a * (loadFloat(g[i]) - (loadFloat(x[i]) - mean) * k - m));
}

template <typename T>
RK_MULTIVERSION void gradInputRows(const T* g, const T* x, T* gx, int64_t rows, int64_t c, const float* a, const float* mean, const float* k,
                                   const float* m) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* gr = g + r * c;
    const T* xr = x + r * c;
    T* out = gx + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) out[j] = storeFloat<T>(a[j] * (loadFloat(gr[j]) - (loadFloat(xr[j]) - mean[j]) * k[j] - m[j]));
  }
}

// Applies a per-channel pass over the whole map in parallel: `plane(offset, channel)` for NCHW,
// `rows(first pixel, pixels)` for channels-last.
template <typename Plane, typename Rows>
void forEachPart(const Geometry& geo, const Plane& plane, const Rows& rows) {
  if (geo.channelsLast) {
    at::parallel_for(0, geo.chunks(), 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const int64_t first = p * kChunkPixels;
        rows(first, std::min(kChunkPixels, geo.pixels() - first));
      }
    });
  } else {
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, geo.hw));
    at::parallel_for(0, geo.n * geo.c, grain, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) plane(k * geo.hw, k % geo.c);
    });
  }
}

// ---- the two operators ----

template <typename T>
void normalize(const Geometry& geo, const Tensor& input, Tensor& output, const std::vector<float>& scale, const std::vector<float>& shift) {
  const T* x = input.data_ptr<T>();
  T* y = output.data_ptr<T>();
  forEachPart(
      geo, [&](int64_t offset, int64_t ch) { affinePlane<T>(x + offset, y + offset, geo.hw, scale[ch], shift[ch]); },
      [&](int64_t first, int64_t rows) { affineRows<T>(x + first * geo.c, y + first * geo.c, rows, geo.c, scale.data(), shift.data()); });
}

// Batch mean and biased variance per channel.
template <typename T>
void batchMoments(const Geometry& geo, const Tensor& input, std::vector<double>& mean, std::vector<double>& variance) {
  const T* x = input.data_ptr<T>();
  const int64_t c = geo.c;
  std::vector<float> shift(static_cast<size_t>(c));
  for (int64_t k = 0; k < c; ++k) shift[k] = loadFloat(x[geo.channelsLast ? k : k * geo.hw]);
  const auto sums = channelSums(
      geo, [&](int64_t offset, int64_t ch, double* s, double* ss) { momentsPlane<T>(x + offset, geo.hw, shift[ch], s, ss); },
      [&](int64_t first, int64_t rows, float* fs, float* fss, double* s, double* ss) {
        momentsChunk<T>(x + first * c, rows, c, shift.data(), fs, fss, s, ss);
      });
  const double count = static_cast<double>(geo.count());
  mean.resize(c);
  variance.resize(c);
  for (int64_t k = 0; k < c; ++k) {
    const double centred = sums[k] / count;
    mean[k] = shift[k] + centred;
    variance[k] = std::max(0.0, sums[c + k] / count - centred * centred);
  }
}

std::tuple<Tensor, Tensor, Tensor> batchNormForward(const Tensor& input, const OptionalTensor& weight, const OptionalTensor& bias,
                                                    const OptionalTensor& runningMean, const OptionalTensor& runningVar, bool training,
                                                    double momentum, double eps) {
  const auto geo = geometryOf(input, weight, bias, runningMean, runningVar);
  // Evaluation mode is one affine pass either way, and LibTorch's was measured faster on bfloat16
  // channels-last maps (teacher forward 1480-1780 img/s against 1270-1680 with ours), so it keeps it.
  if (!geo || !training || geo->count() < 2) {
    return at::native::batch_norm_cpu(input, weight, bias, runningMean, runningVar, training, momentum, eps);
  }
  const int64_t c = geo->c;
  const bool bf16 = input.scalar_type() == at::kBFloat16;
  std::vector<double> mean, variance;
  if (bf16) {
    batchMoments<c10::BFloat16>(*geo, input, mean, variance);
  } else {
    batchMoments<float>(*geo, input, mean, variance);
  }

  const float* w = floatData(weight);
  const float* b = floatData(bias);
  std::vector<float> scale(c), shift(c);
  const auto floatOptions = input.options().dtype(at::kFloat).memory_format(at::MemoryFormat::Contiguous);
  Tensor saveMean = at::empty({c}, floatOptions);
  Tensor saveInvstd = at::empty({c}, floatOptions);
  float* savedMean = saveMean.data_ptr<float>();
  float* savedInvstd = saveInvstd.data_ptr<float>();
  for (int64_t k = 0; k < c; ++k) {
    const double invstd = 1.0 / std::sqrt(variance[k] + eps);
    scale[k] = static_cast<float>((w ? w[k] : 1.0) * invstd);
    shift[k] = static_cast<float>((b ? b[k] : 0.0) - mean[k] * (w ? w[k] : 1.0) * invstd);
    savedMean[k] = static_cast<float>(mean[k]);
    savedInvstd[k] = static_cast<float>(invstd);
  }
  // Running statistics as LibTorch updates them: the unbiased variance, blended by `momentum`.
  const double count = static_cast<double>(geo->count());
  if (definedTensor(runningMean)) {
    float* rm = runningMean->data_ptr<float>();
    for (int64_t k = 0; k < c; ++k) rm[k] = static_cast<float>(momentum * mean[k] + (1 - momentum) * rm[k]);
  }
  if (definedTensor(runningVar)) {
    float* rv = runningVar->data_ptr<float>();
    for (int64_t k = 0; k < c; ++k) rv[k] = static_cast<float>(momentum * variance[k] * count / (count - 1) + (1 - momentum) * rv[k]);
  }

  Tensor output = at::empty_like(input);
  if (bf16) {
    normalize<c10::BFloat16>(*geo, input, output, scale, shift);
  } else {
    normalize<float>(*geo, input, output, scale, shift);
  }
  return {output, saveMean, saveInvstd};
}

template <typename T>
void gradInput(const Geometry& geo, const Tensor& grad, const Tensor& input, Tensor& gradIn, const std::vector<float>& a, const std::vector<float>& mean,
               const std::vector<float>& k, const std::vector<float>& m) {
  const T* g = grad.data_ptr<T>();
  const T* x = input.data_ptr<T>();
  T* gx = gradIn.data_ptr<T>();
  const int64_t c = geo.c;
  forEachPart(
      geo, [&](int64_t offset, int64_t ch) { gradInputPlane<T>(g + offset, x + offset, gx + offset, geo.hw, a[ch], mean[ch], k[ch], m[ch]); },
      [&](int64_t first, int64_t rows) {
        gradInputRows<T>(g + first * c, x + first * c, gx + first * c, rows, c, a.data(), mean.data(), k.data(), m.data());
      });
}

template <typename T>
std::vector<double> gradSums(const Geometry& geo, const Tensor& grad, const Tensor& input, const std::vector<float>& mean) {
  const T* g = grad.data_ptr<T>();
  const T* x = input.data_ptr<T>();
  const int64_t c = geo.c;
  return channelSums(
      geo, [&](int64_t offset, int64_t ch, double* s, double* sx) { gradSumsPlane<T>(g + offset, x + offset, geo.hw, mean[ch], s, sx); },
      [&](int64_t first, int64_t rows, float* fs, float* fsx, double* s, double* sx) {
        gradSumsChunk<T>(g + first * c, x + first * c, rows, c, mean.data(), fs, fsx, s, sx);
      });
}

std::tuple<Tensor, Tensor, Tensor> batchNormBackward(const Tensor& gradOut, const Tensor& input, const OptionalTensor& weight,
                                                     const OptionalTensor& runningMean, const OptionalTensor& runningVar, const OptionalTensor& saveMean,
                                                     const OptionalTensor& saveInvstd, bool train, double eps, std::array<bool, 3> mask) {
  const auto geo = geometryOf(input, weight, std::nullopt, runningMean, runningVar);
  const int64_t channels = input.dim() > 1 ? input.size(1) : 0;
  const bool statsFit = definedTensor(saveMean) && definedTensor(saveInvstd) && parameterFits(saveMean, channels) && parameterFits(saveInvstd, channels);
  if (!geo || !train || !statsFit || gradOut.sizes() != input.sizes() || gradOut.scalar_type() != input.scalar_type() || !gradOut.device().is_cpu()) {
    return at::native::batch_norm_backward_cpu(gradOut, input, weight, runningMean, runningVar, saveMean, saveInvstd, train, eps, mask);
  }
  const int64_t c = geo->c;
  const bool bf16 = input.scalar_type() == at::kBFloat16;
  // The gradient usually arrives in the input's layout; if not, one copy puts it there.
  const Tensor grad = gradOut.contiguous(geo->channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  const float* meanData = saveMean->data_ptr<float>();
  const float* invstdData = saveInvstd->data_ptr<float>();
  const std::vector<float> mean(meanData, meanData + c);
  const auto sums = bf16 ? gradSums<c10::BFloat16>(*geo, grad, input, mean) : gradSums<float>(*geo, grad, input, mean);

  const auto floatOptions = input.options().dtype(at::kFloat).memory_format(at::MemoryFormat::Contiguous);
  Tensor gradWeight, gradBias, gradIn;
  if (mask[1]) {
    gradWeight = at::empty({c}, floatOptions);
    float* gw = gradWeight.data_ptr<float>();
    for (int64_t k = 0; k < c; ++k) gw[k] = static_cast<float>(sums[c + k] * invstdData[k]);
  }
  if (mask[2]) {
    gradBias = at::empty({c}, floatOptions);
    float* gb = gradBias.data_ptr<float>();
    for (int64_t k = 0; k < c; ++k) gb[k] = static_cast<float>(sums[k]);
  }
  if (mask[0]) {
    const float* w = floatData(weight);
    const double count = static_cast<double>(geo->count());
    std::vector<float> a(c), k(c), m(c);
    for (int64_t j = 0; j < c; ++j) {
      const double invstd = invstdData[j];
      a[j] = static_cast<float>((w ? w[j] : 1.0) * invstd);
      k[j] = static_cast<float>(invstd * invstd * sums[c + j] / count);
      m[j] = static_cast<float>(sums[j] / count);
    }
    gradIn = at::empty_like(input);
    if (bf16) {
      gradInput<c10::BFloat16>(*geo, grad, input, gradIn, a, mean, k, m);
    } else {
      gradInput<float>(*geo, grad, input, gradIn, a, mean, k, m);
    }
  }
  return {gradIn, gradWeight, gradBias};
}

std::unique_ptr<torch::Library> registration;

// Registering over LibTorch's own CPU kernel is intended here: the dispatcher's warning about it would
// only alarm users, so it is kept from the console.
class SilentWarnings : public c10::WarningHandler {
 public:
  void process(const c10::Warning&) override {}
};

}  // namespace

void setBatchNormKernels(bool on) {
  if (!on) {
    registration.reset();
    return;
  }
  if (registration) return;
  SilentWarnings silent;
  c10::WarningUtils::WarningHandlerGuard guard(&silent);
  registration = std::make_unique<torch::Library>(torch::Library::IMPL, "aten", std::make_optional(c10::DispatchKey::CPU), __FILE__, __LINE__);
  registration->impl("native_batch_norm", TORCH_FN(batchNormForward));
  registration->impl("native_batch_norm_backward", TORCH_FN(batchNormBackward));
}

}  // namespace rk
