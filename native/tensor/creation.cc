// Tensor creation: from JS typed arrays (always copied), constant fills, seeded random numbers, ranges.
#include <cstring>

#include "common/export.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

// The element type a typed array holds. Uint16Array carries raw float16/bfloat16 bits when the
// requested dtype is one of those.
torch::ScalarType sourceType(const Args& a, size_t i, const char* name, std::optional<torch::ScalarType> requested) {
  const auto type = a[i].As<Napi::TypedArray>().TypedArrayType();
  switch (type) {
    case napi_float32_array: return torch::kFloat32;
    case napi_float64_array: return torch::kFloat64;
    case napi_int32_array: return torch::kInt32;
    case napi_bigint64_array: return torch::kInt64;
    case napi_uint8_array:
    case napi_uint8_clamped_array: return torch::kUInt8;
    case napi_int8_array: return torch::kInt8;
    case napi_int16_array: return torch::kInt16;
    case napi_uint16_array:
      if (requested == torch::kFloat16 || requested == torch::kBFloat16) return *requested;
      throw JsTypeError(a.where(name) + " is a Uint16Array, which is only accepted as raw bits for dtype 'float16' or 'bfloat16'");
    default:
      throw JsTypeError(a.where(name) + " must be a Float32Array, Float64Array, Int32Array, BigInt64Array, Uint8Array, " +
                        "Int8Array, Int16Array or (for float16/bfloat16 bits) Uint16Array; got " + describe(a[i]));
  }
}

torch::TensorOptions optionsFrom(const Args& a, size_t dtypeIndex, size_t deviceIndex, torch::ScalarType defaultDtype) {
  auto opts = torch::TensorOptions().dtype(a.has(dtypeIndex) ? a.dtype(dtypeIndex, "dtype") : defaultDtype);
  return opts.device(a.has(deviceIndex) ? a.device(deviceIndex, "device") : torch::Device(torch::kCPU));
}

// fromTypedArray(data, shape, dtype?, device?): copies the array into a new tensor.
Napi::Value fromTypedArray(const Args& a) {
  if (!a[0].IsTypedArray()) throw JsTypeError(a.where("data") + " must be a TypedArray; got " + describe(a[0]));
  const std::vector<int64_t> shape = a.shape(1, "shape");
  std::optional<torch::ScalarType> requested;
  if (a.has(2)) requested = a.dtype(2, "dtype");
  const torch::ScalarType src = sourceType(a, 0, "data", requested);
  auto arr = a[0].As<Napi::TypedArray>();
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (static_cast<int64_t>(arr.ElementLength()) != numel) {
    throw JsRangeError(a.where("data") + " has " + std::to_string(arr.ElementLength()) + " elements but shape " +
                       c10::str(c10::IntArrayRef(shape)) + " needs " + std::to_string(numel));
  }
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(src));
  if (numel > 0) {
    const auto* bytes = static_cast<const uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
    std::memcpy(t.data_ptr(), bytes, arr.ByteLength());
  }
  const auto dtype = requested.value_or(src);
  const auto device = a.has(3) ? a.device(3, "device") : torch::Device(torch::kCPU);
  return TensorWrap::Wrap(a.env(), t.to(device, dtype));
}

// full(shape, value, dtype?, device?)
Napi::Value full(const Args& a) {
  const auto shape = a.shape(0, "shape");
  const double value = a.number(1, "value", /*allowNonFinite=*/true);
  return TensorWrap::Wrap(a.env(), torch::full(shape, value, optionsFrom(a, 2, 3, torch::kFloat32)));
}

// rand/randn(shape, dtype?, device?): uniform [0, 1) / standard normal from the global generator.
Napi::Value randomTensor(const Args& a, bool normal) {
  const auto shape = a.shape(0, "shape");
  const auto opts = optionsFrom(a, 1, 2, torch::kFloat32);
  if (!c10::isFloatingType(c10::typeMetaToScalarType(opts.dtype()))) {
    throw JsRangeError(a.where("dtype") + " must be a floating dtype for random numbers; got '" +
                       dtypeName(c10::typeMetaToScalarType(opts.dtype())) + "'");
  }
  return TensorWrap::Wrap(a.env(), normal ? torch::randn(shape, opts) : torch::rand(shape, opts));
}

// randint(low, high, shape, device?): int64 values in [low, high).
Napi::Value randint(const Args& a) {
  const int64_t low = a.integer(0, "low", -(int64_t{1} << 53), int64_t{1} << 53);
  const int64_t high = a.integer(1, "high", -(int64_t{1} << 53), int64_t{1} << 53);
  if (high <= low) throw JsRangeError(a.where("high") + " must be greater than low (" + std::to_string(low) + "); got " + std::to_string(high));
  const auto shape = a.shape(2, "shape");
  auto opts = torch::TensorOptions().dtype(torch::kInt64).device(a.has(3) ? a.device(3, "device") : torch::Device(torch::kCPU));
  return TensorWrap::Wrap(a.env(), torch::randint(low, high, shape, opts));
}

// arange(start, end, step, dtype?, device?)
Napi::Value arange(const Args& a) {
  const double start = a.number(0, "start");
  const double end = a.number(1, "end");
  const double step = a.number(2, "step");
  if (step == 0) throw JsRangeError(a.where("step") + " must not be 0");
  if ((end - start) / step > 1e12) throw JsRangeError(a.where("end") + " would make more than 1e12 elements");
  const auto opts = optionsFrom(a, 3, 4, torch::kFloat32);
  return TensorWrap::Wrap(a.env(), torch::arange(start, end, step, opts));
}

// manualSeed(seed): seeds the CPU generator and, when present, every CUDA generator.
Napi::Value manualSeed(const Args& a) {
  const int64_t seed = a.integer(0, "seed", 0, (int64_t{1} << 53));
  torch::manual_seed(static_cast<uint64_t>(seed));
  return a.env().Undefined();
}

}  // namespace

void registerCreation(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "fromTypedArray", fromTypedArray);
  exportFunction(env, exports, "full", full);
  exportFunction(env, exports, "rand", [](const Args& a) { return randomTensor(a, false); });
  exportFunction(env, exports, "randn", [](const Args& a) { return randomTensor(a, true); });
  exportFunction(env, exports, "randint", randint);
  exportFunction(env, exports, "arange", arange);
  exportFunction(env, exports, "manualSeed", manualSeed);
}

}  // namespace rk
