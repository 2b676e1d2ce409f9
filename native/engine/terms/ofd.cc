// OFD (Heo et al., "A Comprehensive Overhaul of Feature Distillation", ICCV 2019), on every stage pair
// (the pooled feature excluded), both networks' features taken before their ReLU:
//   - the student feature goes through a connector r = conv1x1 (no bias) + BatchNorm to the teacher's
//     channels (where the maps differ in size, the larger is adaptive-average-pooled first);
//   - the teacher feature through the margin ReLU sigma_m(t) = max(t, m), m per channel (eq. 2);
//   - partial L2 (eq. 4): d_p(T, S) = sum_i (S_i - T_i)^2 except where S_i <= T_i <= 0, i.e. the
//     student is not penalised for being more negative than a negative target (a ReLU hides both);
//   - per level the sum over elements divided by the batch size, level l of L weighted 1 / 2^(L-1-l)
//     (deepest 1, halving towards the input), as the authors' code does; summed. Loss name "ofd".
// The margin (eq. 3) is the expected negative response: with the teacher's BatchNorm before the ReLU,
// the pre-activation of a channel is ~ N(beta, gamma^2), so
//   m = E[x | x < 0] = beta - |gamma| * phi(beta / |gamma|) / Phi(-beta / |gamma|),
// and -3|gamma| when Phi(-beta / |gamma|) <= 0.001 (almost never negative; the authors' code does the
// same). Margins are computed once here, from the teacher's weights at construction (load them first),
// and kept as buffers so a checkpoint carries them. The outer weight (the authors use 1e-3 on CIFAR,
// 1e-4 on ImageNet) is the method plugin's.
#include <cmath>

#include "common/errors.h"
#include "engine/autocast_scope.h"
#include "engine/terms/term_checks.h"
#include "engine/terms/term.h"

namespace rk {

namespace {

const char* kSupportedTeachers =
    "CIFAR ResNets (resnet8..resnet110, resnet8x4, resnet32x4), wrn-*, vgg8..vgg19, mobilenetv2-*, shufflenetv1, cifar-resnet50, "
    "resnet18/34/50, mobilenetv1";

// E[x | x < 0] for x ~ N(beta, gamma^2) (eq. 3), -3|gamma| where almost no mass is negative.
double ofdMargin(double gamma, double beta) {
  const double s = std::abs(gamma);
  if (s == 0) return std::min(beta, 0.0);  // a constant response: its own value if negative
  const double z = beta / s;
  const double negativeMass = 0.5 * std::erfc(z / std::sqrt(2.0));  // Phi(-z)
  if (negativeMass <= 0.001) return -3 * s;
  const double density = std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);  // phi(z) = phi(-z)
  return beta - s * density / negativeMass;
}

// One level: connector.{0 = conv, 1 = BatchNorm} and the teacher channels' margins.
class OfdLevelImpl : public torch::nn::Module {
 public:
  OfdLevelImpl(int64_t studentChannels, int64_t teacherChannels, torch::Tensor margins) {
    auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(studentChannels, teacherChannels, 1).bias(false));
    // N(0, sqrt(2 / (k*k*out))), BatchNorm weight 1 and bias 0: the authors' connector initialisation.
    torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    connector = register_module("connector", torch::nn::Sequential(conv, torch::nn::BatchNorm2d(teacherChannels)));
    margin = register_buffer("margin", std::move(margins));
  }

  torch::Tensor loss(const torch::Tensor& student, const torch::Tensor& teacher, bool autocastBf16) {
    auto [s, t] = poolToCommonSize(student, teacher.detach());
    {
      AutocastScope autocast(autocastBf16, s.device().type());
      s = connector->forward(s);
    }
    s = fp32(s);
    const auto target = torch::maximum(t, margin.to(t.scalar_type()).view({1, -1, 1, 1}));
    const auto counted = (s > target) | (target > 0);
    return torch::where(counted, (s - target).pow(2), torch::zeros({}, s.options())).sum() / s.size(0);
  }

  torch::nn::Sequential connector{nullptr};
  torch::Tensor margin;
};
TORCH_MODULE(OfdLevel);

class OfdTerm : public LossTerm {
 public:
  OfdTerm(const TermSetup& setup, const TermParams&) : studentShapes_(setup.studentShapes), teacherShapes_(setup.teacherShapes) {
    checkStagePairs("ofd", setup);
    const size_t stages = setup.teacherShapes.size() - 1;
    const auto norms = setup.teacher ? setup.teacher->featureBatchNorms() : std::vector<torch::nn::BatchNorm2d>{};
    if (norms.empty()) {
      throw JsRangeError(std::string("OFD needs a teacher whose stage BatchNorms are known: ") + kSupportedTeachers + "; " +
                         (setup.teacher ? "teacher '" + setup.teacher->name() + "' gives none" : "no teacher was given"));
    }
    if (norms.size() != stages) {
      throw JsRangeError("term 'ofd': teacher '" + setup.teacher->name() + "' has " + std::to_string(norms.size()) + " stage BatchNorms but the teacher shapes give " +
                         std::to_string(stages) + " stages");
    }
    for (size_t l = 0; l < stages; ++l) {
      const auto& bn = norms[l];
      const int64_t c = setup.teacherShapes[l][0];
      if (!bn->weight.defined() || !bn->bias.defined() || bn->weight.numel() != c) {
        throw JsRangeError("term 'ofd': the teacher's stage " + std::to_string(l) + " BatchNorm has " +
                           std::to_string(bn->weight.defined() ? bn->weight.numel() : 0) + " affine channels; the feature has " + std::to_string(c));
      }
      const auto gamma = bn->weight.detach().to(torch::kCPU, torch::kFloat64).contiguous();
      const auto beta = bn->bias.detach().to(torch::kCPU, torch::kFloat64).contiguous();
      auto margins = torch::empty({c}, torch::kFloat64);
      auto g = gamma.accessor<double, 1>(), b = beta.accessor<double, 1>(), m = margins.accessor<double, 1>();
      for (int64_t i = 0; i < c; ++i) m[i] = ofdMargin(g[i], b[i]);
      levels_->push_back(OfdLevel(setup.studentShapes[l][0], c, margins.to(torch::kFloat32)));
    }
    levels_->to(setup.device);
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"ofd"}; }
  // Names: <level>.connector.{0.weight, 1.weight, 1.bias, 1.running_mean, ...}, <level>.margin.
  std::shared_ptr<torch::nn::Module> module() override { return levels_.ptr(); }

  NamedLosses compute(const TermInput& in) override {
    checkFeaturePair("ofd", in, studentShapes_, teacherShapes_);
    const size_t stages = levels_->size();
    torch::Tensor total;
    for (size_t l = 0; l < stages; ++l) {
      const double weight = std::ldexp(1.0, -static_cast<int>(stages - 1 - l));
      auto level = levels_->at<OfdLevelImpl>(l).loss(in.student.features[l], in.teacher.features[l], in.autocastBf16) * weight;
      total = total.defined() ? total + level : level;
    }
    return {{"ofd", total}};
  }

 private:
  std::vector<FeatureShape> studentShapes_, teacherShapes_;
  torch::nn::ModuleList levels_;
};

RK_REGISTER_TERM("ofd", [](const TermSetup& s, const TermParams& p) { return std::make_unique<OfdTerm>(s, p); });

}  // namespace

}  // namespace rk
