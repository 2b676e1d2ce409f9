// Checks and resizing shared by the terms that pair the student's stage features with the teacher's
// level by level (VID, OFD) or read the pooled feature (CRD). Errors name the term and the mismatch.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "engine/terms/term.h"

namespace rk {

inline std::string shapeText(const FeatureShape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Every shape [C, H, W] with positive entries, the pooled feature last, and at least `minLevels` levels.
inline void checkFeatureShapes(const std::string& term, const std::vector<FeatureShape>& shapes, const char* who, size_t minLevels) {
  if (shapes.size() < minLevels) {
    throw JsRangeError("term '" + term + "': needs at least " + std::to_string(minLevels) + " " + who + " feature shapes (stages, then the pooled feature); got " +
                       std::to_string(shapes.size()));
  }
  for (size_t l = 0; l < shapes.size(); ++l) {
    const auto& s = shapes[l];
    if (s.size() != 3 || s[0] < 1 || s[1] < 1 || s[2] < 1) {
      throw JsRangeError("term '" + term + "': " + who + " feature shape " + std::to_string(l) + " must be [C, H, W] with positive entries; got " + shapeText(s));
    }
  }
}

// For the level-by-level terms: both lists valid, the same number of levels, at least one stage.
inline void checkStagePairs(const std::string& term, const TermSetup& setup) {
  checkFeatureShapes(term, setup.studentShapes, "student", 2);
  checkFeatureShapes(term, setup.teacherShapes, "teacher", 2);
  if (setup.studentShapes.size() != setup.teacherShapes.size()) {
    throw JsRangeError("term '" + term + "': pairs stage features level by level, but the student gives " + std::to_string(setup.studentShapes.size() - 1) +
                       " stages and the teacher " + std::to_string(setup.teacherShapes.size() - 1));
  }
}

// The features of one network at a step: as many as the setup's shapes, each N x C x H x W with the
// setup's channels and the batch size `batch` (spatial sizes may differ from the probe).
inline void checkFeatures(const std::string& term, const std::vector<torch::Tensor>& features, const std::vector<FeatureShape>& shapes, const char* who,
                          int64_t batch) {
  if (features.size() != shapes.size()) {
    throw JsRangeError("term '" + term + "': expected " + std::to_string(shapes.size()) + " " + who + " features (as set up); got " + std::to_string(features.size()));
  }
  for (size_t l = 0; l < features.size(); ++l) {
    const auto& f = features[l];
    if (!f.defined() || f.dim() != 4 || f.size(1) != shapes[l][0] || f.size(0) != batch || !f.is_floating_point()) {
      throw JsRangeError("term '" + term + "': " + who + " feature " + std::to_string(l) + " must be a floating N x " + std::to_string(shapes[l][0]) +
                         " x H x W map with N = " + std::to_string(batch) + "; got " + (f.defined() ? "shape " + shapeText(f.sizes().vec()) : "none"));
    }
  }
}

// Adaptive-average-pools whichever of the two maps is larger (per spatial dim) to the smaller size, so
// maps of different resolution can be compared position by position.
inline std::pair<torch::Tensor, torch::Tensor> poolToCommonSize(const torch::Tensor& a, const torch::Tensor& b) {
  const int64_t h = std::min(a.size(2), b.size(2)), w = std::min(a.size(3), b.size(3));
  auto fit = [&](const torch::Tensor& x) { return x.size(2) == h && x.size(3) == w ? x : torch::adaptive_avg_pool2d(x, {h, w}); };
  return {fit(a), fit(b)};
}

}  // namespace rk
