// HCL, the hierarchical context loss of ReviewKD (Chen et al., CVPR 2021, Sec. 3).
#pragma once
#include <vector>

#include <torch/torch.h>

namespace rk {

// The reference pyramid: 4x4, 2x2, 1x1 average-pooled levels after the full-resolution MSE.
inline const std::vector<int64_t> kHclLevels = {4, 2, 1};

// One pair: MSE at full resolution (weight 1), then for each level l, in order, skipped when l >= the
// map height, an MSE of adaptive-average-pooled l x l maps with a weight that halves over the levels
// actually used; the sum is divided by the total weight. An empty level list gives plain MSE.
torch::Tensor hclPair(const torch::Tensor& student, const torch::Tensor& teacher, const std::vector<int64_t>& levels = kHclLevels);

// Sum (not mean) of hclPair over aligned pairs. Throws JsRangeError naming the pair when the lists
// differ in length or a pair differs in shape (the reference would silently truncate).
torch::Tensor hcl(const std::vector<torch::Tensor>& students, const std::vector<torch::Tensor>& teachers,
                  const std::vector<int64_t>& levels = kHclLevels);

}  // namespace rk
