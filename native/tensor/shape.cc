// Shape and layout: reshape/view/permute/transpose/(un)squeeze/flatten, slicing and index_select,
// cat/stack, contiguous/clone/detach and dtype/device moves.
#include "common/export.h"
#include "tensor/dtype.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

// A target shape with at most one -1; its element count must match the tensor's.
std::vector<int64_t> targetShape(const Args& a, const torch::Tensor& self) {
  std::vector<int64_t> shape = a.intList(1, "shape", -1, int64_t{1} << 40, 16);
  int64_t known = 1, inferred = -1;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == -1) {
      if (inferred >= 0) throw JsRangeError(a.where("shape") + " may contain -1 only once");
      inferred = static_cast<int64_t>(k);
    } else {
      known *= shape[k];
    }
  }
  const int64_t numel = self.numel();
  if (inferred >= 0) {
    if (known == 0 || numel % known != 0) {
      throw JsRangeError(a.where("shape") + " " + c10::str(c10::IntArrayRef(shape)) + " cannot hold the " + std::to_string(numel) +
                         " elements of a tensor of shape " + c10::str(self.sizes()));
    }
    shape[inferred] = numel / known;
  } else if (known != numel) {
    throw JsRangeError(a.where("shape") + " " + c10::str(c10::IntArrayRef(shape)) + " has " + std::to_string(known) +
                       " elements but the tensor of shape " + c10::str(self.sizes()) + " has " + std::to_string(numel));
  }
  return shape;
}

Napi::Value reshape(const Args& a) {
  const auto& self = a.tensor(0, "self");
  return TensorWrap::Wrap(a.env(), self.reshape(targetShape(a, self)));
}

Napi::Value view(const Args& a) {
  const auto& self = a.tensor(0, "self");
  auto shape = targetShape(a, self);
  if (!self.is_contiguous()) {
    throw JsRangeError(a.where("self") + " is not contiguous, so it has no view of shape " + c10::str(c10::IntArrayRef(shape)) +
                       "; use reshape() or contiguous() first");
  }
  return TensorWrap::Wrap(a.env(), self.view(shape));
}

Napi::Value permute(const Args& a) {
  const auto& self = a.tensor(0, "self");
  std::vector<int64_t> dims = a.intList(1, "dims", -std::max<int64_t>(self.dim(), 1), std::max<int64_t>(self.dim(), 1) - 1);
  if (static_cast<int64_t>(dims.size()) != self.dim()) {
    throw JsRangeError(a.where("dims") + " must list all " + std::to_string(self.dim()) + " dimensions; got " + std::to_string(dims.size()));
  }
  std::vector<bool> seen(dims.size(), false);
  for (auto& d : dims) {
    if (d < 0) d += self.dim();
    if (seen[d]) throw JsRangeError(a.where("dims") + " repeats dimension " + std::to_string(d));
    seen[d] = true;
  }
  return TensorWrap::Wrap(a.env(), self.permute(dims));
}

Napi::Value transpose(const Args& a) {
  const auto& self = a.tensor(0, "self");
  return TensorWrap::Wrap(a.env(), self.transpose(a.dim(1, "dim0", self.dim()), a.dim(2, "dim1", self.dim())));
}

Napi::Value squeeze(const Args& a) {
  const auto& self = a.tensor(0, "self");
  if (!a.has(1)) return TensorWrap::Wrap(a.env(), self.squeeze());
  return TensorWrap::Wrap(a.env(), self.squeeze(a.dim(1, "dim", self.dim())));
}

Napi::Value unsqueeze(const Args& a) {
  const auto& self = a.tensor(0, "self");
  return TensorWrap::Wrap(a.env(), self.unsqueeze(a.dim(1, "dim", self.dim() + 1)));
}

Napi::Value flatten(const Args& a) {
  const auto& self = a.tensor(0, "self");
  const int64_t start = a.has(1) ? a.dim(1, "startDim", self.dim()) : 0;
  const int64_t end = a.has(2) ? a.dim(2, "endDim", self.dim()) : std::max<int64_t>(self.dim(), 1) - 1;
  if (start > end) throw JsRangeError(a.where("startDim") + " must not come after endDim");
  return TensorWrap::Wrap(a.env(), self.flatten(start, end));
}

// slice(self, dim, start, end?, step?): Python-style bounds (negative counts from the end, clipped).
Napi::Value slice(const Args& a) {
  const auto& self = a.tensor(0, "self");
  if (self.dim() == 0) throw JsRangeError(a.where("self") + " is 0-dimensional and cannot be sliced");
  const int64_t dim = a.dim(1, "dim", self.dim());
  const int64_t big = int64_t{1} << 53;
  const int64_t start = a.has(2) ? a.integer(2, "start", -big, big) : 0;
  std::optional<int64_t> end;
  if (a.has(3)) end = a.integer(3, "end", -big, big);
  const int64_t step = a.has(4) ? a.integer(4, "step", 1, big) : 1;
  return TensorWrap::Wrap(a.env(), self.slice(dim, start, end, step));
}

Napi::Value indexSelect(const Args& a) {
  const auto& self = a.tensor(0, "self");
  if (self.dim() == 0) throw JsRangeError(a.where("self") + " is 0-dimensional");
  const int64_t dim = a.dim(1, "dim", self.dim());
  const auto& index = a.tensor(2, "index");
  if (index.dim() > 1) throw JsRangeError(a.where("index") + " must be 0- or 1-dimensional; got shape " + c10::str(index.sizes()));
  if (index.scalar_type() != torch::kInt64 && index.scalar_type() != torch::kInt32) {
    throw JsRangeError(a.where("index") + " must have dtype 'int64' or 'int32'; got '" + dtypeName(index.scalar_type()) + "'");
  }
  if (index.device() != self.device()) throw JsRangeError(a.where("index") + " is on '" + deviceName(index.device()) + "' but self is on '" + deviceName(self.device()) + "'");
  if (index.numel() > 0) {
    const int64_t lo = index.min().item<int64_t>(), hi = index.max().item<int64_t>();
    if (lo < 0 || hi >= self.size(dim)) {
      throw JsRangeError(a.where("index") + " holds " + std::to_string(lo < 0 ? lo : hi) + ", outside [0, " + std::to_string(self.size(dim)) +
                         ") for dimension " + std::to_string(dim));
    }
  }
  return TensorWrap::Wrap(a.env(), self.index_select(dim, index));
}

// cat/stack(tensors, dim): same device and dtype-compatible; shapes checked with a named element.
Napi::Value join(const Args& a, bool stack) {
  const auto tensors = a.tensorList(0, "tensors");
  if (tensors.empty()) throw JsRangeError(a.where("tensors") + " must not be empty");
  const auto& first = tensors[0];
  const int64_t rank = stack ? first.dim() + 1 : first.dim();
  if (!stack && rank == 0) throw JsRangeError(a.where("tensors") + "[0] is 0-dimensional; cat needs at least 1 dimension (use stack)");
  const int64_t dim = a.has(1) ? a.dim(1, "dim", rank) : 0;
  for (size_t k = 1; k < tensors.size(); ++k) {
    const auto& t = tensors[k];
    const std::string label = a.where("tensors") + "[" + std::to_string(k) + "]";
    if (t.device() != first.device()) throw JsRangeError(label + " is on '" + deviceName(t.device()) + "' but tensors[0] is on '" + deviceName(first.device()) + "'");
    bool ok = t.dim() == first.dim();
    for (int64_t d = 0; ok && d < first.dim(); ++d) ok = (t.size(d) == first.size(d)) || (!stack && d == dim);
    if (!ok) {
      throw JsRangeError(label + " has shape " + c10::str(t.sizes()) + ", incompatible with tensors[0] of shape " + c10::str(first.sizes()) +
                         (stack ? " (stack needs equal shapes)" : " (cat needs equal sizes outside dim " + std::to_string(dim) + ")"));
    }
  }
  return TensorWrap::Wrap(a.env(), stack ? torch::stack(tensors, dim) : torch::cat(tensors, dim));
}

// to(self, dtype|null, device|null, channelsLast?)
Napi::Value to(const Args& a) {
  const auto& self = a.tensor(0, "self");
  const auto dtype = a.has(1) ? a.dtype(1, "dtype") : self.scalar_type();
  const auto device = a.has(2) ? a.device(2, "device") : self.device();
  auto out = self.to(device, dtype);
  if (a.has(3) && a.boolean(3, "channelsLast")) {
    if (out.dim() != 4) throw JsRangeError(a.where("channelsLast") + " needs a 4-d tensor; got shape " + c10::str(out.sizes()));
    out = out.contiguous(torch::MemoryFormat::ChannelsLast);
  }
  return TensorWrap::Wrap(a.env(), out);
}

}  // namespace

void registerShape(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "reshape", reshape);
  exportFunction(env, exports, "view", view);
  exportFunction(env, exports, "permute", permute);
  exportFunction(env, exports, "transpose", transpose);
  exportFunction(env, exports, "squeeze", squeeze);
  exportFunction(env, exports, "unsqueeze", unsqueeze);
  exportFunction(env, exports, "flatten", flatten);
  exportFunction(env, exports, "slice", slice);
  exportFunction(env, exports, "indexSelect", indexSelect);
  exportFunction(env, exports, "cat", [](const Args& a) { return join(a, false); });
  exportFunction(env, exports, "stack", [](const Args& a) { return join(a, true); });
  exportFunction(env, exports, "to", to);
  exportFunction(env, exports, "contiguous", [](const Args& a) -> Napi::Value { return TensorWrap::Wrap(a.env(), a.tensor(0, "self").contiguous()); });
  exportFunction(env, exports, "clone", [](const Args& a) -> Napi::Value { return TensorWrap::Wrap(a.env(), a.tensor(0, "self").clone()); });
  exportFunction(env, exports, "detach", [](const Args& a) -> Napi::Value { return TensorWrap::Wrap(a.env(), a.tensor(0, "self").detach()); });
}

}  // namespace rk
