// DIST (Huang et al., "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022): match relations
// of the predictions instead of the predictions. With p = softmax(z / T) (N x classes) and
// rho(u, v) = <u - mean u, v - mean v> / (|u - mean u| |v - mean v| + 1e-8) (Pearson correlation):
//   "dist_inter" = beta  * T^2 * (1 - mean over samples i of rho(p_s[i, :], p_t[i, :]))
//   "dist_intra" = gamma * T^2 * (1 - mean over classes c of rho(p_s[:, c], p_t[:, c]))
// The paper uses T = 1 on ImageNet and T = 4 on CIFAR-100; the default here is 4.
#include "engine/terms/term.h"
#include "engine/terms/term_checks.h"

namespace rk {

namespace {

// Pearson correlation of u and v along `dim`, one value per slice.
torch::Tensor pearson(const torch::Tensor& u, const torch::Tensor& v, int64_t dim) {
  const auto du = u - u.mean(dim, true), dv = v - v.mean(dim, true);
  return (du * dv).sum(dim) / (du.norm(2, dim) * dv.norm(2, dim) + 1e-8);
}

class DistTerm : public LossTerm {
 public:
  DistTerm(const TermSetup&, const TermParams& p)
      : beta_(p.number("beta", 1.0, 0.0, 1e6)), gamma_(p.number("gamma", 1.0, 0.0, 1e6)), temperature_(p.number("temperature", 4.0, 1e-3, 1e3)) {}

  TermNeeds needs() const override { return {/*teacherLogits=*/true, /*features=*/false}; }
  std::vector<std::string> lossNames() const override { return {"dist_inter", "dist_intra"}; }

  NamedLosses compute(const TermInput& in) override {
    checkLogitPair("dist", in.student.logits, in.teacher.logits);
    const double T = temperature_;
    const auto ps = (in.student.logits / T).softmax(1), pt = (in.teacher.logits.detach() / T).softmax(1);
    const auto inter = (1 - pearson(ps, pt, 1).mean()) * (T * T);
    const auto intra = (1 - pearson(ps, pt, 0).mean()) * (T * T);
    return {{"dist_inter", inter * beta_}, {"dist_intra", intra * gamma_}};
  }

 private:
  double beta_, gamma_, temperature_;
};

RK_REGISTER_TERM("dist", [](const TermSetup& s, const TermParams& p) { return std::make_unique<DistTerm>(s, p); });

}  // namespace

}  // namespace rk
