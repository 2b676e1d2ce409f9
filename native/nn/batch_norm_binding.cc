// batchNorm(input, weight, bias, runningMean, runningVar, training, momentum, eps): LibTorch's functional
// BatchNorm for JS (rk.nn.batchNorm). On the CPU it runs through the dispatcher, so it reaches reviewkd's
// fused kernels (native/kernels/batch_norm_kernels.h) exactly as the models' BatchNorm layers do; the tests
// compare it with the kernels switched on and off.
#include "common/export.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

Napi::Value batchNormBinding(const Args& a) {
  const torch::Tensor& input = a.tensor(0, "input");
  if (input.dim() < 2) {
    throw JsRangeError(a.where(0, "input") + " must have a channel dimension (N x C x ...); got shape " + c10::str(input.sizes()));
  }
  const int64_t channels = input.size(1);
  auto optional = [&](size_t i, const char* name) -> std::optional<torch::Tensor> {
    if (!a.has(i)) return std::nullopt;
    const torch::Tensor& t = a.tensor(i, name);
    if (t.dim() != 1 || t.size(0) != channels) {
      throw JsRangeError(a.where(i, name) + " must be a vector of the input's " + std::to_string(channels) + " channels; got shape " +
                         c10::str(t.sizes()));
    }
    if (t.device() != input.device()) throw JsRangeError(a.where(i, name) + " is on '" + deviceName(t.device()) + "' but the input on '" + deviceName(input.device()) + "'");
    if (!t.is_floating_point()) throw JsTypeError(a.where(i, name) + " must be a floating-point tensor; got " + dtypeName(t.scalar_type()));
    return t;
  };
  const auto weight = optional(1, "weight"), bias = optional(2, "bias"), mean = optional(3, "runningMean"), var = optional(4, "runningVar");
  const bool training = a.boolean(5, "training");
  const double momentum = a.number(6, "momentum");
  const double eps = a.number(7, "eps");
  if (momentum < 0 || momentum > 1) throw JsRangeError(a.where(6, "momentum") + " must be in [0, 1]; got " + std::to_string(momentum));
  if (!(eps > 0)) throw JsRangeError(a.where(7, "eps") + " must be positive; got " + std::to_string(eps));
  if (!training && !(mean && var)) throw JsRangeError(a.where(3, "runningMean") + ": evaluation mode needs runningMean and runningVar");
  if (training && input.numel() / channels < 2) {
    throw JsRangeError(a.where(0, "input") + " has one value per channel; training-mode BatchNorm needs at least 2");
  }
  if (!input.is_floating_point()) throw JsTypeError(a.where(0, "input") + " must be a floating-point tensor; got " + dtypeName(input.scalar_type()));
  return TensorWrap::Wrap(a.env(), torch::batch_norm(input, weight, bias, mean, var, training, momentum, eps, /*cudnn_enabled=*/true));
}

}  // namespace

void registerBatchNorm(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "batchNorm", batchNormBinding); }

}  // namespace rk
