// Why: a training step frees and then allocates the same activation sizes every step. glibc serves blocks
// above its mmap threshold (128 KiB, raised dynamically only up to the largest block freed so far) with
// mmap and gives them back with munmap, and trims the heap top whenever more than 128 KiB is free, so every
// step pays for fresh pages: the kernel faults each one in and zeroes it. Measured on the 2-core dev
// machine (reviewkd bench --pair resnet56-resnet20 --batch 64,128 --channels-last --autocast bf16):
// 1.03 M page faults and 2.2 s of system time per run as is, 0.25 M and 0.65 s with these settings.
// The settings keep up to 32 MiB blocks in the heap (glibc's maximum mmap threshold on 64-bit), never trim
// during training, and grow the heap in 256 MiB steps. The cost is that freed memory stays with the
// process until releaseFreedCpuMemory() (the Trainer calls it when fit() ends) or exit.
#include "common/cpu_memory.h"

#include <unistd.h>

#include <algorithm>

#include "common/reusing_cpu_allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rk {

namespace {

bool tuneMalloc() {
#if defined(__GLIBC__)
  constexpr int kMmapThreshold = 32 << 20;      // DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc
  constexpr int kTrimThreshold = 1 << 30;       // an int: 1 GiB is the largest power of two mallopt takes
  constexpr int kTopPad = 256 << 20;
  return mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1 &&
         mallopt(M_TOP_PAD, kTopPad) == 1;
#else
  return false;
#endif
}

// The reusing allocator's bound: a quarter of the physical memory, at most 8 GiB.
std::size_t cacheBound() {
  const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
  const std::size_t physical = pages > 0 && pageSize > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(pageSize) : 0;
  return std::min<std::size_t>(physical / 4, std::size_t{8} << 30);
}

}  // namespace

bool keepFreedCpuMemory(const std::string& how) {
  if (how == "malloc") return tuneMalloc();
  if (how == "cache") {
    installReusingCpuAllocator(cacheBound());
    tuneMalloc();
    return true;
  }
  return false;
}

bool releaseFreedCpuMemory() {
  const bool emptied = emptyReusingCpuAllocator() > 0;
#if defined(__GLIBC__)
  return malloc_trim(0) == 1 || emptied;
#else
  return emptied;
#endif
}

}  // namespace rk
