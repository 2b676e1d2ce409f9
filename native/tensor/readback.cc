// Reading tensors back into JavaScript. Always a copy into V8-allocated memory: Electron's V8 memory
// cage rejects buffers that point outside the V8 heap, and a copy cannot be mutated under LibTorch.
#include <cstring>

#include "common/export.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

// A contiguous CPU tensor with the dtype the JS array will hold.
// float16/bfloat16 read back as float32 (JS has no half type); bool as uint8 (0/1).
torch::Tensor hostCopy(const torch::Tensor& t, bool raw16) {
  auto x = t.detach();
  if (!raw16 && (x.scalar_type() == torch::kFloat16 || x.scalar_type() == torch::kBFloat16)) x = x.to(torch::kFloat32);
  if (x.scalar_type() == torch::kBool) x = x.to(torch::kUInt8);
  return x.to(torch::kCPU).contiguous();
}

Napi::Value makeTypedArray(Napi::Env env, const torch::Tensor& host) {
  const size_t n = static_cast<size_t>(host.numel());
  const size_t bytes = n * host.element_size();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), host.data_ptr(), bytes);
  switch (host.scalar_type()) {
    case torch::kFloat32: return Napi::Float32Array::New(env, n, buffer, 0);
    case torch::kFloat64: return Napi::Float64Array::New(env, n, buffer, 0);
    case torch::kInt32: return Napi::Int32Array::New(env, n, buffer, 0);
    case torch::kInt64: return Napi::BigInt64Array::New(env, n, buffer, 0);
    case torch::kUInt8: return Napi::Uint8Array::New(env, n, buffer, 0);
    case torch::kInt8: return Napi::Int8Array::New(env, n, buffer, 0);
    case torch::kInt16: return Napi::Int16Array::New(env, n, buffer, 0);
    case torch::kFloat16:
    case torch::kBFloat16: return Napi::Uint16Array::New(env, n, buffer, 0);
    default: throw JsRangeError("toArray: dtype '" + dtypeName(host.scalar_type()) + "' has no TypedArray counterpart");
  }
}

// toArray(self, raw16?): a flat TypedArray in row-major order (views and non-contiguous tensors included).
Napi::Value toArray(const Args& a) {
  const auto& self = a.tensor(0, "self");
  const bool raw16 = a.has(1) && a.boolean(1, "raw16");
  return makeTypedArray(a.env(), hostCopy(self, raw16));
}

// item(self): the single value of a one-element tensor as a number (int64 as a number too when exact,
// else a bigint), or a boolean for dtype bool.
Napi::Value item(const Args& a) {
  const auto& self = a.tensor(0, "self");
  if (self.numel() != 1) {
    throw JsRangeError(a.where("self") + " has " + std::to_string(self.numel()) + " elements (shape " + c10::str(self.sizes()) +
                       "); item() needs exactly one");
  }
  const auto v = self.detach().to(torch::kCPU);
  switch (v.scalar_type()) {
    case torch::kBool: return Napi::Boolean::New(a.env(), v.item<bool>());
    case torch::kInt64: {
      const int64_t x = v.item<int64_t>();
      if (x > (int64_t{1} << 53) || x < -(int64_t{1} << 53)) return Napi::BigInt::New(a.env(), x);
      return Napi::Number::New(a.env(), static_cast<double>(x));
    }
    default: return Napi::Number::New(a.env(), v.item<double>());
  }
}

}  // namespace

void registerReadback(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "toArray", toArray);
  exportFunction(env, exports, "item", item);
}

}  // namespace rk
