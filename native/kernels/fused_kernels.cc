#include "kernels/fused_kernels.h"

#include <atomic>

#include "kernels/batch_norm_kernels.h"

namespace rk {

namespace {
std::atomic<bool> enabled{false};
}  // namespace

bool fusedKernelsEnabled() { return enabled.load(std::memory_order_relaxed); }

void setFusedKernels(bool on) {
  if (on == enabled.load()) return;
  setBatchNormKernels(on);
  enabled.store(on);
}

}  // namespace rk
