// Builds the c10d communication backends. Each lives in its own translation unit because only that
// unit may see the backend's header (ProcessGroupGloo.hpp needs gloo's headers: see gloo_decls/README.md;
// ProcessGroupNCCL.hpp needs nccl.h). Everything else talks to c10d::Backend.
#pragma once
#include <chrono>
#include <string>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace rk {

struct BackendConfig {
  int rank = 0;
  int size = 1;
  // The timeout of every collective (gloo's context timeout; NCCL's watchdog timeout).
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // Gloo: the network interface to use (GLOO_SOCKET_IFNAME), else the address this host reaches the
  // master by (hostname), which on one machine is the loopback.
  std::string interface;
  std::string hostname;
  int threads = 2;
};

// Connects a full mesh of TCP pairs through `store` (blocks until every rank has joined or the timeout).
c10::intrusive_ptr<c10d::Backend> makeGlooBackend(const c10::intrusive_ptr<c10d::Store>& store, const BackendConfig& config);

// True when this build can make an NCCL backend (the CUDA variant built with nccl.h).
bool ncclAvailable();
// Throws when !ncclAvailable().
c10::intrusive_ptr<c10d::Backend> makeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store, const BackendConfig& config);

}  // namespace rk
