// The two residual blocks of the ResNet families. Both return the post-ReLU output and, when asked for,
// the residual sum before that ReLU (the pre-activation feature when the block ends a stage).
// Each "BatchNorm [+ shortcut] + ReLU" runs as one fused operator on the CPU (kernels/batch_norm_act.h).
// Names follow the references: conv1/bn1/conv2/bn2[/conv3/bn3] and a projection shortcut called
// "downsample" (CIFAR ResNet, torchvision) or "shortcut" (CIFAR ResNet50 of resnetv2.py).
#pragma once
#include <array>
#include <string>
#include <vector>

#include "kernels/batch_norm_act.h"
#include "models/layers.h"
#include "models/zoo_net.h"

namespace rk {

class BasicResidualBlock : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;

  BasicResidualBlock(int64_t in, int64_t planes, int64_t stride, const std::string& shortcutName = "downsample")
      : conv1(register_module("conv1", layers::conv2d(in, planes, 3, stride, 1))),
        bn1(register_module("bn1", layers::batchNorm(planes))),
        conv2(register_module("conv2", layers::conv2d(planes, planes, 3, 1, 1))),
        bn2(register_module("bn2", layers::batchNorm(planes))) {
    // A projection only where the shape changes (option B of the ResNet paper).
    if (stride != 1 || in != planes) {
      shortcut = register_module(shortcutName, torch::nn::Sequential(layers::conv2d(in, planes, 1, stride), layers::batchNorm(planes)));
    }
  }

  // `keepPreact`: also return the sum before the last ReLU (else Activation::preact is undefined).
  Activation forward(const torch::Tensor& x, bool keepPreact = true) {
    const auto a = batchNormRelu(*bn1, conv1(x)).out;
    const auto tail = batchNormRelu(*bn2, conv2(a), shortcut ? shortcut->forward(x) : x, keepPreact);
    return {tail.out, tail.sum};
  }
  // The residual branch's last BatchNorm: the pre-activation sum is its output plus the shortcut.
  torch::nn::BatchNorm2d lastBatchNorm() const { return bn2; }

  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  torch::nn::Conv2d conv2;
  torch::nn::BatchNorm2d bn2;
  torch::nn::Sequential shortcut{nullptr};
};

// 1x1 reduce, 3x3 (carrying the stride, as torchvision's "ResNet v1.5"), 1x1 expand by 4.
class BottleneckResidualBlock : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;

  BottleneckResidualBlock(int64_t in, int64_t planes, int64_t stride, const std::string& shortcutName = "downsample")
      : conv1(register_module("conv1", layers::conv2d(in, planes, 1))),
        bn1(register_module("bn1", layers::batchNorm(planes))),
        conv2(register_module("conv2", layers::conv2d(planes, planes, 3, stride, 1))),
        bn2(register_module("bn2", layers::batchNorm(planes))),
        conv3(register_module("conv3", layers::conv2d(planes, planes * kExpansion, 1))),
        bn3(register_module("bn3", layers::batchNorm(planes * kExpansion))) {
    if (stride != 1 || in != planes * kExpansion) {
      shortcut = register_module(shortcutName, torch::nn::Sequential(layers::conv2d(in, planes * kExpansion, 1, stride),
                                                                     layers::batchNorm(planes * kExpansion)));
    }
  }

  Activation forward(const torch::Tensor& x, bool keepPreact = true) {
    const auto a = batchNormRelu(*bn1, conv1(x)).out;
    const auto b = batchNormRelu(*bn2, conv2(a)).out;
    const auto tail = batchNormRelu(*bn3, conv3(b), shortcut ? shortcut->forward(x) : x, keepPreact);
    return {tail.out, tail.sum};
  }
  torch::nn::BatchNorm2d lastBatchNorm() const { return bn3; }

  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  torch::nn::Conv2d conv2;
  torch::nn::BatchNorm2d bn2;
  torch::nn::Conv2d conv3;
  torch::nn::BatchNorm2d bn3;
  torch::nn::Sequential shortcut{nullptr};
};

// Builds one stage of `count` blocks; the first carries the stride. `in` is updated to the stage width.
template <typename Block>
torch::nn::ModuleList residualStage(int64_t& in, int64_t planes, int64_t count, int64_t stride, const std::string& shortcutName) {
  torch::nn::ModuleList stage;
  for (int64_t b = 0; b < count; ++b) {
    stage->push_back(std::make_shared<Block>(in, planes, b == 0 ? stride : 1, shortcutName));
    in = planes * Block::kExpansion;
  }
  return stage;
}

// Per stage, the last block's lastBatchNorm() (ZooModel::featureBatchNorms of the ResNet families).
// The stage's pre-activation feature is that BatchNorm's output plus the shortcut; OFD takes the
// BatchNorm's affine parameters as the statistics of the sum anyway, as its reference code does.
template <typename Block, size_t N>
std::vector<torch::nn::BatchNorm2d> lastBlockBatchNorms(const std::array<torch::nn::ModuleList, N>& stages) {
  std::vector<torch::nn::BatchNorm2d> out;
  for (const auto& stage : stages) out.push_back(stage->ptr(stage->size() - 1)->template as<Block>()->lastBatchNorm());
  return out;
}

}  // namespace rk
