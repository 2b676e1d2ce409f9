// The MobileNet (V1) of ReviewKD's ImageNet experiment (ImageNet/models/mobilenet.py, the OFD-style
// definition): model.0 = conv-BN-ReLU (3x3 stride 2, 32 ch), model.1..13 = depthwise-separable units
// (model.i.0 depthwise conv, .1 BN, .3 pointwise conv, .4 BN; ReLUs at .2 and .5), fc.
// Stage features: outputs of units 3, 5, 11 and 13 (128@56, 256@28, 512@14, 1024@7 at 224x224).
// The official code distills them before the final ReLU (preact=true); preact=false applies it.
#include "models/layers.h"
#include "models/model_factories.h"

namespace rk {

namespace {

// Registers children under the reference's Sequential indices (ReLUs have no parameters and keep
// their index free), so keys read model.1.0.weight, model.1.3.weight, ...
class ConvBnUnit : public torch::nn::Module {
 public:
  ConvBnUnit(int64_t in, int64_t out, int64_t stride)
      : conv(register_module("0", layers::conv2d(in, out, 3, stride, 1))), bn(register_module("1", layers::batchNorm(out))) {}
  torch::Tensor forwardPreact(const torch::Tensor& x) { return bn(conv(x)); }
  torch::nn::Conv2d conv;
  torch::nn::BatchNorm2d bn;
};

class DepthwiseSeparableUnit : public torch::nn::Module {
 public:
  DepthwiseSeparableUnit(int64_t in, int64_t out, int64_t stride)
      : depthwise(register_module("0", layers::conv2d(in, in, 3, stride, 1, in))),
        bnDepthwise(register_module("1", layers::batchNorm(in))),
        pointwise(register_module("3", layers::conv2d(in, out, 1))),
        bnPointwise(register_module("4", layers::batchNorm(out))) {}
  // The unit's output before its last ReLU.
  torch::Tensor forwardPreact(const torch::Tensor& x) { return bnPointwise(pointwise(torch::relu(bnDepthwise(depthwise(x))))); }
  torch::nn::Conv2d depthwise;
  torch::nn::BatchNorm2d bnDepthwise;
  torch::nn::Conv2d pointwise;
  torch::nn::BatchNorm2d bnPointwise;
};

class MobileNetV1 : public ZooNet {
 public:
  explicit MobileNetV1(const ZooArgs& args) : ZooNet(args.name, args.inChannels) {
    // (in, out, stride) of the 13 depthwise-separable units.
    const int64_t units[13][3] = {{32, 64, 1},   {64, 128, 2},  {128, 128, 1}, {128, 256, 2}, {256, 256, 1},  {256, 512, 2},  {512, 512, 1},
                                  {512, 512, 1}, {512, 512, 1}, {512, 512, 1}, {512, 512, 1}, {512, 1024, 2}, {1024, 1024, 1}};
    model->push_back(std::make_shared<ConvBnUnit>(args.inChannels, 32, 2));
    for (const auto& u : units) model->push_back(std::make_shared<DepthwiseSeparableUnit>(u[0], u[1], u[2]));
    register_module("model", model);
    fc = register_module("fc", torch::nn::Linear(1024, args.numClasses));
  }

  ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) override {
    ModelOutput result;
    x = torch::relu(model[0]->as<ConvBnUnit>()->forwardPreact(x));
    for (size_t i = 1; i < model->size(); ++i) {
      auto pre = model[i]->as<DepthwiseSeparableUnit>()->forwardPreact(x);
      x = torch::relu(pre);
      if (i == 3 || i == 5 || i == 11 || i == 13) result.features.push_back(preact ? pre : x);
    }
    auto pooled = layers::globalAvgPool(x);
    result.features.push_back(pooled);
    result.logits = fc(pooled.flatten(1));
    return result;
  }

  // The pointwise BatchNorm of units 3, 5, 11 and 13: its output is the pre-activation feature.
  std::vector<torch::nn::BatchNorm2d> featureBatchNorms() override {
    std::vector<torch::nn::BatchNorm2d> out;
    for (size_t i : {3, 5, 11, 13}) out.push_back(model[i]->as<DepthwiseSeparableUnit>()->bnPointwise);
    return out;
  }

 private:
  torch::nn::ModuleList model;
  torch::nn::Linear fc{nullptr};
};

}  // namespace

std::shared_ptr<ZooNet> makeMobileNetV1(const ZooArgs& args) { return std::make_shared<MobileNetV1>(args); }

}  // namespace rk
