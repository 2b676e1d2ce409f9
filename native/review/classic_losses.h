// The classic distillation losses used as baselines and in combinations (each usable alone).
#pragma once
#include <torch/torch.h>

namespace rk {

// Cross-entropy with integer class targets, batch mean, optional label smoothing in [0, 1).
torch::Tensor crossEntropy(const torch::Tensor& logits, const torch::Tensor& targets, double labelSmoothing = 0.0);

// Hinton KD: KL(softmax(t/T) || softmax(s/T)) summed over classes, averaged over the batch, times T^2
// (the T^2 keeps gradient magnitudes comparable across temperatures).
torch::Tensor kdLoss(const torch::Tensor& studentLogits, const torch::Tensor& teacherLogits, double temperature);

// Attention transfer (Zagoruyko & Komodakis), p = 2: the L2-normalised spatial map of mean squared
// activations, compared by mean squared difference. Maps must share N x H x W (channels may differ).
torch::Tensor attentionTransferLoss(const torch::Tensor& student, const torch::Tensor& teacher);

// FitNet hint regressor: a 1x1 conv (with bias) from student to teacher channels; the hint loss is the
// MSE between its output and the teacher feature (same spatial size required).
class HintRegressorImpl : public torch::nn::Module {
 public:
  HintRegressorImpl(int64_t inChannels, int64_t outChannels);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t inChannels() const { return conv->options.in_channels(); }
  int64_t outChannels() const { return conv->options.out_channels(); }

 private:
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(HintRegressor);

torch::Tensor fitnetLoss(HintRegressorImpl& regressor, const torch::Tensor& student, const torch::Tensor& teacher);

}  // namespace rk
