// CUDA graphs for the fused step (DistillerOptions::cudaGraphs; compiled in the CUDA variant only): after a
// few ordinary warm-up steps (cuDNN's algorithm search, cuBLAS handles and the allocator settle there), one
// whole step — augmentation, both forwards, the losses, backward, the non-finite check and the SGD update —
// is captured once for the run's batch size and then replayed, which removes the per-kernel launch cost
// that dominates small CIFAR networks on a fast GPU. What a replay reads is fixed at capture, so the
// sample indices, the learning rate and the warm-up factor live in device tensors that are refilled before
// each replay. A step the graph cannot replay runs uncaptured: the last, partial batch of an epoch, a
// step with an injected fault, a data-parallel step (its gradient hook), a batch of another shape.
#pragma once
#include <memory>

#include <torch/torch.h>

namespace rk {

class Distiller;

class CudaGraphStep {
 public:
  // Ordinary steps before the capture.
  static constexpr int kWarmupSteps = 3;

  // Throws a JS-facing error unless this addon has CUDA and `device` is a CUDA device.
  CudaGraphStep(const torch::Device& device, uint64_t seed);
  ~CudaGraphStep();

  // The step's random generator: its state is registered with the graph, so every replay draws new
  // augmentation (a plain clone of the default generator would replay the same draws).
  at::Generator generator() const;

  // Runs the step as a replay of the captured graph (capturing it first when due) and returns true, or
  // returns false without doing anything: the caller then runs the step uncaptured.
  bool run(Distiller& d, const torch::Tensor& indices, double warmup, double lr);

  // Steps replayed so far (for tests and the bench).
  int64_t replays() const { return replays_; }

 private:
  struct State;
  std::unique_ptr<State> s_;
  int64_t warmedUp_ = 0;
  int64_t replays_ = 0;
};

}  // namespace rk
