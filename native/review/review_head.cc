#include "review/review_head.h"

#include "common/errors.h"

namespace rk {

std::optional<ReviewVariant> parseReviewVariant(const std::string& name) {
  if (name == "residual") return ReviewVariant::Residual;
  if (name == "no-attention") return ReviewVariant::NoAttention;
  if (name == "no-residual") return ReviewVariant::NoResidual;
  if (name == "naive") return ReviewVariant::Naive;
  return std::nullopt;
}

ReviewHeadImpl::ReviewHeadImpl(ReviewHeadOptions options) : options_(std::move(options)) {
  const auto& s = options_.student;
  const auto& t = options_.teacher;
  const size_t n = s.size();
  // CIFAR rule of the reference: min(512, channels of the pooled student feature).
  mid_ = options_.midChannels.value_or(std::min<int64_t>(512, s.back().channels));

  switch (options_.variant) {
    case ReviewVariant::Residual:
    case ReviewVariant::NoAttention: {
      abfs = register_module("abfs", torch::nn::ModuleList());
      // Deepest first, so abfs.0 is the deepest level (the only one without fusion), as in the reference.
      for (size_t k = n; k-- > 0;) {
        abfs->push_back(ABF(ABFOptions{s[k].channels, mid_, t[k].channels, /*fuse=*/k + 1 < n,
                                       /*attention=*/options_.variant == ReviewVariant::Residual}));
      }
      for (size_t k = 0; k < n; ++k) targets_.push_back(static_cast<int64_t>(k));
      break;
    }
    case ReviewVariant::NoResidual: {
      fusions = register_module("fusions", torch::nn::ModuleList());
      for (size_t j = 0; j < n; ++j) {
        std::vector<int64_t> in;
        for (size_t i = j; i < n; ++i) in.push_back(s[i].channels);
        fusions->push_back(SumFusion(in, mid_, t[j].channels));
        targets_.push_back(static_cast<int64_t>(j));
      }
      break;
    }
    case ReviewVariant::Naive: {
      abfs = register_module("abfs", torch::nn::ModuleList());
      // Student level i reviews teacher levels j <= i (its own and every shallower one).
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j <= i; ++j) {
          abfs->push_back(ABF(ABFOptions{s[i].channels, mid_, t[j].channels, /*fuse=*/false}));
          naivePairs_.emplace_back(static_cast<int64_t>(i), static_cast<int64_t>(j));
          targets_.push_back(static_cast<int64_t>(j));
        }
      }
      break;
    }
  }
}

void ReviewHeadImpl::checkInputs(const std::vector<torch::Tensor>& features) const {
  const auto& s = options_.student;
  if (features.size() != s.size()) {
    throw JsRangeError("review head: got " + std::to_string(features.size()) + " student features but the head was built for " +
                       std::to_string(s.size()) + " levels");
  }
  for (size_t k = 0; k < s.size(); ++k) {
    const auto& f = features[k];
    if (f.dim() != 4 || f.size(1) != s[k].channels || f.size(2) != s[k].height || f.size(3) != s[k].width) {
      throw JsRangeError("review head: studentFeatures[" + std::to_string(k) + "] has shape " + c10::str(f.sizes()) +
                         " but the head was built for N x " + std::to_string(s[k].channels) + " x " + std::to_string(s[k].height) + " x " +
                         std::to_string(s[k].width));
    }
  }
}

std::vector<torch::Tensor> ReviewHeadImpl::forward(const std::vector<torch::Tensor>& features) {
  checkInputs(features);
  const auto& t = options_.teacher;
  const size_t n = features.size();
  auto teacherSize = [&](size_t k) { return std::make_optional(std::make_pair(t[k].height, t[k].width)); };
  std::vector<torch::Tensor> outputs;

  switch (options_.variant) {
    case ReviewVariant::Residual:
    case ReviewVariant::NoAttention: {
      // Deep to shallow: each ABF fuses its student feature with the residual flowing down from the
      // deeper one; outputs are collected back in shallow -> deep order to line up with the teacher.
      outputs.resize(n);
      std::optional<torch::Tensor> residual;
      for (size_t step = 0; step < n; ++step) {
        const size_t level = n - 1 - step;
        auto [out, res] = abfs[step]->as<ABFImpl>()->forward(features[level], residual, teacherSize(level));
        outputs[level] = out;
        residual = res;
      }
      break;
    }
    case ReviewVariant::NoResidual:
      for (size_t j = 0; j < n; ++j) {
        std::vector<torch::Tensor> deeper(features.begin() + static_cast<std::ptrdiff_t>(j), features.end());
        outputs.push_back(fusions[j]->as<SumFusionImpl>()->forward(deeper, *teacherSize(j)));
      }
      break;
    case ReviewVariant::Naive:
      for (size_t p = 0; p < naivePairs_.size(); ++p) {
        const auto [i, j] = naivePairs_[p];
        outputs.push_back(abfs[p]->as<ABFImpl>()->forward(features[i], std::nullopt, teacherSize(j)).first);
      }
      break;
  }
  return outputs;
}

}  // namespace rk
