// Heavy ops with a Promise-returning variant that computes on a worker thread.
#include "common/export.h"
#include "common/tensor_task.h"
#include "tensor/dtype.h"

namespace rk {

namespace {

// matmulAsync(self, other)
Napi::Value matmulAsync(const Args& a) {
  torch::Tensor self = a.tensor(0, "self");
  torch::Tensor other = a.tensor(1, "other");
  if (self.dim() == 0 || other.dim() == 0) throw JsRangeError(a.where(self.dim() == 0 ? "self" : "other") + " must have at least 1 dimension for matmul");
  if (self.device() != other.device()) throw JsRangeError(a.where("other") + " is on '" + deviceName(other.device()) + "' but self is on '" + deviceName(self.device()) + "'");
  const int64_t k2 = other.dim() == 1 ? other.size(0) : other.size(-2);
  if (self.size(-1) != k2) {
    throw JsRangeError(a.where("other") + " has shape " + c10::str(other.sizes()) + ", incompatible with " + c10::str(self.sizes()) + " for matmul");
  }
  return runAsync(a.env(), [self, other] { return std::vector<torch::Tensor>{torch::matmul(self, other)}; });
}

// conv2dAsync(input, weight, bias|null, stride, padding): input N x C x H x W, weight O x C x kH x kW.
Napi::Value conv2dAsync(const Args& a) {
  torch::Tensor input = a.tensor(0, "input");
  torch::Tensor weight = a.tensor(1, "weight");
  torch::Tensor bias;
  if (a.has(2)) bias = a.tensor(2, "bias");
  const int64_t stride = a.has(3) ? a.integer(3, "stride", 1, 1024) : 1;
  const int64_t padding = a.has(4) ? a.integer(4, "padding", 0, 1024) : 0;
  if (input.dim() != 4) throw JsRangeError(a.where("input") + " must be 4-d (N, C, H, W); got shape " + c10::str(input.sizes()));
  if (weight.dim() != 4) throw JsRangeError(a.where("weight") + " must be 4-d (O, C, kH, kW); got shape " + c10::str(weight.sizes()));
  if (weight.size(1) != input.size(1)) {
    throw JsRangeError(a.where("weight") + " expects " + std::to_string(weight.size(1)) + " input channels but input has " + std::to_string(input.size(1)));
  }
  if (input.size(2) + 2 * padding < weight.size(2) || input.size(3) + 2 * padding < weight.size(3)) {
    throw JsRangeError(a.where("weight") + " kernel " + c10::str(weight.sizes().slice(2)) + " is larger than the padded input");
  }
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    throw JsRangeError(a.where("bias") + " must have shape [" + std::to_string(weight.size(0)) + "]; got " + c10::str(bias.sizes()));
  }
  for (const auto* t : {&weight, &bias}) {
    if (t->defined() && t->device() != input.device()) throw JsRangeError(a.where("weight") + " and bias must be on the input's device");
  }
  return runAsync(a.env(), [input, weight, bias, stride, padding] {
    return std::vector<torch::Tensor>{torch::conv2d(input, weight, bias, stride, padding)};
  });
}

}  // namespace

void registerAsyncOps(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "matmulAsync", matmulAsync);
  exportFunction(env, exports, "conv2dAsync", conv2dAsync);
}

}  // namespace rk
