// FitNet (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015): a 1x1 regressor maps one
// student stage feature (the hint level) to the teacher's; the loss is their MSE. Loss name "fitnet".
#include "common/errors.h"
#include "engine/autocast_scope.h"
#include "engine/terms/term.h"
#include "review/classic_losses.h"

namespace rk {

namespace {

class FitNetTerm : public LossTerm {
 public:
  FitNetTerm(const TermSetup& setup, const TermParams& p) : level_(p.integer("hintLevel", 1, 0, 15)) {
    const auto k = static_cast<size_t>(level_);
    if (k + 1 >= setup.studentShapes.size() || k + 1 >= setup.teacherShapes.size()) {
      throw JsRangeError("term 'fitnet': hint level " + std::to_string(level_) + " is beyond the stage features (student " +
                         std::to_string(setup.studentShapes.size() - 1) + ", teacher " + std::to_string(setup.teacherShapes.size() - 1) + ")");
    }
    const auto &s = setup.studentShapes[k], &t = setup.teacherShapes[k];
    if (s[1] != t[1] || s[2] != t[2]) {
      throw JsRangeError("term 'fitnet': at hint level " + std::to_string(level_) + " the student map is " + std::to_string(s[1]) + "x" +
                         std::to_string(s[2]) + " and the teacher map " + std::to_string(t[1]) + "x" + std::to_string(t[2]) + "; they must match");
    }
    regressor_ = std::make_shared<HintRegressorImpl>(s[0], t[0]);
    regressor_->to(setup.device);
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"fitnet"}; }
  std::shared_ptr<torch::nn::Module> module() override { return regressor_; }

  NamedLosses compute(const TermInput& in) override {
    const auto k = static_cast<size_t>(level_);
    torch::Tensor predicted;
    {
      AutocastScope autocast(in.autocastBf16, in.student.logits.device().type());
      predicted = regressor_->forward(in.student.features.at(k));
    }
    return {{"fitnet", torch::nn::functional::mse_loss(fp32(predicted), in.teacher.features.at(k))}};
  }

 private:
  int64_t level_;
  std::shared_ptr<HintRegressorImpl> regressor_;
};

RK_REGISTER_TERM("fitnet", [](const TermSetup& s, const TermParams& p) { return std::make_unique<FitNetTerm>(s, p); });

}  // namespace

}  // namespace rk
