// ShuffleNetV2 1.0 for CIFAR (reference ShuffleNetv2.py / shufflenetv2.py): conv1 (1x1 to 24), bn1,
// layer{1,2,3} = [DownUnit, 3/7/3 x BasicUnit], conv2 (1x1 to 1024), bn2, linear.
// Stage features (116@16, 232@8, 464@4) are each stage's last unit output (shuffled, post-ReLU).
// Pre-activation, as in the reference: concat(kept half, bn3 output) before the ReLU and before the
// channel shuffle (so its channel order differs from the post-activation map). Pooled: the average of
// relu(bn2(conv2(stage 3))), 1024 channels.
#include "models/layers.h"
#include "models/model_factories.h"

namespace rk {

namespace {

// Keeps half the channels and transforms the other half (stride 1).
class ShuffleV2BasicUnit : public torch::nn::Module {
 public:
  explicit ShuffleV2BasicUnit(int64_t channels) : half_(channels / 2) {
    conv1 = register_module("conv1", layers::conv2d(half_, half_, 1));
    bn1 = register_module("bn1", layers::batchNorm(half_));
    conv2 = register_module("conv2", layers::conv2d(half_, half_, 3, 1, 1, half_));
    bn2 = register_module("bn2", layers::batchNorm(half_));
    conv3 = register_module("conv3", layers::conv2d(half_, half_, 1));
    bn3 = register_module("bn3", layers::batchNorm(half_));
  }

  Activation forward(const torch::Tensor& x) {
    auto kept = x.narrow(1, 0, half_);
    auto branch = x.narrow(1, half_, x.size(1) - half_);
    auto pre = bn3(conv3(bn2(conv2(torch::relu(bn1(conv1(branch)))))));
    return {layers::channelShuffle(torch::cat({kept, torch::relu(pre)}, 1), 2), torch::cat({kept, pre}, 1)};
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};

 private:
  int64_t half_;
};

// Halves the resolution with two strided branches (depthwise on both) and doubles the width.
class ShuffleV2DownUnit : public torch::nn::Module {
 public:
  ShuffleV2DownUnit(int64_t in, int64_t out) {
    const int64_t mid = out / 2;
    conv1 = register_module("conv1", layers::conv2d(in, in, 3, 2, 1, in));
    bn1 = register_module("bn1", layers::batchNorm(in));
    conv2 = register_module("conv2", layers::conv2d(in, mid, 1));
    bn2 = register_module("bn2", layers::batchNorm(mid));
    conv3 = register_module("conv3", layers::conv2d(in, mid, 1));
    bn3 = register_module("bn3", layers::batchNorm(mid));
    conv4 = register_module("conv4", layers::conv2d(mid, mid, 3, 2, 1, mid));
    bn4 = register_module("bn4", layers::batchNorm(mid));
    conv5 = register_module("conv5", layers::conv2d(mid, mid, 1));
    bn5 = register_module("bn5", layers::batchNorm(mid));
  }

  Activation forward(const torch::Tensor& x) {
    auto left = torch::relu(bn2(conv2(bn1(conv1(x)))));
    auto right = torch::relu(bn5(conv5(bn4(conv4(torch::relu(bn3(conv3(x))))))));
    auto out = layers::channelShuffle(torch::cat({left, right}, 1), 2);
    return {out, out};
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr}, conv5{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, bn4{nullptr}, bn5{nullptr};
};

class ShuffleNetV2 : public ZooNet {
 public:
  explicit ShuffleNetV2(const ZooArgs& args) : ZooNet(args.name, args.inChannels) {
    const int64_t widths[4] = {116, 232, 464, 1024}, units[3] = {3, 7, 3};
    conv1 = register_module("conv1", layers::conv2d(args.inChannels, 24, 1));
    bn1 = register_module("bn1", layers::batchNorm(24));
    int64_t in = 24;
    for (int s = 0; s < 3; ++s) {
      torch::nn::ModuleList stage;
      stage->push_back(std::make_shared<ShuffleV2DownUnit>(in, widths[s]));
      for (int64_t i = 0; i < units[s]; ++i) stage->push_back(std::make_shared<ShuffleV2BasicUnit>(widths[s]));
      in = widths[s];
      stages[s] = register_module("layer" + std::to_string(s + 1), stage);
    }
    conv2 = register_module("conv2", layers::conv2d(in, widths[3], 1));
    bn2 = register_module("bn2", layers::batchNorm(widths[3]));
    linear = register_module("linear", torch::nn::Linear(widths[3], args.numClasses));
  }

  ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) override {
    ModelOutput result;
    x = torch::relu(bn1(conv1(x)));
    for (auto& stage : stages) {
      Activation a{x, x};
      for (size_t i = 0; i < stage->size(); ++i) {
        a = i == 0 ? stage[i]->as<ShuffleV2DownUnit>()->forward(a.out) : stage[i]->as<ShuffleV2BasicUnit>()->forward(a.out);
      }
      result.features.push_back(preact ? a.preact : a.out);
      x = a.out;
    }
    auto pooled = layers::globalAvgPool(torch::relu(bn2(conv2(x))));
    result.features.push_back(pooled);
    result.logits = linear(pooled.flatten(1));
    return result;
  }

  // featureBatchNorms() stays empty: the pre-activation feature is concat(kept half, bn3 output), and
  // the kept half is the previous unit's activated output, not a BatchNorm's.

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  std::array<torch::nn::ModuleList, 3> stages{torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr)};
  torch::nn::Linear linear{nullptr};
};

}  // namespace

std::shared_ptr<ZooNet> makeShuffleNetV2(const ZooArgs& args) { return std::make_shared<ShuffleNetV2>(args); }

}  // namespace rk
