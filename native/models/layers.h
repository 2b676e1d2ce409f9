// Small building blocks shared by the zoo families: bias-free convolutions, BatchNorm, global pooling,
// channel shuffle and the reference initialisations. Kept as free functions so each family file reads
// like its PyTorch definition.
#pragma once
#include <cstdint>

#include <torch/torch.h>

namespace rk::layers {

// A 2-d convolution; bias-free by default because every zoo conv is followed by BatchNorm.
inline torch::nn::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
                                int64_t groups = 1, bool bias = false) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).groups(groups).bias(bias));
}

inline torch::nn::BatchNorm2d batchNorm(int64_t channels) { return torch::nn::BatchNorm2d(channels); }

// Global average pooling that keeps the map 4-d (N x C x 1 x 1): the review head consumes the pooled
// feature as a 1x1 map. At the reference input sizes it equals the references' fixed AvgPool2d(8/4/7).
inline torch::Tensor globalAvgPool(const torch::Tensor& x) { return torch::adaptive_avg_pool2d(x, {1, 1}); }

// ShuffleNet's channel shuffle: [N, g*c, H, W] -> view [N, g, c, H, W] -> swap g and c -> flatten.
inline torch::Tensor channelShuffle(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.view({n, groups, c / groups, h, w}).transpose(1, 2).reshape({n, c, h, w});
}

// (Called from constructors: modules(false), since the root is not yet owned by a shared_ptr.)
// Convolutions ~ N(0, 2 / (k*k*out)) (He, fan-out), BatchNorm weight 1 and bias 0: what the CIFAR
// references and torchvision's ResNet do (the references write it either as kaiming_normal_(fan_out)
// or as normal_(0, sqrt(2/n)) with n = k*k*out_channels, the same distribution).
inline void initConvHeFanOut(torch::nn::Module& root) {
  torch::NoGradGuard noGrad;
  for (const auto& m : root.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
}

// Linear layers ~ N(0, std) with zero bias (VGG and MobileNetV2 references use std 0.01).
inline void initLinearNormal(torch::nn::Module& root, double std) {
  torch::NoGradGuard noGrad;
  for (const auto& m : root.modules(false)) {
    if (auto* fc = m->as<torch::nn::Linear>()) {
      fc->weight.normal_(0.0, std);
      if (fc->bias.defined()) fc->bias.zero_();
    }
  }
}

// Zero biases of the linear layers only (the WRN reference keeps PyTorch's default weight init).
inline void zeroLinearBias(torch::nn::Module& root) {
  torch::NoGradGuard noGrad;
  for (const auto& m : root.modules(false)) {
    if (auto* fc = m->as<torch::nn::Linear>()) {
      if (fc->bias.defined()) fc->bias.zero_();
    }
  }
}

}  // namespace rk::layers
