#include "distributed/process_group.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <c10/util/Logging.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "common/errors.h"
#include "distributed/backend_factory.h"

namespace rk {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string seconds(milliseconds ms) {
  std::ostringstream s;
  s << ms.count() / 1000.0 << " s";
  return s.str();
}

bool mentions(std::string text, const char* needle) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text.find(needle) != std::string::npos;
}

// The message of a c10d exception without LibTorch's C++ backtrace, on one line.
std::string causeOf(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  std::string msg = c10 ? c10->what_without_backtrace() : e.what();
  for (char& c : msg) if (c == '\n') c = ' ';
  return msg;
}

// Tensors grouped by dtype and device, in order of first appearance: each group travels as one flat buffer.
std::vector<std::vector<torch::Tensor>> byDtype(const std::vector<torch::Tensor>& tensors) {
  std::vector<std::vector<torch::Tensor>> groups;
  for (const auto& t : tensors) {
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const auto& grp) { return grp[0].scalar_type() == t.scalar_type() && grp[0].device() == t.device(); });
    if (g == groups.end()) groups.push_back({t});
    else g->push_back(t);
  }
  return groups;
}

torch::Tensor flatten(const std::vector<torch::Tensor>& group) {
  std::vector<torch::Tensor> flat;
  for (const auto& t : group) flat.push_back(t.detach().reshape({-1}));
  return torch::cat(flat);
}

void unflatten(const torch::Tensor& flat, const std::vector<torch::Tensor>& group) {
  torch::NoGradGuard noGrad;
  int64_t offset = 0;
  for (const auto& t : group) {
    const int64_t n = t.numel();
    t.copy_(flat.narrow(0, offset, n).view(t.sizes()));
    offset += n;
  }
}

c10d::ReduceOp reduceOp(ReduceKind op) {
  switch (op) {
    case ReduceKind::Max: return c10d::ReduceOp::MAX;
    case ReduceKind::Min: return c10d::ReduceOp::MIN;
    case ReduceKind::Product: return c10d::ReduceOp::PRODUCT;
    default: return c10d::ReduceOp::SUM;  // Avg = sum, then divide (Gloo has no AVG)
  }
}

}  // namespace

ProcessGroup::ProcessGroup(const ProcessGroupConfig& config) : config_(config) {
  // c10d logs every retry and failure with a backtrace on stderr; our errors carry the cause, so only
  // fatal messages are shown unless the user asked for c10's log (TORCH_CPP_LOG_LEVEL).
  if (!std::getenv("TORCH_CPP_LOG_LEVEL")) FLAGS_caffe2_log_level = 3;
  const std::string where = "rendezvous (rank " + std::to_string(config.rank) + " of " + std::to_string(config.worldSize) + ", master " +
                            config.masterAddr + ":" + std::to_string(config.masterPort) + ")";
  const bool server = config.hostStore && config.rank == 0;
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(config.masterPort);
  opts.isServer = server;
  opts.numWorkers = static_cast<size_t>(config.worldSize);
  opts.waitWorkers = false;  // the backend's own rendezvous waits for every rank
  opts.timeout = config.timeout;
  // The classic store server, not the libuv one: libtorch's bundled libuv symbols would resolve to
  // Node's own libuv inside this process.
  opts.useLibUV = false;
  c10::intrusive_ptr<c10d::Store> tcp;
  try {
    tcp = c10::make_intrusive<c10d::TCPStore>(config.masterAddr, opts);
  } catch (const std::exception& e) {
    const std::string msg = causeOf(e);
    if (server && (mentions(msg, "eaddrinuse") || mentions(msg, "address already in use"))) {
      throw std::runtime_error(where + ": port " + std::to_string(config.masterPort) + " is already in use on this machine, so rank 0 cannot host the store. " +
                               "Choose a free MASTER_PORT (--master-port), or stop the process that holds it.");
    }
    if (server) {
      throw std::runtime_error(where + ": rank 0 could not host the store on " + config.masterAddr + ":" + std::to_string(config.masterPort) +
                               " (is MASTER_ADDR an address of this machine?): " + msg);
    }
    throw std::runtime_error(where + ": could not reach the store at " + config.masterAddr + ":" + std::to_string(config.masterPort) + " within " +
                             seconds(config.timeout) + ". Is rank 0 (or the launcher's agent) running, are MASTER_ADDR/MASTER_PORT right, and does no " +
                             "firewall block the port? Cause: " + msg);
  }
  store_ = c10::make_intrusive<c10d::PrefixStore>(config.storePrefix, tcp);
  // Each backend rendezvouses under its own prefix; the failure keys (missingRanks) live in store_ itself.
  auto glooStore = c10::make_intrusive<c10d::PrefixStore>("gloo", store_);
  auto ncclStore = c10::make_intrusive<c10d::PrefixStore>("nccl", store_);
  BackendConfig bc;
  bc.rank = config.rank;
  bc.size = config.worldSize;
  bc.timeout = config.timeout;
  bc.interface = config.interface;
  bc.hostname = config.masterAddr == "localhost" || config.masterAddr.rfind("127.", 0) == 0 ? config.masterAddr : "";
  bc.threads = config.threads;
  try {
    if (bc.interface.empty() && bc.hostname.empty()) {
      // Multi-node without GLOO_SOCKET_IFNAME: bind to the address this host's name resolves to.
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      bc.hostname = host;
    }
    backend_ = makeGlooBackend(glooStore, bc);
    if (config.backend == "nccl") cudaBackend_ = makeNcclBackend(ncclStore, bc);
  } catch (const std::exception& e) {
    const std::string msg = causeOf(e);
    throw std::runtime_error(where + ": not every rank joined within " + seconds(config.timeout) + " (" + config.backend +
                             "): check that all " + std::to_string(config.worldSize) + " ranks were started with the same WORLD_SIZE and " +
                             "MASTER_ADDR/MASTER_PORT, and that each has its own RANK. Cause: " + msg);
  }
}

ProcessGroup::~ProcessGroup() {
  if (failures_ > 0) {
    // A failed collective may leave a backend thread blocked on a lost peer until its timeout; joining it
    // here would hang the process's exit. The process is ending its run anyway.
    backend_.release();
    cudaBackend_.release();
  }
}

c10::intrusive_ptr<c10d::Backend> ProcessGroup::live(const char* what, const torch::Device& device) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!backend_) throw std::runtime_error(std::string("ProcessGroup.") + what + ": the process group was destroyed");
  return device.is_cuda() && cudaBackend_ ? cudaBackend_ : backend_;
}

bool ProcessGroup::destroyed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !backend_;
}

void ProcessGroup::destroy() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failures_ > 0) {  // see ~ProcessGroup
    backend_.release();
    cudaBackend_.release();
  }
  backend_.reset();
  cudaBackend_.reset();
  store_.reset();
}

std::string ProcessGroup::missingRanks() {
  c10::intrusive_ptr<c10d::Store> store;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    store = store_;
  }
  if (!store) return "";
  const auto key = [](int r) { return "failed/" + std::to_string(r); };
  try {
    store->set("abort", std::vector<uint8_t>{1});
    store->set(key(config_.rank), std::vector<uint8_t>{1});
  } catch (const std::exception&) {
    return config_.hostStore ? "rank 0 is lost (it hosts the rendezvous store, which no longer answers)" : "the launcher's store no longer answers";
  }
  // The other survivors report within moments of seeing the abort; whoever does not is lost or stuck.
  const auto deadline = Clock::now() + std::min<milliseconds>(config_.timeout, milliseconds(5000));
  std::vector<int> missing;
  bool polled = false;
  for (;;) {
    std::vector<int> now;
    try {
      for (int r = 0; r < config_.worldSize; ++r) {
        if (!store->check({key(r)})) now.push_back(r);
      }
    } catch (const std::exception&) {
      // Rank 0 reported and then ended its process (taking the store with it): the last answer stands.
      if (polled) break;
      return "rank 0 is lost (it hosts the rendezvous store, which stopped answering)";
    }
    missing = now;
    polled = true;
    if (missing.empty() || Clock::now() > deadline) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  if (missing.empty()) return "";
  std::string names;
  for (int r : missing) names += (names.empty() ? "" : ", ") + std::to_string(r);
  return (missing.size() == 1 ? "rank " : "ranks ") + names + (missing.size() == 1 ? " is" : " are") +
         " lost (no report within 5 s: the process died, hangs, or cannot be reached)";
}

void ProcessGroup::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  const auto deadline = Clock::now() + config_.timeout;
  std::string cause;
  try {
    // In slices, so that a failure another rank saw (the "abort" key) stops this rank at once, even when
    // its own peers are still connected.
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      try {
        work->wait(std::max(milliseconds(1), std::min(left, milliseconds(250))));
        return;
      } catch (...) {
        if (work->isCompleted()) throw;  // the collective failed (a peer's connection closed...)
      }
      if (Clock::now() >= deadline) {
        cause = "no result within the collective timeout of " + seconds(config_.timeout);
        break;
      }
      bool aborted = false;
      try {
        c10::intrusive_ptr<c10d::Store> store;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          store = store_;
        }
        aborted = store && store->check({"abort"});
      } catch (const std::exception&) {
        aborted = true;  // the store's host (rank 0) is gone
      }
      if (aborted) {
        cause = "another rank reported a failure";
        break;
      }
    }
  } catch (const std::exception& e) {
    cause = causeOf(e);
  }
  ++failures_;
  const std::string lost = missingRanks();
  throw std::runtime_error("reviewkd distributed: " + what + " failed on rank " + std::to_string(config_.rank) + " of " +
                           std::to_string(config_.worldSize) + (lost.empty() ? "" : ": " + lost) + ". Cause: " + cause);
}

std::function<void()> ProcessGroup::allReduceStart(const std::vector<torch::Tensor>& tensors, ReduceKind op) {
  if (tensors.empty()) throw JsRangeError("ProcessGroup.allReduce: no tensors given");
  live("allReduce", tensors[0].device());  // refuses a destroyed group before any work
  std::vector<std::pair<std::vector<torch::Tensor>, torch::Tensor>> groups;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& group : byDtype(tensors)) {
    if (op == ReduceKind::Avg && !at::isFloatingType(group[0].scalar_type())) {
      throw JsRangeError("ProcessGroup.allReduce: op 'avg' needs floating-point tensors; got " + std::string(c10::toString(group[0].scalar_type())));
    }
    std::vector<torch::Tensor> flat = {flatten(group)};
    c10d::AllreduceOptions o;
    o.reduceOp = reduceOp(op);
    o.timeout = config_.timeout;
    works.push_back(live("allReduce", flat[0].device())->allreduce(flat, o));
    groups.emplace_back(std::move(group), flat[0]);
  }
  const double n = config_.worldSize;
  return [this, groups, works, op, n] {
    for (size_t i = 0; i < works.size(); ++i) {
      wait(works[i], "allReduce");
      if (op == ReduceKind::Avg) groups[i].second.div_(n);
      unflatten(groups[i].second, groups[i].first);
    }
  };
}

std::function<void()> ProcessGroup::broadcastStart(const std::vector<torch::Tensor>& tensors, int root) {
  if (tensors.empty()) throw JsRangeError("ProcessGroup.broadcast: no tensors given");
  live("broadcast", tensors[0].device());
  std::vector<std::pair<std::vector<torch::Tensor>, torch::Tensor>> groups;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& group : byDtype(tensors)) {
    std::vector<torch::Tensor> flat = {flatten(group)};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = config_.timeout;
    works.push_back(live("broadcast", flat[0].device())->broadcast(flat, o));
    groups.emplace_back(std::move(group), flat[0]);
  }
  const bool isRoot = root == config_.rank;
  return [this, groups, works, isRoot] {
    for (size_t i = 0; i < works.size(); ++i) {
      wait(works[i], "broadcast");
      if (!isRoot) unflatten(groups[i].second, groups[i].first);
    }
  };
}

std::function<std::vector<torch::Tensor>()> ProcessGroup::allGatherStart(const torch::Tensor& tensor) {
  auto backend = live("allGather", tensor.device());
  std::vector<torch::Tensor> input = {tensor.detach().contiguous().clone()};
  std::vector<std::vector<torch::Tensor>> output(1);
  for (int r = 0; r < config_.worldSize; ++r) output[0].push_back(torch::empty_like(input[0]));
  c10d::AllgatherOptions o;
  o.timeout = config_.timeout;
  auto work = backend->allgather(output, input, o);
  return [this, work, output] {
    wait(work, "allGather");
    return output[0];
  };
}

std::function<void()> ProcessGroup::barrierStart() {
  auto backend = live("barrier", torch::kCPU);
  c10d::BarrierOptions o;
  o.timeout = config_.timeout;
  auto work = backend->barrier(o);
  return [this, work] { wait(work, "barrier"); };
}

void ProcessGroup::averageGradients(const std::vector<torch::Tensor>& grads, torch::Tensor& found) {
  const auto started = Clock::now();
  torch::NoGradGuard noGrad;
  if (grads.empty()) return;
  auto backend = live("averageGradients", grads[0].device());
  // One flat buffer: every gradient, then the local non-finite flag. A NaN or Inf in any rank's gradient
  // spreads through the sum to every rank, and the summed flag counts the ranks whose loss was not
  // finite: the skip decision below is the same everywhere.
  std::vector<torch::Tensor> parts;
  for (const auto& g : grads) parts.push_back(g.reshape({-1}).to(torch::kFloat32));
  parts.push_back(found.reshape({1}).to(torch::kFloat32));
  std::vector<torch::Tensor> flat = {torch::cat(parts)};
  c10d::AllreduceOptions o;
  o.timeout = config_.timeout;
  wait(backend->allreduce(flat, o), "allReduce of the gradients");
  const int64_t total = flat[0].numel();
  flat[0].narrow(0, 0, total - 1).div_(static_cast<double>(config_.worldSize));
  int64_t offset = 0;
  for (const auto& g : grads) {
    const int64_t n = g.numel();
    g.copy_(flat[0].narrow(0, offset, n).view(g.sizes()));
    offset += n;
  }
  found.copy_(flat[0].narrow(0, total - 1, 1).gt(0).to(found.scalar_type()).reshape(found.sizes()));
  gradientSeconds_ += std::chrono::duration<double>(Clock::now() - started).count();
}

double ProcessGroup::takeGradientSeconds() {
  const double s = gradientSeconds_;
  gradientSeconds_ = 0;
  return s;
}

}  // namespace rk
