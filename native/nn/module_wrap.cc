#include "nn/module_wrap.h"

#include "common/addon_data.h"
#include "common/args.h"
#include "common/receiver.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {
int kInternalToken = 0;

int64_t moduleBytes(torch::nn::Module& m) {
  int64_t bytes = 0;
  for (const auto& p : m.parameters()) bytes += p.numel() * static_cast<int64_t>(p.element_size());
  for (const auto& b : m.buffers()) bytes += b.numel() * static_cast<int64_t>(b.element_size());
  return bytes;
}

Napi::Object tensorRecord(Napi::Env env, const torch::OrderedDict<std::string, torch::Tensor>& items) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& item : items) out.Set(item.key(), TensorWrap::Wrap(env, item.value()));
  return out;
}
}  // namespace

void ModuleWrap::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeModule",
                                    {
                                        InstanceMethod<&ModuleWrap::Dispose>("dispose"),
                                        InstanceAccessor<&ModuleWrap::GetKind>("kind"),
                                        InstanceAccessor<&ModuleWrap::GetDisposed>("disposed"),
                                        InstanceAccessor<&ModuleWrap::GetTraining>("training"),
                                        InstanceMethod<&ModuleWrap::Train>("train"),
                                        InstanceMethod<&ModuleWrap::NamedParameters>("namedParameters"),
                                        InstanceMethod<&ModuleWrap::NamedBuffers>("namedBuffers"),
                                        InstanceMethod<&ModuleWrap::NumParameters>("numParameters"),
                                        InstanceMethod<&ModuleWrap::To>("to"),
                                        InstanceMethod<&ModuleWrap::LoadStateDict>("loadStateDict"),
                                        InstanceMethod<&ModuleWrap::ZeroGrad>("zeroGrad"),
                                    });
  addonData(env).moduleConstructor = Napi::Persistent(ctor);
  exports.Set("NativeModule", ctor);
}

Napi::Object ModuleWrap::Wrap(Napi::Env env, std::shared_ptr<torch::nn::Module> module, const std::string& kind) {
  Napi::Object obj = addonData(env).moduleConstructor.New({Napi::External<int>::New(env, &kInternalToken)});
  ModuleWrap* self = Unwrap(obj);
  self->module_ = std::move(module);
  self->kind_ = kind;
  self->AccountMemory();
  return obj;
}

std::shared_ptr<torch::nn::Module> ModuleWrap::From(const Napi::Value& v, const std::string& argName) {
  if (!hasTag(v, kModuleTag)) {
    throw JsTypeError(argName + " must be a Module; got " + describe(v));
  }
  ModuleWrap* self = Unwrap(v.As<Napi::Object>());
  if (!self->module_) throw JsTypeError(argName + " is a disposed Module");
  return self->module_;
}

ModuleWrap::ModuleWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModuleWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal() || info[0].As<Napi::External<int>>().Data() != &kInternalToken) {
    throw Napi::TypeError::New(info.Env(), "NativeModule cannot be constructed directly; use rk.nn or rk.models factories");
  }
  info.This().As<Napi::Object>().TypeTag(&kModuleTag);
}

ModuleWrap::~ModuleWrap() {
  module_.reset();
  if (accountedBytes_ != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -accountedBytes_);
}

// Re-reports the module's parameter and buffer bytes to V8 (after creation and after moves).
void ModuleWrap::AccountMemory() {
  const int64_t now = module_ ? moduleBytes(*module_) : 0;
  if (now != accountedBytes_) Napi::MemoryManagement::AdjustExternalMemory(Env(), now - accountedBytes_);
  accountedBytes_ = now;
}

torch::nn::Module& ModuleWrap::Live() const {
  if (!module_) throw JsTypeError("this Module was disposed");
  return *module_;
}

Napi::Value ModuleWrap::Dispose(const Napi::CallbackInfo& info) {
  module_.reset();
  AccountMemory();
  return info.Env().Undefined();
}

Napi::Value ModuleWrap::GetKind(const Napi::CallbackInfo& info) {
  checkReceiver(info, kModuleTag, "NativeModule");
  return Napi::String::New(info.Env(), kind_); }
Napi::Value ModuleWrap::GetDisposed(const Napi::CallbackInfo& info) {
  checkReceiver(info, kModuleTag, "NativeModule");
  return Napi::Boolean::New(info.Env(), !module_); }

Napi::Value ModuleWrap::GetTraining(const Napi::CallbackInfo& info) {
  checkReceiver(info, kModuleTag, "NativeModule");
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), Live().is_training()); });
}

// train(mode = true): BN layers use batch statistics (true) or running statistics (false).
Napi::Value ModuleWrap::Train(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args a(info, "Module.train");
    Live().train(a.has(0) ? a.boolean(0, "mode") : true);
    return info.Env().Undefined();
  });
}

Napi::Value ModuleWrap::NamedParameters(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return tensorRecord(info.Env(), Live().named_parameters()); });
}

Napi::Value ModuleWrap::NamedBuffers(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return tensorRecord(info.Env(), Live().named_buffers()); });
}

Napi::Value ModuleWrap::NumParameters(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    int64_t n = 0;
    for (const auto& p : Live().parameters()) n += p.numel();
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  });
}

// to(dtype|null, device|null): moves parameters and buffers in place (their JS handles keep the old tensors).
Napi::Value ModuleWrap::To(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args a(info, "Module.to");
    auto& m = Live();
    if (a.has(0)) {
      const auto dtype = a.dtype(0, "dtype");
      if (!c10::isFloatingType(dtype)) throw JsRangeError(a.where("dtype") + " must be a floating dtype for a module; got '" + dtypeName(dtype) + "'");
      m.to(dtype);
    }
    if (a.has(1)) m.to(a.device(1, "device"));
    AccountMemory();
    return info.Env().Undefined();
  });
}

// loadStateDict(record, strict): copies tensors into parameters and buffers by name.
// Returns {missing, unexpected, mismatched}; strict mode throws when any list is non-empty,
// before anything is copied.
Napi::Value ModuleWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args a(info, "Module.loadStateDict");
    auto& m = Live();
    if (!a[0].IsObject() || a[0].IsArray()) throw JsTypeError(a.where("stateDict") + " must be an object of name -> Tensor; got " + describe(a[0]));
    const bool strict = a.has(1) ? a.boolean(1, "strict") : true;
    Napi::Object record = a[0].As<Napi::Object>();

    std::map<std::string, torch::Tensor> targets;
    for (const auto& p : m.named_parameters()) targets[p.key()] = p.value();
    for (const auto& b : m.named_buffers()) targets[b.key()] = b.value();

    std::vector<std::string> unexpected, mismatched;
    std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
    std::set<std::string> seen;
    Napi::Array keys = record.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
      const auto it = targets.find(key);
      if (it == targets.end()) {
        unexpected.push_back(key);
        continue;
      }
      seen.insert(key);
      const torch::Tensor& src = TensorWrap::From(record.Get(key), a.where("stateDict") + "['" + key + "']");
      if (src.sizes() != it->second.sizes()) {
        mismatched.push_back(key + " (file " + c10::str(src.sizes()) + ", module " + c10::str(it->second.sizes()) + ")");
        continue;
      }
      copies.emplace_back(it->second, src);
    }
    std::vector<std::string> missing;
    for (const auto& [name, _] : targets) {
      if (!seen.count(name)) missing.push_back(name);
    }
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (size_t i = 0; i < v.size() && i < 20; ++i) s += (i ? ", " : "") + v[i];
      if (v.size() > 20) s += ", ... (" + std::to_string(v.size()) + " in all)";
      return s;
    };
    if (strict && (!missing.empty() || !unexpected.empty() || !mismatched.empty())) {
      std::string msg = "Module.loadStateDict: the state dict does not match this '" + kind_ + "' module.";
      if (!missing.empty()) msg += "\n  missing keys: " + join(missing);
      if (!unexpected.empty()) msg += "\n  unexpected keys: " + join(unexpected);
      if (!mismatched.empty()) msg += "\n  mis-shaped keys: " + join(mismatched);
      msg += "\nPass {strict: false} to load the matching keys only.";
      throw JsRangeError(msg);
    }
    {
      torch::NoGradGuard noGrad;
      for (auto& [dst, src] : copies) dst.copy_(src);
    }
    Napi::Object report = Napi::Object::New(info.Env());
    auto toArray = [&](const std::vector<std::string>& v) {
      Napi::Array arr = Napi::Array::New(info.Env(), v.size());
      for (size_t i = 0; i < v.size(); ++i) arr.Set(static_cast<uint32_t>(i), v[i]);
      return arr;
    };
    report.Set("missing", toArray(missing));
    report.Set("unexpected", toArray(unexpected));
    report.Set("mismatched", toArray(mismatched));
    return report;
  });
}

Napi::Value ModuleWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Live().zero_grad(true);
    return info.Env().Undefined();
  });
}

}  // namespace rk
