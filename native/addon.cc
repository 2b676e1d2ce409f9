// Registration only: each concern registers its own functions.
#include <napi.h>

#include "common/addon_data.h"
#include "common/compute_thread.h"
#include "common/export.h"
#include "common/quiet_torch.h"
#include "distributed/process_group_binding.h"
#include "nn/module_wrap.h"
#include "tensor/tensor_wrap.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new rk::AddonData());  // freed by Node when this environment shuts down
  rk::useOneThreadForSyncOps();                // this JS thread: no OpenMP team (common/compute_thread.h)
  rk::quietTorchOnce();                        // NNPACK probe and once-per-message warnings (common/quiet_torch.h)
  rk::TensorWrap::Register(env, exports);
  rk::ModuleWrap::Register(env, exports);
  rk::registerCreation(env, exports);
  rk::registerMath(env, exports);
  rk::registerShape(env, exports);
  rk::registerReadback(env, exports);
  rk::registerAutograd(env, exports);
  rk::registerAsyncOps(env, exports);
  rk::registerRuntime(env, exports);
  rk::registerIo(env, exports);
  rk::registerJpeg(env, exports);
  rk::registerReview(env, exports);
  rk::registerBatchNorm(env, exports);
  rk::registerOptim(env, exports);
  rk::registerDistiller(env, exports);
  rk::registerTerms(env, exports);
  rk::registerTorchScriptExport(env, exports);
  rk::registerModels(env, exports);
  rk::registerDistributed(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(reviewkd, Init)
