// A user's TorchScript module behind the ZooModel contract, so it trains and distills like a zoo model.
//
// Contract of the scripted module (see docs/models.md for the Python export snippet):
//   forward(x) -> Tuple[Tensor, List[Tensor]]: the logits (N x classes) and the stage features,
//   shallow to deep, with the pooled N x C x 1 x 1 feature last. A module whose forward returns a
//   single Tensor is accepted for forward() (logits only); asking it for features is an error.
//   An optional method forward_preact(x) with the same return type supplies pre-activation features.
//
// Its parameters and buffers are mirrored into this torch::nn::Module under the scripted names (the
// very same tensors, not copies), so the generic module handle (state dict, device moves, numParameters)
// and the optimizers see them; train()/eval() are forwarded to the scripted module.
#pragma once
#include <memory>
#include <string>

#include <torch/script.h>
#include <torch/torch.h>

#include "models/zoo_model.h"

namespace rk {

class TorchScriptModel : public ZooModel {
 public:
  // `source` (e.g. the file path) appears in error messages.
  TorchScriptModel(torch::jit::Module module, std::string source);

  torch::Tensor forward(torch::Tensor x) override;
  ModelOutput forwardWithFeatures(torch::Tensor x, bool preact) override;
  std::string name() const override { return "torchscript"; }
  void train(bool on = true) override;

  bool hasPreactMethod() const { return module_.find_method("forward_preact").has_value(); }
  const std::string& source() const { return source_; }

 private:
  void mirror(const std::string& dottedName, const torch::Tensor& t, bool isParameter);

  torch::jit::Module module_;
  std::string source_;
};

// Loads a TorchScript file (torch.jit.save output) onto `device`.
std::shared_ptr<TorchScriptModel> loadTorchScriptModel(const std::string& path, torch::Device device);

// Writes a small scripted CNN made in C++ (conv-BN-ReLU, strided conv, pooled features, linear head)
// that meets the contract above (or, with logitsOnly, whose forward returns the logits alone): the
// fixture of the TorchScript tests, which need no Python.
void saveTorchScriptFixture(const std::string& path, int64_t inChannels, int64_t numClasses, bool logitsOnly);

}  // namespace rk
