// RKD (Park et al., "Relational Knowledge Distillation", CVPR 2019) on the pooled features e (N x C),
// Huber loss l(x, y) (smooth L1, delta 1), averaged over all entries:
//   "rkd_distance" = distanceWeight * mean_ij l(d_s[i, j] / mu_s, d_t[i, j] / mu_t),
//     d[i, j] = |e_i - e_j| (squared distance clamped at 1e-12 before the root, diagonal 0),
//     mu = mean of the N(N-1) off-diagonal distances;
//   "rkd_angle" = angleWeight * mean_jik l(a_s[j, i, k], a_t[j, i, k]),
//     a[j, i, k] = <u_ji, u_jk>, u_ji = (e_i - e_j) / |e_i - e_j| (0 when i == j): the cosine of the
//     angle at e_j. The means run over all N^2 (N^3) entries, the degenerate ones being 0 for both
//     networks. Defaults 25 and 50 are the paper's.
#include "engine/terms/term.h"
#include "engine/terms/term_checks.h"

namespace rk {

namespace {

namespace F = torch::nn::functional;

// Pairwise distances divided by their off-diagonal mean.
torch::Tensor normalisedDistances(const torch::Tensor& e) {
  const int64_t n = e.size(0);
  const auto sq = e.pow(2).sum(1);
  const auto d2 = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * e.mm(e.t())).clamp_min(1e-12);
  const auto d = d2.sqrt() * (1 - torch::eye(n, e.options()));
  const auto mean = d.sum() / static_cast<double>(std::max<int64_t>(n * (n - 1), 1));
  return d / mean.clamp_min(1e-12);
}

// a[j, i, k]: cosine of the angle at e_j between e_i and e_k.
torch::Tensor angles(const torch::Tensor& e) {
  const auto u = F::normalize(e.unsqueeze(0) - e.unsqueeze(1), F::NormalizeFuncOptions().p(2).dim(2));
  return torch::bmm(u, u.transpose(1, 2));
}

class RkdTerm : public LossTerm {
 public:
  RkdTerm(const TermSetup& setup, const TermParams& p)
      : distanceWeight_(p.number("distanceWeight", 25.0, 0.0, 1e6)),
        angleWeight_(p.number("angleWeight", 50.0, 0.0, 1e6)),
        studentShapes_(setup.studentShapes),
        teacherShapes_(setup.teacherShapes) {
    checkPooledSetup("rkd", setup);
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"rkd_distance", "rkd_angle"}; }

  NamedLosses compute(const TermInput& in) override {
    checkFeaturePair("rkd", in, studentShapes_, teacherShapes_);
    const auto s = in.student.features.back().flatten(1), t = in.teacher.features.back().detach().flatten(1);
    const auto distance = F::smooth_l1_loss(normalisedDistances(s), normalisedDistances(t));
    const auto angle = F::smooth_l1_loss(angles(s), angles(t));
    return {{"rkd_distance", distance * distanceWeight_}, {"rkd_angle", angle * angleWeight_}};
  }

 private:
  double distanceWeight_, angleWeight_;
  std::vector<FeatureShape> studentShapes_, teacherShapes_;
};

RK_REGISTER_TERM("rkd", [](const TermSetup& s, const TermParams& p) { return std::make_unique<RkdTerm>(s, p); });

}  // namespace

}  // namespace rk
