// KD (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015):
//   T^2 * KL(softmax(z_t / T) || softmax(z_s / T)), summed over classes, batch mean.
// With `standardize` (logit standardization, Sun et al., CVPR 2024) each sample's logits are first
// z-scored over the classes, teacher and student separately: (z - mean) / (std + 1e-7), unbiased std.
#include "engine/terms/logit_ops.h"
#include "engine/terms/term.h"
#include "engine/terms/term_checks.h"
#include "review/classic_losses.h"

namespace rk {

namespace {

class KdTerm : public LossTerm {
 public:
  KdTerm(const TermSetup&, const TermParams& p)
      : temperature_(p.number("temperature", 4.0, 1e-3, 1e3)), standardize_(p.boolean("standardize", false)) {}

  TermNeeds needs() const override { return {/*teacherLogits=*/true, /*features=*/false}; }
  std::vector<std::string> lossNames() const override { return {"kd"}; }
  NamedLosses compute(const TermInput& in) override {
    checkLogitPair("kd", in.student.logits, in.teacher.logits);
    torch::Tensor s = in.student.logits, t = in.teacher.logits;
    if (standardize_) {
      s = standardizeLogits(s);
      t = standardizeLogits(t);
    }
    return {{"kd", kdLoss(s, t, temperature_)}};
  }

 private:
  double temperature_;
  bool standardize_;
};

RK_REGISTER_TERM("kd", [](const TermSetup& s, const TermParams& p) { return std::make_unique<KdTerm>(s, p); });

}  // namespace

}  // namespace rk
