// SP, similarity-preserving KD (Tung & Mori, ICCV 2019), on the last stage map before pooling
// (features[size - 2]), flattened to f: N x CHW. G = f f^T (N x N), each row L2-normalised
// (row / max(|row|, 1e-12)); "sp" = |G_s - G_t|_F^2 / N^2 (the paper's 1 / b^2 normalisation).
// Student and teacher maps may differ in C, H and W: only the batch size must match.
#include "engine/terms/term.h"
#include "engine/terms/term_checks.h"

namespace rk {

namespace {

namespace F = torch::nn::functional;

torch::Tensor similarity(const torch::Tensor& map) {
  const auto f = map.flatten(1);
  return F::normalize(f.mm(f.t()), F::NormalizeFuncOptions().p(2).dim(1));
}

class SpTerm : public LossTerm {
 public:
  SpTerm(const TermSetup& setup, const TermParams&) : studentShapes_(setup.studentShapes), teacherShapes_(setup.teacherShapes) {
    checkFeatureShapes("sp", setup.studentShapes, "student", 2);
    checkFeatureShapes("sp", setup.teacherShapes, "teacher", 2);
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"sp"}; }

  NamedLosses compute(const TermInput& in) override {
    checkFeaturePair("sp", in, studentShapes_, teacherShapes_);
    const auto& fs = in.student.features, &ft = in.teacher.features;
    const auto gs = similarity(fs[fs.size() - 2]), gt = similarity(ft[ft.size() - 2].detach());
    const double n = static_cast<double>(gs.size(0));
    return {{"sp", (gs - gt).pow(2).sum() / std::max(n * n, 1.0)}};
  }

 private:
  std::vector<FeatureShape> studentShapes_, teacherShapes_;
};

RK_REGISTER_TERM("sp", [](const TermSetup& s, const TermParams& p) { return std::make_unique<SpTerm>(s, p); });

}  // namespace

}  // namespace rk
