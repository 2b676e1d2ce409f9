// BatchNorm, an optional residual add and ReLU as one CPU operator (issue #17): the tail of every
// residual block (relu(bn2(conv2(...)) + shortcut)) and every "conv, BN, ReLU" of the zoo.
// Composed from LibTorch's operators this is 4 passes over the map forward (statistics, affine, add,
// ReLU; 3 in evaluation mode) and 4 backward (ReLU mask, two BatchNorm sums, input gradient) plus the
// temporaries between them; fused it is 2 forward (1 in evaluation mode) and 2 backward.
//
// The result equals the composed one: the BatchNorm output is rounded to the map's dtype before the
// residual is added, as the separate operators do, so fp32 training mode gives the same bits and bf16
// the same roundings. Used only while the fused kernels are on (rk.setFusedKernels) and for what they
// cover (mapGeometry: CPU 4-d fp32/bf16 NCHW or channels-last maps, float parameters, a residual of the
// same shape, dtype and layout); everything else runs the composed operators.
#pragma once

#include <torch/torch.h>

namespace rk {

/** relu(bn(x) + residual), and the sum before the ReLU when it was asked for (else undefined). */
struct NormalizedActivation {
  torch::Tensor out;
  torch::Tensor sum;
};

/**
 * relu(bn(x) [+ residual]) with `bn` in its current mode: batch statistics in training mode (running
 * statistics and num_batches_tracked updated as BatchNorm2d::forward updates them), running statistics
 * in evaluation mode. Differentiable in x, bn's weight and bias, and residual; the gradients do not
 * depend on the thread count. `keepSum`: also return bn(x) + residual (the pre-activation feature).
 */
NormalizedActivation batchNormRelu(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, const torch::Tensor& residual = {}, bool keepSum = false);

/** Whether batchNormRelu would take the fused path for these tensors (false: the composed operators). */
bool batchNormReluFuses(const torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, const torch::Tensor& residual = {});

}  // namespace rk
