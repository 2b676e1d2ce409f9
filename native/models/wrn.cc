// Wide ResNet (pre-activation), parameter names of the references' wide_resnet_cifar.py / wrn.py:
// conv1, block{1,2,3}.layer.{i}.{bn1,conv1,bn2,conv2,convShortcut}, bn1, fc.
// Stage features are the raw residual sums of each block group (no BN, no ReLU). Their pre-activation
// is the *next* BatchNorm applied to them without ReLU: block2's first bn1, block3's first bn1 and the
// final bn1 (as the authors' CIFAR-100 code does). That BatchNorm runs once and its output feeds both the feature and the next
// block, so in training mode the running statistics update once per forward (the reference calls it a
// second time for the feature, updating them twice).
#include "kernels/batch_norm_act.h"
#include "models/layers.h"
#include "models/model_factories.h"

namespace rk {

namespace {

class WideBasicBlock : public torch::nn::Module {
 public:
  WideBasicBlock(int64_t in, int64_t out, int64_t stride)
      : bn1(register_module("bn1", layers::batchNorm(in))),
        conv1(register_module("conv1", layers::conv2d(in, out, 3, stride, 1))),
        bn2(register_module("bn2", layers::batchNorm(out))),
        conv2(register_module("conv2", layers::conv2d(out, out, 3, 1, 1))) {
    if (in != out) convShortcut = register_module("convShortcut", layers::conv2d(in, out, 1, stride, 0));
  }

  // `normed` is bn1(x) when the caller already has it (the stage's pre-activation feature).
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor normed = {}) {
    auto act = normed.defined() ? torch::relu(normed) : batchNormRelu(*bn1, x).out;
    auto out = conv2(batchNormRelu(*bn2, conv1(act)).out);
    // With a projection the shortcut starts from the activated input (the reference overwrites x).
    return out + (convShortcut ? convShortcut(act) : x);
  }

  torch::nn::BatchNorm2d bn1;
  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn2;
  torch::nn::Conv2d conv2;
  torch::nn::Conv2d convShortcut{nullptr};
};

// The reference wraps each block group's Sequential in a module whose only child is "layer".
class NetworkBlock : public torch::nn::Module {
 public:
  NetworkBlock(int64_t blocks, int64_t in, int64_t out, int64_t stride) {
    for (int64_t i = 0; i < blocks; ++i) layer->push_back(std::make_shared<WideBasicBlock>(i == 0 ? in : out, out, i == 0 ? stride : 1));
    register_module("layer", layer);
  }

  WideBasicBlock& first() { return *layer[0]->as<WideBasicBlock>(); }

  torch::Tensor forward(torch::Tensor x, const torch::Tensor& firstNormed) {
    for (size_t i = 0; i < layer->size(); ++i) x = layer[i]->as<WideBasicBlock>()->forward(x, i == 0 ? firstNormed : torch::Tensor());
    return x;
  }

  torch::nn::ModuleList layer;
};

class WideResNet : public ZooNet {
 public:
  WideResNet(const ZooArgs& args, int64_t depth, int64_t widen) : ZooNet(args.name, args.inChannels) {
    const int64_t n = (depth - 4) / 6;
    const int64_t c[4] = {16, 16 * widen, 32 * widen, 64 * widen};
    conv1 = register_module("conv1", layers::conv2d(args.inChannels, c[0], 3, 1, 1));
    for (int s = 0; s < 3; ++s) {
      groups[s] = register_module("block" + std::to_string(s + 1), std::make_shared<NetworkBlock>(n, c[s], c[s + 1], s == 0 ? 1 : 2));
    }
    bn1 = register_module("bn1", layers::batchNorm(c[3]));
    fc = register_module("fc", torch::nn::Linear(c[3], args.numClasses));
    layers::initConvHeFanOut(*this);
    layers::zeroLinearBias(*this);
  }

  ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) override {
    ModelOutput result;
    x = conv1(x);
    x = groups[0]->forward(x, torch::Tensor());
    for (int s = 0; s < 3; ++s) {
      // The BatchNorm that follows this group: the next group's first bn1, or the final bn1.
      auto normed = s < 2 ? groups[s + 1]->first().bn1(x) : bn1(x);
      result.features.push_back(preact ? normed : x);
      if (s < 2) {
        x = groups[s + 1]->forward(x, normed);
      } else {
        auto pooled = layers::globalAvgPool(torch::relu(normed));
        result.features.push_back(pooled);
        result.logits = fc(pooled.flatten(1));
      }
    }
    return result;
  }

  // Exactly the BatchNorms that produce the pre-activation features above.
  std::vector<torch::nn::BatchNorm2d> featureBatchNorms() override { return {groups[1]->first().bn1, groups[2]->first().bn1, bn1}; }

 private:
  torch::nn::Conv2d conv1{nullptr};
  std::array<std::shared_ptr<NetworkBlock>, 3> groups;
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace

std::shared_ptr<ZooNet> makeWideResNet(const ZooArgs& args, int64_t depth, int64_t widen) {
  if (depth < 10 || (depth - 4) % 6 != 0) throw std::invalid_argument("WRN depth must be 6n+4 with n >= 1; got " + std::to_string(depth));
  if (widen < 1) throw std::invalid_argument("WRN widen factor must be >= 1; got " + std::to_string(widen));
  return std::make_shared<WideResNet>(args, depth, widen);
}

}  // namespace rk
