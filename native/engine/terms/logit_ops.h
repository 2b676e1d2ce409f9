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

}  // namespace rk
