// CPU memory reuse between training steps; see cpu_memory.cc for the why and the measurements.
#pragma once
#include <string>

namespace rk {

/**
 * Makes freed CPU memory available to the next step instead of returning it to the OS. `how`:
 * "malloc" (glibc's mallopt thresholds), "cache" (those plus the reusing allocator of
 * common/reusing_cpu_allocator.h for large blocks). Returns false when nothing could be applied.
 */
bool keepFreedCpuMemory(const std::string& how);

/** Returns the kept memory to the OS now (the allocator's cache, then malloc_trim); true when some was released. */
bool releaseFreedCpuMemory();

}  // namespace rk
