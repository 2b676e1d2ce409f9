// ReviewKD (Chen et al., "Distilling Knowledge via Knowledge Review", CVPR 2021): the review head (a
// residual chain of attention-based fusion modules, run deep to shallow) maps the student's stage
// features onto the teacher's; the hierarchical context loss (HCL) compares them (Sec. 3 of
// the paper). Loss name "hcl".
#include "common/errors.h"
#include "engine/autocast_scope.h"
#include "engine/terms/term.h"
#include "review/hcl.h"
#include "review/review_head.h"

namespace rk {

namespace {

std::vector<LevelShape> levels(const std::vector<FeatureShape>& shapes, const char* who) {
  std::vector<LevelShape> out;
  for (const auto& s : shapes) {
    if (s.size() != 3) throw JsRangeError(std::string("term 'reviewkd': each ") + who + " feature shape must be [C, H, W]");
    out.push_back({s[0], s[1], s[2]});
  }
  return out;
}

class ReviewKdTerm : public LossTerm {
 public:
  ReviewKdTerm(const TermSetup& setup, const TermParams& p) {
    ReviewHeadOptions o;
    o.student = levels(setup.studentShapes, "student");
    o.teacher = levels(setup.teacherShapes, "teacher");
    if (o.student.size() != o.teacher.size()) {
      throw JsRangeError("term 'reviewkd': the review head pairs features level by level, but the student gives " + std::to_string(o.student.size()) +
                         " and the teacher " + std::to_string(o.teacher.size()));
    }
    const int64_t mid = p.integer("midChannels", 0, 0, 1 << 16);
    if (mid > 0) o.midChannels = mid;
    const std::string variant = p.string("variant", "residual");
    const auto v = parseReviewVariant(variant);
    if (!v) throw JsRangeError("term 'reviewkd': parameter 'variant' must be 'residual', 'no-attention', 'no-residual' or 'naive'; got '" + variant + "'");
    o.variant = *v;
    for (double l : p.numbers("hclLevels", {kHclLevels.begin(), kHclLevels.end()})) {
      if (l < 1 || std::floor(l) != l) throw JsRangeError("term 'reviewkd': parameter 'hclLevels' must hold positive integers");
      hclLevels_.push_back(static_cast<int64_t>(l));
    }
    head_ = std::make_shared<ReviewHeadImpl>(o);
    head_->to(setup.device);
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"hcl"}; }
  std::shared_ptr<torch::nn::Module> module() override { return head_; }

  NamedLosses compute(const TermInput& in) override {
    head_->train(true);
    head_->checkInputs(in.student.features);  // sizes only: no device work
    // The head runs (and gets its zero-weighted gradients and weight decay) even while the warm-up
    // factor is 0, as in the reference code.
    std::vector<torch::Tensor> predictions;
    {
      AutocastScope autocast(in.autocastBf16, in.student.logits.device().type());
      predictions = head_->forward(in.student.features);
    }
    for (auto& p : predictions) p = fp32(p);
    std::vector<torch::Tensor> targets;
    for (int64_t j : head_->targets()) targets.push_back(in.teacher.features.at(static_cast<size_t>(j)));
    return {{"hcl", hcl(predictions, targets, hclLevels_)}};
  }

 private:
  std::shared_ptr<ReviewHeadImpl> head_;
  std::vector<int64_t> hclLevels_;
};

RK_REGISTER_TERM("reviewkd", [](const TermSetup& s, const TermParams& p) { return std::make_unique<ReviewKdTerm>(s, p); });

}  // namespace

}  // namespace rk
