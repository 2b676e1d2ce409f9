// The JS handle of a LibTorch tensor: owns one torch::Tensor reference, reports its bytes to V8,
// and releases it on dispose() (at once, handle unwrapped) or, as a backstop, when the handle is
// garbage-collected (its finalizer runs when the event loop next turns).
#pragma once
#include <atomic>
#include <string>

#include <napi.h>
#include <torch/torch.h>

namespace rk {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  // Wraps `t` in a new JS handle (the only way handles are made).
  static Napi::Object Wrap(Napi::Env env, torch::Tensor t);
  static bool IsTensor(Napi::Env env, const Napi::Value& v);
  // The tensor of a handle; throws JsTypeError naming `argName` when `v` is not a live handle.
  static const torch::Tensor& From(const Napi::Value& v, const std::string& argName);
  // The instance behind a handle, or nullptr once dispose() has removed it.
  static TensorWrap* InstanceOf(napi_env env, napi_value object);
  // The tensor of a live instance; throws JsTypeError naming `what` after Release().
  const torch::Tensor& Live(const char* what) const;

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  // Counters for leak checks, over the whole process.
  static int64_t LiveTensors() { return liveTensors_.load(); }
  static int64_t LiveBytes() { return liveBytes_.load(); }

 private:
  void Release();
  static napi_value Dispose(napi_env env, napi_callback_info info);
  static napi_value GetDisposed(napi_env env, napi_callback_info info);
  static napi_value GetShape(napi_env env, napi_callback_info info);
  static napi_value GetDtype(napi_env env, napi_callback_info info);
  static napi_value GetDevice(napi_env env, napi_callback_info info);
  static napi_value GetRequiresGrad(napi_env env, napi_callback_info info);
  static napi_value GetIsContiguous(napi_env env, napi_callback_info info);
  static napi_value GetNumel(napi_env env, napi_callback_info info);

  torch::Tensor tensor_;
  int64_t accountedBytes_ = 0;
  bool disposed_ = false;

  static std::atomic<int64_t> liveTensors_;
  static std::atomic<int64_t> liveBytes_;
};

}  // namespace rk
