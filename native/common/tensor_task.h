// Runs a tensor computation on the compute thread (common/compute_thread.h; a libuv worker waits for it) and settles a Promise with the resulting tensor,
// so the event loop keeps running while LibTorch computes.
#pragma once
#include <functional>
#include <vector>

#include <napi.h>
#include <torch/torch.h>

#include "common/compute_thread.h"
#include "common/errors.h"
#include "common/settle.h"
#include "tensor/tensor_wrap.h"

namespace rk {

class TensorTask : public Napi::AsyncWorker {
 public:
  // `compute` runs on the worker; it must only use values it captured by copy (tensors are refcounted).
  TensorTask(Napi::Env env, std::function<std::vector<torch::Tensor>()> compute)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        compute_(std::move(compute)),
        gradEnabled_(torch::GradMode::is_enabled()) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      runOnComputeThread([this] {
        // Grad mode is thread-local: carry the caller's setting over to the compute thread.
        torch::AutoGradMode mode(gradEnabled_);
        results_ = compute_();
      });
    } catch (...) {
      SetError(messageOf(std::current_exception()));
    }
  }

  void OnOK() override {
    settle(Env(), deferred_, [&] {
      if (results_.size() == 1) {
        deferred_.Resolve(TensorWrap::Wrap(Env(), results_[0]));
        return;
      }
      Napi::Array out = Napi::Array::New(Env(), results_.size());
      for (size_t i = 0; i < results_.size(); ++i) out.Set(static_cast<uint32_t>(i), TensorWrap::Wrap(Env(), results_[i]));
      deferred_.Resolve(out);
    });
  }

  void OnError(const Napi::Error& e) override {
    settle(Env(), deferred_, [&] { deferred_.Reject(e.Value()); });
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<std::vector<torch::Tensor>()> compute_;
  bool gradEnabled_;
  std::vector<torch::Tensor> results_;
};

// Queues `compute` and returns its Promise.
inline Napi::Value runAsync(Napi::Env env, std::function<std::vector<torch::Tensor>()> compute) {
  auto* task = new TensorTask(env, std::move(compute));  // deleted by node-addon-api after completion
  Napi::Promise p = task->Promise();
  task->Queue();
  return p;
}

}  // namespace rk
