// CPU memory reuse between training steps (glibc's malloc settings); see cpu_memory.cc for the why.
#pragma once

namespace rk {

/** Makes glibc keep freed blocks for reuse (mallopt); true when applied (false on other C libraries). */
bool keepFreedCpuMemory();

/** Returns freed heap memory to the OS now (malloc_trim); true when some was released. */
bool releaseFreedCpuMemory();

}  // namespace rk
