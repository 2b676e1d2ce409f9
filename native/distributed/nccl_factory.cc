// The one translation unit that includes ProcessGroupNCCL.hpp: only in the CUDA variant, and only when the
// build found nccl.h (RK_WITH_NCCL; it ships in the nvidia-nccl wheel that a pip CUDA torch installs).
#include "distributed/backend_factory.h"

#include <stdexcept>

#if defined(RK_WITH_CUDA) && defined(RK_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace rk {

#if defined(RK_WITH_CUDA) && defined(RK_WITH_NCCL)

bool ncclAvailable() { return true; }

c10::intrusive_ptr<c10d::Backend> makeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store, const BackendConfig& config) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = config.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, config.rank, config.size, options);
}

#else

bool ncclAvailable() { return false; }

c10::intrusive_ptr<c10d::Backend> makeNcclBackend(const c10::intrusive_ptr<c10d::Store>&, const BackendConfig&) {
  throw std::runtime_error(
      "backend 'nccl' is not in this build of reviewkd: it needs the CUDA variant compiled with nccl.h (from the nvidia-nccl wheel); "
      "use backend 'gloo' (CPU tensors)");
}

#endif

}  // namespace rk
