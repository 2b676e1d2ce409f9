// The fused training step: one call runs augmentation, the teacher forward (no grad), the student
// forward, the method's losses, backward and the SGD update, all in LibTorch, with loss statistics
// accumulated on the device (read back only when asked, so there is no host sync per step).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "engine/augment.h"
#include "models/zoo_model.h"
#include "review/classic_losses.h"
#include "review/review_head.h"

namespace rk {

enum class Method { Vanilla, KD, FitNet, AT, ReviewKD, ReviewKDPlusKD };
std::optional<Method> parseMethod(const std::string& name);

struct DistillerOptions {
  Method method = Method::Vanilla;
  double featureWeight = 1.0;  // lambda of the feature loss (HCL, hint or AT)
  double kdWeight = 1.0;       // weight of the KD term (kd and reviewkd+kd)
  double temperature = 4.0;
  // Teacher BatchNorm: false = running statistics (eval, the default); true = batch statistics (the
  // reference CIFAR code leaves the teacher in train mode, which also updates its running statistics).
  bool teacherBatchStats = false;
  bool teacherPreact = true;   // reference: teacher features before the last activation
  bool studentPreact = false;  // reference: student features after it
  int64_t hintLevel = 1;       // FitNet: which stage pair gives the hint
  std::vector<int64_t> hclLevels = {4, 2, 1};
  bool augment = true;
  AugmentOptions augmentOptions;
  // SGD (momentum, Nesterov, weight decay on every trainable parameter, head and regressor included)
  double lr = 0.1, momentum = 0.9, weightDecay = 5e-4;
  bool nesterov = true;
  uint64_t seed = 0;
  // Fast paths: 4-d weights and inputs in channels-last memory format; forwards under bf16 autocast
  // (fp32 master weights, losses computed in fp32).
  bool channelsLast = false;
  bool autocastBf16 = false;
};

// Read by takeStats(): sums since the last read [ce, feature, kd, total, correct, samples, steps,
// skipped non-finite steps], then the current run of consecutive non-finite steps (not reset).
constexpr int64_t kStatCount = 9;

struct EvalResult {
  double lossSum = 0, top1 = 0, top5 = 0, count = 0;
  std::vector<double> classCorrect, classCount;
};

class Distiller {
 public:
  Distiller(std::shared_ptr<ZooModel> student, std::shared_ptr<ZooModel> teacher, std::shared_ptr<ReviewHeadImpl> head,
            std::shared_ptr<HintRegressorImpl> regressor, torch::Tensor images, torch::Tensor labels, DistillerOptions options);

  // One training step on the samples `indices` (int64, on the dataset's device). featureScale
  // multiplies the feature loss (the KD warm-up factor); lr is this step's learning rate.
  void step(const torch::Tensor& indices, double featureScale, double lr);
  // Accumulated statistics (see kStatCount), moved to the CPU; resets the accumulator.
  std::vector<double> takeStats();
  // Student accuracy and loss on a uint8 dataset, in eval mode, without augmentation.
  EvalResult evaluate(const torch::Tensor& images, const torch::Tensor& labels, int64_t batchSize, int64_t numClasses);

  // Everything needed to resume bit for bit: the augmentation generator state and the momentum buffers.
  torch::Tensor generatorState() const;
  void setGeneratorState(const torch::Tensor& state);
  std::vector<torch::Tensor> momentumBuffers() const;
  void setMomentumBuffers(const std::vector<torch::Tensor>& buffers);
  // Test hook: the next step sees this value added to its loss (NaN or Inf injects a numerical fault).
  void injectLossOffset(double value) { injectedOffset_ = value; }
  const std::vector<torch::Tensor>& trainableParameters() const { return params_; }
  const DistillerOptions& options() const { return options_; }
  torch::Device device() const { return images_.device(); }

 private:
  std::shared_ptr<ZooModel> student_, teacher_;
  std::shared_ptr<ReviewHeadImpl> head_;
  std::shared_ptr<HintRegressorImpl> regressor_;
  torch::Tensor images_, labels_;
  DistillerOptions options_;
  // Runs the SGD update on the device, skipped there (no host sync) when `found` is non-zero.
  void update(const torch::Tensor& found, double lr);

  std::vector<torch::Tensor> params_;
  // Momentum buffers start at zero: with dampening 0 the first update then equals PyTorch's
  // buffer = gradient initialisation exactly, and no host-side "first step" flag is needed.
  std::vector<torch::Tensor> momentum_;
  // BatchNorm running statistics that a step may update; restored on the device after a faulty step.
  std::vector<torch::Tensor> guardedBuffers_;
  at::Generator generator_;
  torch::Tensor stats_, consecutiveBad_;
  double injectedOffset_ = 0;
};

}  // namespace rk
