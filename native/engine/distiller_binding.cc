// JS binding of the fused training step: NativeDistiller, one in-flight call at a time.
#include <atomic>

#include <ATen/CPUGeneratorImpl.h>

#include "common/addon_data.h"
#include "common/export.h"
#include "common/receiver.h"
#include "common/options.h"
#include "common/promise_task.h"
#include "distributed/process_group_binding.h"
#include "engine/distiller.h"
#include "engine/terms/term_js.h"
#include "nn/module_wrap.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

// The crop and flip fields shared by the fused step and augmentImages(); AugmentOptions' defaults are
// the fallbacks.
void readCropAndFlip(const OptionsReader& o, AugmentOptions& aug) {
  aug.padding = o.integer("padding", aug.padding, 0, 64);
  aug.flip = o.boolean("flip", aug.flip);
  aug.randomResizedCrop = o.boolean("randomResizedCrop", aug.randomResizedCrop);
  aug.scaleMin = o.number("scaleMin", aug.scaleMin, 1e-3, 1);
  aug.scaleMax = o.number("scaleMax", aug.scaleMax, 1e-3, 1);
  aug.ratioMin = o.number("ratioMin", aug.ratioMin, 1e-2, 1e2);
  aug.ratioMax = o.number("ratioMax", aug.ratioMax, 1e-2, 1e2);
}

// Every field may be left out: the fallback is the DistillerOptions default, the one place defaults live.
DistillerOptions readOptions(const Napi::Value& value) {
  OptionsReader o(value, "Distiller");
  DistillerOptions d;
  d.terms(readTermSpecs(o.get("terms"), o.where("terms")));
  d.ceWeight(o.number("ceWeight", d.ceWeight(), 0, 1e4));
  if (o.has("teacherBN")) {
    const std::string teacherBN = o.string("teacherBN", std::nullopt);
    if (teacherBN != "eval" && teacherBN != "batch") throw JsRangeError(o.where("teacherBN") + " must be 'eval' or 'batch'; got '" + teacherBN + "'");
    d.teacherBatchStats(teacherBN == "batch");
  }
  d.teacherPreact(o.boolean("teacherPreact", d.teacherPreact()));
  d.studentPreact(o.boolean("studentPreact", d.studentPreact()));
  d.augment(o.boolean("augment", d.augment()));
  AugmentOptions& aug = d.augmentOptions();
  readCropAndFlip(o, aug);
  if (aug.scaleMin > aug.scaleMax || aug.ratioMin > aug.ratioMax) {
    throw JsRangeError("Distiller: options scaleMin/ratioMin must not exceed scaleMax/ratioMax");
  }
  aug.mean = o.numbers("mean", std::nullopt);
  aug.std = o.numbers("std", std::nullopt);
  for (double s : aug.std) {
    if (s <= 0) throw JsRangeError(o.where("std") + " must hold positive numbers");
  }
  d.momentum(o.number("momentum", d.momentum(), 0, 1));
  d.weightDecay(o.number("weightDecay", d.weightDecay(), 0, 1));
  d.nesterov(o.boolean("nesterov", d.nesterov()));
  if (d.nesterov() && d.momentum() <= 0) throw JsRangeError(o.where("nesterov") + " needs momentum > 0");
  d.seed(static_cast<uint64_t>(o.integer("seed", static_cast<int64_t>(d.seed()), 0, int64_t{1} << 53)));
  d.channelsLast(o.boolean("channelsLast", d.channelsLast()));
  const std::string autocast = o.string("autocast", d.autocastBf16() ? "bf16" : "off");
  if (autocast != "off" && autocast != "bf16") throw JsRangeError(o.where("autocast") + " must be 'bf16' or 'off'; got '" + autocast + "'");
  d.autocastBf16(autocast == "bf16");
  d.cudaGraphs(o.boolean("cudaGraphs", d.cudaGraphs()));
  return d;
}

PairShapes readShapes(const Napi::Value& value) {
  OptionsReader o(value, "Distiller");
  PairShapes shapes;
  shapes.student = readFeatureShapes(o.get("studentShapes"), o.where("studentShapes"));
  if (o.has("teacherShapes")) shapes.teacher = readFeatureShapes(o.get("teacherShapes"), o.where("teacherShapes"));
  shapes.numClasses = o.integer("numClasses", std::nullopt, 1, 1 << 24);
  return shapes;
}

class DistillerWrap : public Napi::ObjectWrap<DistillerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeDistiller",
                       {InstanceMethod<&DistillerWrap::Step>("step"), InstanceMethod<&DistillerWrap::TakeStats>("takeStats"),
                        InstanceMethod<&DistillerWrap::StepBatch>("stepBatch"),
                        InstanceMethod<&DistillerWrap::TermModules>("termModules"),
                        InstanceMethod<&DistillerWrap::Evaluate>("evaluate"),
                        InstanceMethod<&DistillerWrap::GeneratorState>("generatorState"),
                        InstanceMethod<&DistillerWrap::SetGeneratorState>("setGeneratorState"),
                        InstanceMethod<&DistillerWrap::MomentumBuffers>("momentumBuffers"),
                        InstanceMethod<&DistillerWrap::SetMomentumBuffers>("setMomentumBuffers"),
                        InstanceMethod<&DistillerWrap::InjectLossOffset>("injectLossOffset"),
                        InstanceMethod<&DistillerWrap::SetProcessGroup>("setProcessGroup"),
                        InstanceAccessor<&DistillerWrap::GetBusy>("busy")});
  }

  // new NativeDistiller(student, teacher|null, images, labels, options, {studentShapes, teacherShapes, numClasses})
  explicit DistillerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DistillerWrap>(info) {
    info.This().As<Napi::Object>().TypeTag(&kDistillerTag);
    guard(info.Env(), [&] {
      Args a(info, "Distiller");
      auto student = ModuleWrap::As<ZooModel>(a[0], a.where("student"), "model");
      std::shared_ptr<ZooModel> teacher;
      if (a.has(1)) teacher = ModuleWrap::As<ZooModel>(a[1], a.where("teacher"), "model");
      const torch::Tensor images = a.tensor(2, "images");
      const torch::Tensor labels = a.tensor(3, "labels");
      DistillerOptions options = readOptions(a[4]);
      const PairShapes shapes = readShapes(a[5]);

      if (images.dim() != 4 || images.scalar_type() != torch::kUInt8) {
        throw JsRangeError(a.where("images") + " must be a uint8 N x C x H x W tensor; got " + dtypeName(images.scalar_type()) + " " + c10::str(images.sizes()));
      }
      if (labels.dim() != 1 || labels.scalar_type() != torch::kInt64 || labels.size(0) != images.size(0)) {
        throw JsRangeError(a.where("labels") + " must be an int64 vector with one label per image (" + std::to_string(images.size(0)) + "); got " +
                           dtypeName(labels.scalar_type()) + " " + c10::str(labels.sizes()));
      }
      if (labels.device() != images.device()) throw JsRangeError(a.where("labels") + " must be on the images' device");
      const auto c = static_cast<size_t>(images.size(1));
      if (options.augmentOptions().mean.size() != c || options.augmentOptions().std.size() != c) {
        throw JsRangeError("Distiller: option 'mean'/'std' must have one entry per image channel (" + std::to_string(c) + ")");
      }
      if (!options.terms().empty() && !teacher) throw JsRangeError(a.where("teacher") + " is required when there are loss terms (every method but 'vanilla')");
      distiller_ = std::make_unique<Distiller>(student, teacher, images, labels, options, shapes);
      count_ = images.size(0);
      sampleShape_ = images.sizes().slice(1).vec();
      numClasses_ = shapes.numClasses;
      return 0;
    });
  }

 private:
  // step(indices, warmup, lr) -> Promise<void>. Indices are a CPU int64 vector checked here, then
  // moved to the data's device, so the worker never syncs with the host.
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "Distiller.step");
      const torch::Tensor& indices = a.tensor(0, "indices");
      if (indices.dim() != 1 || indices.scalar_type() != torch::kInt64 || !indices.is_cpu() || indices.size(0) < 2) {
        throw JsRangeError(a.where("indices") + " must be a CPU int64 vector of at least 2 sample indices (BatchNorm needs 2); got " +
                           dtypeName(indices.scalar_type()) + " " + c10::str(indices.sizes()) + " on " + deviceName(indices.device()));
      }
      const int64_t lo = indices.min().item<int64_t>(), hi = indices.max().item<int64_t>();
      if (lo < 0 || hi >= count_) throw JsRangeError(a.where("indices") + " holds " + std::to_string(lo < 0 ? lo : hi) + ", outside [0, " + std::to_string(count_) + ")");
      const double scale = a.number(1, "warmup");
      const double lr = a.number(2, "lr");
      if (lr < 0) throw JsRangeError(a.where("lr") + " must be >= 0");
      if (busy_.exchange(true)) throw Napi::Error::New(info.Env(), "Distiller.step: a call is already running on this trainer; await it first");
      const torch::Tensor onDevice = indices.to(distiller_->device(), /*non_blocking=*/true);
      Distiller* d = distiller_.get();
      auto self = Napi::Persistent(info.This().As<Napi::Object>());  // keep the wrapper alive until settled
      auto ref = std::make_shared<Napi::ObjectReference>(std::move(self));
      return runPromise<int>(
          info.Env(), [d, onDevice, scale, lr] { d->step(onDevice, scale, lr); return 0; },
          [](Napi::Env env, int&) -> Napi::Value { return env.Undefined(); }, [this, ref] { busy_ = false; ref->Reset(); });
    });
  }

  // stepBatch(images, labels, warmup, lr) -> Promise<void>: one step on a batch given whole (a streamed
  // batch decoded off the device): uint8 N x C x H x W (any strides: an NHWC buffer permuted is fine) of
  // the trainer's image size, int64 labels. It becomes the data the step indexes, so the step is step().
  Napi::Value StepBatch(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "Distiller.stepBatch");
      const torch::Tensor& images = a.tensor(0, "images");
      const torch::Tensor& labels = a.tensor(1, "labels");
      if (images.dim() != 4 || images.scalar_type() != torch::kUInt8 || images.size(0) < 2 || images.sizes().slice(1).vec() != sampleShape_) {
        throw JsRangeError(a.where("images") + " must be a uint8 batch of at least 2 images of shape " + c10::str(c10::IntArrayRef(sampleShape_)) +
                           " (BatchNorm needs 2); got " + dtypeName(images.scalar_type()) + " " + c10::str(images.sizes()));
      }
      if (labels.dim() != 1 || labels.scalar_type() != torch::kInt64 || !labels.is_cpu() || labels.size(0) != images.size(0)) {
        throw JsRangeError(a.where("labels") + " must be a CPU int64 vector with one label per image (" + std::to_string(images.size(0)) + "); got " +
                           dtypeName(labels.scalar_type()) + " " + c10::str(labels.sizes()));
      }
      const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
      if (lo < 0 || hi >= numClasses_) throw JsRangeError(a.where("labels") + " holds class " + std::to_string(lo < 0 ? lo : hi) + ", outside [0, " + std::to_string(numClasses_) + ")");
      const double scale = a.number(2, "warmup");
      const double lr = a.number(3, "lr");
      if (lr < 0) throw JsRangeError(a.where("lr") + " must be >= 0");
      if (busy_.exchange(true)) throw Napi::Error::New(info.Env(), "Distiller.stepBatch: a call is already running on this trainer; await it first");
      Distiller* d = distiller_.get();
      const torch::Device device = d->device();
      const torch::Tensor imgs = images.to(device), labs = labels.to(device);
      auto ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(info.This().As<Napi::Object>()));
      return runPromise<int>(
          info.Env(),
          [d, imgs, labs, scale, lr] {
            d->setData(imgs, labs);
            d->step(torch::arange(imgs.size(0), torch::TensorOptions().dtype(torch::kLong).device(imgs.device())), scale, lr);
            return 0;
          },
          [](Napi::Env env, int&) -> Napi::Value { return env.Undefined(); }, [this, ref] { busy_ = false; ref->Reset(); });
    });
  }

  // takeStats() -> {losses: {ce, <term losses>...}, loss, correct, samples, steps, badSteps, consecutiveBad}
  Napi::Value TakeStats(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (busy_) throw Napi::Error::New(info.Env(), "Distiller.takeStats: a step is running; await it first");
      const StepStats s = distiller_->takeStats();
      Napi::Env env = info.Env();
      Napi::Object losses = Napi::Object::New(env);
      for (size_t i = 0; i < s.lossNames.size(); ++i) losses.Set(s.lossNames[i], s.losses[i]);
      Napi::Object out = Napi::Object::New(env);
      out.Set("losses", losses);
      out.Set("loss", s.loss);
      out.Set("correct", s.correct);
      out.Set("samples", s.samples);
      out.Set("steps", s.steps);
      out.Set("badSteps", s.badSteps);
      out.Set("consecutiveBad", s.consecutiveBad);
      return out;
    });
  }

  // termModules() -> [{term, module}]: the trainable modules of the loss terms (review head, regressors...).
  Napi::Value TermModules(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto modules = distiller_->termModules();
      Napi::Array out = Napi::Array::New(info.Env(), modules.size());
      for (size_t i = 0; i < modules.size(); ++i) {
        Napi::Object o = Napi::Object::New(info.Env());
        o.Set("term", modules[i].first);
        o.Set("module", ModuleWrap::Wrap(info.Env(), modules[i].second, modules[i].first == "reviewkd" ? "ReviewHead" : modules[i].first));
        out.Set(static_cast<uint32_t>(i), o);
      }
      return out;
    });
  }

  // evaluate(images uint8, labels int64, batchSize, numClasses) -> Promise<{lossSum, top1, top5, count, classCorrect, classCount}>
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "Distiller.evaluate");
      const torch::Tensor images = a.tensor(0, "images");
      const torch::Tensor labels = a.tensor(1, "labels");
      const int64_t batchSize = a.integer(2, "batchSize", 1, 1 << 20);
      const int64_t numClasses = a.integer(3, "numClasses", 1, 1 << 20);
      if (images.dim() != 4 || images.scalar_type() != torch::kUInt8) throw JsRangeError(a.where("images") + " must be a uint8 N x C x H x W tensor");
      if (labels.dim() != 1 || labels.scalar_type() != torch::kInt64 || labels.size(0) != images.size(0)) {
        throw JsRangeError(a.where("labels") + " must be an int64 vector with one label per image");
      }
      if (labels.numel() > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= numClasses)) {
        throw JsRangeError(a.where("labels") + " holds a class outside [0, " + std::to_string(numClasses) + ")");
      }
      if (busy_.exchange(true)) throw Napi::Error::New(info.Env(), "Distiller.evaluate: a call is already running on this trainer; await it first");
      Distiller* d = distiller_.get();
      auto ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(info.This().As<Napi::Object>()));
      const torch::Tensor imgs = images.to(d->device()), labs = labels.to(d->device());
      return runPromise<EvalResult>(
          info.Env(), [d, imgs, labs, batchSize, numClasses] { return d->evaluate(imgs, labs, batchSize, numClasses); },
          [](Napi::Env env, EvalResult& r) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("lossSum", r.lossSum);
            o.Set("top1", r.top1);
            o.Set("top5", r.top5);
            o.Set("count", r.count);
            Napi::Array cc = Napi::Array::New(env, r.classCorrect.size()), cn = Napi::Array::New(env, r.classCount.size());
            for (size_t i = 0; i < r.classCorrect.size(); ++i) {
              cc.Set(static_cast<uint32_t>(i), r.classCorrect[i]);
              cn.Set(static_cast<uint32_t>(i), r.classCount[i]);
            }
            o.Set("classCorrect", cc);
            o.Set("classCount", cn);
            return o;
          },
          [this, ref] { busy_ = false; ref->Reset(); });
    });
  }

  Napi::Value GeneratorState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return TensorWrap::Wrap(info.Env(), distiller_->generatorState()); });
  }
  Napi::Value SetGeneratorState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "Distiller.setGeneratorState");
      const torch::Tensor& s = a.tensor(0, "state");
      if (s.scalar_type() != torch::kUInt8 || s.dim() != 1) throw JsRangeError(a.where("state") + " must be the uint8 vector from generatorState()");
      distiller_->setGeneratorState(s);
      return info.Env().Undefined();
    });
  }
  Napi::Value MomentumBuffers(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto buffers = distiller_->momentumBuffers();
      Napi::Array out = Napi::Array::New(info.Env(), buffers.size());
      for (size_t i = 0; i < buffers.size(); ++i) {
        out.Set(static_cast<uint32_t>(i), buffers[i].defined() ? Napi::Value(TensorWrap::Wrap(info.Env(), buffers[i])) : info.Env().Null());
      }
      return out;
    });
  }
  Napi::Value SetMomentumBuffers(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "Distiller.setMomentumBuffers");
      if (!a[0].IsArray()) throw JsTypeError(a.where("buffers") + " must be an Array of Tensors or nulls");
      Napi::Array arr = a[0].As<Napi::Array>();
      std::vector<torch::Tensor> buffers;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value v = arr.Get(i);
        buffers.push_back(v.IsNull() || v.IsUndefined() ? torch::Tensor() : TensorWrap::From(v, a.where("buffers") + "[" + std::to_string(i) + "]"));
      }
      if (busy_) throw Napi::Error::New(info.Env(), "Distiller.setMomentumBuffers: a step is running; await it first");
      distiller_->setMomentumBuffers(buffers);
      return info.Env().Undefined();
    });
  }
  Napi::Value GetBusy(const Napi::CallbackInfo& info) {
    checkReceiver(info, kDistillerTag, "NativeDistiller");
    return Napi::Boolean::New(info.Env(), busy_.load()); }
  // Test hook: adds `value` (NaN and Infinity allowed) to the next step's loss, to inject a numerical fault.
  Napi::Value InjectLossOffset(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "Distiller.injectLossOffset");
      if (busy_) throw Napi::Error::New(info.Env(), "Distiller.injectLossOffset: a step is running; await it first");
      distiller_->injectLossOffset(a.number(0, "value", /*allowNonFinite=*/true));
      return info.Env().Undefined();
    });
  }

  // setProcessGroup(group | null): data-parallel steps average their gradients over the group's ranks.
  Napi::Value SetProcessGroup(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "Distiller.setProcessGroup");
      GradientHook hook = a.has(0) ? gradientHookFrom(a[0], a.where("group")) : GradientHook();
      if (busy_) throw Napi::Error::New(info.Env(), "Distiller.setProcessGroup: a call is running; await it first");
      distiller_->setGradientHook(std::move(hook));
      return info.Env().Undefined();
    });
  }

  std::unique_ptr<Distiller> distiller_;
  int64_t count_ = 0;
  std::vector<int64_t> sampleShape_;
  int64_t numClasses_ = 0;
  std::atomic<bool> busy_{false};
};

// augmentImages(images uint8 NCHW, {padding, flip, mean, std, seed}) -> float32: the training-time
// pipeline of the fused step, exposed so its statistics can be checked and used outside a trainer.
Napi::Value augmentImages(const Args& a) {
  const torch::Tensor& images = a.tensor(0, "images");
  if (images.dim() != 4 || images.scalar_type() != torch::kUInt8) {
    throw JsRangeError(a.where("images") + " must be a uint8 N x C x H x W tensor; got " + dtypeName(images.scalar_type()) + " " + c10::str(images.sizes()));
  }
  OptionsReader o(a[1], "augmentImages");
  AugmentOptions opts;
  readCropAndFlip(o, opts);
  opts.mean = o.numbers("mean", std::vector<double>(images.size(1), 0.0));
  opts.std = o.numbers("std", std::vector<double>(images.size(1), 1.0));
  if (opts.mean.size() != static_cast<size_t>(images.size(1)) || opts.std.size() != static_cast<size_t>(images.size(1))) {
    throw JsRangeError("augmentImages: options 'mean' and 'std' need one entry per channel (" + std::to_string(images.size(1)) + ")");
  }
  at::Generator gen = images.is_cuda() ? at::globalContext().defaultGenerator(images.device()).clone() : at::make_generator<at::CPUGeneratorImpl>();
  gen.set_current_seed(static_cast<uint64_t>(o.integer("seed", 0, 0, int64_t{1} << 53)));
  return TensorWrap::Wrap(a.env(), augmentBatch(images, opts, gen));
}

}  // namespace

void registerDistiller(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeDistiller", DistillerWrap::Define(env));
  exportFunction(env, exports, "augmentImages", augmentImages);
}

}  // namespace rk
