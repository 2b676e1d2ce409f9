// The model registry (timm-style): a name maps to an entry with its constructor and reference shapes.
#include "models/registry.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <stdexcept>

namespace rk {

namespace {

using Shapes = std::vector<std::array<int64_t, 3>>;

// Stages at 32, 16, 8 plus the pooled feature: the CIFAR ResNet / WRN layout.
Shapes threeStages(int64_t c1, int64_t c2, int64_t c3) { return {{c1, 32, 32}, {c2, 16, 16}, {c3, 8, 8}, {c3, 1, 1}}; }

// Stages at 56, 28, 14, 7 plus pooled: the ImageNet layout at 224x224.
Shapes imagenetStages(int64_t c1, int64_t c2, int64_t c3, int64_t c4) {
  return {{c1, 56, 56}, {c2, 28, 28}, {c3, 14, 14}, {c4, 7, 7}, {c4, 1, 1}};
}

const char* kResNetPreact = "pre-ReLU residual sum of each stage's last block";
const char* kWrnPreact = "the next BatchNorm applied to each block group's output, without ReLU";
const char* kVggPreact = "each block's last BatchNorm output, before its ReLU";
const char* kMnv2Preact = "none: stage outputs are linear bottlenecks (no activation), so preact gives the same maps";
const char* kShuffleV1Preact = "pre-ReLU output of each stage's last unit (residual sum)";
const char* kShuffleV2Preact = "each stage's last unit as concat(split half, bn3 output) before ReLU and before the shuffle";
const char* kMnv1Preact = "each stage's last pointwise BatchNorm output, before its ReLU";

ModelEntry cifarResNet(const std::string& name, int64_t depth, std::array<int64_t, 4> w) {
  return {name, {}, "cifar-resnet", "cifar", 32, 100, threeStages(w[1], w[2], w[3]), kResNetPreact,
          [depth, w](const ZooArgs& a) { return makeCifarResNet(a, depth, w); }};
}

ModelEntry wideResNet(int64_t depth, int64_t widen) {
  return {"wrn-" + std::to_string(depth) + "-" + std::to_string(widen), {"wrn_" + std::to_string(depth) + "_" + std::to_string(widen)}, "wrn", "cifar", 32, 100,
          threeStages(16 * widen, 32 * widen, 64 * widen), kWrnPreact,
          [depth, widen](const ZooArgs& a) { return makeWideResNet(a, depth, widen); }};
}

ModelEntry vgg(const std::string& name, std::vector<std::vector<int64_t>> cfg) {
  // At 32x32 the fourth max-pool is skipped (as in the reference), so stages 3 and 4 are both 4x4.
  return {name, {name + "_bn"}, "vgg", "cifar", 32, 100, {{128, 16, 16}, {256, 8, 8}, {512, 4, 4}, {512, 4, 4}, {512, 1, 1}}, kVggPreact,
          [cfg](const ZooArgs& a) { return makeVgg(a, cfg); }};
}

std::vector<ModelEntry> buildEntries() {
  std::vector<ModelEntry> e;
  for (int64_t depth : {8, 14, 20, 32, 44, 56, 110}) e.push_back(cifarResNet("resnet" + std::to_string(depth), depth, {16, 16, 32, 64}));
  e.push_back(cifarResNet("resnet8x4", 8, {32, 64, 128, 256}));
  e.push_back(cifarResNet("resnet32x4", 32, {32, 64, 128, 256}));
  for (auto [d, w] : std::vector<std::pair<int64_t, int64_t>>{{16, 1}, {16, 2}, {16, 4}, {28, 2}, {28, 10}, {40, 1}, {40, 2}, {40, 4}}) {
    e.push_back(wideResNet(d, w));
  }
  e.push_back(vgg("vgg8", {{64}, {128}, {256}, {512}, {512}}));
  e.push_back(vgg("vgg11", {{64}, {128}, {256, 256}, {512, 512}, {512, 512}}));
  e.push_back(vgg("vgg13", {{64, 64}, {128, 128}, {256, 256}, {512, 512}, {512, 512}}));
  e.push_back(vgg("vgg16", {{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}}));
  e.push_back(vgg("vgg19", {{64, 64}, {128, 128}, {256, 256, 256, 256}, {512, 512, 512, 512}, {512, 512, 512, 512}}));
  e.push_back({"mobilenetv2-0.5", {"mobile_half", "MobileNetV2"}, "mobilenetv2", "cifar", 32, 100,
               {{12, 16, 16}, {16, 8, 8}, {48, 4, 4}, {160, 2, 2}, {1280, 1, 1}}, kMnv2Preact,
               [](const ZooArgs& a) { return makeMobileNetV2(a, 6, 0.5); }});
  e.push_back({"mobilenetv2-1.0", {"mobilenetv2"}, "mobilenetv2", "cifar", 32, 100,
               {{24, 16, 16}, {32, 8, 8}, {96, 4, 4}, {320, 2, 2}, {1280, 1, 1}}, kMnv2Preact,
               [](const ZooArgs& a) { return makeMobileNetV2(a, 6, 1.0); }});
  e.push_back({"shufflenetv1", {"ShuffleV1", "shufflev1"}, "shufflenetv1", "cifar", 32, 100,
               {{240, 16, 16}, {480, 8, 8}, {960, 4, 4}, {960, 1, 1}}, kShuffleV1Preact, makeShuffleNetV1});
  e.push_back({"shufflenetv2", {"ShuffleV2", "shufflev2"}, "shufflenetv2", "cifar", 32, 100,
               {{116, 16, 16}, {232, 8, 8}, {464, 4, 4}, {1024, 1, 1}}, kShuffleV2Preact, makeShuffleNetV2});
  e.push_back({"cifar-resnet50", {"ResNet50"}, "cifar-resnet50", "cifar", 32, 100,
               {{256, 32, 32}, {512, 16, 16}, {1024, 8, 8}, {2048, 4, 4}, {2048, 1, 1}}, kResNetPreact, makeCifarResNet50});
  e.push_back({"resnet18", {}, "imagenet-resnet", "imagenet", 224, 1000, imagenetStages(64, 128, 256, 512), kResNetPreact,
               [](const ZooArgs& a) { return makeImageNetResNet(a, 18); }});
  e.push_back({"resnet34", {}, "imagenet-resnet", "imagenet", 224, 1000, imagenetStages(64, 128, 256, 512), kResNetPreact,
               [](const ZooArgs& a) { return makeImageNetResNet(a, 34); }});
  e.push_back({"resnet50", {}, "imagenet-resnet", "imagenet", 224, 1000, imagenetStages(256, 512, 1024, 2048), kResNetPreact,
               [](const ZooArgs& a) { return makeImageNetResNet(a, 50); }});
  e.push_back({"mobilenetv1", {"MobileNet"}, "mobilenetv1", "imagenet", 224, 1000, imagenetStages(128, 256, 512, 1024), kMnv1Preact,
               makeMobileNetV1});
  return e;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

const std::vector<ModelEntry>& modelEntries() {
  static const std::vector<ModelEntry> entries = buildEntries();
  return entries;
}

ModelEntry resolveModel(const std::string& name) {
  const auto& entries = modelEntries();
  // Exact names first, so the reference's "ResNet50" (CIFAR) and torchvision's "resnet50" both work.
  for (const auto& e : entries) {
    if (e.name == name) return e;
  }
  for (const auto& e : entries) {
    for (const auto& alias : e.aliases) {
      if (alias == name) return e;
    }
  }
  // Any WRN depth/width, e.g. "wrn-22-8" (or "wrn_22_8").
  static const std::regex wrnPattern(R"(wrn[-_](\d{1,4})[-_](\d{1,3}))", std::regex::icase);
  std::smatch m;
  if (std::regex_match(name, m, wrnPattern)) {
    const int64_t depth = std::stoll(m[1]), widen = std::stoll(m[2]);
    if (depth >= 10 && (depth - 4) % 6 == 0 && widen >= 1) return wideResNet(depth, widen);
    throw std::invalid_argument("'" + name + "' is not a valid Wide ResNet: the depth must be 6n+4 (10, 16, 22, 28, 40, ...) and the width >= 1");
  }
  const std::string wanted = lower(name);
  for (const auto& e : entries) {
    if (lower(e.name) == wanted) return e;
  }
  // Unknown: list the closest names.
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& e : entries) scored.emplace_back(editDistance(wanted, lower(e.name)), e.name);
  std::stable_sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::string closest;
  for (size_t i = 0; i < scored.size() && i < 3; ++i) closest += (i ? "', '" : "'") + scored[i].second;
  throw std::invalid_argument("unknown model '" + name + "'; closest names: " + closest + "'. rk.models.list() lists them all");
}

}  // namespace rk
