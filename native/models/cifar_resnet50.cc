// ResNet50 for CIFAR (resnetv2_cifar.py / CRD resnetv2.py), the teacher of the VGG/MobileNet pairs:
// 3x3 stride-1 stem (conv1, bn1) without max-pool, bottleneck stages layer1..4 (3/4/6/3 blocks, widths
// 256/512/1024/2048 at 32/16/8/4 px) whose projections are named "shortcut", and "linear".
// Pre-activation features: each stage's last residual sum before ReLU.
#include "models/model_factories.h"
#include "models/residual_blocks.h"

namespace rk {

namespace {

class CifarResNet50 : public ZooNet {
 public:
  explicit CifarResNet50(const ZooArgs& args) : ZooNet(args.name, args.inChannels) {
    const int64_t planes[4] = {64, 128, 256, 512}, counts[4] = {3, 4, 6, 3};
    conv1 = register_module("conv1", layers::conv2d(args.inChannels, 64, 3, 1, 1));
    bn1 = register_module("bn1", layers::batchNorm(64));
    int64_t in = 64;
    for (int s = 0; s < 4; ++s) {
      stages[s] = register_module("layer" + std::to_string(s + 1),
                                  residualStage<BottleneckResidualBlock>(in, planes[s], counts[s], s == 0 ? 1 : 2, "shortcut"));
    }
    linear = register_module("linear", torch::nn::Linear(in, args.numClasses));
    layers::initConvHeFanOut(*this);
  }

  ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) override {
    return runResidualStages<BottleneckResidualBlock>(stages, batchNormRelu(*bn1, conv1(x)).out, preact, linear);
  }

  std::vector<torch::nn::BatchNorm2d> featureBatchNorms() override { return lastBlockBatchNorms<BottleneckResidualBlock>(stages); }

 private:
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::array<torch::nn::ModuleList, 4> stages{torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr),
                                              torch::nn::ModuleList(nullptr)};
  torch::nn::Linear linear{nullptr};
};

}  // namespace

std::shared_ptr<ZooNet> makeCifarResNet50(const ZooArgs& args) { return std::make_shared<CifarResNet50>(args); }

}  // namespace rk
