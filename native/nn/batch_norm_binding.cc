// batchNorm(input, weight, bias, runningMean, runningVar, training, momentum, eps): LibTorch's functional
// BatchNorm for JS (rk.nn.batchNorm). On the CPU it runs through the dispatcher, so it reaches reviewkd's
// fused kernels (native/kernels/batch_norm_kernels.h) exactly as the models' BatchNorm layers do; the tests
// compare it with the kernels switched on and off. batchNormReluGrads is the test entry of the fused
// BatchNorm + residual + ReLU (native/kernels/batch_norm_act.h).
#include "common/export.h"
#include "common/tensor_task.h"
#include "kernels/batch_norm_act.h"
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

// batchNormReluGrads(x, residual|null, weight, bias, runningMean, runningVar, gradOut, gradSum|null, training, path)
// -> Promise<[out, sum, runningMean, runningVar, gradX, gradResidual, gradWeight, gradBias]>: relu(bn(x) +
// residual) by one path ('fused': kernels/batch_norm_act.h, refused where it would not fuse; 'composed':
// LibTorch's operators) on copies of the inputs, on the compute thread. In training mode the outputs are
// differentiated with gradOut (and gradSum on the kept pre-activation sum); evaluation mode returns the
// forward only (four tensors). An absent residual's gradient comes back as an empty tensor.
Napi::Value batchNormReluGrads(const Args& a) {
  const torch::Tensor x = a.tensor(0, "x");
  if (x.dim() != 4 || !x.is_floating_point()) throw JsRangeError(a.where(0, "x") + " must be a 4-d floating-point map; got shape " + c10::str(x.sizes()));
  const int64_t channels = x.size(1);
  const torch::Tensor residual = a.has(1) ? a.tensor(1, "residual") : torch::Tensor();
  if (residual.defined() && residual.sizes() != x.sizes()) {
    throw JsRangeError(a.where(1, "residual") + " must have x's shape " + c10::str(x.sizes()) + "; got " + c10::str(residual.sizes()));
  }
  torch::Tensor vectors[4];
  const char* names[4] = {"weight", "bias", "runningMean", "runningVar"};
  for (size_t i = 0; i < 4; ++i) {
    vectors[i] = a.tensor(2 + i, names[i]);
    if (vectors[i].dim() != 1 || vectors[i].size(0) != channels || vectors[i].scalar_type() != torch::kFloat) {
      throw JsRangeError(a.where(2 + i, names[i]) + " must be a float32 vector of x's " + std::to_string(channels) + " channels; got " +
                         dtypeName(vectors[i].scalar_type()) + " " + c10::str(vectors[i].sizes()));
    }
  }
  const torch::Tensor gradOut = a.tensor(6, "gradOut");
  const torch::Tensor gradSum = a.has(7) ? a.tensor(7, "gradSum") : torch::Tensor();
  for (const auto* g : {&gradOut, &gradSum}) {
    if (g->defined() && g->sizes() != x.sizes()) throw JsRangeError(a.where(6, "gradOut") + ": gradients must have x's shape " + c10::str(x.sizes()));
  }
  const bool training = a.boolean(8, "training");
  const std::string path = a.string(9, "path");
  if (path != "fused" && path != "composed") throw JsRangeError(a.where(9, "path") + " must be 'fused' or 'composed'; got '" + path + "'");
  const bool fused = path == "fused";
  return runAsync(a.env(), [=] {
    torch::nn::BatchNorm2d bn(channels);
    {
      torch::NoGradGuard noGrad;
      bn->weight.copy_(vectors[0]);
      bn->bias.copy_(vectors[1]);
      bn->running_mean.copy_(vectors[2]);
      bn->running_var.copy_(vectors[3]);
    }
    bn->train(training);
    torch::AutoGradMode enable(training);
    const auto leaf = [&](const torch::Tensor& t) { return t.detach().clone(torch::MemoryFormat::Preserve).requires_grad_(training); };
    const torch::Tensor xl = leaf(x);
    const torch::Tensor rl = residual.defined() ? leaf(residual) : torch::Tensor();
    if (fused && !batchNormReluFuses(*bn, xl, rl)) {
      throw std::invalid_argument("batchNormReluGrads: the fused path does not take these tensors (CPU 4-d float32/bfloat16 NCHW or channels-last maps, a residual of x's dtype and layout)");
    }
    NormalizedActivation result;
    if (fused) {
      result = batchNormRelu(*bn, xl, rl, /*keepSum=*/true);
    } else {
      result.sum = rl.defined() ? bn->forward(xl) + rl : bn->forward(xl);
      result.out = torch::relu(result.sum);
    }
    std::vector<torch::Tensor> outputs{result.out.detach(), result.sum.detach(), bn->running_mean.clone(), bn->running_var.clone()};
    if (!training) return outputs;
    std::vector<torch::Tensor> roots{result.out}, grads{gradOut.to(result.out.scalar_type())};
    if (gradSum.defined()) {
      roots.push_back(result.sum);
      grads.push_back(gradSum.to(result.sum.scalar_type()));
    }
    torch::autograd::backward(roots, grads);
    const auto orEmpty = [](const torch::Tensor& t) { return t.defined() ? t : torch::empty({0}); };
    outputs.insert(outputs.end(), {orEmpty(xl.grad()), rl.defined() ? orEmpty(rl.grad()) : torch::empty({0}), bn->weight.grad(), bn->bias.grad()});
    return outputs;
  });
}

}  // namespace

void registerBatchNorm(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "batchNorm", batchNormBinding);
  exportFunction(env, exports, "batchNormReluGrads", batchNormReluGrads);
}

}  // namespace rk
