// The passes that reviewkd's BatchNorm kernels are made of, shared by the plain BatchNorm
// (batch_norm_kernels.cc) and the fused BatchNorm + residual add + ReLU (batch_norm_act.cc): the map
// geometry, per-channel sums over a map in a thread-count-independent order, the training statistics and
// the input gradient. Internal to native/kernels/ (compiled with -fopenmp, see CMakeLists.txt).
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>

namespace rk::kernels {

using OptionalTensor = std::optional<at::Tensor>;

// Float sums run over at most this many values before they are added into a double: float speed, and an
// error no larger than LibTorch's double accumulation gives at the precision of a float result.
constexpr int64_t kFloatRun = 512;
// Channels-last maps are reduced in fixed chunks of pixels, each chunk's sums kept apart and added in chunk
// order afterwards: the result does not depend on how many threads ran (a resumed run must be bit-identical).
constexpr int64_t kChunkPixels = 256;

// The two memory layouts handled. NCHW: value (n, c, i) at (n * C + c) * HW + i. Channels-last: pixel p
// (of N * HW) holds its C channel values contiguously at p * C.
struct MapGeometry {
  bool channelsLast;
  int64_t n, c, hw;
  int64_t count() const { return n * hw; }  // values per channel
  int64_t pixels() const { return n * hw; }
  int64_t chunks() const { return (pixels() + kChunkPixels - 1) / kChunkPixels; }
};

inline bool definedTensor(const OptionalTensor& t) { return t.has_value() && t->defined(); }

/** Only float parameters of `channels` values on the CPU (what every BatchNorm2d module holds), or none. */
bool parameterFits(const OptionalTensor& t, int64_t channels);

/**
 * The layout of a map the kernels handle, or nothing (then LibTorch's kernel runs): 4-d non-empty CPU
 * fp32/bf16, NCHW- or channels-last-contiguous, float parameters (a bf16 map needs a weight).
 */
std::optional<MapGeometry> mapGeometry(const at::Tensor& input, const OptionalTensor& weight, const OptionalTensor& bias, const OptionalTensor& mean,
                                       const OptionalTensor& var);

inline const float* floatData(const OptionalTensor& t) { return definedTensor(t) ? t->data_ptr<float>() : nullptr; }

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

/** `plane(offset of the plane, channel, &sumA, &sumB)`: the two sums of one NCHW (image, channel) plane. */
using PlaneSums = std::function<void(int64_t, int64_t, double*, double*)>;
/** `chunk(first pixel, pixels, float scratch a, float scratch b, sumsA, sumsB)`: C sums each over one chunk. */
using ChunkSums = std::function<void(int64_t, int64_t, float*, float*, double*, double*)>;

/**
 * Runs a sums kernel over every part of the map in parallel (NCHW: images; channels-last: chunks of
 * kChunkPixels) and adds the parts in order: returns [2][C] doubles.
 */
std::vector<double> channelSums(const MapGeometry& geo, const PlaneSums& plane, const ChunkSums& chunk);

/**
 * Applies a per-channel elementwise pass over the whole map in parallel: `plane(offset, channel)` for NCHW,
 * `rows(first pixel, pixels)` for channels-last.
 */
void forEachPart(const MapGeometry& geo, const std::function<void(int64_t, int64_t)>& plane, const std::function<void(int64_t, int64_t)>& rows);

/** What a training-mode forward derives from the batch: y = x * scale + shift, and the saved statistics. */
struct TrainingStatistics {
  std::vector<float> scale, shift;
  at::Tensor saveMean, saveInvstd;  // float [C], as LibTorch's native_batch_norm returns them
};

/**
 * Batch mean and biased variance of `input` (one pass), the running statistics updated in place as LibTorch
 * does (unbiased variance, blended by `momentum`), and the affine constants.
 */
TrainingStatistics trainingStatistics(const MapGeometry& geo, const at::Tensor& input, const OptionalTensor& weight, const OptionalTensor& bias,
                                      const OptionalTensor& runningMean, const OptionalTensor& runningVar, double momentum, double eps);

/** The backward sums of a training-mode BatchNorm: [sum g, sum g (x - mean)] per channel ([2][C]). */
std::vector<double> gradSums(const MapGeometry& geo, const at::Tensor& grad, const at::Tensor& input, const std::vector<float>& mean);

/**
 * The input gradient of a training-mode BatchNorm from the backward sums (`sums` as gradSums returns):
 * gx = w invstd (g - (x - mean) invstd^2 sum(g (x - mean)) / M - sum(g) / M).
 */
at::Tensor batchNormGradInput(const MapGeometry& geo, const at::Tensor& grad, const at::Tensor& input, const float* weight, const float* saveMean,
                              const float* saveInvstd, const std::vector<double>& sums);

}  // namespace rk::kernels
