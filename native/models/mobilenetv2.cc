// MobileNetV2 for 32x32 inputs (CRD mobilenetv2.py; "mobile_half" = expansion 6, width 0.5): conv1
// (3x3 stride 2), blocks.{0..6}.{i}.conv.{0..7} inverted residuals, conv2 (1x1 to 1280), classifier.0.
// Stage features: outputs of blocks 1, 2, 4 and 6 (16, 8, 4, 2 px): linear bottlenecks with no
// activation, so preact changes nothing. Pooled: the average of conv2's post-ReLU output.
#include "models/layers.h"
#include "models/model_factories.h"

namespace rk {

namespace {

// conv-BN-ReLU as a Sequential, so the names are conv1.0.weight, conv1.1.running_mean, ...
torch::nn::Sequential convBnRelu(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return torch::nn::Sequential(layers::conv2d(in, out, kernel, stride, kernel / 2), layers::batchNorm(out), torch::nn::ReLU());
}

class InvertedResidual : public torch::nn::Module {
 public:
  InvertedResidual(int64_t in, int64_t out, int64_t stride, int64_t expansion) : useResidual(stride == 1 && in == out) {
    const int64_t hidden = in * expansion;
    // The reference keeps the 1x1 expansion conv even when expansion == 1.
    conv = register_module("conv", torch::nn::Sequential(layers::conv2d(in, hidden, 1), layers::batchNorm(hidden), torch::nn::ReLU(),
                                                         layers::conv2d(hidden, hidden, 3, stride, 1, hidden), layers::batchNorm(hidden),
                                                         torch::nn::ReLU(), layers::conv2d(hidden, out, 1), layers::batchNorm(out)));
  }

  torch::Tensor forward(const torch::Tensor& x) { return useResidual ? x + conv->forward(x) : conv->forward(x); }

  bool useResidual;
  torch::nn::Sequential conv{nullptr};
};

class MobileNetV2 : public ZooNet {
 public:
  MobileNetV2(const ZooArgs& args, int64_t t, double width) : ZooNet(args.name, args.inChannels) {
    // (expansion, channels, repeats, stride) per block group, as in the reference.
    const int64_t setting[7][4] = {{1, 16, 1, 1}, {t, 24, 2, 1}, {t, 32, 3, 2}, {t, 64, 4, 2}, {t, 96, 3, 1}, {t, 160, 3, 2}, {t, 320, 1, 1}};
    int64_t in = static_cast<int64_t>(32 * width);
    conv1 = register_module("conv1", convBnRelu(args.inChannels, in, 3, 2));
    for (const auto& s : setting) {
      const int64_t out = static_cast<int64_t>(s[1] * width);
      torch::nn::ModuleList group;
      for (int64_t i = 0; i < s[2]; ++i) {
        group->push_back(std::make_shared<InvertedResidual>(in, out, i == 0 ? s[3] : 1, s[0]));
        in = out;
      }
      blocks->push_back(group);
    }
    register_module("blocks", blocks);
    const int64_t last = width > 1.0 ? static_cast<int64_t>(1280 * width) : 1280;
    conv2 = register_module("conv2", convBnRelu(in, last, 1, 1));
    classifier = register_module("classifier", torch::nn::Sequential(torch::nn::Linear(last, args.numClasses)));
    layers::initConvHeFanOut(*this);
    layers::initLinearNormal(*this, 0.01);
  }

  ModelOutput forwardWithFeatures(torch::Tensor x, bool /*preact: no activation to skip*/) override {
    ModelOutput result;
    x = conv1->forward(x);
    for (size_t g = 0; g < blocks->size(); ++g) {
      for (const auto& block : *blocks[g]->as<torch::nn::ModuleList>()) x = block->as<InvertedResidual>()->forward(x);
      if (g == 1 || g == 2 || g == 4 || g == 6) result.features.push_back(x);
    }
    auto pooled = layers::globalAvgPool(conv2->forward(x));
    result.features.push_back(pooled);
    result.logits = classifier->forward(pooled.flatten(1));
    return result;
  }

  // The last inverted residual's final BatchNorm (conv.7) in each feature group; where that block adds
  // its input, the feature is the BatchNorm's output plus the input (as for the ResNets).
  std::vector<torch::nn::BatchNorm2d> featureBatchNorms() override {
    std::vector<torch::nn::BatchNorm2d> out;
    for (size_t g : {1, 2, 4, 6}) {
      const auto& group = *blocks[g]->as<torch::nn::ModuleList>();
      const auto& conv = group.ptr(group.size() - 1)->as<InvertedResidual>()->conv;
      out.emplace_back(std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(conv->ptr(conv->size() - 1)));
    }
    return out;
  }

 private:
  torch::nn::Sequential conv1{nullptr};
  torch::nn::ModuleList blocks;
  torch::nn::Sequential conv2{nullptr};
  torch::nn::Sequential classifier{nullptr};
};

}  // namespace

std::shared_ptr<ZooNet> makeMobileNetV2(const ZooArgs& args, int64_t expansion, double widthMult) {
  return std::make_shared<MobileNetV2>(args, expansion, widthMult);
}

}  // namespace rk
