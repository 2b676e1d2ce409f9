#include "engine/cuda_graph_step.h"

#include "common/errors.h"
#include "engine/distiller.h"

#ifdef RK_WITH_CUDA
// c10's stream and event headers, not ATen/cuda/CUDAContext.h: that one needs the cuBLAS and cuSPARSE
// headers of a full CUDA toolkit, which pip's torch does not need and CI's toolkit lacks.
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace rk {

#ifdef RK_WITH_CUDA

struct CudaGraphStep::State {
  // The generator's state is created here (not cloned from the default generator) so that it can be
  // registered with the graph: each replay then advances its Philox offset instead of repeating draws.
  c10::intrusive_ptr<at::CUDAGeneratorState> rng;
  at::Generator generator;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  // What the replay reads, refilled before each one.
  torch::Tensor indices, warmup, lr;
  // The data the capture indexes into (held, so its memory stays the graph's input).
  torch::Tensor images, labels;
  bool broken = false;
};

CudaGraphStep::CudaGraphStep(const torch::Device& device, uint64_t seed) : s_(std::make_unique<State>()) {
  if (!device.is_cuda()) {
    throw JsRangeError("cudaGraphs: CUDA graphs need a CUDA device; this trainer's data is on '" + device.str() + "' (leave cudaGraphs off on the CPU)");
  }
  s_->rng = c10::make_intrusive<at::CUDAGeneratorState>(seed);
  s_->generator = at::make_generator<at::CUDAGeneratorImpl>(device.index(), s_->rng);
  s_->generator.set_current_seed(seed);
}

CudaGraphStep::~CudaGraphStep() = default;

at::Generator CudaGraphStep::generator() const { return s_->generator; }

bool CudaGraphStep::run(Distiller& d, const torch::Tensor& indices, double warmup, double lr) {
  if (s_->broken || d.injectedOffset_ != 0 || d.gradientHook_) return false;
  if (warmedUp_ < kWarmupSteps) {
    ++warmedUp_;
    return false;
  }
  if (s_->graph) {
    // Another batch size (the last partial batch) or new data (a streamed batch): not what was captured.
    if (indices.size(0) != s_->indices.size(0) || !d.images_.is_same(s_->images) || !d.labels_.is_same(s_->labels)) return false;
    s_->indices.copy_(indices, /*non_blocking=*/true);
    s_->warmup.fill_(warmup);
    s_->lr.fill_(lr);
    s_->graph->replay();
    ++replays_;
    return true;
  }

  const torch::Device device = indices.device();
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  s_->indices = indices.clone();
  s_->warmup = torch::full({}, warmup, f32);
  s_->lr = torch::full({}, lr, f32);
  s_->images = d.images_;
  s_->labels = d.labels_;
  s_->graph = std::make_unique<at::cuda::CUDAGraph>();
  s_->graph->register_generator_state(s_->rng);
  // The legacy default stream cannot be captured: capture on a side stream, ordered after the work queued
  // before it and before the work queued after it.
  const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(device.index());
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
  c10::cuda::CUDAEvent before;
  before.record(current);
  before.block(side);
  // Autocast's cast cache would hand tensors made during capture to later uncaptured code.
  const bool castCache = at::autocast::is_autocast_cache_enabled();
  try {
    c10::cuda::CUDAStreamGuard guard(side);
    at::autocast::set_autocast_cache_enabled(false);
    s_->graph->capture_begin();
    try {
      d.runStep(s_->indices, StepScalars{warmup, lr, s_->warmup, s_->lr});
    } catch (...) {
      try {
        s_->graph->capture_end();
      } catch (...) {
        // The capture is already invalid; the first error is the one to report.
      }
      throw;
    }
    s_->graph->capture_end();
    at::autocast::set_autocast_cache_enabled(castCache);
  } catch (const std::exception& e) {
    at::autocast::set_autocast_cache_enabled(castCache);
    s_->broken = true;
    s_->graph.reset();
    throw std::runtime_error(std::string("cudaGraphs: capturing the training step in a CUDA graph failed (train without cudaGraphs): ") + e.what());
  }
  c10::cuda::CUDAEvent after;
  after.record(side);
  after.block(current);
  // Capturing records the kernels without running them: this step is the first replay.
  s_->graph->replay();
  ++replays_;
  return true;
}

#else  // the CPU variant: the option exists, and says what it needs

struct CudaGraphStep::State {};

CudaGraphStep::CudaGraphStep(const torch::Device& device, uint64_t seed) {
  throw JsRangeError("cudaGraphs: CUDA graphs need the CUDA variant of the addon and a CUDA device; this addon is built against LibTorch " RK_LIBTORCH_VERSION
                     " (" RK_LIBTORCH_VARIANT ") and the trainer's device is '" + device.str() + "'");
}

CudaGraphStep::~CudaGraphStep() = default;

at::Generator CudaGraphStep::generator() const { return at::Generator(); }

bool CudaGraphStep::run(Distiller&, const torch::Tensor&, double, double) { return false; }

#endif

}  // namespace rk
