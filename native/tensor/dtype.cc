#include "tensor/dtype.h"

#include <regex>

#include "common/cuda_status.h"
#include "common/errors.h"

namespace rk {

namespace {
const std::pair<const char*, torch::ScalarType> kDtypes[] = {
    {"float32", torch::kFloat32}, {"float64", torch::kFloat64}, {"float16", torch::kFloat16},
    {"bfloat16", torch::kBFloat16}, {"int64", torch::kInt64},   {"int32", torch::kInt32},
    {"uint8", torch::kUInt8},       {"bool", torch::kBool},
};
}  // namespace

torch::ScalarType parseDtype(const std::string& name, const char* argName) {
  for (const auto& [n, t] : kDtypes) {
    if (name == n) return t;
  }
  throw JsRangeError(std::string(argName) + " must be one of 'float32', 'float64', 'float16', 'bfloat16', " +
                     "'int64', 'int32', 'uint8', 'bool'; got '" + name + "'");
}

std::string dtypeName(torch::ScalarType t) {
  for (const auto& [n, s] : kDtypes) {
    if (s == t) return n;
  }
  return c10::toString(t);
}

torch::Device parseDevice(const std::string& name, const char* argName) {
  static const std::regex pattern("^(cpu|cuda)(:([0-9]{1,3}))?$");
  std::smatch m;
  if (!std::regex_match(name, m, pattern) || (m[1] == "cpu" && m[2].matched)) {
    throw JsRangeError(std::string(argName) + " must be 'cpu', 'cuda' or 'cuda:N'; got '" + name + "'");
  }
  if (m[1] == "cpu") return torch::Device(torch::kCPU);
  const int index = m[3].matched ? std::stoi(m[3]) : 0;
  if (!torch::cuda::is_available()) {
    throw std::runtime_error(std::string(argName) + " is '" + name + "' but CUDA is not available: " + cudaUnavailableReason() +
                             ". Use 'cpu' ('reviewkd doctor' explains what was found).");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw JsRangeError(std::string(argName) + " is '" + name + "' but only " + std::to_string(count) +
                       " CUDA device(s) are visible");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string deviceName(const torch::Device& d) {
  if (d.is_cpu()) return "cpu";
  return d.str();
}

}  // namespace rk
