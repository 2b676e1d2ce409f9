// The fusion of the "review mechanism without residual learning" ablation (Chen et al., CVPR 2021, Fig. 2b,
// and the reproduction's "RM only" row): for one teacher level, every same-or-deeper student feature goes
// through its own 1x1 conv + BN, is nearest-resized to the shallowest of them, and the maps are summed;
// the sum is resized to the teacher's size and a 3x3 conv + BN maps it to the teacher's channels.
#pragma once
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace rk {

class SumFusionImpl : public torch::nn::Module {
 public:
  SumFusionImpl(const std::vector<int64_t>& inChannels, int64_t midChannels, int64_t outChannels);
  // features: the student features of this level and all deeper ones, shallow -> deep.
  torch::Tensor forward(const std::vector<torch::Tensor>& features, std::pair<int64_t, int64_t> outSize);

 private:
  torch::nn::ModuleList laterals{nullptr};
  torch::nn::Sequential conv2{nullptr};
};
TORCH_MODULE(SumFusion);

}  // namespace rk
