#include "engine/augment.h"

namespace rk {

torch::Tensor normalizeBatch(const torch::Tensor& images, const std::vector<double>& mean, const std::vector<double>& std) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(images.device());
  const int64_t c = images.size(1);
  const auto m = torch::tensor(mean, torch::TensorOptions().dtype(torch::kFloat64)).to(opts).view({1, c, 1, 1});
  const auto s = torch::tensor(std, torch::TensorOptions().dtype(torch::kFloat64)).to(opts).view({1, c, 1, 1});
  return (images.to(torch::kFloat32) / 255.0 - m) / s;
}

torch::Tensor augmentBatch(const torch::Tensor& images, const AugmentOptions& o, std::optional<at::Generator> gen) {
  torch::Tensor x = images;
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // Random draws are made on the images' device (the generator must live there too): no host round trip.
  const auto intOpts = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  if (o.padding > 0) {
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
