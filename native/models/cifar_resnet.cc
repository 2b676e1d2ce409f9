// CIFAR ResNet (resnet8...resnet110, resnet8x4, resnet32x4) with the parameter names of the ReviewKD
// resnet_cifar.py / CRD resnet.py: conv1, bn1, layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2,downsample.{0,1}}, fc.
// Stage features: the last BasicBlock's output of each stage; pre-activation = its residual sum
// before the ReLU (the teacher's features in the paper's CIFAR code).
#include "models/model_factories.h"
#include "models/residual_blocks.h"

namespace rk {

namespace {

class CifarResNet : public ZooNet {
 public:
  CifarResNet(const ZooArgs& args, int64_t depth, std::array<int64_t, 4> widths) : ZooNet(args.name, args.inChannels) {
    const int64_t blocksPerStage = (depth - 2) / 6;
    conv1 = register_module("conv1", layers::conv2d(args.inChannels, widths[0], 3, 1, 1));
    bn1 = register_module("bn1", layers::batchNorm(widths[0]));
    int64_t in = widths[0];
    for (int s = 0; s < 3; ++s) {
      stages[s] = register_module("layer" + std::to_string(s + 1),
                                  residualStage<BasicResidualBlock>(in, widths[s + 1], blocksPerStage, s == 0 ? 1 : 2, "downsample"));
    }
    fc = register_module("fc", torch::nn::Linear(widths[3], args.numClasses));
    layers::initConvHeFanOut(*this);
  }

  ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) override {
    return runResidualStages<BasicResidualBlock>(stages, batchNormRelu(*bn1, conv1(x)).out, preact, fc);
  }

  std::vector<torch::nn::BatchNorm2d> featureBatchNorms() override { return lastBlockBatchNorms<BasicResidualBlock>(stages); }

 private:
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::array<torch::nn::ModuleList, 3> stages{torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr)};
  torch::nn::Linear fc{nullptr};
};

}  // namespace

std::shared_ptr<ZooNet> makeCifarResNet(const ZooArgs& args, int64_t depth, std::array<int64_t, 4> widths) {
  if (depth < 8 || (depth - 2) % 6 != 0) throw std::invalid_argument("CIFAR ResNet depth must be 6n+2 with n >= 1; got " + std::to_string(depth));
  return std::make_shared<CifarResNet>(args, depth, widths);
}

}  // namespace rk
