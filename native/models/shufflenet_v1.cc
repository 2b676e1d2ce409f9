// ShuffleNetV1 for CIFAR (g = 3; reference ShuffleNetv1.py / shufflenetv1.py): conv1 (1x1 to 24), bn1,
// layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2,conv3,bn3}, linear. Stage features (240@16, 480@8, 960@4) are
// each stage's last unit after ReLU; pre-activation = the unit's residual sum before that ReLU.
#include "models/layers.h"
#include "models/model_factories.h"

namespace rk {

namespace {

class ShuffleV1Unit : public torch::nn::Module {
 public:
  // `out` is the branch width: for the strided first unit of a stage, the stage width minus the input
  // width (the shortcut is concatenated).
  ShuffleV1Unit(int64_t in, int64_t out, int64_t stride, int64_t groups) : stride_(stride), firstGroups_(in == 24 ? 1 : groups) {
    const int64_t mid = out / 4;
    // The first unit after the 24-channel stem uses an ungrouped 1x1 conv (24 is not worth splitting).
    conv1 = register_module("conv1", layers::conv2d(in, mid, 1, 1, 0, firstGroups_));
    bn1 = register_module("bn1", layers::batchNorm(mid));
    conv2 = register_module("conv2", layers::conv2d(mid, mid, 3, stride, 1, mid));
    bn2 = register_module("bn2", layers::batchNorm(mid));
    conv3 = register_module("conv3", layers::conv2d(mid, out, 1, 1, 0, groups));
    bn3 = register_module("bn3", layers::batchNorm(out));
  }

  Activation forward(const torch::Tensor& x) {
    auto out = layers::channelShuffle(torch::relu(bn1(conv1(x))), firstGroups_);
    out = bn3(conv3(torch::relu(bn2(conv2(out)))));
    auto pre = stride_ == 2 ? torch::cat({out, torch::avg_pool2d(x, 3, 2, 1)}, 1) : out + x;
    return {torch::relu(pre), pre};
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};

 private:
  int64_t stride_;
  int64_t firstGroups_;
};

class ShuffleNetV1 : public ZooNet {
 public:
  explicit ShuffleNetV1(const ZooArgs& args) : ZooNet(args.name, args.inChannels) {
    const int64_t outPlanes[3] = {240, 480, 960}, units[3] = {4, 8, 4}, groups = 3;
    conv1 = register_module("conv1", layers::conv2d(args.inChannels, 24, 1));
    bn1 = register_module("bn1", layers::batchNorm(24));
    int64_t in = 24;
    for (int s = 0; s < 3; ++s) {
      torch::nn::ModuleList stage;
      for (int64_t i = 0; i < units[s]; ++i) {
        stage->push_back(std::make_shared<ShuffleV1Unit>(in, i == 0 ? outPlanes[s] - in : outPlanes[s], i == 0 ? 2 : 1, groups));
        in = outPlanes[s];
      }
      stages[s] = register_module("layer" + std::to_string(s + 1), stage);
    }
    linear = register_module("linear", torch::nn::Linear(in, args.numClasses));
  }

  ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) override {
    ModelOutput result;
    x = torch::relu(bn1(conv1(x)));
    for (auto& stage : stages) {
      Activation a = runStage<ShuffleV1Unit>(stage, x);
      result.features.push_back(preact ? a.preact : a.out);
      x = a.out;
    }
    auto pooled = layers::globalAvgPool(x);
    result.features.push_back(pooled);
    result.logits = linear(pooled.flatten(1));
    return result;
  }

  // Each stage's last unit's bn3: that unit has stride 1, so its pre-activation is bn3's output plus
  // the input (as for the ResNets).
  std::vector<torch::nn::BatchNorm2d> featureBatchNorms() override {
    std::vector<torch::nn::BatchNorm2d> out;
    for (auto& stage : stages) out.push_back(stage->ptr(stage->size() - 1)->as<ShuffleV1Unit>()->bn3);
    return out;
  }

 private:
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::array<torch::nn::ModuleList, 3> stages{torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr)};
  torch::nn::Linear linear{nullptr};
};

}  // namespace

std::shared_ptr<ZooNet> makeShuffleNetV1(const ZooArgs& args) { return std::make_shared<ShuffleNetV1>(args); }

}  // namespace rk
