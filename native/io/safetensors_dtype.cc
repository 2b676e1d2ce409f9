// The dtypes reviewkd reads and writes: those its Tensor type exposes (I8/I16 would load as tensors
// the TypeScript layer has no name for, so they are refused like any other unsupported dtype).
#include "io/safetensors.h"

namespace rk::safetensors {

namespace {
const Dtype kDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"I64", torch::kInt64, 8},   {"F32", torch::kFloat32, 4},
    {"I32", torch::kInt32, 4},   {"F16", torch::kFloat16, 2}, {"BF16", torch::kBFloat16, 2},
    {"U8", torch::kUInt8, 1},    {"BOOL", torch::kBool, 1},
};
}  // namespace

const Dtype* dtypeByName(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const Dtype* dtypeByType(torch::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (type == d.type) return &d;
  }
  return nullptr;
}

std::string supportedNames() {
  std::string out;
  for (const auto& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

}  // namespace rk::safetensors
