// The JS handle of a LibTorch tensor: owns one torch::Tensor reference, reports its bytes to V8,
// and releases it on dispose() or, as a backstop, when the handle is garbage-collected.
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

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  // Counters for leak checks, over the whole process.
  static int64_t LiveTensors() { return liveTensors_.load(); }
  static int64_t LiveBytes() { return liveBytes_.load(); }

 private:
  void Release();
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDtype(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value GetIsContiguous(const Napi::CallbackInfo& info);
  Napi::Value GetNumel(const Napi::CallbackInfo& info);
  const torch::Tensor& Live(const char* what) const;

  torch::Tensor tensor_;
  int64_t accountedBytes_ = 0;
  bool disposed_ = false;

  static std::atomic<int64_t> liveTensors_;
  static std::atomic<int64_t> liveBytes_;
};

}  // namespace rk
