#include "review/abf.h"

#include "kernels/attention_mix.h"
#include "kernels/fused_kernels.h"

namespace rk {

namespace F = torch::nn::functional;

ABFImpl::ABFImpl(const ABFOptions& options) : options_(options) {
  // Names follow the reference state_dict (conv1.0.weight, conv1.1.running_mean, att_conv.0.bias, ...)
  // so fusion weights saved from PyTorch load directly.
  conv1 = register_module("conv1", torch::nn::Sequential(
                                       torch::nn::Conv2d(torch::nn::Conv2dOptions(options.inChannels, options.midChannels, 1).bias(false)),
                                       torch::nn::BatchNorm2d(options.midChannels)));
  conv2 = register_module("conv2", torch::nn::Sequential(
                                       torch::nn::Conv2d(torch::nn::Conv2dOptions(options.midChannels, options.outChannels, 3).padding(1).bias(false)),
                                       torch::nn::BatchNorm2d(options.outChannels)));
  if (options.fuse && options.attention) {
    // PyTorch's default Conv2d init (which LibTorch shares) is kept for the attention conv.
    att_conv = register_module("att_conv", torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * options.midChannels, 2, 1)),
                                                                 torch::nn::Sigmoid()));
  }
  // kaiming_uniform(a=1): gain 1, bound sqrt(3 / fan_in), on the two main convs only (the reference's choice).
  torch::NoGradGuard noGrad;
  torch::nn::init::kaiming_uniform_(conv1[0]->as<torch::nn::Conv2d>()->weight, 1.0);
  torch::nn::init::kaiming_uniform_(conv2[0]->as<torch::nn::Conv2d>()->weight, 1.0);
}

namespace {

// The deeper residual is resized to this level's own size (H and W separately, so non-square maps work;
// for the reference's square maps this equals its `shape` argument). Legacy nearest, as PyTorch's "nearest".
torch::Tensor nearestResize(const torch::Tensor& residual, const torch::Tensor& x) {
  return F::interpolate(residual, F::InterpolateFuncOptions().size(std::vector<int64_t>{x.size(2), x.size(3)}).mode(torch::kNearest));
}

}  // namespace

torch::Tensor attentionMixComposed(const torch::Tensor& x, const torch::Tensor& residual, const torch::Tensor& weight, const torch::Tensor& bias) {
  const torch::Tensor y = nearestResize(residual, x);
  // Two independent sigmoid maps (not a softmax): weights for x and for y, broadcast over channels.
  // The 1x1 conv over cat([x, y]) has only 2 output channels. In NCHW, oneDNN's blocked layouts make
  // that convolution slow on CPU, so it is computed as two small matrix products, W[:, :mid]·x +
  // W[:, mid:]·y + b (the same function, without materialising the concatenation). In channels-last
  // the convolution itself is faster (measured: resnet32x4->resnet8x4 step +17%), so it is kept.
  torch::Tensor z;
  if (x.is_contiguous(torch::MemoryFormat::ChannelsLast) && !x.is_contiguous()) {
    z = torch::sigmoid(F::conv2d(torch::cat({x, y}, 1), weight, F::Conv2dFuncOptions().bias(bias)));
  } else {
    const int64_t n = x.size(0), mid = x.size(1), hw = x.size(2) * x.size(3);
    const torch::Tensor w = weight.view({2, 2 * mid});
    const torch::Tensor logits = torch::matmul(w.slice(1, 0, mid), x.reshape({n, mid, hw})) +
                                 torch::matmul(w.slice(1, mid, 2 * mid), y.reshape({n, mid, hw})) + bias.view({1, 2, 1});
    z = torch::sigmoid(logits).view({n, 2, x.size(2), x.size(3)});
  }
  return x * z.slice(1, 0, 1) + y * z.slice(1, 1, 2);
}

std::pair<torch::Tensor, torch::Tensor> ABFImpl::forward(const torch::Tensor& input, const std::optional<torch::Tensor>& residual,
                                                         const std::optional<std::pair<int64_t, int64_t>>& outSize) {
  torch::Tensor x = conv1->forward(input);
  if (options_.fuse) {
    TORCH_CHECK(residual.has_value() && residual->defined(), "ABF: this module fuses, so a residual from the deeper level is required");
    if (options_.attention) {
      const auto& conv = att_conv[0]->as<torch::nn::Conv2d>();
      // reviewkd's fused CPU kernel (one autograd function for resize + attention + mix) unless switched off;
      // the composition of LibTorch operators otherwise (CUDA, other dtypes, the switch off).
      x = fusedKernelsEnabled() && attentionMixApplies(x, *residual, conv->weight, conv->bias)
              ? attentionMix(x, *residual, conv->weight, conv->bias)
              : attentionMixComposed(x, *residual, conv->weight, conv->bias);
    } else {
      x = x + nearestResize(*residual, x);
    }
  } else {
    TORCH_CHECK(!residual.has_value() || !residual->defined(), "ABF: this module does not fuse (it is the deepest level), so it takes no residual");
  }
  if (outSize && (x.size(2) != outSize->first || x.size(3) != outSize->second)) {
    // Resize on the mid-channel fused map, before conv2; the resized map is also the residual passed down.
    x = F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{outSize->first, outSize->second}).mode(torch::kNearest));
  }
  return {conv2->forward(x), x};
}

}  // namespace rk
