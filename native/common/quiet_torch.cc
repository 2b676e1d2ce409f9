// LibTorch prints two kinds of noise that users of this package cannot act on:
//  - "Could not initialize NNPACK! Reason: Unsupported hardware." (a c10 LOG(WARNING)) the first time a
//    convolution considers NNPACK on a CPU without it, once in every process — so once in every CLI
//    command and every child process of a test run. NNPACK is probed here with that log level silenced,
//    and switched off where it cannot run, so no later path probes it again.
//  - TORCH_WARN messages, which LibTorch's default handler prints at every occurrence (a warning raised
//    inside a training loop prints on every step). They go through a handler that prints each distinct
//    message once per process.
#include "common/quiet_torch.h"

#include <torch/torch.h>

#include <c10/util/Logging.h>

#include <iostream>
#include <mutex>
#include <string>
#include <unordered_set>

namespace rk {

namespace {

class OncePerMessageWarningHandler : public c10::WarningHandler {
 public:
  void process(const c10::Warning& warning) override {
    const std::string& message = warning.msg();
    std::lock_guard<std::mutex> lock(mutex_);
    if (!seen_.insert(message).second) return;
    std::cerr << "reviewkd: LibTorch warning: " << message << " (shown once)" << std::endl;
  }

 private:
  std::mutex mutex_;
  std::unordered_set<std::string> seen_;
};

void disableNnpackWhereUnsupported() {
  // c10's log levels: 0 INFO, 1 WARNING, 2 ERROR. NNPACK's initialisation runs once per process.
  const int saved = FLAGS_caffe2_log_level;
  FLAGS_caffe2_log_level = 2;
  const bool available = at::_nnpack_available();
  FLAGS_caffe2_log_level = saved;
  if (!available) at::globalContext().setUserEnabledNNPACK(false);
}

}  // namespace

void quietTorchOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    disableNnpackWhereUnsupported();
    // Lives for the whole process: LibTorch keeps the pointer.
    static OncePerMessageWarningHandler handler;
    c10::WarningUtils::set_warning_handler(&handler);
  });
}

}  // namespace rk
