#include "engine/augment.h"

namespace rk {

torch::Tensor normalizeBatch(const torch::Tensor& images, const std::vector<double>& mean, const std::vector<double>& std) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(images.device());
  const int64_t c = images.size(1);
  const auto m = torch::tensor(mean, torch::TensorOptions().dtype(torch::kFloat64)).to(opts).view({1, c, 1, 1});
  const auto s = torch::tensor(std, torch::TensorOptions().dtype(torch::kFloat64)).to(opts).view({1, c, 1, 1});
  return (images.to(torch::kFloat32) / 255.0 - m) / s;
}

namespace {

// One random crop box per sample, expressed as the affine map from output to input coordinates
// (normalised to [-1, 1]), then sampled bilinearly: the whole batch in two kernels.
torch::Tensor randomResizedCrop(const torch::Tensor& images, const AugmentOptions& o, std::optional<at::Generator> gen) {
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(images.device());
  const torch::Tensor area = o.scaleMin + (o.scaleMax - o.scaleMin) * at::rand({n}, gen, f32);
  const torch::Tensor logRatio = std::log(o.ratioMin) + (std::log(o.ratioMax) - std::log(o.ratioMin)) * at::rand({n}, gen, f32);
  const torch::Tensor ratio = logRatio.exp();  // width / height of the crop, relative to the image's
  // Crop sides as fractions of the image's sides; clamped so the box always fits (torchvision retries
  // instead, then falls back to a centre crop).
  const torch::Tensor cw = (area * ratio).sqrt().clamp_max(1.0);
  const torch::Tensor ch = (area / ratio).sqrt().clamp_max(1.0);
  const torch::Tensor cx = (2 * at::rand({n}, gen, f32) - 1) * (1 - cw);
  const torch::Tensor cy = (2 * at::rand({n}, gen, f32) - 1) * (1 - ch);
  const torch::Tensor zero = torch::zeros({n}, f32);
  const torch::Tensor theta = torch::stack({torch::stack({cw, zero, cx}, 1), torch::stack({zero, ch, cy}, 1)}, 1);  // n x 2 x 3
  const torch::Tensor grid = torch::nn::functional::affine_grid(theta, {n, images.size(1), h, w}, /*align_corners=*/false);
  return torch::nn::functional::grid_sample(images.to(torch::kFloat32), grid,
                                            torch::nn::functional::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
}

}  // namespace

torch::Tensor augmentBatch(const torch::Tensor& images, const AugmentOptions& o, std::optional<at::Generator> gen) {
  torch::Tensor x = images;
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // Random draws are made on the images' device (the generator must live there too): no host round trip.
  const auto intOpts = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  if (o.randomResizedCrop) {
    x = randomResizedCrop(x, o, gen);  // float, still in pixel units
  } else if (o.padding > 0) {
    // Pad with zeros, then pick one crop offset per sample and gather rows, then columns.
    const int64_t p = o.padding;
    const torch::Tensor padded = torch::constant_pad_nd(x, {p, p, p, p}, 0);
    const torch::Tensor oy = at::randint(2 * p + 1, {n, 1}, gen, intOpts);
    const torch::Tensor ox = at::randint(2 * p + 1, {n, 1}, gen, intOpts);
    const torch::Tensor rows = oy + torch::arange(h, intOpts);  // n x h
    const torch::Tensor cols = ox + torch::arange(w, intOpts);  // n x w
    x = padded.gather(2, rows.view({n, 1, h, 1}).expand({n, c, h, w + 2 * p}));
    x = x.gather(3, cols.view({n, 1, 1, w}).expand({n, c, h, w}));
  }
  if (o.flip) {
    const torch::Tensor flipMask = at::rand({n}, gen, torch::TensorOptions().dtype(torch::kFloat32).device(x.device())) < 0.5;
    x = torch::where(flipMask.view({n, 1, 1, 1}), x.flip({3}), x);
  }
  return normalizeBatch(x, o.mean, o.std);
}

}  // namespace rk
