#include "engine/distiller.h"

#include <set>

#include <ATen/CPUGeneratorImpl.h>

#include "common/errors.h"
#include "engine/autocast_scope.h"
#include "engine/cuda_graph_step.h"

namespace rk {

namespace F = torch::nn::functional;

namespace {

void toChannelsLast(torch::nn::Module& m) {
  torch::NoGradGuard noGrad;
  for (auto& p : m.parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

std::vector<torch::Tensor> fp32(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> out;
  for (const auto& t : ts) out.push_back(rk::fp32(t));
  return out;
}

at::Generator makeGenerator(const torch::Device& device, uint64_t seed) {
  at::Generator g = device.is_cuda() ? at::globalContext().defaultGenerator(device).clone() : at::make_generator<at::CPUGeneratorImpl>(seed);
  g.set_current_seed(seed);
  return g;
}
}  // namespace

Distiller::Distiller(std::shared_ptr<ZooModel> student, std::shared_ptr<ZooModel> teacher, torch::Tensor images, torch::Tensor labels,
                     DistillerOptions options, const PairShapes& shapes)
    : student_(std::move(student)),
      teacher_(std::move(teacher)),
      images_(std::move(images)),
      labels_(std::move(labels)),
      options_(std::move(options)),
      graph_(options_.cudaGraphs() ? std::make_shared<CudaGraphStep>(images_.device(), options_.seed()) : nullptr),
      generator_(graph_ ? graph_->generator() : makeGenerator(images_.device(), options_.seed())) {
  // Every step has the same shapes: let cuDNN time its algorithms once and keep the fastest
  // (process-wide; a no-op on CPU).
  if (images_.device().is_cuda()) at::globalContext().setBenchmarkCuDNN(true);

  TermSetup setup;
  setup.studentShapes = shapes.student;
  setup.teacherShapes = shapes.teacher;
  setup.numClasses = shapes.numClasses;
  setup.datasetSize = images_.size(0);
  setup.datasetLabels = labels_;
  setup.teacher = teacher_;
  setup.device = images_.device();
  lossNames_ = {"ce"};
  std::set<std::string> seen = {"ce", "loss"};
  for (const auto& spec : options_.terms()) {
    if (!teacher_) throw JsRangeError("Distiller: term '" + spec.name + "' needs a teacher");
    ActiveTerm active{spec, makeTerm(spec.name, setup, spec.params)};
    const TermNeeds n = active.term->needs();
    needs_.teacherLogits = needs_.teacherLogits || n.teacherLogits;
    needs_.features = needs_.features || n.features;
    for (const auto& name : active.term->lossNames()) {
      if (!seen.insert(name).second) throw JsRangeError("Distiller: two terms report a loss named '" + name + "'; a method can be listed once");
      lossNames_.push_back(name);
    }
    terms_.push_back(std::move(active));
  }

  std::vector<std::pair<torch::nn::Module*, bool>> trained = {{student_.get(), true}};  // (module, guard its buffers)
  for (auto& t : terms_) {
    if (auto m = t.term->module()) trained.push_back({m.get(), t.term->guardBuffers()});
  }
  if (options_.channelsLast()) {
    for (auto& [m, guarded] : trained) toChannelsLast(*m);
    if (teacher_) toChannelsLast(*teacher_);
  }
  for (auto& [m, guarded] : trained) {
    for (const auto& p : m->parameters()) params_.push_back(p);
    if (guarded) for (const auto& b : m->buffers()) guardedBuffers_.push_back(b);
  }
  for (const auto& p : params_) momentum_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  if (teacher_) {
    // The teacher is never trained: no gradients are recorded for it (the step also runs it under NoGradGuard).
    for (auto& p : teacher_->parameters()) p.set_requires_grad(false);
    if (options_.teacherBatchStats()) for (const auto& b : teacher_->buffers()) guardedBuffers_.push_back(b);
  }
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(images_.device());
  // [losses by name..., total, correct, samples, steps, bad steps]
  stats_ = torch::zeros({static_cast<int64_t>(lossNames_.size()) + 5}, f64);
  consecutiveBad_ = torch::zeros({}, f64);
}

void Distiller::step(const torch::Tensor& indices, double warmup, double lr) {
  if (graph_ && graph_->run(*this, indices, warmup, lr)) return;
  runStep(indices, StepScalars{warmup, lr, {}, {}});
}

void Distiller::runStep(const torch::Tensor& indices, const StepScalars& k) {
  // Runs on the compute thread: grad mode is thread-local, so set it here.
  torch::AutoGradMode gradOn(true);
  const torch::Tensor batch = images_.index_select(0, indices);
  const torch::Tensor labels = labels_.index_select(0, indices);
  const auto& aug = options_.augmentOptions();
  torch::Tensor x = options_.augment() ? augmentBatch(batch, aug, generator_) : normalizeBatch(batch, aug.mean, aug.std);
  if (options_.channelsLast()) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  const at::DeviceType deviceType = x.device().type();
  const bool autocast = options_.autocastBf16();
  // Snapshots of the BatchNorm statistics, so a faulty step can be undone without leaving the device.
  std::vector<torch::Tensor> savedBuffers;
  {
    torch::NoGradGuard noGrad;
    for (const auto& b : guardedBuffers_) savedBuffers.push_back(b.clone());
  }

  ModelOutput t;
  if (!terms_.empty()) {
    // NoGradGuard, not InferenceMode: HCL's MSE must be able to save the teacher features for backward.
    torch::NoGradGuard noGrad;
    AutocastScope scope(autocast, deviceType);
    teacher_->train(options_.teacherBatchStats());
    t = needs_.features ? teacher_->forwardWithFeatures(x, options_.teacherPreact()) : ModelOutput{teacher_->forward(x), {}};
  }
  t.logits = fp32(t.logits);
  t.features = fp32(t.features);

  student_->train(true);
  ModelOutput s;
  {
    AutocastScope scope(autocast, deviceType);
    s = needs_.features ? student_->forwardWithFeatures(x, options_.studentPreact()) : ModelOutput{student_->forward(x), {}};
  }
  // Losses in fp32 whatever the forward precision.
  s.logits = fp32(s.logits);
  s.features = fp32(s.features);
  const torch::Tensor ce = F::cross_entropy(s.logits, labels);
  // The statistics report each loss unweighted; the weights only enter the sum that is minimised.
  torch::Tensor loss = options_.ceWeight() == 1.0 ? ce : options_.ceWeight() * ce;
  std::vector<torch::Tensor> named = {ce};
  const TermInput input{s, t, labels, indices, autocast, generator_};
  for (auto& active : terms_) {
    const double factor = active.spec.weight * (active.spec.warmup ? k.warmup : 1.0);
    for (auto& [name, value] : active.term->compute(input)) {
      named.push_back(value);
      loss = loss + (active.spec.warmup && k.warmupT.defined() ? active.spec.weight * k.warmupT * value : factor * value);
    }
  }
  TORCH_CHECK(named.size() == lossNames_.size(), "a loss term returned ", named.size() - 1, " losses; it declared ", lossNames_.size() - 1);
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
  if (gradientHook_) gradientHook_(grads, found);
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found, torch::ones({}, found.options()));
  update(found, k);
  const torch::Tensor ok = found.eq(0);
  for (size_t i = 0; i < guardedBuffers_.size(); ++i) guardedBuffers_[i].copy_(torch::where(ok, guardedBuffers_[i], savedBuffers[i]));
  for (auto& active : terms_) active.term->afterUpdate(input, ok);

  // Statistics stay on the device until takeStats(): no host sync here.
  const auto opts = stats_.options();
  const torch::Tensor okd = ok.to(opts);
  const torch::Tensor correct = s.logits.argmax(1).eq(labels).sum().to(opts);
  const auto finite = [&](const torch::Tensor& v) { return torch::where(ok, v.detach().to(opts), torch::zeros({}, opts)); };
  std::vector<torch::Tensor> row;
  for (const auto& v : named) row.push_back(finite(v));
  row.insert(row.end(), {finite(loss), correct * okd, okd * static_cast<double>(indices.size(0)), okd, 1 - okd});
  stats_ += torch::stack(row);
  consecutiveBad_.copy_((consecutiveBad_ + 1) * (1 - okd));
}

void Distiller::update(const torch::Tensor& found, const StepScalars& k) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params_) grads.push_back(p.grad());
  // PyTorch's fused SGD kernel (what torch.optim.SGD(fused=True) runs): one pass over all parameters,
  // weight decay and Nesterov momentum included, and a no-op on the device when found_inf is set.
  // Without momentum the kernel takes no buffers at all (it rejects a non-empty list).
  const std::vector<torch::Tensor> noBuffers;
  const double momentum = options_.momentum();
  const auto& buffers = momentum == 0 ? noBuffers : momentum_;
  if (k.lrT.defined()) {
    at::_fused_sgd_(params_, grads, buffers, options_.weightDecay(), momentum, k.lrT, /*dampening=*/0.0, options_.nesterov(),
                    /*maximize=*/false, /*is_first_step=*/false, /*grad_scale=*/std::nullopt, found);
  } else {
    at::_fused_sgd_(params_, grads, buffers, options_.weightDecay(), momentum, k.lr, /*dampening=*/0.0, options_.nesterov(),
                    /*maximize=*/false, /*is_first_step=*/false, /*grad_scale=*/std::nullopt, found);
  }
}

StepStats Distiller::takeStats() {
  const torch::Tensor cpu = torch::cat({stats_, consecutiveBad_.view({1})}).to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
  stats_.zero_();
  const double* v = cpu.data_ptr<double>();
  const size_t n = lossNames_.size();
  StepStats s;
  s.lossNames = lossNames_;
  s.losses.assign(v, v + n);
  s.loss = v[n];
  s.correct = v[n + 1];
  s.samples = v[n + 2];
  s.steps = v[n + 3];
  s.badSteps = v[n + 4];
  s.consecutiveBad = v[n + 5];
  return s;
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
  const auto& aug = options_.augmentOptions();
  for (int64_t start = 0; start < n; start += batchSize) {
    const int64_t len = std::min(batchSize, n - start);
    torch::Tensor x = normalizeBatch(images.narrow(0, start, len), aug.mean, aug.std);
    if (options_.channelsLast()) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor y = labels.narrow(0, start, len);
    // The same fast paths as the training step, so evaluation measures the model that was trained.
    torch::Tensor logits;
    {
      AutocastScope scope(options_.autocastBf16(), x.device().type());
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

std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> Distiller::termModules() const {
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> out;
  for (const auto& t : terms_) {
    if (auto m = t.term->module()) out.emplace_back(t.spec.name, m);
  }
  return out;
}

}  // namespace rk
