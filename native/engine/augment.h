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
  // Random-resized crop (the ImageNet/image-folder training transform), instead of the padded crop:
  // a crop of area fraction in [scaleMin, scaleMax] and aspect ratio in [ratioMin, ratioMax] (log-uniform),
  // resized back to the input size with bilinear sampling.
  bool randomResizedCrop = false;
  double scaleMin = 0.08, scaleMax = 1.0, ratioMin = 3.0 / 4.0, ratioMax = 4.0 / 3.0;
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
