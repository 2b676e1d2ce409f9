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

// The handle's properties and dispose() are raw Node-API callbacks rather than ObjectWrap members: after
// dispose() the handle is no longer wrapped (see Dispose), and ObjectWrap's member callbacks would throw an
// opaque "Invalid argument" on such an object instead of saying it is disposed.
void TensorWrap::Register(Napi::Env env, Napi::Object exports) {
  const auto getter = [](const char* name, napi_callback get) -> Napi::ClassPropertyDescriptor<TensorWrap> {
    return napi_property_descriptor{name, nullptr, nullptr, get, nullptr, nullptr, napi_default, nullptr};
  };
  Napi::Function ctor = DefineClass(
      env, "NativeTensor",
      {
          Napi::ClassPropertyDescriptor<TensorWrap>(napi_property_descriptor{"dispose", nullptr, &TensorWrap::Dispose, nullptr, nullptr, nullptr, napi_default, nullptr}),
          getter("disposed", &TensorWrap::GetDisposed),
          getter("shape", &TensorWrap::GetShape),
          getter("dtype", &TensorWrap::GetDtype),
          getter("device", &TensorWrap::GetDevice),
          getter("requiresGrad", &TensorWrap::GetRequiresGrad),
          getter("isContiguous", &TensorWrap::GetIsContiguous),
          getter("numel", &TensorWrap::GetNumel),
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

TensorWrap* TensorWrap::InstanceOf(napi_env env, napi_value object) {
  void* data = nullptr;
  // Fails (without a pending exception) once Dispose removed the wrap.
  if (napi_unwrap(env, object, &data) != napi_ok) return nullptr;
  return static_cast<TensorWrap*>(data);
}

const torch::Tensor& TensorWrap::From(const Napi::Value& v, const std::string& argName) {
  if (!IsTensor(v.Env(), v)) throw JsTypeError(argName + " must be a Tensor");
  const TensorWrap* self = InstanceOf(v.Env(), v);
  if (self == nullptr || self->disposed_) throw JsTypeError(argName + " is a disposed Tensor (dispose() was called on it or on its scope)");
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

namespace {

// Runs a property getter of a live handle: checks the receiver, finds the instance (none after
// dispose), and turns C++ exceptions into JS ones as node-addon-api's own wrappers do.
napi_value readProperty(napi_env rawEnv, napi_callback_info rawInfo, const char* what, Napi::Value (*read)(Napi::Env, const torch::Tensor&)) {
  Napi::CallbackInfo info(rawEnv, rawInfo);
  try {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (!hasTag(info.This(), kTensorTag)) throw Napi::TypeError::New(info.Env(), "Illegal invocation: the receiver is not a NativeTensor");
      const TensorWrap* self = TensorWrap::InstanceOf(rawEnv, info.This());
      if (self == nullptr) throw JsTypeError(std::string("cannot read ") + what + " of a disposed Tensor");
      return read(info.Env(), self->Live(what));
    });
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
    return nullptr;
  }
}

}  // namespace

// Frees the tensor now and takes the handle out of the garbage collector's finalization: the wrap is
// removed, so the GC has nothing left to finalize for this object and the C++ instance is deleted here.
// Without this, every disposed handle kept its instance and Node-API reference until the event loop
// ran the pending finalizers, so a synchronous loop grew by ~360 bytes per tensor made.
napi_value TensorWrap::Dispose(napi_env env, napi_callback_info rawInfo) {
  Napi::CallbackInfo info(env, rawInfo);
  if (!hasTag(info.This(), kTensorTag)) {
    Napi::TypeError::New(env, "Illegal invocation: the receiver is not a NativeTensor").ThrowAsJavaScriptException();
    return nullptr;
  }
  TensorWrap* self = InstanceOf(env, info.This());
  if (self == nullptr) return info.Env().Undefined();  // disposed already
  self->Release();
  if (napi_remove_wrap(env, info.This(), nullptr) == napi_ok) delete self;
  return info.Env().Undefined();
}

napi_value TensorWrap::GetDisposed(napi_env env, napi_callback_info rawInfo) {
  Napi::CallbackInfo info(env, rawInfo);
  if (!hasTag(info.This(), kTensorTag)) {
    Napi::TypeError::New(env, "Illegal invocation: the receiver is not a NativeTensor").ThrowAsJavaScriptException();
    return nullptr;
  }
  const TensorWrap* self = InstanceOf(env, info.This());
  return Napi::Boolean::New(env, self == nullptr || self->disposed_);
}

napi_value TensorWrap::GetShape(napi_env env, napi_callback_info info) {
  return readProperty(env, info, "shape", [](Napi::Env e, const torch::Tensor& t) -> Napi::Value {
    Napi::Array shape = Napi::Array::New(e, t.dim());
    for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(e, static_cast<double>(t.size(i))));
    return shape;
  });
}

napi_value TensorWrap::GetDtype(napi_env env, napi_callback_info info) {
  return readProperty(env, info, "dtype", [](Napi::Env e, const torch::Tensor& t) -> Napi::Value { return Napi::String::New(e, dtypeName(t.scalar_type())); });
}

napi_value TensorWrap::GetDevice(napi_env env, napi_callback_info info) {
  return readProperty(env, info, "device", [](Napi::Env e, const torch::Tensor& t) -> Napi::Value { return Napi::String::New(e, deviceName(t.device())); });
}

napi_value TensorWrap::GetRequiresGrad(napi_env env, napi_callback_info info) {
  return readProperty(env, info, "requiresGrad", [](Napi::Env e, const torch::Tensor& t) -> Napi::Value { return Napi::Boolean::New(e, t.requires_grad()); });
}

napi_value TensorWrap::GetIsContiguous(napi_env env, napi_callback_info info) {
  return readProperty(env, info, "isContiguous", [](Napi::Env e, const torch::Tensor& t) -> Napi::Value { return Napi::Boolean::New(e, t.is_contiguous()); });
}

napi_value TensorWrap::GetNumel(napi_env env, napi_callback_info info) {
  return readProperty(env, info, "numel", [](Napi::Env e, const torch::Tensor& t) -> Napi::Value { return Napi::Number::New(e, static_cast<double>(t.numel())); });
}

}  // namespace rk
