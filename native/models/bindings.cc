// JS bindings of the model zoo: create/list, async forwards, channels-last, TorchScript import.
// Parameters, buffers, modes, moves and state dicts come from the generic module handle (ModuleWrap).
#include <map>
#include <mutex>

#include "common/export.h"
#include "common/tensor_task.h"
#include "models/registry.h"
#include "models/torchscript_model.h"
#include "nn/module_wrap.h"
#include "tensor/dtype.h"

namespace rk {

namespace {

constexpr int64_t kMaxClasses = 1 << 20;
constexpr int64_t kMaxInChannels = 1 << 12;

int64_t countParameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// Parameter counts of the listed models at their default sizes, computed once per process.
int64_t cachedParameterCount(const ModelEntry& e) {
  static std::mutex mutex;
  static std::map<std::string, int64_t> counts;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = counts.find(e.name);
  if (it != counts.end()) return it->second;
  torch::NoGradGuard noGrad;
  auto model = e.make({e.name, e.defaultClasses, 3});
  return counts[e.name] = countParameters(*model);
}

Napi::Array shapeArray(Napi::Env env, const std::vector<std::array<int64_t, 3>>& shapes) {
  Napi::Array out = Napi::Array::New(env, shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    Napi::Array s = Napi::Array::New(env, 3);
    for (uint32_t j = 0; j < 3; ++j) s.Set(j, Napi::Number::New(env, static_cast<double>(shapes[i][j])));
    out.Set(static_cast<uint32_t>(i), s);
  }
  return out;
}

Napi::Object describeEntry(Napi::Env env, const ModelEntry& e, bool withCount) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", e.name);
  Napi::Array aliases = Napi::Array::New(env, e.aliases.size());
  for (size_t i = 0; i < e.aliases.size(); ++i) aliases.Set(static_cast<uint32_t>(i), e.aliases[i]);
  o.Set("aliases", aliases);
  o.Set("family", e.family);
  o.Set("dataset", e.dataset);
  o.Set("inputSize", Napi::Number::New(env, static_cast<double>(e.inputSize)));
  o.Set("defaultClasses", Napi::Number::New(env, static_cast<double>(e.defaultClasses)));
  o.Set("featureShapes", shapeArray(env, e.featureShapes));
  o.Set("preact", e.preactNote);
  if (withCount) o.Set("numParameters", Napi::Number::New(env, static_cast<double>(cachedParameterCount(e))));
  return o;
}

// modelCreate(name, numClasses|null, inChannels|null) -> NativeModule
Napi::Value modelCreate(const Args& a) {
  const std::string name = a.string(0, "name");
  ModelEntry e;
  try {
    e = resolveModel(name);
  } catch (const std::invalid_argument& err) {
    throw JsRangeError(a.where("name") + ": " + err.what());
  }
  const int64_t numClasses = a.has(1) ? a.integer(1, "numClasses", 1, kMaxClasses) : e.defaultClasses;
  const int64_t inChannels = a.has(2) ? a.integer(2, "inChannels", 1, kMaxInChannels) : 3;
  auto model = e.make({e.name, numClasses, inChannels});
  return ModuleWrap::Wrap(a.env(), model, e.name);
}

// modelList(withCounts) -> entries
Napi::Value modelList(const Args& a) {
  const bool withCounts = a.has(0) ? a.boolean(0, "withCounts") : true;
  const auto& entries = modelEntries();
  Napi::Array out = Napi::Array::New(a.env(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) out.Set(static_cast<uint32_t>(i), describeEntry(a.env(), entries[i], withCounts));
  return out;
}

// modelDescribe(name) -> the entry (resolving aliases and any wrn-D-W)
Napi::Value modelDescribe(const Args& a) {
  try {
    return describeEntry(a.env(), resolveModel(a.string(0, "name")), true);
  } catch (const std::invalid_argument& err) {
    throw JsRangeError(a.where("name") + ": " + err.what());
  }
}

// The input checks every forward shares: a 4-d floating tensor on the model's device and dtype with
// the channel count a zoo model expects. Failures name the argument and both values.
torch::Tensor checkedInput(const Args& a, size_t i, ZooModel& model) {
  const torch::Tensor& x = a.tensor(i, "x");
  if (x.dim() != 4) throw JsRangeError(a.where("x") + " must be 4-d (N, C, H, W); got shape " + c10::str(x.sizes()));
  if (!c10::isFloatingType(x.scalar_type())) throw JsTypeError(a.where("x") + " must be a floating tensor; got '" + dtypeName(x.scalar_type()) + "'");
  if (x.size(0) < 1) throw JsRangeError(a.where("x") + " must hold at least one image; got shape " + c10::str(x.sizes()));
  if (auto* zoo = dynamic_cast<ZooNet*>(&model); zoo && x.size(1) != zoo->inChannels()) {
    throw JsRangeError(a.where("x") + " has " + std::to_string(x.size(1)) + " channels but " + zoo->name() + " was created with inChannels " +
                       std::to_string(zoo->inChannels()));
  }
  const auto params = model.parameters();
  if (!params.empty()) {
    const auto& p = params.front();
    if (p.device() != x.device()) {
      throw JsRangeError(a.where("x") + " is on '" + deviceName(x.device()) + "' but the model is on '" + deviceName(p.device()) + "'; move one with .to()");
    }
    if (p.scalar_type() != x.scalar_type()) {
      throw JsTypeError(a.where("x") + " has dtype '" + dtypeName(x.scalar_type()) + "' but the model's parameters are '" + dtypeName(p.scalar_type()) +
                        "'; convert one with .to()");
    }
  }
  return x;
}

// Re-throws a LibTorch failure from a worker with the model's name in front.
[[noreturn]] void rethrowNamed(const std::string& what) {
  throw std::runtime_error(what + ": " + messageOf(std::current_exception()));
}

// modelForward(model, x) -> Promise<logits>
Napi::Value modelForward(const Args& a) {
  auto model = ModuleWrap::As<ZooModel>(a[0], a.where("model"), "zoo model");
  torch::Tensor x = checkedInput(a, 1, *model);
  return runAsync(a.env(), [model, x] {
    try {
      return std::vector<torch::Tensor>{model->forward(x)};
    } catch (...) {
      rethrowNamed(model->name() + ".forward");
    }
  });
}

// modelForwardWithFeatures(model, x, preact) -> Promise<[logits, ...features]>
Napi::Value modelForwardWithFeatures(const Args& a) {
  auto model = ModuleWrap::As<ZooModel>(a[0], a.where("model"), "zoo model");
  torch::Tensor x = checkedInput(a, 1, *model);
  const bool preact = a.has(2) ? a.boolean(2, "preact") : false;
  return runAsync(a.env(), [model, x, preact] {
    try {
      ModelOutput out = model->forwardWithFeatures(x, preact);
      std::vector<torch::Tensor> all{out.logits};
      all.insert(all.end(), out.features.begin(), out.features.end());
      return all;
    } catch (...) {
      rethrowNamed(model->name() + ".forwardWithFeatures");
    }
  });
}

// modelSetChannelsLast(model, enable): stores 4-d weights channels-last (or contiguous again). LibTorch's
// CPU and cuDNN convolutions pick the channels-last kernels when the weight is channels-last, and the
// activations follow, so inputs need no conversion.
Napi::Value modelSetChannelsLast(const Args& a) {
  auto model = ModuleWrap::As<ZooModel>(a[0], a.where("model"), "zoo model");
  const bool enable = a.boolean(1, "enable");
  const auto format = enable ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  torch::NoGradGuard noGrad;
  for (auto& p : model->parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(format));
  }
  return a.env().Undefined();
}

// modelInfo(model) -> {name, inChannels|null, hasPreact}
Napi::Value modelInfo(const Args& a) {
  auto model = ModuleWrap::As<ZooModel>(a[0], a.where("model"), "zoo model");
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("name", model->name());
  auto* zoo = dynamic_cast<ZooNet*>(model.get());
  o.Set("inChannels", zoo ? Napi::Number::New(a.env(), static_cast<double>(zoo->inChannels())) : a.env().Null());
  auto* ts = dynamic_cast<TorchScriptModel*>(model.get());
  o.Set("hasPreact", Napi::Boolean::New(a.env(), zoo != nullptr || (ts && ts->hasPreactMethod())));
  return o;
}

// torchScriptLoad(path, trustCode, device|null) -> NativeModule. Loading runs code from the file,
// so the caller must say it trusts it.
Napi::Value torchScriptLoad(const Args& a) {
  const std::string path = a.string(0, "path");
  if (!a.has(1) || !a.boolean(1, "trustCode")) {
    throw JsTypeError(a.where("trustCode") + " must be true: a TorchScript file contains code that runs when it is loaded and called. "
                      "Load only files you trust, and pass {trustCode: true}");
  }
  const torch::Device device = a.has(2) ? a.device(2, "device") : torch::Device(torch::kCPU);
  std::shared_ptr<TorchScriptModel> model;
  try {
    model = loadTorchScriptModel(path, device);
  } catch (const c10::Error& e) {
    throw std::runtime_error("loadTorchScript: cannot load '" + path + "': " + e.what_without_backtrace());
  }
  return ModuleWrap::Wrap(a.env(), model, "torchscript");
}

// torchScriptSaveFixture(path, inChannels, numClasses, logitsOnly?): the C++-made scripted module of the tests.
Napi::Value torchScriptSaveFixture(const Args& a) {
  saveTorchScriptFixture(a.string(0, "path"), a.integer(1, "inChannels", 1, kMaxInChannels), a.integer(2, "numClasses", 1, kMaxClasses),
                         a.has(3) && a.boolean(3, "logitsOnly"));
  return a.env().Undefined();
}

}  // namespace

void registerModels(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "modelCreate", modelCreate);
  exportFunction(env, exports, "modelList", modelList);
  exportFunction(env, exports, "modelDescribe", modelDescribe);
  exportFunction(env, exports, "modelForward", modelForward);
  exportFunction(env, exports, "modelForwardWithFeatures", modelForwardWithFeatures);
  exportFunction(env, exports, "modelSetChannelsLast", modelSetChannelsLast);
  exportFunction(env, exports, "modelInfo", modelInfo);
  exportFunction(env, exports, "torchScriptLoad", torchScriptLoad);
  exportFunction(env, exports, "torchScriptSaveFixture", torchScriptSaveFixture);
}

}  // namespace rk
