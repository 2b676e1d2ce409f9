// The contract every trainable network meets (zoo models and imported TorchScript models alike), so the
// review head, the losses and the training engine can treat any teacher/student pair the same way.
#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

namespace rk {

struct ModelOutput {
  torch::Tensor logits;  // N x numClasses
  // The stage features, shallow to deep, stem excluded, followed by the globally pooled last feature
  // as an N x C x 1 x 1 map (docs/models.md lists each family's stages).
  std::vector<torch::Tensor> features;
};

class ZooModel : public torch::nn::Module {
 public:
  // Logits only (the deployable forward).
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // Logits and features in one pass. preact=true returns each stage feature before its final
  // activation, exactly as the spec describes per family; the pooled feature is always pooled from
  // the post-activation map.
  virtual ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) = 0;
  // The registry name, e.g. "resnet20", "wrn-40-2", or "torchscript".
  virtual std::string name() const = 0;
  // One BatchNorm per stage feature (shallow to deep, the pooled feature excluded): the one whose output
  // is that stage's pre-activation feature, or its last summand where the feature is a residual sum.
  // OFD reads their affine parameters for its margins. Empty: not known for this family.
  virtual std::vector<torch::nn::BatchNorm2d> featureBatchNorms() { return {}; }
};

}  // namespace rk
