#include "common/cuda_status.h"

#ifdef RK_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace rk {

std::string cudaUnavailableReason() {
#ifdef RK_WITH_CUDA
  // c10 tells "no driver" (libcuda missing or too old) from "no device" only in the message it throws here;
  // torch::cuda::is_available() folds both into false. Its answer is cached by CUDA itself (cheap to repeat).
  try {
    c10::cuda::device_count_ensure_non_zero();
    return "";
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    const auto cut = msg.find('\n');
    return "this CUDA build of LibTorch (" RK_LIBTORCH_VERSION ") found no usable GPU: " + (cut == std::string::npos ? msg : msg.substr(0, cut));
  }
#else
  return "this addon is built against the CPU build of LibTorch (" RK_LIBTORCH_VERSION "), which has no CUDA";
#endif
}

}  // namespace rk
