// The one place that lists the zoo: names, aliases, default sizes, feature shapes and constructors.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/model_factories.h"

namespace rk {

struct ModelEntry {
  std::string name;                  // canonical registry name
  std::vector<std::string> aliases;  // reference-code names that resolve here too
  std::string family;                // "cifar-resnet", "wrn", "vgg", ...
  std::string dataset;               // "cifar" (32x32 inputs) or "imagenet" (224x224)
  int64_t inputSize;                 // the reference input side
  int64_t defaultClasses;            // 100 for CIFAR models, 1000 for ImageNet models
  // [C, H, W] of each feature at inputSize: stages shallow to deep, then the pooled 1x1 feature.
  std::vector<std::array<int64_t, 3>> featureShapes;
  std::string preactNote;            // what preact changes for this family
  std::function<std::shared_ptr<ZooNet>(const ZooArgs&)> make;
};

// Every listed model, in a stable order (families in the order of the issue).
const std::vector<ModelEntry>& modelEntries();

// The entry for a name or alias; "wrn-D-W" resolves for any valid depth/width. Throws
// std::invalid_argument listing the closest names when nothing matches.
ModelEntry resolveModel(const std::string& name);

}  // namespace rk
