// The fused training step: one call runs augmentation, the teacher forward (no grad), the student
// forward, the loss terms of the chosen methods, backward and the SGD update, all in LibTorch, with
// statistics per named loss accumulated on the device (read back only when asked: no host sync per step).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "engine/augment.h"
#include "engine/terms/term.h"
#include "models/zoo_model.h"

namespace rk {

// One loss term of the run: which term, its outer weight, whether the warm-up factor ramps it, and
// its own parameters (validated by the term).
struct TermSpec {
  std::string name;
  double weight = 1.0;
  bool warmup = false;
  TermParams params;
};

// The only C++ defaults of a run's options (the TypeScript run schema passes every value; a direct
// native call may leave any out).
struct DistillerOptions {
  // Loss terms added to the student's cross-entropy; empty = vanilla training.
  TORCH_ARG(std::vector<TermSpec>, terms) = {};
  // The weight of the cross-entropy term (the logit-standardization recipe uses 0.1 with KD weight 9).
  TORCH_ARG(double, ceWeight) = 1.0;
  // Teacher BatchNorm: false = running statistics (eval, the default); true = batch statistics (the
  // reference CIFAR code leaves the teacher in train mode, which also updates its running statistics).
  TORCH_ARG(bool, teacherBatchStats) = false;
  // Features before the last activation of each stage (docs/models.md, per family): the reference
  // takes the teacher's before it and the student's after it.
  TORCH_ARG(bool, teacherPreact) = true;
  TORCH_ARG(bool, studentPreact) = false;
  TORCH_ARG(bool, augment) = true;
  TORCH_ARG(AugmentOptions, augmentOptions) = {};
  // SGD: momentum, Nesterov, weight decay on every trainable parameter (the terms' modules included).
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weightDecay) = 5e-4;
  TORCH_ARG(bool, nesterov) = true;
  TORCH_ARG(uint64_t, seed) = 0;
  // Fast paths: 4-d weights and inputs in channels-last memory format; forwards under bf16 autocast
  // (fp32 master weights, losses computed in fp32).
  TORCH_ARG(bool, channelsLast) = false;
  TORCH_ARG(bool, autocastBf16) = false;
  // CUDA only: capture the step in a CUDA graph after warm-up and replay it (engine/cuda_graph_step.h).
  TORCH_ARG(bool, cudaGraphs) = false;
};

// A step's warm-up factor and learning rate: host numbers, or (under a CUDA graph, which replays what it
// captured) 0-d device tensors refilled before each replay, used when defined.
struct StepScalars {
  double warmup = 1.0, lr = 0.0;
  torch::Tensor warmupT, lrT;
};

class CudaGraphStep;

// What the terms are built from besides their parameters (probed by the caller).
struct PairShapes {
  std::vector<FeatureShape> student, teacher;
  int64_t numClasses = 0;
};

// Statistics summed since the last takeStats(): per named loss (unweighted, "ce" first), the total
// weighted loss, correct predictions, samples, steps applied and steps skipped as non-finite; and the
// current run of consecutive non-finite steps (not reset).
struct StepStats {
  std::vector<std::string> lossNames;
  std::vector<double> losses;
  double loss = 0, correct = 0, samples = 0, steps = 0, badSteps = 0, consecutiveBad = 0;
};

struct EvalResult {
  double lossSum = 0, top1 = 0, top5 = 0, count = 0;
  std::vector<double> classCorrect, classCount;
};

// Called on the compute thread between backward and the update with every trainable gradient and the
// step's non-finite flag (0-d float): data-parallel training averages both over its ranks there.
using GradientHook = std::function<void(const std::vector<torch::Tensor>& grads, torch::Tensor& found)>;

class Distiller {
 public:
  Distiller(std::shared_ptr<ZooModel> student, std::shared_ptr<ZooModel> teacher, torch::Tensor images, torch::Tensor labels,
            DistillerOptions options, const PairShapes& shapes);

  // One training step on the samples `indices` (int64, on the dataset's device). warmup multiplies the
  // terms that are ramped (the feature losses, DKD); lr is this step's learning rate.
  void step(const torch::Tensor& indices, double warmup, double lr);
  // Accumulated statistics, moved to the CPU; resets the sums.
  StepStats takeStats();
  // Student accuracy and loss on a uint8 dataset, in eval mode, without augmentation.
  EvalResult evaluate(const torch::Tensor& images, const torch::Tensor& labels, int64_t batchSize, int64_t numClasses);

  // Everything needed to resume bit for bit: the generator state and the momentum buffers.
  torch::Tensor generatorState() const;
  void setGeneratorState(const torch::Tensor& state);
  std::vector<torch::Tensor> momentumBuffers() const;
  void setMomentumBuffers(const std::vector<torch::Tensor>& buffers);
  // The terms' trainable modules by term name (parameters trained, buffers checkpointed).
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> termModules() const;
  // Test hook: the next step sees this value added to its loss (NaN or Inf injects a numerical fault).
  void injectLossOffset(double value) { injectedOffset_ = value; }
  // Set (or clear, with nullptr) between steps, never while one runs.
  void setGradientHook(GradientHook hook) { gradientHook_ = std::move(hook); }
  // Replaces the data the step indexes into (same device): a streamed batch becomes the data set of the
  // next step(arange(n)). Call between steps, on the compute thread.
  void setData(torch::Tensor images, torch::Tensor labels) {
    images_ = std::move(images);
    labels_ = std::move(labels);
  }
  const std::vector<torch::Tensor>& trainableParameters() const { return params_; }
  const DistillerOptions& options() const { return options_; }
  torch::Device device() const { return images_.device(); }

 private:
  friend class CudaGraphStep;  // replays runStep() and checks the state a replay depends on
  struct ActiveTerm {
    TermSpec spec;
    std::unique_ptr<LossTerm> term;
  };
  // The step itself (step() decides whether a CUDA graph replays it instead).
  void runStep(const torch::Tensor& indices, const StepScalars& k);
  // Runs the SGD update on the device, skipped there (no host sync) when `found` is non-zero.
  void update(const torch::Tensor& found, const StepScalars& k);

  std::shared_ptr<ZooModel> student_, teacher_;
  torch::Tensor images_, labels_;
  DistillerOptions options_;
  std::vector<ActiveTerm> terms_;
  TermNeeds needs_;
  std::vector<std::string> lossNames_;  // "ce", then every term's losses

  std::vector<torch::Tensor> params_;
  // Momentum buffers start at zero: with dampening 0 the first update then equals PyTorch's
  // buffer = gradient initialisation exactly, and no host-side "first step" flag is needed.
  std::vector<torch::Tensor> momentum_;
  // BatchNorm running statistics that a step may update; restored on the device after a faulty step.
  std::vector<torch::Tensor> guardedBuffers_;
  std::shared_ptr<CudaGraphStep> graph_;  // set when options_.cudaGraphs()
  at::Generator generator_;
  torch::Tensor stats_, consecutiveBad_;
  double injectedOffset_ = 0;
  GradientHook gradientHook_;
};

}  // namespace rk
