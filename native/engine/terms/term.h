// A distillation method's loss term: what one method adds to the fused step's loss. The Distiller sums
// the terms of the chosen methods (a combination such as reviewkd+dkd is a list of terms, not new code),
// trains the modules they own with the student, and keeps statistics per named loss.
//
// Adding a method: one file native/engine/terms/<name>.cc that defines a LossTerm and registers it
// with RK_REGISTER_TERM, plus lib/train/methods/<name>.ts (see docs/methods.md).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "engine/terms/term_params.h"
#include "models/zoo_model.h"

namespace rk {

// [C, H, W] of one feature level (the pooled feature last, as [C, 1, 1]). (Not review_head.h's
// LevelShape struct: terms index it as a vector.)
using FeatureShape = std::vector<int64_t>;

// What a term is built from: the probed feature shapes of the pair and the data set's size.
struct TermSetup {
  std::vector<FeatureShape> studentShapes, teacherShapes;
  int64_t numClasses = 0;
  // Number of training samples: CRD's memory bank has one row per sample.
  int64_t datasetSize = 0;
  // The training labels, one per sample, on the device (CRD draws negatives from other classes); may
  // be undefined in stand-alone loss calls.
  torch::Tensor datasetLabels;
  // The teacher itself (OFD reads the BatchNorm statistics before its features); may be null in
  // stand-alone loss calls.
  std::shared_ptr<ZooModel> teacher;
  torch::Device device = torch::kCPU;
};

// What a term sees at each step. Logits and features are fp32 whatever the forward precision.
struct TermInput {
  const ModelOutput& student;
  const ModelOutput& teacher;
  const torch::Tensor& labels;   // int64, N
  const torch::Tensor& indices;  // int64, N: dataset indices of the batch (CRD's memory bank)
  // The step's bf16 autocast setting: a term runs its own modules' forwards under
  // AutocastScope(in.autocastBf16, device type) (engine/autocast_scope.h) and its losses in fp32.
  bool autocastBf16 = false;
  // The step's random generator (checkpointed with the run, so a resumed run draws the same numbers);
  // a term that samples (CRD's negatives) draws from it.
  at::Generator generator;
};

// Losses by name, in the order of lossNames(); each already carries the term's inner weights (e.g.
// DKD's alpha and beta) but not its outer weight or the warm-up factor, which the Distiller applies.
using NamedLosses = std::vector<std::pair<std::string, torch::Tensor>>;

// Which outputs a term reads; the step computes only what some term needs.
struct TermNeeds {
  bool teacherLogits = false;
  bool features = false;  // stage features of both networks (the teacher's too)
};

class LossTerm {
 public:
  virtual ~LossTerm() = default;
  virtual TermNeeds needs() const = 0;
  // The loss names compute() returns, fixed for the run (statistics are kept per name).
  virtual std::vector<std::string> lossNames() const = 0;
  virtual NamedLosses compute(const TermInput& in) = 0;
  // Trainable modules the term owns (review head, regressors, embeddings), or null. Their parameters
  // are trained with the student's optimizer; their buffers (e.g. CRD's memory bank) are checkpointed
  // and restored after a non-finite step.
  virtual std::shared_ptr<torch::nn::Module> module() { return nullptr; }
  // Called after the optimizer update of a step that was applied (finite loss and gradients); the
  // place for non-gradient state such as a memory-bank update. `ok` is a 0-d bool tensor on the device.
  virtual void afterUpdate(const TermInput& in, const torch::Tensor& ok) {}
  // Whether the Distiller snapshots the module's buffers before each step to undo a non-finite step.
  // True suits BatchNorm statistics; a term with a large buffer it updates itself in afterUpdate
  // (CRD's memory bank) returns false.
  virtual bool guardBuffers() const { return true; }
};

using TermFactory = std::function<std::unique_ptr<LossTerm>(const TermSetup&, const TermParams&)>;

// Registers a term under `name` (from a static initialiser; see RK_REGISTER_TERM). Returns true.
bool registerTerm(const std::string& name, TermFactory factory);
// Builds the term `name`; a RangeError naming the known terms when it does not exist.
std::unique_ptr<LossTerm> makeTerm(const std::string& name, const TermSetup& setup, const TermParams& params);
std::vector<std::string> termNames();

#define RK_TERM_CONCAT_(a, b) a##b
#define RK_TERM_CONCAT(a, b) RK_TERM_CONCAT_(a, b)
// RK_REGISTER_TERM("dkd", [](const TermSetup& s, const TermParams& p) { return std::make_unique<DkdTerm>(s, p); });
#define RK_REGISTER_TERM(name, factory) \
  static const bool RK_TERM_CONCAT(rkTermRegistered_, __LINE__) = ::rk::registerTerm(name, factory)

}  // namespace rk
