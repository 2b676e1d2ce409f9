// What the addon was built with and what it sees at run time: LibTorch version and variant, threads,
// CUDA devices, live-tensor counters, and a no-op for measuring the cost of a native call.
#include "common/compute_thread.h"
#include "common/cuda_status.h"
#include "common/cpu_memory.h"
#include "common/export.h"
#include "kernels/fused_kernels.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

Napi::Value buildInfo(const Args& a) {
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("libtorchVersion", RK_LIBTORCH_VERSION);
  o.Set("variant", RK_LIBTORCH_VARIANT);
  o.Set("torchVersionMajor", TORCH_VERSION_MAJOR);
  o.Set("torchVersionMinor", TORCH_VERSION_MINOR);
  o.Set("cudaAvailable", torch::cuda::is_available());
  o.Set("cudaDeviceCount", static_cast<double>(torch::cuda::device_count()));
  o.Set("cudaUnavailableReason", cudaUnavailableReason());
  o.Set("numThreads", computeThreads());
  o.Set("numInteropThreads", static_cast<double>(at::get_num_interop_threads()));
  o.Set("parallelInfo", at::get_parallel_info());
  return o;
}

Napi::Value setNumThreads(const Args& a) {
  // The heavy (async) work runs on the compute thread; the JS threads keep one thread for their sync ops.
  setComputeThreads(static_cast<int>(a.integer(0, "n", 1, 1024)));
  return a.env().Undefined();
}

Napi::Value memoryStats(const Args& a) {
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("liveTensors", static_cast<double>(TensorWrap::LiveTensors()));
  o.Set("liveBytes", static_cast<double>(TensorWrap::LiveBytes()));
  return o;
}

}  // namespace

void registerRuntime(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "buildInfo", buildInfo);
  exportFunction(env, exports, "setNumThreads", setNumThreads);
  exportFunction(env, exports, "getNumThreads", [](const Args& a) -> Napi::Value { return Napi::Number::New(a.env(), computeThreads()); });
  exportFunction(env, exports, "cudaIsAvailable", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), torch::cuda::is_available()); });
  exportFunction(env, exports, "cudaDeviceCount", [](const Args& a) -> Napi::Value {
    return Napi::Number::New(a.env(), static_cast<double>(torch::cuda::device_count()));
  });
  exportFunction(env, exports, "memoryStats", memoryStats);
  exportFunction(env, exports, "keepFreedCpuMemory", [](const Args& a) -> Napi::Value {
    const std::string how = a.string(0, "how");
    if (how != "malloc" && how != "cache") throw JsRangeError("keepFreedCpuMemory: 'how' must be 'malloc' or 'cache'; got '" + how + "'");
    return Napi::Boolean::New(a.env(), keepFreedCpuMemory(how));
  });
  exportFunction(env, exports, "setFusedKernels", [](const Args& a) -> Napi::Value {
    setFusedKernels(a.boolean(0, "on"));
    return Napi::Boolean::New(a.env(), fusedKernelsEnabled());
  });
  exportFunction(env, exports, "fusedKernelsEnabled", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), fusedKernelsEnabled()); });
  exportFunction(env, exports, "releaseFreedCpuMemory", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), releaseFreedCpuMemory()); });
  // A raw function (no guard, no Args) so the call-overhead benchmark measures the boundary alone.
  exports.Set("noop", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return info.Env().Undefined(); }, "noop"));
}

}  // namespace rk
