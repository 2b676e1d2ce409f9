// PKT (Passalis & Tefas, "Learning Deep Representations with Probabilistic Knowledge Transfer",
// ECCV 2018) on the pooled features (N x C), with the cosine-similarity kernel:
//   K[i, j] = (cos(e_i, e_j) + 1) / 2,  e normalised as e / (|e| + 1e-7);
//   P[i, j] = K[i, j] / sum_j K[i, j]   (conditional probabilities, one row per sample);
//   "pkt" = mean over the N^2 entries of P_t * log((P_t + 1e-7) / (P_s + 1e-7)).
// The paper's KL divergence sums over i, j; the mean (sum / N^2) keeps the loss independent of the
// batch size, which is what the usual outer weight (30000, mdistiller's) is calibrated for.
#include "engine/terms/term.h"
#include "engine/terms/term_checks.h"

namespace rk {

namespace {

constexpr double kEps = 1e-7;

torch::Tensor conditionalProbabilities(const torch::Tensor& e) {
  const auto u = e / (e.norm(2, 1, true) + kEps);
  const auto k = (u.mm(u.t()) + 1) / 2;
  return k / k.sum(1, true);
}

class PktTerm : public LossTerm {
 public:
  PktTerm(const TermSetup& setup, const TermParams&) : studentShapes_(setup.studentShapes), teacherShapes_(setup.teacherShapes) {
    checkPooledSetup("pkt", setup);
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"pkt"}; }

  NamedLosses compute(const TermInput& in) override {
    checkFeaturePair("pkt", in, studentShapes_, teacherShapes_);
    const auto ps = conditionalProbabilities(in.student.features.back().flatten(1));
    const auto pt = conditionalProbabilities(in.teacher.features.back().detach().flatten(1));
    return {{"pkt", (pt * ((pt + kEps) / (ps + kEps)).log()).mean()}};
  }

 private:
  std::vector<FeatureShape> studentShapes_, teacherShapes_;
};

RK_REGISTER_TERM("pkt", [](const TermSetup& s, const TermParams& p) { return std::make_unique<PktTerm>(s, p); });

}  // namespace

}  // namespace rk
