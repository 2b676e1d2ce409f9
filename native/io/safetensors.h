// safetensors files (https://github.com/huggingface/safetensors): the weights interchange format.
// Layout: u64 little-endian header length N, N bytes of JSON header, then the dense byte buffer.
// Reading validates everything the header claims against the file size before allocating anything;
// writing is atomic (temp file, fsync, rename). Both are plain C++ so other concerns can reuse them.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace rk::safetensors {

// One supported element type: its safetensors name, LibTorch type and size in bytes (its alignment).
struct Dtype {
  const char* name;
  torch::ScalarType type;
  size_t size;
};

// nullptr when the name / type is not supported.
const Dtype* dtypeByName(const std::string& name);
const Dtype* dtypeByType(torch::ScalarType type);
// "F64, F32, ..." for error messages.
std::string supportedNames();

constexpr uint64_t kMaxHeaderBytes = 100000000;  // the reference reader's limit

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;
using Metadata = std::vector<std::pair<std::string, std::string>>;

struct Contents {
  NamedTensors tensors;  // in file order (by data offset)
  Metadata metadata;     // in header order
};

// Throws std::runtime_error naming `path`, the tensor (when one is at fault) and the problem.
Contents read(const std::string& path);

// Tensors may live on any device and have any layout; they are copied to contiguous CPU memory.
// Throws std::runtime_error naming the path or tensor; on failure an existing file is untouched.
void write(const std::string& path, const NamedTensors& tensors, const Metadata& metadata);

}  // namespace rk::safetensors
