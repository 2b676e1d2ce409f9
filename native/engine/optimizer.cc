// SGD with momentum, Nesterov and weight decay (torch::optim::SGD, whose steps match Python's exactly),
// bound for training loops driven from JS. The fused training step will own its optimizer natively.
#include "common/export.h"
#include "common/receiver.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

class OptimizerWrap : public Napi::ObjectWrap<OptimizerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeSGD",
                       {InstanceMethod<&OptimizerWrap::Step>("step"), InstanceMethod<&OptimizerWrap::ZeroGrad>("zeroGrad"),
                        InstanceMethod<&OptimizerWrap::SetLr>("setLr"), InstanceAccessor<&OptimizerWrap::GetLr>("lr"),
                        InstanceMethod<&OptimizerWrap::MomentumBuffers>("momentumBuffers")});
  }

  // new NativeSGD(params, lr, momentum, dampening, weightDecay, nesterov)
  explicit OptimizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OptimizerWrap>(info) {
    info.This().As<Napi::Object>().TypeTag(&kOptimizerTag);
    guard(info.Env(), [&] {
      Args a(info, "SGD");
      params_ = a.tensorList(0, "params");
      if (params_.empty()) throw JsRangeError(a.where("params") + " is empty: nothing to optimise");
      for (size_t i = 0; i < params_.size(); ++i) {
        if (!params_[i].requires_grad() || !params_[i].is_leaf()) {
          throw JsRangeError(a.where("params") + "[" + std::to_string(i) + "] is not a leaf tensor that requires grad");
        }
      }
      const double lr = a.number(1, "lr");
      const double momentum = a.number(2, "momentum");
      const double dampening = a.number(3, "dampening");
      const double weightDecay = a.number(4, "weightDecay");
      const bool nesterov = a.boolean(5, "nesterov");
      if (lr < 0) throw JsRangeError(a.where("lr") + " must be >= 0");
      if (momentum < 0) throw JsRangeError(a.where("momentum") + " must be >= 0");
      if (weightDecay < 0) throw JsRangeError(a.where("weightDecay") + " must be >= 0");
      if (nesterov && (momentum <= 0 || dampening != 0)) throw JsRangeError(a.where("nesterov") + " needs momentum > 0 and dampening 0");
      sgd_ = std::make_unique<torch::optim::SGD>(
          params_, torch::optim::SGDOptions(lr).momentum(momentum).dampening(dampening).weight_decay(weightDecay).nesterov(nesterov));
      return 0;
    });
  }

 private:
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      torch::NoGradGuard noGrad;
      sgd_->step();
      return info.Env().Undefined();
    });
  }
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      sgd_->zero_grad(true);
      return info.Env().Undefined();
    });
  }
  Napi::Value SetLr(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "SGD.setLr");
      const double lr = a.number(0, "lr");
      if (lr < 0) throw JsRangeError(a.where("lr") + " must be >= 0");
      for (auto& group : sgd_->param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
      return info.Env().Undefined();
    });
  }
  Napi::Value GetLr(const Napi::CallbackInfo& info) {
    checkReceiver(info, kOptimizerTag, "NativeSGD");
    return Napi::Number::New(info.Env(), static_cast<torch::optim::SGDOptions&>(sgd_->param_groups()[0].options()).lr());
  }
  // The momentum buffer of each parameter (null before the first step), for checkpoints and tests.
  Napi::Value MomentumBuffers(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Napi::Array out = Napi::Array::New(info.Env(), params_.size());
      auto& state = sgd_->state();
      for (size_t i = 0; i < params_.size(); ++i) {
        auto it = state.find(params_[i].unsafeGetTensorImpl());
        if (it == state.end()) {
          out.Set(static_cast<uint32_t>(i), info.Env().Null());
        } else {
          out.Set(static_cast<uint32_t>(i), TensorWrap::Wrap(info.Env(), static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer()));
        }
      }
      return out;
    });
  }

  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::SGD> sgd_;
};

}  // namespace

void registerOptim(Napi::Env env, Napi::Object exports) { exports.Set("NativeSGD", OptimizerWrap::Define(env)); }

}  // namespace rk
