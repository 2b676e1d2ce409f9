// LibTorch's own console output, kept to what a user needs once: see quiet_torch.cc.
#pragma once

namespace rk {

// Called from every addon Init (main thread and each worker); does its work once per process.
void quietTorchOnce();

}  // namespace rk
