#include "kernels/batch_norm_act.h"

#include <cmath>
#include <optional>
#include <type_traits>
#include <vector>

#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/threshold_backward.h>
#include <torch/csrc/jit/frontend/tracer.h>

#include "kernels/batch_norm_passes.h"
#include "kernels/bf16_avx512.h"
#include "kernels/float_io.h"
#include "kernels/fused_kernels.h"

namespace rk {

namespace {

using kernels::loadFloat;
using kernels::MapGeometry;
using kernels::roundTo;
using kernels::storeExact;
using kernels::storeFloat;
using torch::Tensor;

// ---- forward: y = round(x * scale + shift) [+ r], out = max(y, 0), optionally keeping y ----

// One value. The BatchNorm output is rounded to T before the add, as the composed operators round it.
// Worked in float lanes with one store per output: a select or max on 16-bit values vectorises badly.
template <typename T, bool kResidual, bool kKeepSum>
inline __attribute__((always_inline)) void activateValue(const T* x, const T* r, T* out, T* sum, int64_t i, float scale, float shift) {
  float y = loadFloat(x[i]) * scale + shift;
  if constexpr (kResidual) y = roundTo<T>(roundTo<T>(y) + loadFloat(r[i]));
  if constexpr (kKeepSum) sum[i] = storeFloat<T>(y);
  const float activated = y < 0.0f ? 0.0f : y;  // a NaN stays NaN, as torch::relu keeps it
  // With a residual y is a T value already; without, rounding after the ReLU equals the ReLU of the
  // rounded value (rounding is monotonic and keeps 0).
  out[i] = kResidual ? storeExact<T>(activated) : storeFloat<T>(activated);
}

template <typename T, bool kResidual, bool kKeepSum>
RK_MULTIVERSION void activatePlane(const T* x, const T* r, T* out, T* sum, int64_t hw, float scale, float shift) {
#pragma omp simd
  for (int64_t i = 0; i < hw; ++i) activateValue<T, kResidual, kKeepSum>(x, r, out, sum, i, scale, shift);
}

template <typename T, bool kResidual, bool kKeepSum>
RK_MULTIVERSION void activateRows(const T* x, const T* r, T* out, T* sum, int64_t rows, int64_t c, const float* scale, const float* shift) {
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t base = row * c;
#pragma omp simd
    for (int64_t k = 0; k < c; ++k) activateValue<T, kResidual, kKeepSum>(x + base, r + base, out + base, sum + base, k, scale[k], shift[k]);
  }
}

template <typename T, bool kResidual, bool kKeepSum>
void activateMap(const MapGeometry& geo, const Tensor& input, const Tensor& residual, Tensor& output, Tensor& sum, const std::vector<float>& scale,
                 const std::vector<float>& shift) {
  const T* x = input.data_ptr<T>();
  const T* r = kResidual ? residual.data_ptr<T>() : nullptr;
  T* out = output.data_ptr<T>();
  T* s = kKeepSum ? sum.data_ptr<T>() : nullptr;
  const int64_t c = geo.c;
  // Offsets into absent maps are never dereferenced (the flags compile them out).
  const auto shifted = [](auto* p, int64_t offset) { return p ? p + offset : p; };
  if constexpr (std::is_same_v<T, c10::BFloat16>) {
    if (kernels::bf16avx512::available()) {
      const auto bits = [](auto* p) { return reinterpret_cast<std::conditional_t<std::is_const_v<std::remove_pointer_t<decltype(p)>>, const uint16_t*, uint16_t*>>(p); };
      kernels::forEachPart(
          geo,
          [&](int64_t offset, int64_t ch) {
            kernels::bf16avx512::activatePlane(bits(x + offset), bits(shifted(r, offset)), bits(out + offset), bits(shifted(s, offset)), geo.hw, scale[ch],
                                               shift[ch]);
          },
          [&](int64_t first, int64_t rows) {
            const int64_t offset = first * c;
            kernels::bf16avx512::activateRows(bits(x + offset), bits(shifted(r, offset)), bits(out + offset), bits(shifted(s, offset)), rows, c, scale.data(),
                                              shift.data());
          });
      return;
    }
  }
  kernels::forEachPart(
      geo,
      [&](int64_t offset, int64_t ch) {
        activatePlane<T, kResidual, kKeepSum>(x + offset, shifted(r, offset), out + offset, shifted(s, offset), geo.hw, scale[ch], shift[ch]);
      },
      [&](int64_t first, int64_t rows) {
        const int64_t offset = first * c;
        activateRows<T, kResidual, kKeepSum>(x + offset, shifted(r, offset), out + offset, shifted(s, offset), rows, c, scale.data(), shift.data());
      });
}

// The output (and the kept sum) of the fused forward, given the affine constants.
NormalizedActivation activate(const MapGeometry& geo, const Tensor& x, const Tensor& residual, bool keepSum, const std::vector<float>& scale,
                              const std::vector<float>& shift) {
  NormalizedActivation result{at::empty_like(x), keepSum ? at::empty_like(x) : Tensor()};
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  const bool withResidual = residual.defined();
  // Eight instantiations: dtype x residual x kept sum.
  const auto run = [&](auto typeTag) {
    using T = decltype(typeTag);
    if (withResidual && keepSum) activateMap<T, true, true>(geo, x, residual, result.out, result.sum, scale, shift);
    else if (withResidual) activateMap<T, true, false>(geo, x, residual, result.out, result.sum, scale, shift);
    else if (keepSum) activateMap<T, false, true>(geo, x, residual, result.out, result.sum, scale, shift);
    else activateMap<T, false, false>(geo, x, residual, result.out, result.sum, scale, shift);
  };
  if (bf16) run(c10::BFloat16());
  else run(float());
  return result;
}

// ---- backward: gy = g where out > 0 (else 0), then BatchNorm's two sums over gy, in one pass ----

template <typename T>
inline __attribute__((always_inline)) float maskedGrad(const T* g, const T* out, T* gy, int64_t i) {
  // Both loaded unconditionally and selected as floats, so the loop vectorises (a conditional load or a
  // select of 16-bit values keeps it scalar).
  const float grad = loadFloat(g[i]);
  const float v = loadFloat(out[i]) > 0.0f ? grad : 0.0f;
  gy[i] = storeExact<T>(v);
  return v;
}

template <typename T>
RK_MULTIVERSION void maskedSumsPlane(const T* g, const T* out, const T* x, T* gy, int64_t hw, float mean, double* sumG, double* sumGx) {
  kernels::planeSums(
      hw,
      [&](int64_t i, float& s, float& sx) {
        const float v = maskedGrad(g, out, gy, i);
        s += v;
        sx += v * (loadFloat(x[i]) - mean);
      },
      sumG, sumGx);
}

template <typename T>
RK_MULTIVERSION void maskedSumsChunk(const T* g, const T* out, const T* x, T* gy, int64_t rows, int64_t c, const float* mean, float* fs, float* fsx,
                                     double* sumG, double* sumGx) {
  kernels::chunkSums(
      rows, c,
      [&](int64_t i, int64_t k, float& s, float& sx) {
        const float v = maskedGrad(g, out, gy, i);
        s += v;
        sx += v * (loadFloat(x[i]) - mean[k]);
      },
      fs, fsx, sumG, sumGx);
}

template <typename T>
std::vector<double> maskedGradSums(const MapGeometry& geo, const Tensor& grad, const Tensor& output, const Tensor& input, Tensor& gradSum,
                                   const std::vector<float>& mean) {
  const T* g = grad.data_ptr<T>();
  const T* out = output.data_ptr<T>();
  const T* x = input.data_ptr<T>();
  T* gy = gradSum.data_ptr<T>();
  const int64_t c = geo.c;
  return kernels::channelSums(
      geo,
      [&](int64_t offset, int64_t ch, double* s, double* sx) { maskedSumsPlane<T>(g + offset, out + offset, x + offset, gy + offset, geo.hw, mean[ch], s, sx); },
      [&](int64_t first, int64_t rows, float* fs, float* fsx, double* s, double* sx) {
        const int64_t offset = first * c;
        maskedSumsChunk<T>(g + offset, out + offset, x + offset, gy + offset, rows, c, mean.data(), fs, fsx, s, sx);
      });
}

at::MemoryFormat formatOf(const MapGeometry& geo) { return geo.channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous; }

// autograd::Function cannot take an undefined tensor as an input (it records each input's device), so an
// absent weight, bias or residual travels as an empty tensor.
Tensor orEmpty(const Tensor& t) { return t.defined() ? t : at::empty({0}, at::TensorOptions().dtype(at::kFloat)); }
Tensor present(const Tensor& t) { return t.numel() > 0 ? t : Tensor(); }

// Training mode with autograd: inputs x, weight, bias, residual (the last three may be empty: absent).
class BatchNormReluFunction : public torch::autograd::Function<BatchNormReluFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const Tensor& x, const Tensor& weightIn, const Tensor& biasIn,
                                                const Tensor& residualIn, std::optional<Tensor> runningMean, std::optional<Tensor> runningVar,
                                                double momentum, double eps, bool keepSum) {
    const Tensor weight = present(weightIn), bias = present(biasIn), residual = present(residualIn);
    const auto geo = *kernels::mapGeometry(x, weight, bias, runningMean, runningVar);
    auto stats = kernels::trainingStatistics(geo, x, weight, bias, runningMean, runningVar, momentum, eps);
    auto result = activate(geo, x, residual, keepSum, stats.scale, stats.shift);
    ctx->save_for_backward({x, result.out, weightIn});
    ctx->saved_data["mean"] = stats.saveMean;
    ctx->saved_data["invstd"] = stats.saveInvstd;
    if (!keepSum) return {result.out};
    return {result.out, result.sum};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &out = saved[1], weight = present(saved[2]);
    const Tensor saveMean = ctx->saved_data["mean"].toTensor();
    const Tensor saveInvstd = ctx->saved_data["invstd"].toTensor();
    const auto geo = *kernels::mapGeometry(x, weight, std::nullopt, std::nullopt, std::nullopt);
    const int64_t c = geo.c;
    const auto inLayout = [&](const Tensor& g) { return g.to(x.scalar_type()).contiguous(formatOf(geo)); };
    const Tensor sumGrad = grads.size() > 1 && grads[1].defined() ? inLayout(grads[1]) : Tensor();
    if (!grads[0].defined() && !sumGrad.defined()) return {Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};

    const float* meanData = saveMean.data_ptr<float>();
    const std::vector<float> mean(meanData, meanData + c);
    Tensor gy;
    std::vector<double> sums;
    if (grads[0].defined() && !sumGrad.defined()) {
      // The usual case: the ReLU mask and both sums in one pass, writing gy (the residual's gradient too).
      const Tensor g = inLayout(grads[0]);
      gy = at::empty_like(x);
      sums = x.scalar_type() == at::kBFloat16 ? maskedGradSums<c10::BFloat16>(geo, g, out, x, gy, mean) : maskedGradSums<float>(geo, g, out, x, gy, mean);
    } else {
      // The pre-activation sum is used too (a teacher-style feature): compose, as autograd would.
      gy = grads[0].defined() ? at::threshold_backward(inLayout(grads[0]), out, 0) + sumGrad : sumGrad;
      gy = gy.contiguous(formatOf(geo));
      sums = kernels::gradSums(geo, gy, x, mean);
    }
    const float* invstd = saveInvstd.data_ptr<float>();
    const auto floatOptions = x.options().dtype(at::kFloat).memory_format(at::MemoryFormat::Contiguous);
    Tensor gradWeight, gradBias, gradX;
    if (ctx->needs_input_grad(1)) {
      gradWeight = at::empty({c}, floatOptions);
      float* gw = gradWeight.data_ptr<float>();
      for (int64_t k = 0; k < c; ++k) gw[k] = static_cast<float>(sums[c + k] * invstd[k]);
    }
    if (ctx->needs_input_grad(2)) {
      gradBias = at::empty({c}, floatOptions);
      float* gb = gradBias.data_ptr<float>();
      for (int64_t k = 0; k < c; ++k) gb[k] = static_cast<float>(sums[k]);
    }
    if (ctx->needs_input_grad(0)) {
      gradX = kernels::batchNormGradInput(geo, gy, x, weight.defined() ? weight.data_ptr<float>() : nullptr, meanData, invstd, sums);
    }
    return {gradX, gradWeight, gradBias, ctx->needs_input_grad(3) ? gy : Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};
  }
};

NormalizedActivation composed(torch::nn::BatchNorm2dImpl& bn, const Tensor& x, const Tensor& residual, bool keepSum) {
  Tensor sum = bn.forward(x);
  if (residual.defined()) sum = sum + residual;
  return {torch::relu(sum), keepSum ? sum : Tensor()};
}

// Whether autograd must record the operator.
bool wantsGradient(const torch::nn::BatchNorm2dImpl& bn, const Tensor& x, const Tensor& residual) {
  const auto recorded = [](const Tensor& t) { return t.defined() && t.requires_grad(); };
  return torch::GradMode::is_enabled() && (recorded(x) || recorded(bn.weight) || recorded(bn.bias) || recorded(residual));
}

bool usesBatchStatistics(const torch::nn::BatchNorm2dImpl& bn) { return bn.is_training() || !bn.options.track_running_stats(); }

// The geometry when the fused path takes these tensors.
std::optional<MapGeometry> fusedGeometry(const torch::nn::BatchNorm2dImpl& bn, const Tensor& x, const Tensor& residual) {
  // A TorchScript trace must record LibTorch's operators, not an opaque kernel.
  if (!fusedKernelsEnabled() || torch::jit::tracer::isTracing()) return std::nullopt;
  const bool batchStats = usesBatchStatistics(bn);
  // Evaluation mode needs the running statistics (always there when they are tracked).
  auto geo = kernels::mapGeometry(x, bn.weight, bn.bias, bn.running_mean, bn.running_var);
  if (!geo) return std::nullopt;
  if (batchStats && geo->count() < 2) return std::nullopt;  // LibTorch's own error message, from the composed path
  if (residual.defined() &&
      (!residual.device().is_cpu() || residual.sizes() != x.sizes() || residual.scalar_type() != x.scalar_type() || !residual.is_contiguous(formatOf(*geo)))) {
    return std::nullopt;
  }
  const bool wantsGrad = wantsGradient(bn, x, residual);
  // Evaluation mode with gradients (rare: the student is evaluated under no-grad) stays composed.
  if (!batchStats && wantsGrad) return std::nullopt;
  return geo;
}

}  // namespace

bool batchNormReluFuses(const torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, const torch::Tensor& residual) {
  return fusedGeometry(bn, x, residual).has_value();
}

NormalizedActivation batchNormRelu(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, const torch::Tensor& residual, bool keepSum) {
  const auto geo = fusedGeometry(bn, x, residual);
  if (!geo) return composed(bn, x, residual, keepSum);
  const double eps = bn.options.eps();
  if (!usesBatchStatistics(bn)) {
    // Evaluation mode, no gradient: scale and shift from the running statistics, one pass.
    const int64_t c = geo->c;
    const float* w = kernels::floatData(bn.weight);
    const float* b = kernels::floatData(bn.bias);
    const float* rm = bn.running_mean.data_ptr<float>();
    const float* rv = bn.running_var.data_ptr<float>();
    std::vector<float> scale(c), shift(c);
    for (int64_t k = 0; k < c; ++k) {
      const double a = (w ? w[k] : 1.0) / std::sqrt(static_cast<double>(rv[k]) + eps);
      scale[k] = static_cast<float>(a);
      shift[k] = static_cast<float>((b ? b[k] : 0.0) - rm[k] * a);
    }
    return activate(*geo, x, residual, keepSum, scale, shift);
  }
  // Training mode: the momentum BatchNorm2d::forward would use, and its batch counter.
  double momentum = bn.options.momentum().value_or(0.0);
  const bool tracking = bn.is_training() && bn.options.track_running_stats();
  if (tracking && bn.num_batches_tracked.defined()) {
    torch::NoGradGuard noGrad;
    bn.num_batches_tracked += 1;
    if (!bn.options.momentum().has_value()) momentum = 1.0 / bn.num_batches_tracked.item<double>();
  }
  const std::optional<Tensor> runningMean = tracking ? std::make_optional(bn.running_mean) : std::nullopt;
  const std::optional<Tensor> runningVar = tracking ? std::make_optional(bn.running_var) : std::nullopt;
  const bool wantsGrad = wantsGradient(bn, x, residual);
  if (!wantsGrad) {
    auto stats = kernels::trainingStatistics(*geo, x, bn.weight, bn.bias, runningMean, runningVar, momentum, eps);
    return activate(*geo, x, residual, keepSum, stats.scale, stats.shift);
  }
  const auto outputs = BatchNormReluFunction::apply(x, orEmpty(bn.weight), orEmpty(bn.bias), orEmpty(residual), runningMean, runningVar, momentum, eps, keepSum);
  return {outputs[0], keepSum ? outputs[1] : Tensor()};
}

}  // namespace rk
