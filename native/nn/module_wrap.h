// The JS handle of a LibTorch module (a review head, an ABF, a zoo model...). Generic over the module
// type: parameters, buffers, train/eval, device moves and state dicts live here; each module kind adds
// its own forward binding, which fetches the concrete type with ModuleWrap::As<T>().
#pragma once
#include <memory>
#include <string>

#include <napi.h>
#include <torch/torch.h>

#include "common/errors.h"

namespace rk {

class ModuleWrap : public Napi::ObjectWrap<ModuleWrap> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  // Wraps `module`; `kind` names its type for error messages and for JS ('ABF', 'ReviewHead', 'resnet20').
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<torch::nn::Module> module, const std::string& kind);
  static std::shared_ptr<torch::nn::Module> From(const Napi::Value& v, const std::string& argName);

  // The module as its concrete type, or a JsTypeError naming the argument and the kinds involved.
  template <typename T>
  static std::shared_ptr<T> As(const Napi::Value& v, const std::string& argName, const char* expectedKind) {
    auto m = std::dynamic_pointer_cast<T>(From(v, argName));
    if (!m) throw JsTypeError(argName + " must be a " + expectedKind + " module; got a '" + Unwrap(v.As<Napi::Object>())->kind_ + "' module");
    return m;
  }

  explicit ModuleWrap(const Napi::CallbackInfo& info);
  ~ModuleWrap() override;

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetKind(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value GetTraining(const Napi::CallbackInfo& info);
  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value NamedParameters(const Napi::CallbackInfo& info);
  Napi::Value NamedBuffers(const Napi::CallbackInfo& info);
  Napi::Value NumParameters(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  torch::nn::Module& Live() const;
  void AccountMemory();

  std::shared_ptr<torch::nn::Module> module_;
  std::string kind_;
  int64_t accountedBytes_ = 0;
};

}  // namespace rk
