// Arithmetic around training: broadcasting binary ops and comparisons, unary maps, matmul,
// reductions, softmax and clamp. Shapes and devices are checked up front so the error names the
// argument; anything LibTorch still rejects arrives as a JS Error with LibTorch's message.
#include "common/export.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

using TT = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&);
using TS = torch::Tensor (*)(const torch::Tensor&, const torch::Scalar&);

void checkSameDevice(const Args& a, const torch::Tensor& self, const torch::Tensor& other, const char* name) {
  // A 0-d CPU tensor is a scalar LibTorch moves itself.
  if (self.device() != other.device() && !(other.dim() == 0 && other.is_cpu())) {
    throw JsRangeError(a.where(name) + " is on '" + deviceName(other.device()) + "' but the tensor is on '" +
                       deviceName(self.device()) + "'; move one with .to()");
  }
}

void checkBroadcast(const Args& a, const torch::Tensor& self, const torch::Tensor& other, const char* name) {
  const auto s = self.sizes();
  const auto o = other.sizes();
  for (size_t k = 1; k <= std::min(s.size(), o.size()); ++k) {
    const int64_t x = s[s.size() - k], y = o[o.size() - k];
    if (x != y && x != 1 && y != 1) {
      throw JsRangeError(a.where(name) + " has shape " + c10::str(o) + ", which does not broadcast with " + c10::str(s));
    }
  }
}

// op(self, other) where other is a Tensor or a number.
Binding binary(TT tt, TS ts) {
  return [tt, ts](const Args& a) -> Napi::Value {
    const torch::Tensor& self = a.tensor(0, "self");
    if (a[1].IsNumber() || a[1].IsBoolean()) {
      const torch::Scalar s = a[1].IsBoolean() ? torch::Scalar(a.boolean(1, "other")) : torch::Scalar(a.number(1, "other", true));
      return TensorWrap::Wrap(a.env(), ts(self, s));
    }
    if (!TensorWrap::IsTensor(a.env(), a[1])) throw JsTypeError(a.where("other") + " must be a Tensor or a number; got " + describe(a[1]));
    const torch::Tensor& other = a.tensor(1, "other");
    checkSameDevice(a, self, other, "other");
    checkBroadcast(a, self, other, "other");
    return TensorWrap::Wrap(a.env(), tt(self, other));
  };
}

Binding unary(torch::Tensor (*f)(const torch::Tensor&)) {
  return [f](const Args& a) -> Napi::Value { return TensorWrap::Wrap(a.env(), f(a.tensor(0, "self"))); };
}

Napi::Value matmul(const Args& a) {
  const auto& self = a.tensor(0, "self");
  const auto& other = a.tensor(1, "other");
  if (self.dim() == 0 || other.dim() == 0) throw JsRangeError(a.where(self.dim() == 0 ? "self" : "other") + " must have at least 1 dimension for matmul");
  checkSameDevice(a, self, other, "other");
  const int64_t k1 = self.size(-1);
  const int64_t k2 = other.dim() == 1 ? other.size(0) : other.size(-2);
  if (k1 != k2) {
    throw JsRangeError(a.where("other") + " has shape " + c10::str(other.sizes()) + ", incompatible with " +
                       c10::str(self.sizes()) + " for matmul (inner sizes " + std::to_string(k1) + " and " + std::to_string(k2) + ")");
  }
  return TensorWrap::Wrap(a.env(), torch::matmul(self, other));
}

// Reduction dims: undefined/null = all, an integer, or an Array of integers.
std::optional<std::vector<int64_t>> reductionDims(const Args& a, size_t i, int64_t rank) {
  if (!a.has(i)) return std::nullopt;
  if (a[i].IsNumber()) return std::vector<int64_t>{a.dim(i, "dim", rank)};
  std::vector<int64_t> dims = a.intList(i, "dim", -std::max<int64_t>(rank, 1), std::max<int64_t>(rank, 1) - 1);
  for (auto& d : dims) d = d < 0 ? d + std::max<int64_t>(rank, 1) : d;
  return dims;
}

bool keepdimArg(const Args& a, size_t i) { return a.has(i) ? a.boolean(i, "keepdim") : false; }

// sum/mean/amax/amin(self, dim?, keepdim?)
Napi::Value reduce(const Args& a, const std::string& op) {
  const auto& self = a.tensor(0, "self");
  const auto dims = reductionDims(a, 1, self.dim());
  const bool keepdim = keepdimArg(a, 2);
  if ((op == "amax" || op == "amin") && self.numel() == 0) throw JsRangeError(a.where("self") + " is empty; max/min of nothing is undefined");
  if (op == "mean" && !c10::isFloatingType(self.scalar_type())) {
    throw JsRangeError(a.where("self") + " has dtype '" + dtypeName(self.scalar_type()) + "'; mean needs a floating dtype (use .to('float32'))");
  }
  std::vector<int64_t> all;
  const std::vector<int64_t>& d = dims ? *dims : all;
  torch::Tensor out;
  if (op == "sum") out = dims ? self.sum(d, keepdim) : self.sum();
  else if (op == "mean") out = dims ? self.mean(d, keepdim) : self.mean();
  else if (op == "amax") out = self.amax(d, keepdim);
  else out = self.amin(d, keepdim);
  return TensorWrap::Wrap(a.env(), out);
}

// argmax/argmin(self, dim?, keepdim?): over the flattened tensor when dim is absent.
Napi::Value argReduce(const Args& a, bool max) {
  const auto& self = a.tensor(0, "self");
  if (self.numel() == 0) throw JsRangeError(a.where("self") + " is empty; argmax/argmin of nothing is undefined");
  std::optional<int64_t> dim;
  if (a.has(1)) dim = a.dim(1, "dim", self.dim());
  const bool keepdim = keepdimArg(a, 2);
  return TensorWrap::Wrap(a.env(), max ? self.argmax(dim, keepdim) : self.argmin(dim, keepdim));
}

Napi::Value softmaxLike(const Args& a, bool log) {
  const auto& self = a.tensor(0, "self");
  const int64_t dim = a.dim(1, "dim", self.dim());
  if (!c10::isFloatingType(self.scalar_type())) {
    throw JsRangeError(a.where("self") + " has dtype '" + dtypeName(self.scalar_type()) + "'; softmax needs a floating dtype");
  }
  return TensorWrap::Wrap(a.env(), log ? torch::log_softmax(self, dim) : torch::softmax(self, dim));
}

// clamp(self, min|null, max|null)
Napi::Value clamp(const Args& a) {
  const auto& self = a.tensor(0, "self");
  std::optional<torch::Scalar> lo, hi;
  if (a.has(1)) lo = a.number(1, "min");
  if (a.has(2)) hi = a.number(2, "max");
  if (!lo && !hi) throw JsRangeError(a.where("min") + ": clamp needs min, max or both");
  if (lo && hi && lo->toDouble() > hi->toDouble()) throw JsRangeError(a.where("min") + " is greater than max");
  return TensorWrap::Wrap(a.env(), torch::clamp(self, lo, hi));
}

torch::Tensor powTT(const torch::Tensor& x, const torch::Tensor& y) { return torch::pow(x, y); }
torch::Tensor powTS(const torch::Tensor& x, const torch::Scalar& y) { return torch::pow(x, y); }

}  // namespace

void registerMath(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "add", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x + y; },
                                             [](const torch::Tensor& x, const torch::Scalar& y) { return x + y; }));
  exportFunction(env, exports, "sub", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x - y; },
                                             [](const torch::Tensor& x, const torch::Scalar& y) { return x - y; }));
  exportFunction(env, exports, "mul", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x * y; },
                                             [](const torch::Tensor& x, const torch::Scalar& y) { return x * y; }));
  exportFunction(env, exports, "div", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x / y; },
                                             [](const torch::Tensor& x, const torch::Scalar& y) { return x / y; }));
  exportFunction(env, exports, "pow", binary(powTT, powTS));
  exportFunction(env, exports, "maximum", binary([](const torch::Tensor& x, const torch::Tensor& y) { return torch::maximum(x, y); },
                                                 [](const torch::Tensor& x, const torch::Scalar& y) { return torch::clamp_min(x, y); }));
  exportFunction(env, exports, "minimum", binary([](const torch::Tensor& x, const torch::Tensor& y) { return torch::minimum(x, y); },
                                                 [](const torch::Tensor& x, const torch::Scalar& y) { return torch::clamp_max(x, y); }));
  exportFunction(env, exports, "eq", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x.eq(y); },
                                            [](const torch::Tensor& x, const torch::Scalar& y) { return x.eq(y); }));
  exportFunction(env, exports, "ne", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x.ne(y); },
                                            [](const torch::Tensor& x, const torch::Scalar& y) { return x.ne(y); }));
  exportFunction(env, exports, "lt", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x.lt(y); },
                                            [](const torch::Tensor& x, const torch::Scalar& y) { return x.lt(y); }));
  exportFunction(env, exports, "le", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x.le(y); },
                                            [](const torch::Tensor& x, const torch::Scalar& y) { return x.le(y); }));
  exportFunction(env, exports, "gt", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x.gt(y); },
                                            [](const torch::Tensor& x, const torch::Scalar& y) { return x.gt(y); }));
  exportFunction(env, exports, "ge", binary([](const torch::Tensor& x, const torch::Tensor& y) { return x.ge(y); },
                                            [](const torch::Tensor& x, const torch::Scalar& y) { return x.ge(y); }));

  exportFunction(env, exports, "neg", unary([](const torch::Tensor& x) { return -x; }));
  exportFunction(env, exports, "abs", unary([](const torch::Tensor& x) { return x.abs(); }));
  exportFunction(env, exports, "exp", unary([](const torch::Tensor& x) { return x.exp(); }));
  exportFunction(env, exports, "log", unary([](const torch::Tensor& x) { return x.log(); }));
  exportFunction(env, exports, "sqrt", unary([](const torch::Tensor& x) { return x.sqrt(); }));
  exportFunction(env, exports, "relu", unary([](const torch::Tensor& x) { return torch::relu(x); }));
  exportFunction(env, exports, "sigmoid", unary([](const torch::Tensor& x) { return torch::sigmoid(x); }));
  exportFunction(env, exports, "tanh", unary([](const torch::Tensor& x) { return torch::tanh(x); }));
  exportFunction(env, exports, "matmul", matmul);

  exportFunction(env, exports, "sum", [](const Args& a) { return reduce(a, "sum"); });
  exportFunction(env, exports, "mean", [](const Args& a) { return reduce(a, "mean"); });
  exportFunction(env, exports, "amax", [](const Args& a) { return reduce(a, "amax"); });
  exportFunction(env, exports, "amin", [](const Args& a) { return reduce(a, "amin"); });
  exportFunction(env, exports, "argmax", [](const Args& a) { return argReduce(a, true); });
  exportFunction(env, exports, "argmin", [](const Args& a) { return argReduce(a, false); });
  exportFunction(env, exports, "softmax", [](const Args& a) { return softmaxLike(a, false); });
  exportFunction(env, exports, "logSoftmax", [](const Args& a) { return softmaxLike(a, true); });
  exportFunction(env, exports, "clamp", clamp);
}

}  // namespace rk
