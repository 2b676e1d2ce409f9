#include "review/classic_losses.h"

namespace rk {

namespace F = torch::nn::functional;

torch::Tensor crossEntropy(const torch::Tensor& logits, const torch::Tensor& targets, double labelSmoothing) {
  return F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().label_smoothing(labelSmoothing));
}

torch::Tensor kdLoss(const torch::Tensor& s, const torch::Tensor& t, double T) {
  const auto logP = F::log_softmax(s / T, 1);
  const auto logQ = F::log_softmax(t / T, 1);
  return F::kl_div(logP, logQ, F::KLDivFuncOptions().reduction(torch::kBatchMean).log_target(true)) * (T * T);
}

namespace {
torch::Tensor attentionMap(const torch::Tensor& f) {
  return F::normalize(f.pow(2).mean(1).view({f.size(0), -1}), F::NormalizeFuncOptions().dim(1));
}
}  // namespace

torch::Tensor attentionTransferLoss(const torch::Tensor& s, const torch::Tensor& t) {
  return (attentionMap(s) - attentionMap(t)).pow(2).mean();
}

HintRegressorImpl::HintRegressorImpl(int64_t inChannels, int64_t outChannels) {
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(inChannels, outChannels, 1)));
}

torch::Tensor HintRegressorImpl::forward(const torch::Tensor& x) { return conv->forward(x); }

torch::Tensor fitnetLoss(HintRegressorImpl& regressor, const torch::Tensor& s, const torch::Tensor& t) {
  return F::mse_loss(regressor.forward(s), t);
}

}  // namespace rk
