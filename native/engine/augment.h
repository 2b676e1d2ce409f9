// On-device input pipeline for uint8 image batches: the reference CIFAR augmentation (random crop with
// zero padding, horizontal flip) and per-channel normalisation, vectorised over the batch so it runs as
// a handful of kernels on CPU or GPU with no per-sample loop and no host sync.
#pragma once
#include <optional>
#include <vector>

#include <torch/torch.h>

namespace rk {

struct AugmentOptions {
  int64_t padding = 4;   // zero padding on every side before the random crop (0 disables the crop)
  bool flip = true;      // horizontal flip with probability 1/2
  std::vector<double> mean;  // per channel, in [0, 1] units
  std::vector<double> std;
};

// images: N x C x H x W uint8 (any device). Returns float32 N x C x H x W, normalised. `generator`
// drives the crop offsets and flips (a dedicated generator keeps runs reproducible and resumable).
torch::Tensor augmentBatch(const torch::Tensor& images, const AugmentOptions& options, std::optional<at::Generator> generator);

// Normalisation only (evaluation).
torch::Tensor normalizeBatch(const torch::Tensor& images, const std::vector<double>& mean, const std::vector<double>& std);

}  // namespace rk
