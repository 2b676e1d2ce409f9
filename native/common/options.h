// Reading a JS options object field by field, with errors that name the function and the field.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <napi.h>
#include <torch/torch.h>

#include "common/args.h"
#include "common/errors.h"

namespace rk {

class OptionsReader {
 public:
  // `argument` names the object in messages: "fn: option 'key'" for the usual options argument, or
  // "fn: argument 'plan' field 'key'" for another object argument (argument = "plan").
  OptionsReader(const Napi::Value& value, std::string fn, std::string argument = "options") : fn_(std::move(fn)) {
    if (!value.IsObject() || value.IsArray()) throw JsTypeError(fn_ + ": argument '" + argument + "' must be an object; got " + describe(value));
    obj_ = value.As<Napi::Object>();
    if (argument != "options") field_ = "argument '" + argument + "' field";
  }

  bool has(const char* key) const {
    Napi::Value v = obj_.Get(key);
    return !v.IsUndefined() && !v.IsNull();
  }
  Napi::Value get(const char* key) const { return obj_.Get(key); }
  std::string where(const char* key) const { return fn_ + ": " + field_ + " '" + key + "'"; }

  double number(const char* key, std::optional<double> fallback = std::nullopt, double lo = -1e300, double hi = 1e300) const {
    if (!has(key)) return required(key, fallback);
    Napi::Value v = get(key);
    if (!v.IsNumber()) throw JsTypeError(where(key) + " must be a number; got " + describe(v));
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d < lo || d > hi) {
      throw JsRangeError(where(key) + " must be a finite number in [" + fmt(lo) + ", " + fmt(hi) + "]; got " + describe(v));
    }
    return d;
  }
  int64_t integer(const char* key, std::optional<int64_t> fallback, int64_t lo, int64_t hi) const {
    if (!has(key)) {
      if (!fallback) throw JsTypeError(where(key) + " is required");
      return *fallback;
    }
    const double d = number(key, std::nullopt, static_cast<double>(lo), static_cast<double>(hi));
    if (std::floor(d) != d) throw JsRangeError(where(key) + " must be an integer; got " + describe(get(key)));
    return static_cast<int64_t>(d);
  }
  bool boolean(const char* key, std::optional<bool> fallback) const {
    if (!has(key)) {
      if (!fallback) throw JsTypeError(where(key) + " is required");
      return *fallback;
    }
    Napi::Value v = get(key);
    if (!v.IsBoolean()) throw JsTypeError(where(key) + " must be a boolean; got " + describe(v));
    return v.As<Napi::Boolean>().Value();
  }
  std::string string(const char* key, std::optional<std::string> fallback) const {
    if (!has(key)) {
      if (!fallback) throw JsTypeError(where(key) + " is required");
      return *fallback;
    }
    Napi::Value v = get(key);
    if (!v.IsString()) throw JsTypeError(where(key) + " must be a string; got " + describe(v));
    return v.As<Napi::String>().Utf8Value();
  }
  std::vector<double> numbers(const char* key, std::optional<std::vector<double>> fallback) const {
    if (!has(key)) {
      if (!fallback) throw JsTypeError(where(key) + " is required");
      return *fallback;
    }
    Napi::Value v = get(key);
    if (!v.IsArray()) throw JsTypeError(where(key) + " must be an Array of numbers; got " + describe(v));
    Napi::Array arr = v.As<Napi::Array>();
    std::vector<double> out;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value x = arr.Get(i);
      if (!x.IsNumber() || !std::isfinite(x.As<Napi::Number>().DoubleValue())) {
        throw JsTypeError(where(key) + "[" + std::to_string(i) + "] must be a finite number; got " + describe(x));
      }
      out.push_back(x.As<Napi::Number>().DoubleValue());
    }
    return out;
  }

 private:
  double required(const char* key, std::optional<double> fallback) const {
    if (!fallback) throw JsTypeError(where(key) + " is required");
    return *fallback;
  }
  static std::string fmt(double d) {
    std::ostringstream os;
    os << d;
    return os.str();
  }

  Napi::Object obj_;
  std::string fn_;
  std::string field_ = "option";
};

}  // namespace rk
