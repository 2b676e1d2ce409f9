// VID (Ahn et al., "Variational Information Distillation for Knowledge Transfer", CVPR 2019): maximise
// a variational lower bound of the mutual information between the teacher's and the student's stage
// features by fitting a Gaussian q(t | s) = N(mu(s), sigma^2) with a heteroscedastic mean mu (a small
// regressor on the student feature) and one learned variance per teacher channel (eq. 4-5):
//   -log q(t | s) = 0.5 * ((t - mu(s))^2 / sigma^2 + log sigma^2)   (+ a constant, dropped)
//   sigma^2 = softplus(log_scale) + eps
// averaged over every element of the level (N x C x H x W) and summed over the stage levels (all but
// the pooled feature). Where the maps differ in size, the larger is adaptive-average-pooled to the
// smaller first (before the regressor when it is the student's). Loss name "vid".
// Defaults as the paper's experiments and the public re-implementations (mdistiller, torchdistill):
// regressor conv1x1 -> ReLU -> conv1x1 -> ReLU -> conv1x1 without bias, middle width = teacher channels,
// initial variance 5.0, eps 1e-5.
#include <cmath>

#include "common/errors.h"
#include "engine/autocast_scope.h"
#include "engine/terms/term_checks.h"
#include "engine/terms/term.h"

namespace rk {

namespace {

constexpr double kVarianceEps = 1e-5;

torch::nn::Conv2d conv1x1(int64_t in, int64_t out) { return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(false)); }

// One level: regressor.{0,2,4} (the ReLUs keep indices 1 and 3) and log_scale.
class VidLevelImpl : public torch::nn::Module {
 public:
  VidLevelImpl(int64_t studentChannels, int64_t teacherChannels, double initVariance) {
    regressor = register_module("regressor", torch::nn::Sequential(conv1x1(studentChannels, teacherChannels), torch::nn::ReLU(),
                                                                    conv1x1(teacherChannels, teacherChannels), torch::nn::ReLU(),
                                                                    conv1x1(teacherChannels, teacherChannels)));
    // softplus^-1(v) = log(exp(v) - 1) = v + log(1 - exp(-v)), the second form without overflow.
    const double v = initVariance - kVarianceEps;
    logScale = register_parameter("log_scale", torch::full({teacherChannels}, v + std::log(-std::expm1(-v))));
  }

  // The negative log-likelihood of `teacher` under N(regressor(student), sigma^2), mean over elements.
  torch::Tensor loss(const torch::Tensor& student, const torch::Tensor& teacher, bool autocastBf16) {
    auto [s, t] = poolToCommonSize(student, teacher);
    torch::Tensor mean;
    {
      AutocastScope autocast(autocastBf16, s.device().type());
      mean = regressor->forward(s);
    }
    mean = fp32(mean);
    const auto variance = (torch::softplus(logScale) + kVarianceEps).to(mean.scalar_type()).view({1, -1, 1, 1});
    return (0.5 * ((mean - t).pow(2) / variance + variance.log())).mean();
  }

  torch::nn::Sequential regressor{nullptr};
  torch::Tensor logScale;
};
TORCH_MODULE(VidLevel);

class VidTerm : public LossTerm {
 public:
  VidTerm(const TermSetup& setup, const TermParams& p) : studentShapes_(setup.studentShapes), teacherShapes_(setup.teacherShapes) {
    checkStagePairs("vid", setup);
    const double initVariance = p.number("initVariance", 5.0, 1e-4, 1e6);
    for (size_t l = 0; l + 1 < setup.studentShapes.size(); ++l) {
      levels_->push_back(VidLevel(setup.studentShapes[l][0], setup.teacherShapes[l][0], initVariance));
    }
    levels_->to(setup.device);
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"vid"}; }
  // Parameter names: <level>.regressor.{0,2,4}.weight, <level>.log_scale.
  std::shared_ptr<torch::nn::Module> module() override { return levels_.ptr(); }

  NamedLosses compute(const TermInput& in) override {
    checkFeaturePair("vid", in, studentShapes_, teacherShapes_);
    torch::Tensor total;
    for (size_t l = 0; l < levels_->size(); ++l) {
      auto level = levels_->at<VidLevelImpl>(l).loss(in.student.features[l], in.teacher.features[l], in.autocastBf16);
      total = total.defined() ? total + level : level;
    }
    return {{"vid", total}};
  }

 private:
  std::vector<FeatureShape> studentShapes_, teacherShapes_;
  torch::nn::ModuleList levels_;
};

RK_REGISTER_TERM("vid", [](const TermSetup& s, const TermParams& p) { return std::make_unique<VidTerm>(s, p); });

}  // namespace

}  // namespace rk
