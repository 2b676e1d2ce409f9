// NST (Huang & Wang, "Like What You Like: Knowledge Distill via Neuron Selectivity Transfer", 2017)
// with the polynomial kernel k(x, y) = (x^T y)^2 (d = 2, c = 0). For each pair of stage maps (the
// pooled feature excluded), each channel's spatial map is one sample of a distribution: flattened to
// N x C x HW and L2-normalised over HW; per image,
//   MMD^2 = mean k(s_i, s_i') + mean k(t_j, t_j') - 2 mean k(s_i, t_j)   (means over channel pairs),
// averaged over the batch; "nst" sums MMD^2 over the stage pairs. (The paper writes the loss as
// lambda / 2 * MMD^2: the 1/2 belongs to the outer weight.) Maps of different spatial size are
// adaptive-average-pooled to the smaller size. When the networks have different numbers of stages,
// the deepest ones are paired (the last student stage with the last teacher stage, and so on).
#include "engine/terms/stage_features.h"
#include "engine/terms/term.h"
#include "engine/terms/term_checks.h"

namespace rk {

namespace {

namespace F = torch::nn::functional;

// Mean of (a_n b_n^T)^2 over the channel pairs and the batch.
torch::Tensor meanPolyKernel(const torch::Tensor& a, const torch::Tensor& b) { return torch::bmm(a, b.transpose(1, 2)).pow(2).mean(); }

torch::Tensor mmd2(const torch::Tensor& student, const torch::Tensor& teacher) {
  const auto [s, t] = poolToCommonSize(student, teacher);
  const auto opts = F::NormalizeFuncOptions().p(2).dim(2);
  const auto fs = F::normalize(s.flatten(2), opts), ft = F::normalize(t.flatten(2), opts);
  return meanPolyKernel(fs, fs) + meanPolyKernel(ft, ft) - 2 * meanPolyKernel(fs, ft);
}

class NstTerm : public LossTerm {
 public:
  NstTerm(const TermSetup& setup, const TermParams&) : studentShapes_(setup.studentShapes), teacherShapes_(setup.teacherShapes) {
    checkFeatureShapes("nst", setup.studentShapes, "student", 2);
    checkFeatureShapes("nst", setup.teacherShapes, "teacher", 2);
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"nst"}; }

  NamedLosses compute(const TermInput& in) override {
    checkFeaturePair("nst", in, studentShapes_, teacherShapes_);
    const size_t ns = studentShapes_.size() - 1, nt = teacherShapes_.size() - 1, pairs = std::min(ns, nt);
    torch::Tensor loss;
    for (size_t k = 0; k < pairs; ++k) {
      const auto term = mmd2(in.student.features[ns - pairs + k], in.teacher.features[nt - pairs + k].detach());
      loss = loss.defined() ? loss + term : term;
    }
    return {{"nst", loss}};
  }

 private:
  std::vector<FeatureShape> studentShapes_, teacherShapes_;
};

RK_REGISTER_TERM("nst", [](const TermSetup& s, const TermParams& p) { return std::make_unique<NstTerm>(s, p); });

}  // namespace

}  // namespace rk
