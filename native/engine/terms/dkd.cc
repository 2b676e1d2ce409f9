// DKD (Zhao et al., "Decoupled Knowledge Distillation", CVPR 2022). With p = softmax(z / T) and g the
// label class:
//   TCKD = T^2 * KL(b_t || b_s),   b = [p_g, 1 - p_g]                   (target vs non-target mass)
//   NCKD = T^2 * KL(p^_t || p^_s), p^ = softmax(z / T - 1000 * onehot_g)  (the non-target classes)
// each summed over classes, batch mean; returned as alpha * TCKD ("tckd") and beta * NCKD ("nckd").
// The mask is subtracted after the temperature, so the target class is excluded exactly at any T.
// b is taken in log space (log p_g and logsumexp of the non-target logits), so 1 - p_g never
// underflows. The warm-up min(epoch / W, 1) is the Distiller's, not the term's.
// With `standardize`, both logits are z-scored per sample first (logit standardization, as in kd.cc).
#include "engine/terms/logit_ops.h"
#include "engine/terms/term.h"
#include "engine/terms/term_checks.h"

namespace rk {

namespace {

// KL(exp(logQ) || exp(logP)) summed over dim 1, batch mean.
torch::Tensor klBatchMean(const torch::Tensor& logP, const torch::Tensor& logQ) {
  namespace F = torch::nn::functional;
  return F::kl_div(logP, logQ, F::KLDivFuncOptions().reduction(torch::kBatchMean).log_target(true));
}

class DkdTerm : public LossTerm {
 public:
  DkdTerm(const TermSetup&, const TermParams& p)
      : alpha_(p.number("alpha", 1.0, 0.0, 1e6)),
        beta_(p.number("beta", 8.0, 0.0, 1e6)),
        temperature_(p.number("temperature", 4.0, 1e-3, 1e3)),
        standardize_(p.boolean("standardize", false)) {}

  TermNeeds needs() const override { return {/*teacherLogits=*/true, /*features=*/false}; }
  std::vector<std::string> lossNames() const override { return {"tckd", "nckd"}; }

  NamedLosses compute(const TermInput& in) override {
    checkLogitPair("dkd", in.student.logits, in.teacher.logits);
    checkLabels("dkd", in.labels, in.student.logits);
    torch::Tensor s = in.student.logits, t = in.teacher.logits.detach();
    if (standardize_) {
      s = standardizeLogits(s);
      t = standardizeLogits(t);
    }
    const double T = temperature_;
    // One-hot of the labels by comparison (no scatter/gather, so a bad label can never index out of range).
    const auto onehot = torch::arange(s.size(1), in.labels.options()).unsqueeze(0).eq(in.labels.unsqueeze(1)).to(s.scalar_type());
    const auto zs = s / T, zt = t / T;
    const auto nonTargetS = zs - 1000.0 * onehot, nonTargetT = zt - 1000.0 * onehot;
    // log b = [log p_g, log(1 - p_g)] = [z_g, logsumexp over the other classes] - logsumexp over all.
    auto logB = [&](const torch::Tensor& z, const torch::Tensor& nonTarget) {
      return torch::cat({(z * onehot).sum(1, true), nonTarget.logsumexp(1, true)}, 1) - z.logsumexp(1, true);
    };
    const auto tckd = klBatchMean(logB(zs, nonTargetS), logB(zt, nonTargetT)) * (T * T);
    const auto nckd = klBatchMean(nonTargetS.log_softmax(1), nonTargetT.log_softmax(1)) * (T * T);
    return {{"tckd", tckd * alpha_}, {"nckd", nckd * beta_}};
  }

 private:
  double alpha_, beta_, temperature_;
  bool standardize_;
};

RK_REGISTER_TERM("dkd", [](const TermSetup& s, const TermParams& p) { return std::make_unique<DkdTerm>(s, p); });

}  // namespace

}  // namespace rk
