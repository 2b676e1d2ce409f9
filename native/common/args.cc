#include "common/args.h"

#include <cmath>

#include "common/errors.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {
constexpr int64_t kMaxRank = 16;
// 2^40 elements: far beyond any real tensor here, small enough that size arithmetic cannot overflow.
constexpr int64_t kMaxElements = int64_t{1} << 40;

const char* typedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}
}  // namespace

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return std::string("a boolean (") + (v.As<Napi::Boolean>().Value() ? "true" : "false") + ")";
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    std::ostringstream os;
    os << "a number (" << d << ")";
    return os.str();
  }
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return "a string ('" + s + "')";
  }
  if (v.IsBigInt()) return "a bigint";
  if (v.IsArray()) return "an Array of length " + std::to_string(v.As<Napi::Array>().Length());
  if (v.IsTypedArray()) return std::string("a ") + typedArrayName(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsFunction()) return "a function";
  if (TensorWrap::IsTensor(v.Env(), v)) return "a Tensor";
  if (v.IsSymbol()) return "a symbol";
  return "an object";
}

bool Args::has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }

std::string Args::where(const char* name) const { return std::string(fn_) + ": argument '" + name + "'"; }
std::string Args::where(size_t i, const char* name) const { return where(name); }

const torch::Tensor& Args::tensor(size_t i, const char* name) const {
  if (!TensorWrap::IsTensor(env(), info_[i])) throw JsTypeError(where(name) + " must be a Tensor; got " + describe(info_[i]));
  return TensorWrap::From(info_[i], where(name));
}

std::vector<torch::Tensor> Args::tensorList(size_t i, const char* name) const {
  if (!info_[i].IsArray()) throw JsTypeError(where(name) + " must be an Array of Tensors; got " + describe(info_[i]));
  Napi::Array arr = info_[i].As<Napi::Array>();
  std::vector<torch::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value item = arr.Get(k);
    const std::string label = where(name) + "[" + std::to_string(k) + "]";
    if (!TensorWrap::IsTensor(env(), item)) throw JsTypeError(label + " must be a Tensor; got " + describe(item));
    out.push_back(TensorWrap::From(item, label));
  }
  return out;
}

double Args::number(size_t i, const char* name, bool allowNonFinite) const {
  if (!info_[i].IsNumber()) throw JsTypeError(where(name) + " must be a number; got " + describe(info_[i]));
  const double d = info_[i].As<Napi::Number>().DoubleValue();
  if (!allowNonFinite && !std::isfinite(d)) throw JsRangeError(where(name) + " must be a finite number; got " + describe(info_[i]));
  return d;
}

int64_t Args::integer(size_t i, const char* name, int64_t lo, int64_t hi) const {
  if (!info_[i].IsNumber()) throw JsTypeError(where(name) + " must be an integer; got " + describe(info_[i]));
  const double d = info_[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d) throw JsRangeError(where(name) + " must be an integer; got " + describe(info_[i]));
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw JsRangeError(where(name) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]; got " + describe(info_[i]));
  }
  return static_cast<int64_t>(d);
}

bool Args::boolean(size_t i, const char* name) const {
  if (!info_[i].IsBoolean()) throw JsTypeError(where(name) + " must be a boolean; got " + describe(info_[i]));
  return info_[i].As<Napi::Boolean>().Value();
}

std::string Args::string(size_t i, const char* name) const {
  if (!info_[i].IsString()) throw JsTypeError(where(name) + " must be a string; got " + describe(info_[i]));
  return info_[i].As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Args::intList(size_t i, const char* name, int64_t lo, int64_t hi, size_t maxLength) const {
  if (!info_[i].IsArray()) throw JsTypeError(where(name) + " must be an Array of integers; got " + describe(info_[i]));
  Napi::Array arr = info_[i].As<Napi::Array>();
  if (arr.Length() > maxLength) {
    throw JsRangeError(where(name) + " may have at most " + std::to_string(maxLength) + " entries; got " + std::to_string(arr.Length()));
  }
  std::vector<int64_t> out;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    const std::string label = where(name) + "[" + std::to_string(k) + "]";
    if (!v.IsNumber()) throw JsTypeError(label + " must be an integer; got " + describe(v));
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
      throw JsRangeError(label + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]; got " + describe(v));
    }
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

std::vector<int64_t> Args::shape(size_t i, const char* name) const {
  std::vector<int64_t> s = intList(i, name, 0, kMaxElements, kMaxRank);
  int64_t n = 1;
  for (int64_t d : s) {
    if (d != 0 && n > kMaxElements / d) throw JsRangeError(where(name) + " describes more than 2^40 elements");
    n *= d;
  }
  return s;
}

int64_t Args::dim(size_t i, const char* name, int64_t rank) const {
  const int64_t r = std::max<int64_t>(rank, 1);  // a 0-d tensor accepts dim 0 / -1, as in LibTorch
  const int64_t d = integer(i, name, -r, r - 1);
  return d < 0 ? d + r : d;
}

torch::ScalarType Args::dtype(size_t i, const char* name) const { return parseDtype(string(i, name), where(name).c_str()); }

torch::Device Args::device(size_t i, const char* name) const { return parseDevice(string(i, name), where(name).c_str()); }

}  // namespace rk
