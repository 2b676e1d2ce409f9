// Names shared with TypeScript for dtypes and devices, and their LibTorch counterparts.
#pragma once
#include <string>

#include <torch/torch.h>

namespace rk {

// 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'uint8' | 'bool'.
// Throws JsRangeError naming `argName` for any other string.
torch::ScalarType parseDtype(const std::string& name, const char* argName);
std::string dtypeName(torch::ScalarType t);

// 'cpu', 'cuda' or 'cuda:N'. Throws JsRangeError for a malformed string and a plain error when
// CUDA is asked for but this LibTorch build or machine has none (or too few devices).
torch::Device parseDevice(const std::string& name, const char* argName);
std::string deviceName(const torch::Device& d);

}  // namespace rk
