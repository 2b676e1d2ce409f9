// Input checks for the logit terms (DKD, DIST) and the terms on the pooled feature (RKD, PKT); the
// stage-feature checks are in stage_features.h. A stand-alone call (rk.losses.*) passes whatever the
// user has: every mismatch is a RangeError naming the term and the mismatch, never a LibTorch failure.
// Nothing here reads tensor data back from the device, except the label range check on CPU.
#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/errors.h"
#include "engine/terms/stage_features.h"
#include "engine/terms/term.h"

namespace rk {

inline std::string sizesText(const torch::Tensor& t) { return t.defined() ? c10::str(t.sizes()) : std::string("none"); }

// Student and teacher logits: both given, N x classes, the same shape.
inline void checkLogitPair(const std::string& term, const torch::Tensor& s, const torch::Tensor& t) {
  if (s.defined() && t.defined() && s.dim() == 2 && s.sizes() == t.sizes() && s.is_floating_point() && t.is_floating_point()) return;
  throw JsRangeError("term '" + term + "': student and teacher logits must be floating N x classes tensors of the same shape; got " + sizesText(s) +
                     " and " + sizesText(t));
}

// Class labels: int64, one per sample, on the logits' device, in [0, classes) (checked on CPU only).
inline void checkLabels(const std::string& term, const torch::Tensor& labels, const torch::Tensor& logits) {
  const int64_t n = logits.size(0), c = logits.size(1);
  if (!labels.defined() || labels.dim() != 1 || labels.scalar_type() != torch::kInt64 || labels.size(0) != n) {
    throw JsRangeError("term '" + term + "': needs int64 labels, one per sample (" + std::to_string(n) + "); got " +
                       (labels.defined() ? std::string(c10::toString(labels.scalar_type())) + " " + sizesText(labels) : std::string("none")));
  }
  if (labels.device() != logits.device()) throw JsRangeError("term '" + term + "': the labels are not on the logits' device");
  if (labels.is_cpu() && n > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= c)) {
    throw JsRangeError("term '" + term + "': a label is outside [0, " + std::to_string(c) + ")");
  }
}

// For the terms on the pooled feature: valid shapes, the last level of each network [C, 1, 1].
inline void checkPooledSetup(const std::string& term, const TermSetup& setup) {
  checkFeatureShapes(term, setup.studentShapes, "student", 1);
  checkFeatureShapes(term, setup.teacherShapes, "teacher", 1);
  for (const auto& [who, shapes] : {std::make_pair("student", &setup.studentShapes), std::make_pair("teacher", &setup.teacherShapes)}) {
    const auto& last = shapes->back();
    if (last[1] != 1 || last[2] != 1) {
      throw JsRangeError("term '" + term + "': the " + who + "'s last feature must be the pooled N x C x 1 x 1 feature; got N x " + shapeText(last));
    }
  }
}

// The batch size of a feature list (0 when it cannot tell; checkFeatures then names the bad entry).
inline int64_t batchOf(const std::vector<torch::Tensor>& features) {
  return !features.empty() && features[0].defined() && features[0].dim() > 0 ? features[0].size(0) : 0;
}

// Both networks' features as set up (stage_features.h's checkFeatures), with the student's batch size.
inline void checkFeaturePair(const std::string& term, const TermInput& in, const std::vector<FeatureShape>& studentShapes,
                             const std::vector<FeatureShape>& teacherShapes) {
  const int64_t n = batchOf(in.student.features);
  checkFeatures(term, in.student.features, studentShapes, "student", n);
  checkFeatures(term, in.teacher.features, teacherShapes, "teacher", n);
}

}  // namespace rk
