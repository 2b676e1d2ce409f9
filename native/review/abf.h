// ABF, the attention-based fusion module of ReviewKD (Chen et al., CVPR 2021, Sec. 3).
#pragma once
#include <optional>
#include <utility>

#include <torch/torch.h>

namespace rk {

struct ABFOptions {
  int64_t inChannels;
  int64_t midChannels;
  int64_t outChannels;
  bool fuse;              // false only for the deepest ABF, which has no deeper residual to fuse
  bool attention = true;  // false: plain sum of the two maps (the "no attention" ablation)
};

class ABFImpl : public torch::nn::Module {
 public:
  explicit ABFImpl(const ABFOptions& options);

  // x: the student feature (N x inChannels x h x w). residual: the deeper ABF's residual (mid channels),
  // required iff the module fuses. outSize: the teacher's (H, W); the fused map is resized to it first.
  // Returns {output for the loss (outChannels at outSize), residual for the next shallower ABF}.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, const std::optional<torch::Tensor>& residual,
                                                  const std::optional<std::pair<int64_t, int64_t>>& outSize);

  const ABFOptions& options() const { return options_; }

 private:
  ABFOptions options_;
  torch::nn::Sequential conv1{nullptr};     // 1x1 conv (no bias) + BN, no ReLU
  torch::nn::Sequential conv2{nullptr};     // 3x3 conv (no bias) + BN, no ReLU
  torch::nn::Sequential att_conv{nullptr};  // 1x1 conv (bias) over [x, residual] -> 2 maps + sigmoid
};
TORCH_MODULE(ABF);

// ABF's attention mix composed of LibTorch operators (the path for CUDA and with the fused kernels off):
// y = nearest-resize(residual) to x's size, z = sigmoid(conv1x1([x, y]; weight, bias)), x * z[:, 0:1] + y * z[:, 1:2].
// kernels/attention_mix.h computes the same as one fused CPU function.
torch::Tensor attentionMixComposed(const torch::Tensor& x, const torch::Tensor& residual, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace rk
