// Attention transfer (Zagoruyko & Komodakis, ICLR 2017), p = 2, over every stage pair but the pooled
// feature (attention maps are spatial). Loss name "at".
#include "common/errors.h"
#include "engine/terms/term.h"
#include "review/classic_losses.h"

namespace rk {

namespace {

class AtTerm : public LossTerm {
 public:
  AtTerm(const TermSetup& setup, const TermParams&) {
    const auto& s = setup.studentShapes;
    const auto& t = setup.teacherShapes;
    for (size_t k = 0; k + 1 < s.size(); ++k) {
      if (k >= t.size() || s[k][1] != t[k][1] || s[k][2] != t[k][2]) {
        throw JsRangeError("term 'at': attention transfer compares stage " + std::to_string(k) + " maps of equal size; the student's is " +
                           std::to_string(s[k][1]) + "x" + std::to_string(s[k][2]) +
                           (k < t.size() ? " and the teacher's " + std::to_string(t[k][1]) + "x" + std::to_string(t[k][2]) : " and the teacher has none"));
      }
    }
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"at"}; }

  NamedLosses compute(const TermInput& in) override {
    torch::Tensor loss = torch::zeros({}, in.student.logits.options());
    for (size_t k = 0; k + 1 < in.student.features.size(); ++k) loss = loss + attentionTransferLoss(in.student.features[k], in.teacher.features[k]);
    return {{"at", loss}};
  }
};

RK_REGISTER_TERM("at", [](const TermSetup& s, const TermParams& p) { return std::make_unique<AtTerm>(s, p); });

}  // namespace

}  // namespace rk
