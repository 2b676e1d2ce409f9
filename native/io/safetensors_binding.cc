// JS face of native/io: safetensorsRead(path) and safetensorsWrite(path, record, metadata?).
// Argument kinds are checked here; everything about the file itself is checked in safetensors_*.cc.
#include "common/export.h"
#include "io/safetensors.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

// A plain object's own enumerable string keys (not inherited ones, unlike GetPropertyNames()).
std::vector<std::string> ownKeys(Napi::Env env, Napi::Object obj) {
  napi_value names;
  const napi_status status = napi_get_all_property_names(env, obj, napi_key_own_only,
                                                         static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                                         napi_key_numbers_to_strings, &names);
  if (status != napi_ok) throw Napi::Error::New(env);
  Napi::Array arr(env, names);
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < arr.Length(); ++i) keys.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  return keys;
}

Napi::Object recordArg(const Args& a, size_t i, const char* name) {
  const Napi::Value v = a[i];
  if (!v.IsObject() || v.IsArray() || v.IsFunction() || TensorWrap::IsTensor(a.env(), v)) {
    throw JsTypeError(a.where(name) + " must be a plain object; got " + describe(v));
  }
  return v.As<Napi::Object>();
}

std::string pathArg(const Args& a) {
  const std::string path = a.string(0, "path");
  if (path.empty()) throw JsRangeError(a.where("path") + " must not be empty");
  if (path.find('\0') != std::string::npos) throw JsRangeError(a.where("path") + " must not contain a NUL character");
  return path;
}

// Defines (not assigns) the property, so a tensor named "__proto__" becomes an ordinary own key
// instead of replacing the object's prototype.
void defineOwn(Napi::Object obj, const std::string& key, Napi::Value value) {
  obj.DefineProperty(Napi::PropertyDescriptor::Value(key, value, napi_default_jsproperty));
}

// safetensorsRead(path) -> {tensors: {name: NativeTensor}, metadata: {key: string}}
Napi::Value read(const Args& a) {
  const std::string path = pathArg(a);
  safetensors::Contents c = safetensors::read(path);
  Napi::Env env = a.env();
  Napi::Object tensors = Napi::Object::New(env);
  for (auto& [name, t] : c.tensors) defineOwn(tensors, name, TensorWrap::Wrap(env, std::move(t)));
  Napi::Object metadata = Napi::Object::New(env);
  for (const auto& [key, value] : c.metadata) defineOwn(metadata, key, Napi::String::New(env, value));
  Napi::Object out = Napi::Object::New(env);
  out.Set("tensors", tensors);
  out.Set("metadata", metadata);
  return out;
}

// safetensorsWrite(path, record, metadata?)
Napi::Value write(const Args& a) {
  const std::string path = pathArg(a);
  Napi::Object record = recordArg(a, 1, "record");
  safetensors::NamedTensors tensors;
  for (const std::string& key : ownKeys(a.env(), record)) {
    const Napi::Value v = record.Get(key);
    if (!TensorWrap::IsTensor(a.env(), v)) throw JsTypeError(a.where("record") + " entry '" + key + "' must be a Tensor; got " + describe(v));
    tensors.emplace_back(key, TensorWrap::From(v, a.where("record") + " entry '" + key + "'"));
  }
  safetensors::Metadata metadata;
  if (a.has(2)) {
    Napi::Object meta = recordArg(a, 2, "metadata");
    for (const std::string& key : ownKeys(a.env(), meta)) {
      const Napi::Value v = meta.Get(key);
      if (!v.IsString()) throw JsTypeError(a.where("metadata") + " entry '" + key + "' must be a string; got " + describe(v));
      metadata.emplace_back(key, v.As<Napi::String>().Utf8Value());
    }
  }
  safetensors::write(path, tensors, metadata);
  return a.env().Undefined();
}

}  // namespace

void registerIo(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "safetensorsRead", read);
  exportFunction(env, exports, "safetensorsWrite", write);
}

}  // namespace rk
