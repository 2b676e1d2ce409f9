#include "review/hcl.h"

#include "common/errors.h"

namespace rk {

namespace F = torch::nn::functional;

// The paper's pyramid: the MSE of the full maps plus the MSE of their average pools at each level (weights
// 1, 1/2, 1/4, ..., normalised by their sum). Average pooling is linear, so pool(fs) - pool(ft) equals
// pool(fs - ft): every level pools the one difference map, and a level whose bins nest in the previous
// level's (sizes divisible, e.g. 32x32 -> 4x4 -> 2x2 -> 1x1) pools that small map instead of the full one.
// Forward and backward then read the full-resolution maps about half as often as pooling fs and ft at every
// level did; the value is the same up to float rounding.
torch::Tensor hclPair(const torch::Tensor& fs, const torch::Tensor& ft, const std::vector<int64_t>& levels) {
  const torch::Tensor diff = fs - ft;
  torch::Tensor loss = diff.square().mean();
  const int64_t h = fs.size(2);  // the reference tests the height only
  double weight = 1.0, total = 1.0;
  // `coarsest` holds exact block means of the full map while `exact` (no overlapping adaptive bins so far).
  torch::Tensor coarsest = diff;
  bool exact = true;
  for (int64_t l : levels) {
    if (l >= h) continue;
    weight /= 2.0;
    const bool nests = exact && coarsest.size(2) % l == 0 && coarsest.size(3) % l == 0;
    const torch::Tensor& source = nests ? coarsest : diff;
    const torch::Tensor pooled = F::adaptive_avg_pool2d(source, F::AdaptiveAvgPool2dFuncOptions({l, l}));
    loss = loss + weight * pooled.square().mean();
    total += weight;
    exact = source.size(2) % l == 0 && source.size(3) % l == 0;
    coarsest = pooled;
  }
  return loss / total;
}

torch::Tensor hcl(const std::vector<torch::Tensor>& students, const std::vector<torch::Tensor>& teachers, const std::vector<int64_t>& levels) {
  if (students.size() != teachers.size()) {
    throw JsRangeError("hcl: " + std::to_string(students.size()) + " student maps but " + std::to_string(teachers.size()) +
                       " teacher maps; the lists must pair up one to one");
  }
  if (students.empty()) throw JsRangeError("hcl: the lists of maps are empty");
  torch::Tensor total;
  for (size_t k = 0; k < students.size(); ++k) {
    const auto& fs = students[k];
    const auto& ft = teachers[k];
    if (fs.dim() != 4 || fs.sizes() != ft.sizes()) {
      throw JsRangeError("hcl: pair " + std::to_string(k) + " has student shape " + c10::str(fs.sizes()) + " and teacher shape " +
                         c10::str(ft.sizes()) + "; each pair must be N x C x H x W of equal shape");
    }
    if (fs.device() != ft.device()) throw JsRangeError("hcl: pair " + std::to_string(k) + " mixes devices");
    const torch::Tensor pair = hclPair(fs, ft, levels);
    total = total.defined() ? total + pair : pair;
  }
  return total;
}

}  // namespace rk
