// Autograd for users composing their own losses: requires_grad, backward, .grad, and grad mode.
// Grad mode is thread-local in LibTorch: these calls affect the JS thread only; async workers set
// their own guards inside Execute().
#include "common/export.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

Napi::Value setRequiresGrad(const Args& a) {
  const auto& self = a.tensor(0, "self");
  const bool flag = a.boolean(1, "requiresGrad");
  if (flag && !c10::isFloatingType(self.scalar_type())) {
    throw JsRangeError(a.where("self") + " has dtype '" + dtypeName(self.scalar_type()) + "'; only floating tensors can require gradients");
  }
  if (!self.is_leaf() && !flag) throw JsRangeError(a.where("self") + " is not a leaf; use detach() instead of clearing requiresGrad");
  // set_requires_grad mutates the shared TensorImpl, so every handle of this tensor sees it.
  const_cast<torch::Tensor&>(self).set_requires_grad(flag);
  return a.env().Undefined();
}

// backward(self, gradient?): a scalar needs no gradient; otherwise one of self's shape is required.
Napi::Value backward(const Args& a) {
  const auto& self = a.tensor(0, "self");
  if (!self.requires_grad()) {
    throw JsRangeError(a.where("self") + " does not require grad: no input of the expression had requiresGrad set (or it ran under noGrad)");
  }
  torch::Tensor grad;
  if (a.has(1)) {
    grad = a.tensor(1, "gradient");
    if (grad.sizes() != self.sizes()) {
      throw JsRangeError(a.where("gradient") + " has shape " + c10::str(grad.sizes()) + " but self has shape " + c10::str(self.sizes()));
    }
  } else if (self.numel() != 1) {
    throw JsRangeError(a.where("self") + " has shape " + c10::str(self.sizes()) + "; backward() without a gradient needs a single-element tensor");
  }
  self.backward(grad);
  return a.env().Undefined();
}

Napi::Value grad(const Args& a) {
  const auto& self = a.tensor(0, "self");
  const auto& g = self.grad();
  if (!g.defined()) return a.env().Null();
  return TensorWrap::Wrap(a.env(), g);
}

Napi::Value zeroGrad(const Args& a) {
  const auto& self = a.tensor(0, "self");
  auto& g = const_cast<torch::Tensor&>(self).mutable_grad();
  if (g.defined()) g = torch::Tensor();
  return a.env().Undefined();
}

Napi::Value isGradEnabled(const Args& a) { return Napi::Boolean::New(a.env(), torch::GradMode::is_enabled()); }

// setGradEnabled(flag) -> the previous state, so the TS noGrad() helper can restore it.
Napi::Value setGradEnabled(const Args& a) {
  const bool previous = torch::GradMode::is_enabled();
  torch::GradMode::set_enabled(a.boolean(0, "enabled"));
  return Napi::Boolean::New(a.env(), previous);
}

}  // namespace

void registerAutograd(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "setRequiresGrad", setRequiresGrad);
  exportFunction(env, exports, "backward", backward);
  exportFunction(env, exports, "grad", grad);
  exportFunction(env, exports, "zeroGrad", zeroGrad);
  exportFunction(env, exports, "isGradEnabled", isGradEnabled);
  exportFunction(env, exports, "setGradEnabled", setGradEnabled);
}

}  // namespace rk
