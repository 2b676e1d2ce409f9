// VGG with BatchNorm for CIFAR (CRD vgg.py, the *_bn variants): block{0..4} are Sequentials of
// [conv(bias), BN, ReLU]... without the final ReLU, so their indices (block1.0.weight, block1.1.running_mean,
// block1.3.weight, ...) match the reference; classifier is Linear(512, classes).
// Stage features: blocks 1..4 (block0 is the stem), post-ReLU; pre-activation = the block's last BN output.
#include "models/layers.h"
#include "models/model_factories.h"

namespace rk {

namespace {

torch::nn::Sequential vggBlock(const std::vector<int64_t>& widths, int64_t in) {
  torch::nn::Sequential block;
  for (size_t i = 0; i < widths.size(); ++i) {
    block->push_back(layers::conv2d(in, widths[i], 3, 1, 1, 1, /*bias=*/true));
    block->push_back(layers::batchNorm(widths[i]));
    // The ReLU modules take Sequential indices, as in the reference; the block's last one is dropped.
    if (i + 1 < widths.size()) block->push_back(torch::nn::ReLU());
    in = widths[i];
  }
  return block;
}

class Vgg : public ZooNet {
 public:
  Vgg(const ZooArgs& args, const std::vector<std::vector<int64_t>>& cfg) : ZooNet(args.name, args.inChannels) {
    int64_t in = args.inChannels;
    for (size_t b = 0; b < 5; ++b) {
      blocks[b] = register_module("block" + std::to_string(b), vggBlock(cfg[b], in));
      in = cfg[b].back();
    }
    classifier = register_module("classifier", torch::nn::Linear(in, args.numClasses));
    layers::initConvHeFanOut(*this);
    layers::initLinearNormal(*this, 0.01);
  }

  ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) override {
    ModelOutput result;
    const int64_t inputHeight = x.size(2);
    x = torch::max_pool2d(torch::relu(blocks[0]->forward(x)), 2, 2);
    for (size_t b = 1; b < 5; ++b) {
      auto pre = blocks[b]->forward(x);
      x = torch::relu(pre);
      result.features.push_back(preact ? pre : x);
      // Max-pool after blocks 1 and 2; after block 3 only for 64x64 and larger inputs (the reference
      // pools there only when the input is 64 high, keeping 4x4 maps for CIFAR).
      if (b == 1 || b == 2 || (b == 3 && inputHeight >= 64)) x = torch::max_pool2d(x, 2, 2);
    }
    auto pooled = layers::globalAvgPool(x);
    result.features.push_back(pooled);
    result.logits = classifier(pooled.flatten(1));
    return result;
  }

  // Each stage block's last BatchNorm: its output is the pre-activation feature.
  std::vector<torch::nn::BatchNorm2d> featureBatchNorms() override {
    std::vector<torch::nn::BatchNorm2d> out;
    for (size_t b = 1; b < 5; ++b) out.emplace_back(std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(blocks[b]->ptr(blocks[b]->size() - 1)));
    return out;
  }

 private:
  std::array<torch::nn::Sequential, 5> blocks{torch::nn::Sequential(nullptr), torch::nn::Sequential(nullptr), torch::nn::Sequential(nullptr),
                                              torch::nn::Sequential(nullptr), torch::nn::Sequential(nullptr)};
  torch::nn::Linear classifier{nullptr};
};

}  // namespace

std::shared_ptr<ZooNet> makeVgg(const ZooArgs& args, const std::vector<std::vector<int64_t>>& blocks) {
  if (blocks.size() != 5) throw std::invalid_argument("VGG needs 5 blocks of conv widths");
  return std::make_shared<Vgg>(args, blocks);
}

}  // namespace rk
