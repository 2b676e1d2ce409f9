#include "kernels/batch_norm_passes.h"

#include <cmath>
#include <type_traits>

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>

#include "kernels/bf16_avx512.h"
#include "kernels/float_io.h"

namespace rk::kernels {

using at::Tensor;

bool parameterFits(const OptionalTensor& t, int64_t channels) {
  return !definedTensor(t) || (t->device().is_cpu() && t->scalar_type() == at::kFloat && t->is_contiguous() && t->numel() == channels);
}

std::optional<MapGeometry> mapGeometry(const Tensor& input, const OptionalTensor& weight, const OptionalTensor& bias, const OptionalTensor& mean,
                                       const OptionalTensor& var) {
  if (!input.device().is_cpu() || input.dim() != 4 || input.numel() == 0) return std::nullopt;
  if (input.scalar_type() != at::kFloat && input.scalar_type() != at::kBFloat16) return std::nullopt;
  // A bfloat16 map with no float parameter would give LibTorch's kernel bfloat16 statistics: leave it to it.
  if (input.scalar_type() == at::kBFloat16 && !definedTensor(weight)) return std::nullopt;
  const int64_t c = input.size(1);
  for (const auto* p : {&weight, &bias, &mean, &var}) {
    if (!parameterFits(*p, c)) return std::nullopt;
  }
  MapGeometry g{false, input.size(0), c, input.size(2) * input.size(3)};
  if (input.is_contiguous()) return g;
  if (input.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    g.channelsLast = true;
    return g;
  }
  return std::nullopt;
}

std::vector<double> channelSums(const MapGeometry& geo, const PlaneSums& plane, const ChunkSums& chunk) {
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

void forEachPart(const MapGeometry& geo, const std::function<void(int64_t, int64_t)>& plane, const std::function<void(int64_t, int64_t)>& rows) {
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

namespace {

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

// Batch mean and biased variance per channel.
template <typename T>
void batchMoments(const MapGeometry& geo, const Tensor& input, std::vector<double>& mean, std::vector<double>& variance) {
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

template <typename T>
std::vector<double> gradSumsOf(const MapGeometry& geo, const Tensor& grad, const Tensor& input, const std::vector<float>& mean) {
  const T* g = grad.data_ptr<T>();
  const T* x = input.data_ptr<T>();
  const int64_t c = geo.c;
  return channelSums(
      geo, [&](int64_t offset, int64_t ch, double* s, double* sx) { gradSumsPlane<T>(g + offset, x + offset, geo.hw, mean[ch], s, sx); },
      [&](int64_t first, int64_t rows, float* fs, float* fsx, double* s, double* sx) {
        gradSumsChunk<T>(g + first * c, x + first * c, rows, c, mean.data(), fs, fsx, s, sx);
      });
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

template <typename T>
void gradInputOf(const MapGeometry& geo, const Tensor& grad, const Tensor& input, Tensor& gradIn, const std::vector<float>& a, const float* mean,
                 const std::vector<float>& k, const std::vector<float>& m) {
  const T* g = grad.data_ptr<T>();
  const T* x = input.data_ptr<T>();
  T* gx = gradIn.data_ptr<T>();
  const int64_t c = geo.c;
  if constexpr (std::is_same_v<T, c10::BFloat16>) {
    if (bf16avx512::available()) {
      const auto* gb = reinterpret_cast<const uint16_t*>(g);
      const auto* xb = reinterpret_cast<const uint16_t*>(x);
      auto* out = reinterpret_cast<uint16_t*>(gx);
      forEachPart(
          geo, [&](int64_t offset, int64_t ch) { bf16avx512::gradInputPlane(gb + offset, xb + offset, out + offset, geo.hw, a[ch], mean[ch], k[ch], m[ch]); },
          [&](int64_t first, int64_t rows) {
            const int64_t offset = first * c;
            bf16avx512::gradInputRows(gb + offset, xb + offset, out + offset, rows, c, a.data(), mean, k.data(), m.data());
          });
      return;
    }
  }
  forEachPart(
      geo, [&](int64_t offset, int64_t ch) { gradInputPlane<T>(g + offset, x + offset, gx + offset, geo.hw, a[ch], mean[ch], k[ch], m[ch]); },
      [&](int64_t first, int64_t rows) { gradInputRows<T>(g + first * c, x + first * c, gx + first * c, rows, c, a.data(), mean, k.data(), m.data()); });
}

}  // namespace

TrainingStatistics trainingStatistics(const MapGeometry& geo, const Tensor& input, const OptionalTensor& weight, const OptionalTensor& bias,
                                      const OptionalTensor& runningMean, const OptionalTensor& runningVar, double momentum, double eps) {
  const int64_t c = geo.c;
  std::vector<double> mean, variance;
  if (input.scalar_type() == at::kBFloat16) {
    batchMoments<c10::BFloat16>(geo, input, mean, variance);
  } else {
    batchMoments<float>(geo, input, mean, variance);
  }
  const float* w = floatData(weight);
  const float* b = floatData(bias);
  TrainingStatistics stats;
  stats.scale.resize(c);
  stats.shift.resize(c);
  const auto floatOptions = input.options().dtype(at::kFloat).memory_format(at::MemoryFormat::Contiguous);
  stats.saveMean = at::empty({c}, floatOptions);
  stats.saveInvstd = at::empty({c}, floatOptions);
  float* savedMean = stats.saveMean.data_ptr<float>();
  float* savedInvstd = stats.saveInvstd.data_ptr<float>();
  for (int64_t k = 0; k < c; ++k) {
    const double invstd = 1.0 / std::sqrt(variance[k] + eps);
    stats.scale[k] = static_cast<float>((w ? w[k] : 1.0) * invstd);
    stats.shift[k] = static_cast<float>((b ? b[k] : 0.0) - mean[k] * (w ? w[k] : 1.0) * invstd);
    savedMean[k] = static_cast<float>(mean[k]);
    savedInvstd[k] = static_cast<float>(invstd);
  }
  // Running statistics as LibTorch updates them: the unbiased variance, blended by `momentum`.
  const double count = static_cast<double>(geo.count());
  if (definedTensor(runningMean)) {
    float* rm = runningMean->data_ptr<float>();
    for (int64_t k = 0; k < c; ++k) rm[k] = static_cast<float>(momentum * mean[k] + (1 - momentum) * rm[k]);
  }
  if (definedTensor(runningVar)) {
    float* rv = runningVar->data_ptr<float>();
    for (int64_t k = 0; k < c; ++k) rv[k] = static_cast<float>(momentum * variance[k] * count / (count - 1) + (1 - momentum) * rv[k]);
  }
  return stats;
}

std::vector<double> gradSums(const MapGeometry& geo, const Tensor& grad, const Tensor& input, const std::vector<float>& mean) {
  return input.scalar_type() == at::kBFloat16 ? gradSumsOf<c10::BFloat16>(geo, grad, input, mean) : gradSumsOf<float>(geo, grad, input, mean);
}

Tensor batchNormGradInput(const MapGeometry& geo, const Tensor& grad, const Tensor& input, const float* weight, const float* saveMean,
                          const float* saveInvstd, const std::vector<double>& sums) {
  const int64_t c = geo.c;
  const double count = static_cast<double>(geo.count());
  std::vector<float> a(c), k(c), m(c);
  for (int64_t j = 0; j < c; ++j) {
    const double invstd = saveInvstd[j];
    a[j] = static_cast<float>((weight ? weight[j] : 1.0) * invstd);
    k[j] = static_cast<float>(invstd * invstd * sums[c + j] / count);
    m[j] = static_cast<float>(sums[j] / count);
  }
  Tensor gradIn = at::empty_like(input);
  if (input.scalar_type() == at::kBFloat16) {
    gradInputOf<c10::BFloat16>(geo, grad, input, gradIn, a, saveMean, k, m);
  } else {
    gradInputOf<float>(geo, grad, input, gradIn, a, saveMean, k, m);
  }
  return gradIn;
}

}  // namespace rk::kernels
