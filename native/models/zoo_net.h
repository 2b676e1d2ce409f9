// The common base of the built-in zoo models: name, expected input channels and the stage runner.
// (The TorchScript wrapper implements ZooModel directly: its input contract is the user's.)
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "models/layers.h"
#include "models/zoo_model.h"

namespace rk {

// A block's output after its final activation, and the same tensor before it (the spec's
// "pre-activation" feature when the block ends a stage).
struct Activation {
  torch::Tensor out;
  torch::Tensor preact;
};

// Runs the blocks of one stage in order; returns the last block's activation pair.
template <typename Block>
Activation runStage(const torch::nn::ModuleList& blocks, torch::Tensor x) {
  Activation a{x, x};
  for (const auto& m : *blocks) a = m->as<Block>()->forward(a.out);
  return a;
}

// The ResNet-style tail shared by the CIFAR and ImageNet ResNets: run every stage on the stem output,
// keep each stage's (pre-)activation as a feature, append the globally pooled N x C x 1 x 1 map and
// classify it.
template <typename Block, size_t N>
ModelOutput runResidualStages(const std::array<torch::nn::ModuleList, N>& stages, torch::Tensor x, bool preact,
                              torch::nn::Linear& classifier) {
  ModelOutput result;
  for (const auto& stage : stages) {
    // Only the stage's last block keeps its pre-activation sum, and only when it is the feature.
    Activation a{x, x};
    for (size_t b = 0; b < stage->size(); ++b) a = stage->ptr(b)->template as<Block>()->forward(a.out, preact && b + 1 == stage->size());
    result.features.push_back(preact ? a.preact : a.out);
    x = a.out;
  }
  torch::Tensor pooled = layers::globalAvgPool(x);
  result.features.push_back(pooled);
  result.logits = classifier(pooled.flatten(1));
  return result;
}

class ZooNet : public ZooModel {
 public:
  ZooNet(std::string name, int64_t inChannels) : name_(std::move(name)), inChannels_(inChannels) {}

  std::string name() const override { return name_; }
  int64_t inChannels() const { return inChannels_; }

  // Logits only. The feature pass costs nothing extra: the stage maps are intermediates anyway.
  torch::Tensor forward(torch::Tensor x) override { return forwardWithFeatures(std::move(x), false).logits; }

 private:
  std::string name_;
  int64_t inChannels_;
};

}  // namespace rk
