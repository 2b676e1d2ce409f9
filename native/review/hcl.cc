#include "review/hcl.h"

#include "common/errors.h"

namespace rk {

namespace F = torch::nn::functional;

torch::Tensor hclPair(const torch::Tensor& fs, const torch::Tensor& ft, const std::vector<int64_t>& levels) {
  torch::Tensor loss = F::mse_loss(fs, ft);
  const int64_t h = fs.size(2);  // the reference tests the height only
  double weight = 1.0, total = 1.0;
  for (int64_t l : levels) {
    if (l >= h) continue;
    weight /= 2.0;
    const auto pool = F::AdaptiveAvgPool2dFuncOptions({l, l});
    loss = loss + weight * F::mse_loss(F::adaptive_avg_pool2d(fs, pool), F::adaptive_avg_pool2d(ft, pool));
    total += weight;
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
