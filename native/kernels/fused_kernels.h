// The process-wide switch for reviewkd's own CPU kernels (fused BatchNorm, the ABF attention mix, ...).
// On by default; REVIEWKD_FUSED_KERNELS=0 (read in lib/native.ts) turns them off, so every step runs
// LibTorch's own operators again: the escape hatch for a suspected kernel bug and the A/B switch of the
// benchmark (docs/performance.md).
#pragma once

namespace rk {

/** True while the fused CPU kernels are in use (the default). */
bool fusedKernelsEnabled();

/**
 * Turns the fused CPU kernels on or off for the whole process. Kernels registered with the dispatcher
 * (BatchNorm) are registered or removed here; the others read fusedKernelsEnabled() on each call.
 * Call it between steps, not while one runs on the compute thread.
 */
void setFusedKernels(bool on);

}  // namespace rk
