// torchvision's ResNet18/34/50 with its parameter names: conv1 (7x7 stride 2), bn1, max-pool,
// layer1..4.{i}.{conv1,bn1,conv2,bn2[,conv3,bn3],downsample.{0,1}}, fc. Weights exported from
// torchvision (state_dict -> safetensors) load unchanged.
// Features: each stage's last block output at 56/28/14/7 px for 224x224 inputs. preact=false gives the
// post-ReLU maps, which is what the official ReviewKD ImageNet code effectively distills (its in-place
// ReLU overwrites the pre-activation); preact=true gives the true pre-ReLU residual sums.
#include "models/model_factories.h"
#include "models/residual_blocks.h"

namespace rk {

namespace {

template <typename Block>
class ImageNetResNet : public ZooNet {
 public:
  ImageNetResNet(const ZooArgs& args, std::array<int64_t, 4> counts) : ZooNet(args.name, args.inChannels) {
    conv1 = register_module("conv1", layers::conv2d(args.inChannels, 64, 7, 2, 3));
    bn1 = register_module("bn1", layers::batchNorm(64));
    int64_t in = 64;
    const int64_t planes[4] = {64, 128, 256, 512};
    for (int s = 0; s < 4; ++s) {
      stages[s] = register_module("layer" + std::to_string(s + 1), residualStage<Block>(in, planes[s], counts[s], s == 0 ? 1 : 2, "downsample"));
    }
    fc = register_module("fc", torch::nn::Linear(in, args.numClasses));
    layers::initConvHeFanOut(*this);
  }

  ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) override {
    return runResidualStages<Block>(stages, torch::max_pool2d(batchNormRelu(*bn1, conv1(x)).out, 3, 2, 1), preact, fc);
  }

  std::vector<torch::nn::BatchNorm2d> featureBatchNorms() override { return lastBlockBatchNorms<Block>(stages); }

 private:
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::array<torch::nn::ModuleList, 4> stages{torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr), torch::nn::ModuleList(nullptr),
                                              torch::nn::ModuleList(nullptr)};
  torch::nn::Linear fc{nullptr};
};

}  // namespace

std::shared_ptr<ZooNet> makeImageNetResNet(const ZooArgs& args, int64_t depth) {
  switch (depth) {
    case 18: return std::make_shared<ImageNetResNet<BasicResidualBlock>>(args, std::array<int64_t, 4>{2, 2, 2, 2});
    case 34: return std::make_shared<ImageNetResNet<BasicResidualBlock>>(args, std::array<int64_t, 4>{3, 4, 6, 3});
    case 50: return std::make_shared<ImageNetResNet<BottleneckResidualBlock>>(args, std::array<int64_t, 4>{3, 4, 6, 3});
    default: throw std::invalid_argument("ImageNet ResNet depth must be 18, 34 or 50; got " + std::to_string(depth));
  }
}

}  // namespace rk
