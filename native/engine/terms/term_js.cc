#include "engine/terms/term_js.h"

#include <cmath>

#include "common/args.h"
#include "common/errors.h"

namespace rk {

TermParams readTermParams(const Napi::Value& value, const std::string& term, const std::string& where) {
  TermParams params(term);
  if (value.IsUndefined() || value.IsNull()) return params;
  if (!value.IsObject() || value.IsArray()) throw JsTypeError(where + " must be an object of parameters; got " + describe(value));
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Array keys = obj.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
    Napi::Value v = obj.Get(key);
    const std::string at = where + "." + key;
    if (v.IsUndefined()) continue;
    if (v.IsNumber()) {
      params.set(key, v.As<Napi::Number>().DoubleValue());
    } else if (v.IsBoolean()) {
      params.set(key, v.As<Napi::Boolean>().Value());
    } else if (v.IsString()) {
      params.set(key, v.As<Napi::String>().Utf8Value());
    } else if (v.IsArray()) {
      Napi::Array arr = v.As<Napi::Array>();
      std::vector<double> xs;
      for (uint32_t j = 0; j < arr.Length(); ++j) {
        Napi::Value x = arr.Get(j);
        if (!x.IsNumber()) throw JsTypeError(at + "[" + std::to_string(j) + "] must be a number; got " + describe(x));
        xs.push_back(x.As<Napi::Number>().DoubleValue());
      }
      params.set(key, xs);
    } else {
      throw JsTypeError(at + " must be a number, boolean, string or array of numbers; got " + describe(v));
    }
  }
  return params;
}

std::vector<FeatureShape> readFeatureShapes(const Napi::Value& value, const std::string& where) {
  if (!value.IsArray()) throw JsTypeError(where + " must be an Array of [C, H, W] shapes; got " + describe(value));
  Napi::Array arr = value.As<Napi::Array>();
  std::vector<FeatureShape> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value s = arr.Get(i);
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!s.IsArray() || s.As<Napi::Array>().Length() != 3) throw JsTypeError(at + " must be a [C, H, W] shape; got " + describe(s));
    FeatureShape shape;
    for (uint32_t j = 0; j < 3; ++j) {
      Napi::Value d = s.As<Napi::Array>().Get(j);
      const double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
      if (!(x >= 1 && x <= (1 << 20)) || std::floor(x) != x) throw JsRangeError(at + " must hold positive integers; got " + describe(s));
      shape.push_back(static_cast<int64_t>(x));
    }
    out.push_back(shape);
  }
  return out;
}

std::vector<TermSpec> readTermSpecs(const Napi::Value& value, const std::string& where) {
  std::vector<TermSpec> out;
  if (value.IsUndefined() || value.IsNull()) return out;
  if (!value.IsArray()) throw JsTypeError(where + " must be an Array of {name, weight, warmup, params}; got " + describe(value));
  Napi::Array arr = value.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    Napi::Value v = arr.Get(i);
    if (!v.IsObject() || v.IsArray()) throw JsTypeError(at + " must be an object {name, weight, warmup, params}; got " + describe(v));
    Napi::Object o = v.As<Napi::Object>();
    TermSpec spec;
    if (!o.Get("name").IsString()) throw JsTypeError(at + ".name must be a term name; got " + describe(o.Get("name")));
    spec.name = o.Get("name").As<Napi::String>().Utf8Value();
    Napi::Value w = o.Get("weight");
    if (!w.IsUndefined()) {
      const double d = w.IsNumber() ? w.As<Napi::Number>().DoubleValue() : NAN;
      if (!(d >= 0 && d <= 1e9)) throw JsRangeError(at + ".weight must be a number in [0, 1e9]; got " + describe(w));
      spec.weight = d;
    }
    Napi::Value warm = o.Get("warmup");
    if (!warm.IsUndefined()) {
      if (!warm.IsBoolean()) throw JsTypeError(at + ".warmup must be a boolean; got " + describe(warm));
      spec.warmup = warm.As<Napi::Boolean>().Value();
    }
    spec.params = readTermParams(o.Get("params"), spec.name, at + ".params");
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace rk
