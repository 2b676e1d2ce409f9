// Runs a computation on the compute thread (common/compute_thread.h; a libuv worker waits for it) and settles a Promise with its converted result, so the
// event loop keeps running while LibTorch computes. Guards (grad mode, inference mode, autocast) are
// thread-local: the computation sets its own.
#pragma once
#include <functional>

#include <napi.h>

#include "common/compute_thread.h"
#include "common/errors.h"
#include "common/settle.h"

namespace rk {

template <typename R>
class PromiseTask : public Napi::AsyncWorker {
 public:
  PromiseTask(Napi::Env env, std::function<R()> compute, std::function<Napi::Value(Napi::Env, R&)> toJs,
              std::function<void()> onSettled)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        compute_(std::move(compute)),
        toJs_(std::move(toJs)),
        onSettled_(std::move(onSettled)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      runOnComputeThread([this] { result_ = compute_(); });
    } catch (...) {
      SetError(messageOf(std::current_exception()));
    }
  }

  void OnOK() override {
    if (onSettled_) onSettled_();
    settle(Env(), deferred_, [&] { deferred_.Resolve(toJs_(Env(), result_)); });
  }

  void OnError(const Napi::Error& e) override {
    if (onSettled_) onSettled_();
    settle(Env(), deferred_, [&] { deferred_.Reject(e.Value()); });
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<R()> compute_;
  std::function<Napi::Value(Napi::Env, R&)> toJs_;
  std::function<void()> onSettled_;
  R result_{};
};

// Queues the task and returns its Promise. `onSettled` runs on the JS thread before the Promise settles.
template <typename R>
Napi::Value runPromise(Napi::Env env, std::function<R()> compute, std::function<Napi::Value(Napi::Env, R&)> toJs,
                       std::function<void()> onSettled = nullptr) {
  auto* task = new PromiseTask<R>(env, std::move(compute), std::move(toJs), std::move(onSettled));  // freed by node-addon-api
  Napi::Promise p = task->Promise();
  task->Queue();
  return p;
}

}  // namespace rk
