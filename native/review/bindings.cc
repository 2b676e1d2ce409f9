// JS bindings of the review modules and losses. Validation here names the JS argument; the modules
// themselves stay plain LibTorch code.
#include "common/export.h"
#include "common/tensor_task.h"
#include "kernels/attention_mix.h"
#include "nn/module_wrap.h"
#include "review/abf.h"
#include "review/classic_losses.h"
#include "review/hcl.h"
#include "review/review_head.h"
#include "tensor/dtype.h"

namespace rk {

namespace {

constexpr int64_t kMaxChannels = 1 << 16;
constexpr int64_t kMaxSide = 1 << 15;

Napi::Array tensorArray(Napi::Env env, const std::vector<torch::Tensor>& ts) {
  Napi::Array out = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); ++i) out.Set(static_cast<uint32_t>(i), TensorWrap::Wrap(env, ts[i]));
  return out;
}

void requireFloat4d(const Args& a, const torch::Tensor& t, const char* name) {
  if (t.dim() != 4) throw JsRangeError(a.where(name) + " must be 4-d (N, C, H, W); got shape " + c10::str(t.sizes()));
  if (!c10::isFloatingType(t.scalar_type())) throw JsRangeError(a.where(name) + " must be floating; got '" + dtypeName(t.scalar_type()) + "'");
}

// abfCreate(inChannels, midChannels, outChannels, fuse, attention)
Napi::Value abfCreate(const Args& a) {
  ABFOptions o{a.integer(0, "inChannels", 1, kMaxChannels), a.integer(1, "midChannels", 1, kMaxChannels),
               a.integer(2, "outChannels", 1, kMaxChannels), a.boolean(3, "fuse"), a.has(4) ? a.boolean(4, "attention") : true};
  return ModuleWrap::Wrap(a.env(), std::make_shared<ABFImpl>(o), "ABF");
}

// abfForward(abf, x, residual|null, outHeight|null, outWidth|null) -> [output, residual]
Napi::Value abfForward(const Args& a) {
  auto abf = ModuleWrap::As<ABFImpl>(a[0], a.where("abf"), "ABF");
  const auto& o = abf->options();
  const torch::Tensor& x = a.tensor(1, "x");
  requireFloat4d(a, x, "x");
  if (x.size(1) != o.inChannels) {
    throw JsRangeError(a.where("x") + " has " + std::to_string(x.size(1)) + " channels but the ABF expects " + std::to_string(o.inChannels));
  }
  std::optional<torch::Tensor> residual;
  if (a.has(2)) {
    if (!o.fuse) throw JsRangeError(a.where("residual") + " was given but this ABF was built with fuse: false");
    residual = a.tensor(2, "residual");
    requireFloat4d(a, *residual, "residual");
    if (residual->size(1) != o.midChannels || residual->size(0) != x.size(0)) {
      throw JsRangeError(a.where("residual") + " has shape " + c10::str(residual->sizes()) + " but must be " + std::to_string(x.size(0)) + " x " +
                         std::to_string(o.midChannels) + " x h x w");
    }
  } else if (o.fuse) {
    throw JsRangeError(a.where("residual") + " is required: this ABF fuses the deeper level's residual");
  }
  std::optional<std::pair<int64_t, int64_t>> outSize;
  if (a.has(3) || a.has(4)) outSize = std::make_pair(a.integer(3, "outHeight", 1, kMaxSide), a.integer(4, "outWidth", 1, kMaxSide));
  auto [out, res] = abf->forward(x, residual, outSize);
  return tensorArray(a.env(), {out, res});
}

// attentionMixGrads(x, residual, weight, bias, gradOutput, path) -> Promise<[output, gradX, gradResidual,
// gradWeight, gradBias]>: ABF's attention mix by one path ('fused': kernels/attention_mix.h, whatever the
// process switch says; 'composed': LibTorch's operators), forward and backward on copies of the inputs, on
// the compute thread (so setNumThreads applies). For tests and comparisons of the two paths.
Napi::Value attentionMixGrads(const Args& a) {
  const torch::Tensor x = a.tensor(0, "x"), residual = a.tensor(1, "residual"), weight = a.tensor(2, "weight"), bias = a.tensor(3, "bias");
  const torch::Tensor grad = a.tensor(4, "gradOutput");
  const std::string path = a.string(5, "path");
  if (path != "fused" && path != "composed") throw JsRangeError(a.where("path") + " must be 'fused' or 'composed'; got '" + path + "'");
  requireFloat4d(a, x, "x");
  requireFloat4d(a, residual, "residual");
  if (residual.size(0) != x.size(0) || residual.size(1) != x.size(1)) {
    throw JsRangeError(a.where("residual") + " has shape " + c10::str(residual.sizes()) + " but must be " + std::to_string(x.size(0)) + " x " +
                       std::to_string(x.size(1)) + " x h x w like x");
  }
  if (weight.dim() != 4 || weight.size(0) != 2 || weight.size(1) != 2 * x.size(1) || weight.size(2) != 1 || weight.size(3) != 1) {
    throw JsRangeError(a.where("weight") + " must be [2, " + std::to_string(2 * x.size(1)) + ", 1, 1]; got " + c10::str(weight.sizes()));
  }
  if (bias.dim() != 1 || bias.size(0) != 2) throw JsRangeError(a.where("bias") + " must be [2]; got " + c10::str(bias.sizes()));
  if (grad.sizes() != x.sizes()) throw JsRangeError(a.where("gradOutput") + " must have x's shape " + c10::str(x.sizes()) + "; got " + c10::str(grad.sizes()));
  if (path == "fused" && !attentionMixApplies(x, residual, weight, bias)) {
    throw JsRangeError(a.where("x") + ": the fused path takes CPU float32/bfloat16 maps and a float32 weight and bias; got x " + dtypeName(x.scalar_type()) +
                       ", residual " + dtypeName(residual.scalar_type()) + ", weight " + dtypeName(weight.scalar_type()) + ", bias " +
                       dtypeName(bias.scalar_type()));
  }
  const bool fused = path == "fused";
  return runAsync(a.env(), [=] {
    torch::AutoGradMode enable(true);
    const auto leaf = [](const torch::Tensor& t) { return t.detach().clone(torch::MemoryFormat::Preserve).requires_grad_(true); };
    const torch::Tensor xl = leaf(x), rl = leaf(residual), wl = leaf(weight), bl = leaf(bias);
    const torch::Tensor out = fused ? attentionMix(xl, rl, wl, bl) : attentionMixComposed(xl, rl, wl, bl);
    out.backward(grad.to(out.scalar_type()));
    return std::vector<torch::Tensor>{out.detach(), xl.grad(), rl.grad(), wl.grad(), bl.grad()};
  });
}

std::vector<LevelShape> levelShapes(const Args& a, size_t i, const char* name) {
  if (!a[i].IsArray()) throw JsTypeError(a.where(name) + " must be an Array of [C, H, W] triples; got " + describe(a[i]));
  Napi::Array arr = a[i].As<Napi::Array>();
  if (arr.Length() == 0 || arr.Length() > 16) throw JsRangeError(a.where(name) + " must list 1 to 16 levels; got " + std::to_string(arr.Length()));
  std::vector<LevelShape> out;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    const std::string label = a.where(name) + "[" + std::to_string(k) + "]";
    if (!v.IsArray() || v.As<Napi::Array>().Length() != 3) throw JsTypeError(label + " must be a [C, H, W] triple; got " + describe(v));
    int64_t dims[3];
    for (uint32_t d = 0; d < 3; ++d) {
      Napi::Value x = v.As<Napi::Array>().Get(d);
      const double val = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1;
      const int64_t limit = d == 0 ? kMaxChannels : kMaxSide;
      if (!(val >= 1 && val <= static_cast<double>(limit)) || std::floor(val) != val) {
        throw JsRangeError(label + "[" + std::to_string(d) + "] must be an integer in [1, " + std::to_string(limit) + "]; got " + describe(x));
      }
      dims[d] = static_cast<int64_t>(val);
    }
    out.push_back({dims[0], dims[1], dims[2]});
  }
  return out;
}

// reviewHeadCreate(studentShapes, teacherShapes, midChannels|null, variant)
Napi::Value reviewHeadCreate(const Args& a) {
  ReviewHeadOptions o;
  o.student = levelShapes(a, 0, "studentShapes");
  o.teacher = levelShapes(a, 1, "teacherShapes");
  if (o.student.size() != o.teacher.size()) {
    throw JsRangeError(a.where("teacherShapes") + " has " + std::to_string(o.teacher.size()) + " levels but studentShapes has " +
                       std::to_string(o.student.size()) + "; the review head pairs levels one to one (drop the stem feature, keep the pooled one)");
  }
  if (a.has(2)) o.midChannels = a.integer(2, "midChannels", 1, kMaxChannels);
  if (a.has(3)) {
    const std::string name = a.string(3, "variant");
    auto v = parseReviewVariant(name);
    if (!v) throw JsRangeError(a.where("variant") + " must be 'residual', 'no-attention', 'no-residual' or 'naive'; got '" + name + "'");
    o.variant = *v;
  }
  return ModuleWrap::Wrap(a.env(), std::make_shared<ReviewHeadImpl>(o), "ReviewHead");
}

// reviewHeadForward(head, studentFeatures) -> predictions aligned with reviewHeadTargets(head)
Napi::Value reviewHeadForward(const Args& a) {
  auto head = ModuleWrap::As<ReviewHeadImpl>(a[0], a.where("head"), "ReviewHead");
  const auto feats = a.tensorList(1, "studentFeatures");
  head->checkInputs(feats);
  return tensorArray(a.env(), head->forward(feats));
}

Napi::Value reviewHeadForwardAsync(const Args& a) {
  auto head = ModuleWrap::As<ReviewHeadImpl>(a[0], a.where("head"), "ReviewHead");
  const auto feats = a.tensorList(1, "studentFeatures");
  head->checkInputs(feats);
  return runAsync(a.env(), [head, feats] { return head->forward(feats); });
}

// reviewHeadInfo(head) -> {targets, midChannels, variant}
Napi::Value reviewHeadInfo(const Args& a) {
  auto head = ModuleWrap::As<ReviewHeadImpl>(a[0], a.where("head"), "ReviewHead");
  Napi::Object o = Napi::Object::New(a.env());
  Napi::Array targets = Napi::Array::New(a.env(), head->targets().size());
  for (size_t i = 0; i < head->targets().size(); ++i) targets.Set(static_cast<uint32_t>(i), static_cast<double>(head->targets()[i]));
  o.Set("targets", targets);
  o.Set("midChannels", static_cast<double>(head->midChannels()));
  const char* variants[] = {"residual", "no-attention", "no-residual", "naive"};
  o.Set("variant", variants[static_cast<int>(head->options().variant)]);
  return o;
}

// hcl(studentMaps, teacherMaps, levels|null)
Napi::Value hclBinding(const Args& a) {
  const auto s = a.tensorList(0, "studentMaps");
  const auto t = a.tensorList(1, "teacherMaps");
  std::vector<int64_t> levels = kHclLevels;
  if (a.has(2)) levels = a.intList(2, "levels", 1, kMaxSide, 16);
  return TensorWrap::Wrap(a.env(), hcl(s, t, levels));
}

void requireLogits(const Args& a, const torch::Tensor& t, const char* name) {
  if (t.dim() != 2) throw JsRangeError(a.where(name) + " must be 2-d (N, classes); got shape " + c10::str(t.sizes()));
  if (!c10::isFloatingType(t.scalar_type())) throw JsRangeError(a.where(name) + " must be floating; got '" + dtypeName(t.scalar_type()) + "'");
}

// crossEntropy(logits, targets, labelSmoothing)
Napi::Value crossEntropyBinding(const Args& a) {
  const auto& logits = a.tensor(0, "logits");
  const auto& targets = a.tensor(1, "targets");
  requireLogits(a, logits, "logits");
  if (targets.dim() != 1 || targets.size(0) != logits.size(0) || targets.scalar_type() != torch::kInt64) {
    throw JsRangeError(a.where("targets") + " must be an int64 vector of length " + std::to_string(logits.size(0)) + "; got " +
                       dtypeName(targets.scalar_type()) + " " + c10::str(targets.sizes()));
  }
  if (targets.numel() > 0) {
    const int64_t lo = targets.min().item<int64_t>(), hi = targets.max().item<int64_t>();
    if (lo < 0 || hi >= logits.size(1)) {
      throw JsRangeError(a.where("targets") + " holds class " + std::to_string(lo < 0 ? lo : hi) + ", outside [0, " + std::to_string(logits.size(1)) + ")");
    }
  }
  const double smoothing = a.has(2) ? a.number(2, "labelSmoothing") : 0.0;
  if (smoothing < 0 || smoothing >= 1) throw JsRangeError(a.where("labelSmoothing") + " must be in [0, 1); got " + std::to_string(smoothing));
  return TensorWrap::Wrap(a.env(), crossEntropy(logits, targets, smoothing));
}

// atLoss(studentFeature, teacherFeature)
Napi::Value atLossBinding(const Args& a) {
  const auto& s = a.tensor(0, "studentFeature");
  const auto& t = a.tensor(1, "teacherFeature");
  requireFloat4d(a, s, "studentFeature");
  requireFloat4d(a, t, "teacherFeature");
  if (s.size(0) != t.size(0) || s.size(2) != t.size(2) || s.size(3) != t.size(3)) {
    throw JsRangeError(a.where("teacherFeature") + " has shape " + c10::str(t.sizes()) + "; attention transfer needs the student's N, H and W " +
                       c10::str(s.sizes()));
  }
  return TensorWrap::Wrap(a.env(), attentionTransferLoss(s, t));
}

// hintRegressorCreate(inChannels, outChannels)
Napi::Value hintRegressorCreate(const Args& a) {
  return ModuleWrap::Wrap(a.env(), std::make_shared<HintRegressorImpl>(a.integer(0, "inChannels", 1, kMaxChannels), a.integer(1, "outChannels", 1, kMaxChannels)),
                          "HintRegressor");
}

// fitnetLoss(regressor, studentFeature, teacherFeature)
Napi::Value fitnetLossBinding(const Args& a) {
  auto reg = ModuleWrap::As<HintRegressorImpl>(a[0], a.where("regressor"), "HintRegressor");
  const auto& s = a.tensor(1, "studentFeature");
  const auto& t = a.tensor(2, "teacherFeature");
  requireFloat4d(a, s, "studentFeature");
  requireFloat4d(a, t, "teacherFeature");
  if (s.size(1) != reg->inChannels()) {
    throw JsRangeError(a.where("studentFeature") + " has " + std::to_string(s.size(1)) + " channels; the regressor expects " + std::to_string(reg->inChannels()));
  }
  if (t.size(1) != reg->outChannels() || s.size(0) != t.size(0) || s.size(2) != t.size(2) || s.size(3) != t.size(3)) {
    throw JsRangeError(a.where("teacherFeature") + " has shape " + c10::str(t.sizes()) + "; expected " + std::to_string(s.size(0)) + " x " +
                       std::to_string(reg->outChannels()) + " x " + std::to_string(s.size(2)) + " x " + std::to_string(s.size(3)));
  }
  return TensorWrap::Wrap(a.env(), fitnetLoss(*reg, s, t));
}

}  // namespace

void registerReview(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "abfCreate", abfCreate);
  exportFunction(env, exports, "abfForward", abfForward);
  exportFunction(env, exports, "attentionMixGrads", attentionMixGrads);
  exportFunction(env, exports, "reviewHeadCreate", reviewHeadCreate);
  exportFunction(env, exports, "reviewHeadForward", reviewHeadForward);
  exportFunction(env, exports, "reviewHeadForwardAsync", reviewHeadForwardAsync);
  exportFunction(env, exports, "reviewHeadInfo", reviewHeadInfo);
  exportFunction(env, exports, "hcl", hclBinding);
  exportFunction(env, exports, "crossEntropy", crossEntropyBinding);
  exportFunction(env, exports, "atLoss", atLossBinding);
  exportFunction(env, exports, "hintRegressorCreate", hintRegressorCreate);
  exportFunction(env, exports, "fitnetLoss", fitnetLossBinding);
}

}  // namespace rk
