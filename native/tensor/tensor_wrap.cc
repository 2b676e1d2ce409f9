#include "tensor/tensor_wrap.h"

#include "common/addon_data.h"
#include "common/errors.h"
#include "common/receiver.h"
#include "tensor/dtype.h"

namespace rk {

std::atomic<int64_t> TensorWrap::liveTensors_{0};
std::atomic<int64_t> TensorWrap::liveBytes_{0};

namespace {
// Handles are only made by Wrap(); this token tells the constructor the call is internal.
int kInternalToken = 0;

int64_t bytesOf(const torch::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0;
}
}  // namespace

void TensorWrap::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "NativeTensor",
      {
          InstanceMethod<&TensorWrap::Dispose>("dispose"),
          InstanceAccessor<&TensorWrap::GetDisposed>("disposed"),
          InstanceAccessor<&TensorWrap::GetShape>("shape"),
          InstanceAccessor<&TensorWrap::GetDtype>("dtype"),
          InstanceAccessor<&TensorWrap::GetDevice>("device"),
          InstanceAccessor<&TensorWrap::GetRequiresGrad>("requiresGrad"),
          InstanceAccessor<&TensorWrap::GetIsContiguous>("isContiguous"),
          InstanceAccessor<&TensorWrap::GetNumel>("numel"),
      });
  addonData(env).tensorConstructor = Napi::Persistent(ctor);
  exports.Set("NativeTensor", ctor);
}

Napi::Object TensorWrap::Wrap(Napi::Env env, torch::Tensor t) {
  Napi::Object obj = addonData(env).tensorConstructor.New({Napi::External<int>::New(env, &kInternalToken)});
  TensorWrap* self = Unwrap(obj);
  self->tensor_ = std::move(t);
  ++liveTensors_;
  self->accountedBytes_ = bytesOf(self->tensor_);
  liveBytes_ += self->accountedBytes_;
  // Tell V8 how much native memory this small JS object keeps alive, so GC pressure is real.
  Napi::MemoryManagement::AdjustExternalMemory(env, self->accountedBytes_);
  return obj;
}

bool TensorWrap::IsTensor(Napi::Env env, const Napi::Value& v) {
  return hasTag(v, kTensorTag);
}

const torch::Tensor& TensorWrap::From(const Napi::Value& v, const std::string& argName) {
  if (!IsTensor(v.Env(), v)) throw JsTypeError(argName + " must be a Tensor");
  const TensorWrap* self = Unwrap(v.As<Napi::Object>());
  if (self->disposed_) throw JsTypeError(argName + " is a disposed Tensor (dispose() was called on it or on its scope)");
  return self->tensor_;
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal() || info[0].As<Napi::External<int>>().Data() != &kInternalToken) {
    throw Napi::TypeError::New(info.Env(), "NativeTensor cannot be constructed directly; use rk.tensor(), rk.zeros() and friends");
  }
  info.This().As<Napi::Object>().TypeTag(&kTensorTag);
}

TensorWrap::~TensorWrap() { Release(); }

void TensorWrap::Release() {
  if (disposed_) return;
  disposed_ = true;
  --liveTensors_;
  tensor_ = torch::Tensor();
  if (accountedBytes_ != 0) {
    liveBytes_ -= accountedBytes_;
    Napi::MemoryManagement::AdjustExternalMemory(Env(), -accountedBytes_);
    accountedBytes_ = 0;
  }
}

const torch::Tensor& TensorWrap::Live(const char* what) const {
  if (disposed_) throw JsTypeError(std::string("cannot read ") + what + " of a disposed Tensor");
  return tensor_;
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value TensorWrap::GetDisposed(const Napi::CallbackInfo& info) {
  checkReceiver(info, kTensorTag, "NativeTensor");
  return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value TensorWrap::GetShape(const Napi::CallbackInfo& info) {
  checkReceiver(info, kTensorTag, "NativeTensor");
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto& t = Live("shape");
    Napi::Array shape = Napi::Array::New(info.Env(), t.dim());
    for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.size(i))));
    return shape;
  });
}

Napi::Value TensorWrap::GetDtype(const Napi::CallbackInfo& info) {
  checkReceiver(info, kTensorTag, "NativeTensor");
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), dtypeName(Live("dtype").scalar_type())); });
}

Napi::Value TensorWrap::GetDevice(const Napi::CallbackInfo& info) {
  checkReceiver(info, kTensorTag, "NativeTensor");
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), deviceName(Live("device").device())); });
}

Napi::Value TensorWrap::GetRequiresGrad(const Napi::CallbackInfo& info) {
  checkReceiver(info, kTensorTag, "NativeTensor");
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), Live("requiresGrad").requires_grad()); });
}

Napi::Value TensorWrap::GetIsContiguous(const Napi::CallbackInfo& info) {
  checkReceiver(info, kTensorTag, "NativeTensor");
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), Live("isContiguous").is_contiguous()); });
}

Napi::Value TensorWrap::GetNumel(const Napi::CallbackInfo& info) {
  checkReceiver(info, kTensorTag, "NativeTensor");
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(Live("numel").numel())); });
}

}  // namespace rk
