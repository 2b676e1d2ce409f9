#include "review/sum_fusion.h"

namespace rk {

namespace F = torch::nn::functional;

namespace {
torch::Tensor resizeNearest(const torch::Tensor& x, int64_t h, int64_t w) {
  if (x.size(2) == h && x.size(3) == w) return x;
  return F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kNearest));
}
}  // namespace

SumFusionImpl::SumFusionImpl(const std::vector<int64_t>& inChannels, int64_t midChannels, int64_t outChannels) {
  laterals = register_module("laterals", torch::nn::ModuleList());
  for (int64_t c : inChannels) {
    laterals->push_back(torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(c, midChannels, 1).bias(false)),
                                              torch::nn::BatchNorm2d(midChannels)));
  }
  conv2 = register_module("conv2", torch::nn::Sequential(
                                       torch::nn::Conv2d(torch::nn::Conv2dOptions(midChannels, outChannels, 3).padding(1).bias(false)),
                                       torch::nn::BatchNorm2d(outChannels)));
  // Same init as the ABF convs, so the ablation differs from ABF only in structure.
  torch::NoGradGuard noGrad;
  for (auto& lateral : *laterals) torch::nn::init::kaiming_uniform_(lateral->as<torch::nn::Sequential>()->ptr(0)->as<torch::nn::Conv2d>()->weight, 1.0);
  torch::nn::init::kaiming_uniform_(conv2[0]->as<torch::nn::Conv2d>()->weight, 1.0);
}

torch::Tensor SumFusionImpl::forward(const std::vector<torch::Tensor>& features, std::pair<int64_t, int64_t> outSize) {
  const int64_t h = features[0].size(2), w = features[0].size(3);
  torch::Tensor sum;
  for (size_t i = 0; i < features.size(); ++i) {
    torch::Tensor y = resizeNearest(laterals[i]->as<torch::nn::Sequential>()->forward(features[i]), h, w);
    sum = sum.defined() ? sum + y : y;
  }
  return conv2->forward(resizeNearest(sum, outSize.first, outSize.second));
}

}  // namespace rk
