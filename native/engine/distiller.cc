#include "engine/distiller.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include "review/hcl.h"

namespace rk {

namespace F = torch::nn::functional;

std::optional<Method> parseMethod(const std::string& name) {
  if (name == "vanilla") return Method::Vanilla;
  if (name == "kd") return Method::KD;
  if (name == "fitnet") return Method::FitNet;
  if (name == "at") return Method::AT;
  if (name == "reviewkd") return Method::ReviewKD;
  if (name == "reviewkd+kd") return Method::ReviewKDPlusKD;
  return std::nullopt;
}

namespace {
bool needsTeacher(Method m) { return m != Method::Vanilla; }
bool usesKd(Method m) { return m == Method::KD || m == Method::ReviewKDPlusKD; }
bool usesReview(Method m) { return m == Method::ReviewKD || m == Method::ReviewKDPlusKD; }
bool needsFeatures(Method m) { return m == Method::FitNet || m == Method::AT || usesReview(m); }

// bf16 autocast for the forwards of one step. Autocast state is thread-local, so it is set here, on the
// worker thread, and undone (cache cleared) when the scope ends.
class AutocastScope {
 public:
  AutocastScope(bool enabled, at::DeviceType type) : enabled_(enabled), type_(type) {
    if (!enabled_) return;
    previous_ = at::autocast::is_autocast_enabled(type_);
    previousDtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::set_autocast_enabled(type_, true);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(type_, previous_);
    at::autocast::set_autocast_dtype(type_, previousDtype_);
  }

 private:
  bool enabled_;
  at::DeviceType type_;
  bool previous_ = false;
  at::ScalarType previousDtype_ = at::kFloat;
};

void toChannelsLast(torch::nn::Module& m) {
  torch::NoGradGuard noGrad;
  for (auto& p : m.parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

torch::Tensor fp32(const torch::Tensor& t) { return t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kFloat64 ? t : t.to(torch::kFloat32); }

std::vector<torch::Tensor> fp32(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> out;
  for (const auto& t : ts) out.push_back(fp32(t));
  return out;
}

at::Generator makeGenerator(const torch::Device& device, uint64_t seed) {
  at::Generator g = device.is_cuda() ? at::globalContext().defaultGenerator(device).clone() : at::make_generator<at::CPUGeneratorImpl>(seed);
  g.set_current_seed(seed);
  return g;
}
}  // namespace

Distiller::Distiller(std::shared_ptr<ZooModel> student, std::shared_ptr<ZooModel> teacher, std::shared_ptr<ReviewHeadImpl> head,
                     std::shared_ptr<HintRegressorImpl> regressor, torch::Tensor images, torch::Tensor labels, DistillerOptions options)
    : student_(std::move(student)),
      teacher_(std::move(teacher)),
      head_(std::move(head)),
      regressor_(std::move(regressor)),
      images_(std::move(images)),
      labels_(std::move(labels)),
      options_(std::move(options)),
      generator_(makeGenerator(images_.device(), options_.seed)) {
  // Every step has the same shapes: let cuDNN time its algorithms once and keep the fastest
  // (process-wide; a no-op on CPU).
  if (images_.device().is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  std::vector<torch::nn::Module*> trained = {student_.get()};
  if (head_) trained.push_back(head_.get());
  if (regressor_) trained.push_back(regressor_.get());
  if (options_.channelsLast) {
    for (auto* m : trained) toChannelsLast(*m);
    if (teacher_) toChannelsLast(*teacher_);
  }
  for (auto* m : trained) {
    for (const auto& p : m->parameters()) params_.push_back(p);
    for (const auto& b : m->buffers()) guardedBuffers_.push_back(b);
  }
  for (const auto& p : params_) momentum_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  if (teacher_) {
    // The teacher is never trained: no gradients are recorded for it (the step also runs it under NoGradGuard).
    for (auto& p : teacher_->parameters()) p.set_requires_grad(false);
    if (options_.teacherBatchStats) for (const auto& b : teacher_->buffers()) guardedBuffers_.push_back(b);
  }
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(images_.device());
  stats_ = torch::zeros({kStatCount - 1}, f64);
  consecutiveBad_ = torch::zeros({}, f64);
}

void Distiller::step(const torch::Tensor& indices, double featureScale, double lr) {
  // Runs on a worker thread: grad mode is thread-local, so set it here.
  torch::AutoGradMode gradOn(true);
  const Method m = options_.method;
  const torch::Tensor batch = images_.index_select(0, indices);
  const torch::Tensor labels = labels_.index_select(0, indices);
  torch::Tensor x = options_.augment ? augmentBatch(batch, options_.augmentOptions, generator_)
                                     : normalizeBatch(batch, options_.augmentOptions.mean, options_.augmentOptions.std);
  if (options_.channelsLast) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  const at::DeviceType deviceType = x.device().type();
  // Snapshots of the BatchNorm statistics, so a faulty step can be undone without leaving the device.
  std::vector<torch::Tensor> savedBuffers;
  {
    torch::NoGradGuard noGrad;
    for (const auto& b : guardedBuffers_) savedBuffers.push_back(b.clone());
  }

  ModelOutput t;
  if (needsTeacher(m)) {
    // NoGradGuard, not InferenceMode: HCL's MSE must be able to save the teacher features for backward.
    torch::NoGradGuard noGrad;
    AutocastScope autocast(options_.autocastBf16, deviceType);
    teacher_->train(options_.teacherBatchStats);
    t = needsFeatures(m) ? teacher_->forwardWithFeatures(x, options_.teacherPreact) : ModelOutput{teacher_->forward(x), {}};
  }
  t.logits = t.logits.defined() ? fp32(t.logits) : t.logits;
  t.features = fp32(t.features);

  student_->train(true);
  ModelOutput s;
  {
    AutocastScope autocast(options_.autocastBf16, deviceType);
    s = needsFeatures(m) ? student_->forwardWithFeatures(x, options_.studentPreact) : ModelOutput{student_->forward(x), {}};
  }
  // Losses in fp32 whatever the forward precision.
  s.logits = fp32(s.logits);
  s.features = fp32(s.features);
  const torch::Tensor ce = F::cross_entropy(s.logits, labels);
  torch::Tensor loss = ce;
  torch::Tensor feature = torch::zeros({}, ce.options());
  torch::Tensor kd = torch::zeros({}, ce.options());

  if (usesReview(m)) {
    head_->train(true);
    // The head runs (and gets its zero-weighted gradients and weight decay) even while the warm-up
    // factor is 0, as in the reference code.
    std::vector<torch::Tensor> predictions;
    {
      AutocastScope autocast(options_.autocastBf16, deviceType);
      predictions = fp32(head_->forward(s.features));
    }
    std::vector<torch::Tensor> targets;
    for (int64_t j : head_->targets()) targets.push_back(t.features[j]);
    feature = hcl(predictions, targets, options_.hclLevels);
  } else if (m == Method::FitNet) {
    const auto k = static_cast<size_t>(options_.hintLevel);
    feature = fitnetLoss(*regressor_, s.features[k], t.features[k]);
  } else if (m == Method::AT) {
    // All stage pairs except the pooled 1x1 feature, as attention transfer compares spatial maps.
    for (size_t k = 0; k + 1 < s.features.size(); ++k) feature = feature + attentionTransferLoss(s.features[k], t.features[k]);
  }
  if (needsFeatures(m)) loss = loss + (options_.featureWeight * featureScale) * feature;
  if (usesKd(m)) {
    kd = kdLoss(s.logits, t.logits, options_.temperature);
    loss = loss + options_.kdWeight * kd;
  }
  if (injectedOffset_ != 0) {
    loss = loss + injectedOffset_;
    injectedOffset_ = 0;
  }

  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  loss.backward();

  torch::NoGradGuard noGrad;
  // A non-finite loss or gradient is detected on the device: `found` becomes 1 and the update below,
  // the statistics and the BatchNorm buffers are left as they were before this step.
  torch::Tensor found = torch::logical_not(torch::isfinite(loss.detach())).to(torch::kFloat32);
  std::vector<torch::Tensor> grads;
  for (auto& p : params_) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found, torch::ones({}, found.options()));
  update(found, lr);
  const torch::Tensor ok = found.eq(0);
  for (size_t i = 0; i < guardedBuffers_.size(); ++i) guardedBuffers_[i].copy_(torch::where(ok, guardedBuffers_[i], savedBuffers[i]));

  // Statistics stay on the device until takeStats(): no host sync here.
  const auto opts = stats_.options();
  const torch::Tensor okd = ok.to(opts);
  const torch::Tensor correct = s.logits.argmax(1).eq(labels).sum().to(opts);
  const auto finite = [&](const torch::Tensor& v) { return torch::where(ok, v.detach().to(opts), torch::zeros({}, opts)); };
  stats_ += torch::stack({finite(ce), finite(feature), finite(kd), finite(loss), correct * okd,
                          okd * static_cast<double>(indices.size(0)), okd, 1 - okd});
  consecutiveBad_.copy_((consecutiveBad_ + 1) * (1 - okd));
}

void Distiller::update(const torch::Tensor& found, double lr) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params_) grads.push_back(p.grad());
  // PyTorch's fused SGD kernel (what torch.optim.SGD(fused=True) runs): one pass over all parameters,
  // weight decay and Nesterov momentum included, and a no-op on the device when found_inf is set.
  // Without momentum the kernel takes no buffers at all (it rejects a non-empty list).
  const std::vector<torch::Tensor> noBuffers;
  at::_fused_sgd_(params_, grads, options_.momentum == 0 ? noBuffers : momentum_, options_.weightDecay, options_.momentum, lr, /*dampening=*/0.0, options_.nesterov,
                  /*maximize=*/false, /*is_first_step=*/false, /*grad_scale=*/std::nullopt, found);
}

std::vector<double> Distiller::takeStats() {
  const torch::Tensor cpu = torch::cat({stats_, consecutiveBad_.view({1})}).to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
  stats_.zero_();
  return std::vector<double>(cpu.data_ptr<double>(), cpu.data_ptr<double>() + kStatCount);
}

EvalResult Distiller::evaluate(const torch::Tensor& images, const torch::Tensor& labels, int64_t batchSize, int64_t numClasses) {
  torch::NoGradGuard noGrad;
  const bool wasTraining = student_->is_training();
  student_->eval();
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(images.device());
  torch::Tensor lossSum = torch::zeros({}, opts), top1 = torch::zeros({}, opts), top5 = torch::zeros({}, opts);
  torch::Tensor classCorrect = torch::zeros({numClasses}, opts), classCount = torch::zeros({numClasses}, opts);
  const int64_t n = images.size(0);
  const int64_t k = std::min<int64_t>(5, numClasses);
  for (int64_t start = 0; start < n; start += batchSize) {
    const int64_t len = std::min(batchSize, n - start);
    torch::Tensor x = normalizeBatch(images.narrow(0, start, len), options_.augmentOptions.mean, options_.augmentOptions.std);
    if (options_.channelsLast) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor y = labels.narrow(0, start, len);
    // The same fast paths as the training step, so evaluation measures the model that was trained.
    torch::Tensor logits;
    {
      AutocastScope autocast(options_.autocastBf16, x.device().type());
      logits = student_->forward(x);
    }
    logits = fp32(logits);
    lossSum += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)).to(opts);
    const torch::Tensor hit1 = logits.argmax(1).eq(y);
    top1 += hit1.sum().to(opts);
    top5 += std::get<1>(logits.topk(k, 1)).eq(y.unsqueeze(1)).any(1).sum().to(opts);
    classCount += torch::bincount(y, {}, numClasses).to(opts);
    classCorrect += torch::bincount(y.masked_select(hit1), {}, numClasses).to(opts);
  }
  student_->train(wasTraining);
  EvalResult r;
  r.lossSum = lossSum.item<double>();
  r.top1 = top1.item<double>();
  r.top5 = top5.item<double>();
  r.count = static_cast<double>(n);
  const torch::Tensor cc = classCorrect.cpu(), cn = classCount.cpu();
  r.classCorrect.assign(cc.data_ptr<double>(), cc.data_ptr<double>() + numClasses);
  r.classCount.assign(cn.data_ptr<double>(), cn.data_ptr<double>() + numClasses);
  return r;
}

torch::Tensor Distiller::generatorState() const { return generator_.get_state(); }

void Distiller::setGeneratorState(const torch::Tensor& state) { generator_.set_state(state); }

std::vector<torch::Tensor> Distiller::momentumBuffers() const { return momentum_; }

void Distiller::setMomentumBuffers(const std::vector<torch::Tensor>& buffers) {
  TORCH_CHECK(buffers.size() == params_.size(), "expected ", params_.size(), " momentum buffers, got ", buffers.size());
  torch::NoGradGuard noGrad;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!buffers[i].defined()) {
      momentum_[i].zero_();
      continue;
    }
    TORCH_CHECK(buffers[i].sizes() == params_[i].sizes(), "momentum buffer ", i, " has shape ", buffers[i].sizes(), " but the parameter has ",
                params_[i].sizes());
    momentum_[i].copy_(buffers[i]);
  }
}

}  // namespace rk
