// Validation of JS arguments. Each accessor names the function and the argument in its error, says
// what was expected and what was given, and throws JsTypeError (wrong kind) or JsRangeError (bad value).
#pragma once
#include <string>
#include <vector>

#include <napi.h>
#include <torch/torch.h>

namespace rk {

// A short description of a JS value for error messages: "a string ('abc')", "NaN", "an Array of length 2".
std::string describe(const Napi::Value& v);

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn) : info_(info), fn_(fn) {}

  Napi::Env env() const { return info_.Env(); }
  Napi::Value operator[](size_t i) const { return info_[i]; }
  size_t length() const { return info_.Length(); }
  // True when argument i was given and is neither undefined nor null.
  bool has(size_t i) const;

  const torch::Tensor& tensor(size_t i, const char* name) const;
  std::vector<torch::Tensor> tensorList(size_t i, const char* name) const;
  double number(size_t i, const char* name, bool allowNonFinite = false) const;
  int64_t integer(size_t i, const char* name, int64_t lo, int64_t hi) const;
  bool boolean(size_t i, const char* name) const;
  std::string string(size_t i, const char* name) const;
  std::vector<int64_t> intList(size_t i, const char* name, int64_t lo, int64_t hi, size_t maxLength = 64) const;
  // A tensor shape: non-negative integers, rank <= 16, element count bounded before any allocation.
  std::vector<int64_t> shape(size_t i, const char* name) const;
  // A dimension of a tensor of rank `rank`, negative values counting from the end; returned normalised.
  int64_t dim(size_t i, const char* name, int64_t rank) const;
  torch::ScalarType dtype(size_t i, const char* name) const;
  torch::Device device(size_t i, const char* name) const;

  // "fn: argument 'name'" — the prefix of every message.
  std::string where(const char* name) const;
  std::string where(size_t i, const char* name) const;

 private:
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

}  // namespace rk
