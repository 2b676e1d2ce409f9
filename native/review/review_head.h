// The review head: the student-side modules that turn student stage features into predictions of the
// teacher's features (Chen et al., CVPR 2021, Sec. 3). The default variant is the paper's final
// design: a residual chain of ABFs run deep to shallow. The other variants are the ablations of
// the paper's Fig. 2 and its ablation study, so that table can be reproduced.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "review/abf.h"
#include "review/sum_fusion.h"

namespace rk {

struct LevelShape {
  int64_t channels, height, width;
};

enum class ReviewVariant {
  Residual,     // Fig. 2d: ABF residual chain (the paper's method)
  NoAttention,  // residual chain, fusion by plain sum (RM + RLF without ABF)
  NoResidual,   // Fig. 2b: per teacher level, the deeper student levels fused by 1x1 conv + BN, resize, sum
  Naive,        // Fig. 2a: every student level against every same-or-shallower teacher level, own transform
};

std::optional<ReviewVariant> parseReviewVariant(const std::string& name);

struct ReviewHeadOptions {
  std::vector<LevelShape> student;  // shallow -> deep, the pooled 1x1 feature last
  std::vector<LevelShape> teacher;  // shallow -> deep, aligned with student
  std::optional<int64_t> midChannels;  // default min(512, channels of the deepest student level)
  ReviewVariant variant = ReviewVariant::Residual;
};

class ReviewHeadImpl : public torch::nn::Module {
 public:
  explicit ReviewHeadImpl(ReviewHeadOptions options);

  // Student features shallow -> deep. Returns one prediction per entry of targets(), each shaped like
  // the teacher feature it is compared with.
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& studentFeatures);
  // Throws JsRangeError naming the first feature whose count or shape differs from the build shapes.
  void checkInputs(const std::vector<torch::Tensor>& studentFeatures) const;
  // The teacher level each output of forward() is compared with (0 = shallowest).
  const std::vector<int64_t>& targets() const { return targets_; }
  int64_t midChannels() const { return mid_; }
  const ReviewHeadOptions& options() const { return options_; }

 private:
  ReviewHeadOptions options_;
  int64_t mid_;
  std::vector<int64_t> targets_;
  torch::nn::ModuleList abfs{nullptr};      // Residual/NoAttention: abfs.0 is the deepest (no fusion); Naive: one per pair
  torch::nn::ModuleList fusions{nullptr};   // NoResidual: one per teacher level
  std::vector<std::pair<int64_t, int64_t>> naivePairs_;  // Naive: (student level, teacher level) per ABF
};
TORCH_MODULE(ReviewHead);

}  // namespace rk
