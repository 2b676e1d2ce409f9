// CRD (Tian et al., "Contrastive Representation Distillation", ICLR 2020): the student's pooled feature
// should identify its own sample's teacher representation among K others. Both pooled features are
// embedded (linear to featureDim, L2-normalised: v_s, v_t); a memory bank per network keeps one
// embedding per training sample. For sample i with K negatives j drawn from the data set:
//   p(i, j) = exp(v . m_j / T) / Z                 (m_j a memory row; Z fixed from the first batch as
//                                                   mean(exp(v . m / T)) * n, n the data-set size)
//   h(p)    = p / (p + K / n)                      (the posterior that the pair is the positive one,
//                                                   noise distribution uniform: 1 / n per sample)
//   L       = -(1/N) sum_i [ log h(p(i, i)) + sum_j log(1 - h(p(i, j))) ]   (the NCE bound, eq. 18-19)
// computed twice and summed: the student embedding against the teacher's memory and the teacher
// embedding against the student's memory, each direction with its own Z. After an applied step the
// batch's rows of each bank move towards the new embeddings: m <- normalise(momentum * m + (1 -
// momentum) * v). Loss name "crd".
// Negatives: as the authors' code, from samples of other classes when the data set's labels are known
// (setup.datasetLabels), else from all samples but i; drawn on the device, with replacement (the
// authors' code draws without replacement when there are enough; the difference is negligible for
// K << n). The positive is sample i's own row (their 'exact' mode).
// Defaults from the paper and its code: featureDim 128, 16384 negatives (at most n - 1: smaller data
// sets get n - 1), temperature 0.07, momentum 0.5; the banks start uniform in [-stdv, stdv],
// stdv = 1 / sqrt(featureDim / 3), drawn from the device's default generator (seed it first).
#include <cmath>

#include "common/errors.h"
#include "engine/autocast_scope.h"
#include "engine/terms/stage_features.h"
#include "engine/terms/term.h"

namespace rk {

namespace {

namespace F = torch::nn::functional;

constexpr double kNceEps = 1e-7;  // the authors' guard against 0 / 0 in h

torch::Tensor l2Normalize(const torch::Tensor& v) { return F::normalize(v, F::NormalizeFuncOptions().dim(1)); }

// The embeddings and the memory banks. Names: embed_s.{weight,bias}, embed_t.{weight,bias}, memory_s
// (student embeddings), memory_t (teacher embeddings), z ([student direction, teacher direction];
// -1 until the first batch sets it).
class CrdModuleImpl : public torch::nn::Module {
 public:
  CrdModuleImpl(int64_t studentDim, int64_t teacherDim, int64_t featureDim, int64_t datasetSize, torch::Device device) {
    embedStudent = register_module("embed_s", torch::nn::Linear(studentDim, featureDim));
    embedTeacher = register_module("embed_t", torch::nn::Linear(teacherDim, featureDim));
    const double stdv = 1.0 / std::sqrt(featureDim / 3.0);
    const auto onDevice = torch::TensorOptions().device(device);
    memoryStudent = register_buffer("memory_s", torch::rand({datasetSize, featureDim}, onDevice) * (2 * stdv) - stdv);
    memoryTeacher = register_buffer("memory_t", torch::rand({datasetSize, featureDim}, onDevice) * (2 * stdv) - stdv);
    z = register_buffer("z", torch::full({2}, -1.0, onDevice));
    to(device);
  }

  torch::nn::Linear embedStudent{nullptr}, embedTeacher{nullptr};
  torch::Tensor memoryStudent, memoryTeacher, z;
};

class CrdTerm : public LossTerm {
 public:
  CrdTerm(const TermSetup& setup, const TermParams& p)
      : datasetSize_(setup.datasetSize),
        featureDim_(p.integer("featureDim", 128, 1, 1 << 16)),
        temperature_(p.number("temperature", 0.07, 1e-4, 1e4)),
        momentum_(p.number("momentum", 0.5, 0.0, 1.0)) {
    checkFeatureShapes("crd", setup.studentShapes, "student", 1);
    checkFeatureShapes("crd", setup.teacherShapes, "teacher", 1);
    if (datasetSize_ < 2) throw JsRangeError("term 'crd': needs the data-set size (>= 2: one memory row per sample); got " + std::to_string(datasetSize_));
    // More negatives than other samples is pointless: clamp to n - 1 (small data sets, tests).
    negatives_ = std::min<int64_t>(p.integer("negatives", 16384, 1, int64_t{1} << 24), datasetSize_ - 1);
    const auto& s = setup.studentShapes.back();
    const auto& t = setup.teacherShapes.back();
    studentDim_ = s[0] * s[1] * s[2];
    teacherDim_ = t[0] * t[1] * t[2];
    if (setup.datasetLabels.defined()) indexClasses(setup.datasetLabels.to(setup.device), setup.numClasses);
    module_ = std::make_shared<CrdModuleImpl>(studentDim_, teacherDim_, featureDim_, datasetSize_, setup.device);
  }

  TermNeeds needs() const override { return {/*teacherLogits=*/false, /*features=*/true}; }
  std::vector<std::string> lossNames() const override { return {"crd"}; }
  std::shared_ptr<torch::nn::Module> module() override { return module_; }
  // The banks change only in afterUpdate, and only where the step was applied.
  bool guardBuffers() const override { return false; }

  NamedLosses compute(const TermInput& in) override {
    const auto fs = pooled(in.student.features, studentDim_, "student");
    const auto ft = pooled(in.teacher.features, teacherDim_, "teacher").detach();
    checkIndices(in.indices, fs.size(0));
    torch::Tensor vs, vt;
    {
      AutocastScope autocast(in.autocastBf16, fs.device().type());
      vs = module_->embedStudent(fs);
      vt = module_->embedTeacher(ft);
    }
    vs = l2Normalize(fp32(vs));
    vt = l2Normalize(fp32(vt));
    // Kept for afterUpdate: the bank moves towards the embeddings of this forward, as in the paper.
    lastStudent_ = vs.detach();
    lastTeacher_ = vt.detach();
    lastIndices_ = in.indices;
    // Row i of `rows`: the positive (sample i itself) then its K negatives.
    const auto rows = torch::cat({in.indices.unsqueeze(1), drawNegatives(in.indices, in.generator)}, 1);
    const auto studentLoss = nceLoss(contrast(vs, module_->memoryTeacher, rows, 0));
    const auto teacherLoss = nceLoss(contrast(vt, module_->memoryStudent, rows, 1));
    return {{"crd", studentLoss + teacherLoss}};
  }

  void afterUpdate(const TermInput&, const torch::Tensor& ok) override {
    if (!lastIndices_.defined()) return;  // no compute since the last update
    torch::NoGradGuard noGrad;
    updateRows(module_->memoryStudent, lastStudent_, ok);
    updateRows(module_->memoryTeacher, lastTeacher_, ok);
    lastStudent_ = lastTeacher_ = lastIndices_ = torch::Tensor();
  }

 private:
  // The class index for drawing negatives of other classes: sample ids sorted by class, and each
  // class's start and count in that order.
  void indexClasses(const torch::Tensor& labels, int64_t numClasses) {
    if (labels.dim() != 1 || labels.size(0) != datasetSize_ || labels.is_floating_point() || labels.is_complex()) {
      throw JsRangeError("term 'crd': the data set's labels must be " + std::to_string(datasetSize_) + " integers (one per sample); got shape " +
                         shapeText(labels.sizes().vec()));
    }
    const auto y = labels.to(torch::kLong);
    const int64_t lo = y.min().item<int64_t>(), hi = y.max().item<int64_t>();
    if (lo < 0 || (numClasses > 0 && hi >= numClasses)) {
      throw JsRangeError("term 'crd': the data set's labels must lie in [0, " + std::to_string(numClasses) + "); found " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    classCount_ = torch::bincount(y, {}, hi + 1);
    if (classCount_.max().item<int64_t>() == datasetSize_) throw JsRangeError("term 'crd': every sample has the same label, so there is no negative from another class");
    classStart_ = classCount_.cumsum(0) - classCount_;
    byClass_ = std::get<1>(y.sort(/*stable=*/std::optional<bool>(true), /*dim=*/0, /*descending=*/false));
    labels_ = y;
  }

  // K dataset indices per sample, uniform among the samples of other classes (or all other samples).
  torch::Tensor drawNegatives(const torch::Tensor& indices, const at::Generator& generator) {
    // Uniform 62-bit integers reduced modulo the candidate count (bias < n / 2^62). An undefined
    // generator means the device's default one (ATen's get_generator_or_default).
    const auto u = torch::randint(0, int64_t{1} << 62, {indices.size(0), negatives_}, generator, indices.options());
    if (!byClass_.defined()) {
      // Rank r among the n - 1 others, skipping i itself.
      const auto r = u.remainder(datasetSize_ - 1);
      return r + (r >= indices.unsqueeze(1)).to(torch::kLong);
    }
    const auto cls = labels_.index_select(0, indices);
    const auto start = classStart_.index_select(0, cls).unsqueeze(1), count = classCount_.index_select(0, cls).unsqueeze(1);
    // Rank r among the n - count samples of other classes, skipping the own class's block.
    const auto r = u.remainder(datasetSize_ - count);
    return byClass_.index_select(0, (r + (r >= start).to(torch::kLong) * count).flatten()).view(u.sizes());
  }

  // exp(v . m / T) / Z for the memory rows of `rows` (N x (K+1)); sets Z (slot) from the first batch.
  torch::Tensor contrast(const torch::Tensor& v, const torch::Tensor& memory, const torch::Tensor& rows, int64_t slot) {
    const auto m = memory.index_select(0, rows.flatten()).view({rows.size(0), rows.size(1), -1}).to(v.scalar_type());
    const auto scores = torch::exp(torch::bmm(m, v.unsqueeze(2)).squeeze(2) / temperature_);
    torch::Tensor z;
    {
      torch::NoGradGuard noGrad;
      auto stored = module_->z.select(0, slot);
      const auto estimate = scores.detach().mean().to(stored.scalar_type()) * static_cast<double>(datasetSize_);
      z = torch::where((stored < 0) & estimate.isfinite(), estimate, stored);
      stored.copy_(z);
    }
    return scores / z.to(scores.scalar_type());
  }

  // The NCE loss of eq. 18-19 on p = [positive, K negatives] per row, batch mean.
  torch::Tensor nceLoss(const torch::Tensor& p) const {
    const double noise = static_cast<double>(negatives_) / static_cast<double>(datasetSize_);  // K * P_n
    const auto positive = p.select(1, 0), negative = p.narrow(1, 1, negatives_);
    const auto logPositive = (positive / (positive + (noise + kNceEps))).log();
    const auto logNegative = (noise / (negative + (noise + kNceEps))).log();
    return -(logPositive.sum() + logNegative.sum()) / p.size(0);
  }

  void updateRows(torch::Tensor& memory, const torch::Tensor& v, const torch::Tensor& ok) {
    const auto old = memory.index_select(0, lastIndices_);
    const auto moved = l2Normalize(old * momentum_ + v.to(old.scalar_type()) * (1.0 - momentum_));
    memory.index_copy_(0, lastIndices_, ok.defined() ? torch::where(ok.to(old.device()), moved, old) : moved);
  }

  // The pooled feature (last) of one network, flattened to N x dim.
  torch::Tensor pooled(const std::vector<torch::Tensor>& features, int64_t dim, const char* who) const {
    if (features.empty()) throw JsRangeError(std::string("term 'crd': needs the ") + who + "'s pooled feature; got no features");
    const auto& f = features.back();
    if (!f.defined() || f.dim() < 2 || !f.is_floating_point() || f.numel() != f.size(0) * dim) {
      throw JsRangeError(std::string("term 'crd': the ") + who + "'s pooled feature must be a floating N x " + std::to_string(dim) + " (x 1 x 1) tensor; got " +
                         (f.defined() ? "shape " + shapeText(f.sizes().vec()) : "none"));
    }
    return f.flatten(1);
  }

  void checkIndices(const torch::Tensor& indices, int64_t batch) const {
    if (!indices.defined() || indices.dim() != 1 || indices.size(0) != batch || indices.scalar_type() != torch::kLong) {
      throw JsRangeError("term 'crd': indices must be int64 with one data-set index per sample (" + std::to_string(batch) + "); got " +
                         (indices.defined() ? "shape " + shapeText(indices.sizes().vec()) + " " + std::string(c10::toString(indices.scalar_type())) : "none"));
    }
    // Range check only where it costs no device sync.
    if (indices.device().is_cpu() && batch > 0) {
      const int64_t lo = indices.min().item<int64_t>(), hi = indices.max().item<int64_t>();
      if (lo < 0 || hi >= datasetSize_) {
        throw JsRangeError("term 'crd': indices must lie in [0, " + std::to_string(datasetSize_) + "); found " + std::to_string(lo) + ".." + std::to_string(hi));
      }
    }
  }

  int64_t datasetSize_, featureDim_;
  double temperature_, momentum_;
  int64_t negatives_ = 1, studentDim_ = 0, teacherDim_ = 0;
  torch::Tensor labels_, byClass_, classStart_, classCount_;
  std::shared_ptr<CrdModuleImpl> module_;
  torch::Tensor lastStudent_, lastTeacher_, lastIndices_;
};

RK_REGISTER_TERM("crd", [](const TermSetup& s, const TermParams& p) { return std::make_unique<CrdTerm>(s, p); });

}  // namespace

}  // namespace rk
