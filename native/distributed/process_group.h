// One data-parallel process group: the rendezvous store (a TCPStore hosted by rank 0, or by a launcher's
// agent) and its c10d backends: Gloo always (CPU tensors: metrics, decisions, CPU training), NCCL as well
// for CUDA tensors when the group is made with backend "nccl" (as torch.distributed keeps a Gloo group
// beside NCCL for CPU objects). Collectives are matched across ranks in the order they are issued, so
// every rank must issue the same sequence.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace rk {

struct ProcessGroupConfig {
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  // Rank 0 hosts the store unless a launcher's agent already does (TORCHELASTIC_USE_AGENT_STORE).
  bool hostStore = true;
  // Key prefix inside the store (a launcher's store is shared by its restarts and other users).
  std::string storePrefix = "reviewkd/default_pg";
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  std::string backend = "gloo";  // "gloo" or "nccl"
  std::string interface;        // GLOO_SOCKET_IFNAME
  int threads = 2;
};

enum class ReduceKind { Sum, Avg, Max, Min, Product };

class ProcessGroup {
 public:
  // Rendezvous: blocks until every rank has joined, or throws after the timeout with a message that
  // says which step failed (port in use, master unreachable, a rank missing).
  explicit ProcessGroup(const ProcessGroupConfig& config);
  ~ProcessGroup();

  int rank() const { return config_.rank; }
  int worldSize() const { return config_.worldSize; }
  const std::string& backendName() const { return config_.backend; }
  std::chrono::milliseconds timeout() const { return config_.timeout; }

  // In place; tensors of one dtype travel as one flat buffer. Avg divides the sum (floating types only).
  // The *Start variants issue the collective (cheap, fixes its order) and return a completion to call
  // later (it waits with the timeout and copies results back); the plain ones do both.
  std::function<void()> allReduceStart(const std::vector<torch::Tensor>& tensors, ReduceKind op);
  std::function<void()> broadcastStart(const std::vector<torch::Tensor>& tensors, int root);
  std::function<std::vector<torch::Tensor>()> allGatherStart(const torch::Tensor& tensor);
  std::function<void()> barrierStart();
  void allReduce(const std::vector<torch::Tensor>& tensors, ReduceKind op) { allReduceStart(tensors, op)(); }
  void broadcast(const std::vector<torch::Tensor>& tensors, int root) { broadcastStart(tensors, root)(); }

  // The gradient step of data-parallel training, on the compute thread: averages `grads` over the ranks
  // and ORs the non-finite flag `found` (a 0-d float tensor), so every rank takes the same decision.
  void averageGradients(const std::vector<torch::Tensor>& grads, torch::Tensor& found);
  // Seconds spent in averageGradients since the last call (for the benchmark).
  double takeGradientSeconds();

  // Releases the backend and the store; later calls throw.
  void destroy();
  bool destroyed() const;

 private:
  // The backend for tensors on `device` (NCCL for CUDA tensors when there is one, else Gloo).
  c10::intrusive_ptr<c10d::Backend> live(const char* what, const torch::Device& device) const;
  // Waits for `work` with the timeout; on failure throws an error naming the collective, this rank and
  // the ranks that did not report (lost or stuck), found through the store.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what);
  std::string missingRanks();

  ProcessGroupConfig config_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;      // Gloo
  c10::intrusive_ptr<c10d::Backend> cudaBackend_;  // NCCL, or null
  mutable std::mutex mutex_;  // guards backend_/store_ against destroy() while a collective is issued
  double gradientSeconds_ = 0;
  int failures_ = 0;
};

}  // namespace rk
