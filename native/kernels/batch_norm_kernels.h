// reviewkd's CPU kernels for BatchNorm (aten::native_batch_norm and aten::native_batch_norm_backward).
// Why: LibTorch's CPU BatchNorm accumulates in double and makes several passes; measured with PyTorch 2.13
// on the 2-core dev machine (2 threads), forward + backward of a 64 x 16 x 32 x 32 fp32 map takes 6.5 ms
// where an add of the same map takes 0.24 ms, and BatchNorm is ~40 % of a CIFAR student's step.
// These kernels make the minimum number of passes (forward: statistics, apply; backward: two sums, apply)
// with float inner sums over short runs and double sums across them.
//
// They are registered with the dispatcher for the CPU key, so every BatchNorm of the zoo models, the review
// head and the method plugins uses them without any call site changing, autograd included (the autograd
// kernel redispatches to the CPU kernel). What they do not cover falls through to LibTorch's own kernels:
// anything but 4-d float/bfloat16 maps that are NCHW- or channels-last-contiguous with float parameters,
// and evaluation mode (a single affine pass, which LibTorch already does well).
#pragma once

namespace rk {

/** Registers (true) or removes (false) the CPU BatchNorm kernels; removal restores LibTorch's. */
void setBatchNormKernels(bool on);

}  // namespace rk
