// The ABF attention mix as one CPU autograd function (issue #17): with y = nearest-resize(residual) to x's
// size and z = sigmoid(W·[x, y] + b) (2 maps),
//   out = x * z[:, 0:1] + y * z[:, 1:2].
// LibTorch composes this from ~10 operators (resize, cat, a 2-output 1x1 conv, sigmoid, broadcast muls,
// add; and as many in backward), each one a pass over N x C x H x W; here forward and backward are one
// pass each over tiles of pixels kept in cache.
#pragma once

#include <torch/torch.h>

namespace rk {

/**
 * The fused attention mix. x: N x C x H x W; residual: N x C x h x w (any h, w: resized inside with
 * PyTorch's legacy "nearest" rule); weight: the attention conv's [2, 2C, 1, 1] (fp32); bias: [2] (fp32).
 * x and residual: fp32 or bf16 (a residual of the other dtype is cast to x's first), each NCHW- or
 * channels-last-contiguous (others are made contiguous). Computes in fp32; returns x's dtype and memory format. Differentiable in all four inputs;
 * the gradients do not depend on the thread count (per-image partial sums, added in image order).
 * Misuse (shapes, dtypes, devices) throws c10::Error.
 */
torch::Tensor attentionMix(const torch::Tensor& x, const torch::Tensor& residual, const torch::Tensor& weight, const torch::Tensor& bias);

/** Whether attentionMix takes these tensors (CPU, non-empty 4-d fp32/bf16 maps, fp32 weight and bias). */
bool attentionMixApplies(const torch::Tensor& x, const torch::Tensor& residual, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace rk
