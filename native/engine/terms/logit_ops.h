// Small pieces shared by the logit terms (KD, DKD, DIST).
#pragma once
#include <torch/torch.h>

namespace rk {

// Logit standardization (Sun et al., CVPR 2024): per sample, (z - mean(z)) / (std(z) + 1e-7) over the
// classes, std unbiased.
inline torch::Tensor standardizeLogits(const torch::Tensor& z) {
  const auto mean = z.mean(1, /*keepdim=*/true);
  const auto std = z.std(1, /*unbiased=*/true, /*keepdim=*/true);
  return (z - mean) / (std + 1e-7);
}

// T^2 * KL(softmax(t / T) || softmax(s / T)), summed over classes, batch mean.
inline torch::Tensor softenedKl(const torch::Tensor& s, const torch::Tensor& t, double T) {
  namespace F = torch::nn::functional;
  const auto logP = F::log_softmax(s / T, 1);
  const auto logQ = F::log_softmax(t / T, 1);
  return F::kl_div(logP, logQ, F::KLDivFuncOptions().reduction(torch::kBatchMean).log_target(true)) * (T * T);
}

}  // namespace rk
