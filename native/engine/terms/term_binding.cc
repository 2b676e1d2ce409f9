// JS binding of one loss term on its own: NativeTerm, for rk.losses (each method's loss usable outside a
// trainer) and for the terms' golden-value tests. The fused step does not go through it.
#include <ATen/CPUGeneratorImpl.h>

#include "common/args.h"
#include "common/export.h"
#include "common/receiver.h"
#include "engine/terms/term_js.h"
#include "nn/module_wrap.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

class TermWrap : public Napi::ObjectWrap<TermWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeTerm",
                       {InstanceMethod<&TermWrap::Compute>("compute"), InstanceMethod<&TermWrap::AfterUpdate>("afterUpdate"),
                        InstanceMethod<&TermWrap::Module>("module"), InstanceMethod<&TermWrap::LossNames>("lossNames"),
                        InstanceMethod<&TermWrap::Needs>("needs")});
  }

  // new NativeTerm(name, {studentShapes, teacherShapes, numClasses?, datasetSize?, datasetLabels?, teacher?}, params?)
  explicit TermWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TermWrap>(info) {
    info.This().As<Napi::Object>().TypeTag(&kTermTag);
    guard(info.Env(), [&] {
      Args a(info, "NativeTerm");
      name_ = a.string(0, "name");
      if (!a[1].IsObject() || a[1].IsArray()) throw JsTypeError(a.where("setup") + " must be an object {studentShapes, teacherShapes, ...}; got " + describe(a[1]));
      Napi::Object s = a[1].As<Napi::Object>();
      TermSetup setup;
      setup.studentShapes = readFeatureShapes(s.Get("studentShapes"), a.where("setup") + ".studentShapes");
      setup.teacherShapes = readFeatureShapes(s.Get("teacherShapes"), a.where("setup") + ".teacherShapes");
      const auto count = [&](const char* key) -> int64_t {
        Napi::Value v = s.Get(key);
        if (v.IsUndefined() || v.IsNull()) return 0;
        const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
        if (!(d >= 0 && d <= 1e12) || std::floor(d) != d) throw JsRangeError(a.where("setup") + "." + key + " must be a non-negative integer; got " + describe(v));
        return static_cast<int64_t>(d);
      };
      setup.numClasses = count("numClasses");
      setup.datasetSize = count("datasetSize");
      if (!s.Get("datasetLabels").IsUndefined() && !s.Get("datasetLabels").IsNull()) {
        setup.datasetLabels = TensorWrap::From(s.Get("datasetLabels"), a.where("setup") + ".datasetLabels");
        setup.device = setup.datasetLabels.device();
      }
      if (!s.Get("teacher").IsUndefined() && !s.Get("teacher").IsNull()) {
        setup.teacher = ModuleWrap::As<ZooModel>(s.Get("teacher"), a.where("setup") + ".teacher", "model");
        const auto ps = setup.teacher->parameters();
        if (!ps.empty()) setup.device = ps.front().device();
      }
      const TermParams params = readTermParams(a.has(2) ? a[2] : info.Env().Undefined(), name_, a.where("params"));
      term_ = makeTerm(name_, setup, params);
      return 0;
    });
  }

 private:
  // The inputs object {studentLogits, teacherLogits, labels, indices, studentFeatures, teacherFeatures, seed}.
  struct Inputs {
    ModelOutput student, teacher;
    torch::Tensor labels, indices;
    at::Generator generator;
  };

  Inputs readInputs(const Args& a) const {
    if (!a[0].IsObject() || a[0].IsArray()) throw JsTypeError(a.where("inputs") + " must be an object {studentLogits, teacherLogits, labels, ...}; got " + describe(a[0]));
    Napi::Object o = a[0].As<Napi::Object>();
    const auto given = [&](const char* key) { return !o.Get(key).IsUndefined() && !o.Get(key).IsNull(); };
    const auto tensor = [&](const char* key) { return given(key) ? TensorWrap::From(o.Get(key), a.where("inputs") + "." + key) : torch::Tensor(); };
    const auto list = [&](const char* key) {
      std::vector<torch::Tensor> out;
      if (!given(key)) return out;
      if (!o.Get(key).IsArray()) throw JsTypeError(a.where("inputs") + "." + key + " must be an Array of Tensors; got " + describe(o.Get(key)));
      Napi::Array arr = o.Get(key).As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(TensorWrap::From(arr.Get(i), a.where("inputs") + "." + key + "[" + std::to_string(i) + "]"));
      return out;
    };
    Inputs in;
    in.student = {tensor("studentLogits"), list("studentFeatures")};
    in.teacher = {tensor("teacherLogits"), list("teacherFeatures")};
    in.labels = tensor("labels");
    in.indices = tensor("indices");
    const TermNeeds n = term_->needs();
    if (!in.student.logits.defined() && !in.student.features.empty()) in.student.logits = torch::zeros({in.student.features[0].size(0), 1}, in.student.features[0].options());
    if (!in.student.logits.defined()) throw JsTypeError(a.where("inputs") + ".studentLogits (or studentFeatures) is required");
    if (n.teacherLogits && !in.teacher.logits.defined()) throw JsTypeError(a.where("inputs") + ".teacherLogits is required by term '" + name_ + "'");
    if (n.features && (in.student.features.empty() || in.teacher.features.empty())) {
      throw JsTypeError(a.where("inputs") + ".studentFeatures and .teacherFeatures are required by term '" + name_ + "'");
    }
    const int64_t batch = in.student.logits.size(0);
    if (!in.labels.defined()) in.labels = torch::zeros({batch}, torch::TensorOptions().dtype(torch::kInt64).device(in.student.logits.device()));
    if (!in.indices.defined()) in.indices = torch::arange(batch, torch::TensorOptions().dtype(torch::kInt64).device(in.student.logits.device()));
    if (in.labels.dim() != 1 || in.labels.scalar_type() != torch::kInt64 || in.labels.size(0) != batch) {
      throw JsRangeError(a.where("inputs") + ".labels must be an int64 vector of " + std::to_string(batch) + " class indices");
    }
    if (in.indices.dim() != 1 || in.indices.scalar_type() != torch::kInt64 || in.indices.size(0) != batch) {
      throw JsRangeError(a.where("inputs") + ".indices must be an int64 vector of " + std::to_string(batch) + " dataset indices");
    }
    double seed = 0;
    if (given("seed")) {
      Napi::Value v = o.Get("seed");
      seed = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(seed >= 0 && seed <= 9007199254740991.0) || std::floor(seed) != seed) throw JsRangeError(a.where("inputs") + ".seed must be a non-negative integer");
    }
    in.generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
    return in;
  }

  // compute(inputs) -> {lossName: Tensor}
  Napi::Value Compute(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "NativeTerm.compute");
      Inputs in = readInputs(a);
      const TermInput input{in.student, in.teacher, in.labels, in.indices, false, in.generator};
      Napi::Object out = Napi::Object::New(info.Env());
      for (auto& [name, value] : term_->compute(input)) out.Set(name, TensorWrap::Wrap(info.Env(), value));
      return out;
    });
  }

  // afterUpdate(inputs): the term's non-gradient state update after an applied step.
  Napi::Value AfterUpdate(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "NativeTerm.afterUpdate");
      Inputs in = readInputs(a);
      const TermInput input{in.student, in.teacher, in.labels, in.indices, false, in.generator};
      torch::NoGradGuard noGrad;
      term_->afterUpdate(input, torch::ones({}, torch::TensorOptions().dtype(torch::kBool).device(in.student.logits.device())));
      return info.Env().Undefined();
    });
  }

  Napi::Value Module(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      auto m = term_->module();
      return m ? Napi::Value(ModuleWrap::Wrap(info.Env(), m, name_)) : info.Env().Null();
    });
  }

  Napi::Value LossNames(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto names = term_->lossNames();
      Napi::Array out = Napi::Array::New(info.Env(), names.size());
      for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
      return out;
    });
  }

  Napi::Value Needs(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const TermNeeds n = term_->needs();
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("teacherLogits", n.teacherLogits);
      out.Set("features", n.features);
      return out;
    });
  }

  std::string name_;
  std::unique_ptr<LossTerm> term_;
};

// termNames() -> the registered loss terms.
Napi::Value termNamesBinding(const Args& a) {
  const auto names = termNames();
  Napi::Array out = Napi::Array::New(a.env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
  return out;
}

}  // namespace

void registerTerms(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTerm", TermWrap::Define(env));
  exportFunction(env, exports, "termNames", termNamesBinding);
}

}  // namespace rk
