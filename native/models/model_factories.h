// Constructors of the built-in families, one per file; the registry maps names onto these.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/zoo_net.h"

namespace rk {

// Common arguments of every factory.
struct ZooArgs {
  std::string name;       // registry name, e.g. "resnet20"
  int64_t numClasses;     // logits size
  int64_t inChannels;     // input image channels
};

// CIFAR ResNet (ReviewKD resnet_cifar.py / CRD resnet.py): depth = 6n+2, widths = {stem, stage1..3}.
std::shared_ptr<ZooNet> makeCifarResNet(const ZooArgs& args, int64_t depth, std::array<int64_t, 4> widths);
// Wide ResNet (pre-activation, wide_resnet_cifar.py / wrn.py): depth = 6n+4, any widen factor.
std::shared_ptr<ZooNet> makeWideResNet(const ZooArgs& args, int64_t depth, int64_t widen);
// VGG with BatchNorm (CRD vgg.py): per block the conv widths, e.g. vgg8 = {{64},{128},{256},{512},{512}}.
std::shared_ptr<ZooNet> makeVgg(const ZooArgs& args, const std::vector<std::vector<int64_t>>& blocks);
// MobileNetV2 for 32x32 inputs (CRD mobilenetv2.py): expansion T and width multiplier.
std::shared_ptr<ZooNet> makeMobileNetV2(const ZooArgs& args, int64_t expansion, double widthMult);
// ShuffleNetV1 (g = 3, out planes 240/480/960, blocks 4/8/4).
std::shared_ptr<ZooNet> makeShuffleNetV1(const ZooArgs& args);
// ShuffleNetV2 net size 1.0 (116/232/464, conv to 1024).
std::shared_ptr<ZooNet> makeShuffleNetV2(const ZooArgs& args);
// ResNet50 for CIFAR (resnetv2_cifar.py): 3x3 stem, no max-pool, bottleneck stages 3/4/6/3.
std::shared_ptr<ZooNet> makeCifarResNet50(const ZooArgs& args);
// torchvision ResNet18/34/50.
std::shared_ptr<ZooNet> makeImageNetResNet(const ZooArgs& args, int64_t depth);
// The MobileNet (V1) of ReviewKD's ImageNet experiment.
std::shared_ptr<ZooNet> makeMobileNetV1(const ZooArgs& args);

}  // namespace rk
