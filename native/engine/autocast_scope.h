// bf16 autocast for a stretch of forward code. Autocast state is thread-local, so the scope is set on
// the thread that runs the step (the compute thread) and undone, cache cleared, when it ends.
#pragma once
#include <ATen/autocast_mode.h>

namespace rk {

class AutocastScope {
 public:
  AutocastScope(bool enabled, at::DeviceType type) : enabled_(enabled), type_(type) {
    if (!enabled_) return;
    previous_ = at::autocast::is_autocast_enabled(type_);
    previousDtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::set_autocast_enabled(type_, true);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(type_, previous_);
    at::autocast::set_autocast_dtype(type_, previousDtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  at::DeviceType type_;
  bool previous_ = false;
  at::ScalarType previousDtype_ = at::kFloat;
};

// Casts a reduced-precision tensor to fp32 (losses are always computed in fp32).
inline torch::Tensor fp32(const torch::Tensor& t) {
  return !t.defined() || t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kFloat64 ? t : t.to(torch::kFloat32);
}

}  // namespace rk
