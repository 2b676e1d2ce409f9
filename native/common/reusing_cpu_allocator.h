// A CPU allocator for LibTorch that keeps freed blocks of 256 KiB and more, by size, for the next request
// of the same size (a training step allocates the same activation sizes every step); see the .cc for why.
#pragma once
#include <cstddef>

namespace rk {

/** Installs the reusing allocator as LibTorch's CPU allocator (once; later calls do nothing). */
void installReusingCpuAllocator(std::size_t maxCachedBytes);

/** Frees every cached block; returns the bytes freed (0 when the allocator is not installed). */
std::size_t emptyReusingCpuAllocator();

}  // namespace rk
