// Why: glibc hands blocks above 32 MiB (its largest mmap threshold) straight back to the kernel, so even
// with common/cpu_memory.cc's mallopt settings a model whose activations are that large (resnet32x4 at
// batch 128 in fp32) has every one of them faulted in and zeroed again at each step. This allocator sits
// in front of c10's own (64-byte aligned alloc_cpu/free_cpu): a freed block of 256 KiB or more is kept in a
// list for its exact size (rounded up to 4 KiB) and handed out again for the next request of that size;
// smaller blocks go straight to malloc, which reuses them well. The cache is bounded (a block that would
// exceed the bound is freed at once) and emptied by emptyReusingCpuAllocator() when training ends.
#include "common/reusing_cpu_allocator.h"

#include <mutex>
#include <unordered_map>
#include <vector>

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

namespace rk {

namespace {

constexpr std::size_t kMinCachedBlock = 256 << 10;
constexpr std::size_t kGranule = 4 << 10;
// alloc_cpu aligns to 64 bytes; the header keeps the block's size and keeps the data 64-byte aligned.
constexpr std::size_t kHeader = 64;

class ReusingCpuAllocator final : public c10::Allocator {
 public:
  explicit ReusingCpuAllocator(std::size_t maxCachedBytes) : maxCached_(maxCachedBytes) {}

  c10::DataPtr allocate(std::size_t n) override {
    const std::size_t size = n < kMinCachedBlock ? n : (n + kGranule - 1) / kGranule * kGranule;
    void* base = size < kMinCachedBlock ? nullptr : take(size);
    if (base == nullptr) {
      base = c10::alloc_cpu(size + kHeader);
      *static_cast<std::size_t*>(base) = size;
    }
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &giveBack, c10::Device(c10::DeviceType::CPU)};
  }

  // One deleter for every block (oneDNN's scratch memory goes through raw_allocate/raw_deallocate).
  c10::DeleterFnPtr raw_deleter() const override { return &giveBack; }

  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  std::size_t empty() {
    std::vector<void*> blocks;
    std::size_t freed = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& [size, list] : free_) {
        for (void* b : list) blocks.push_back(b);
        freed += size * list.size();
      }
      free_.clear();
      cached_ = 0;
    }
    for (void* b : blocks) c10::free_cpu(b);
    return freed;
  }

 private:
  static void giveBack(void* data);

  void* take(std::size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(size);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* base = it->second.back();
    it->second.pop_back();
    cached_ -= size;
    return base;
  }

  void keepOrFree(void* base) {
    const std::size_t size = *static_cast<std::size_t*>(base);
    if (size >= kMinCachedBlock) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + size <= maxCached_) {
        free_[size].push_back(base);
        cached_ += size;
        return;
      }
    }
    c10::free_cpu(base);
  }

  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_ = 0;
  const std::size_t maxCached_;
};

// Never destroyed: tensors may be freed during process exit, after static destructors ran.
ReusingCpuAllocator* instance = nullptr;
std::once_flag installed;

void ReusingCpuAllocator::giveBack(void* data) { instance->keepOrFree(static_cast<char*>(data) - kHeader); }

}  // namespace

void installReusingCpuAllocator(std::size_t maxCachedBytes) {
  std::call_once(installed, [&] {
    instance = new ReusingCpuAllocator(maxCachedBytes);
    // Priority above the default allocator's, so LibTorch keeps ours.
    c10::SetCPUAllocator(instance, /*priority=*/10);
  });
}

std::size_t emptyReusingCpuAllocator() { return instance == nullptr ? 0 : instance->empty(); }

}  // namespace rk
