// Why CUDA cannot be used in this process, in words a user can act on: the same sentence for
// buildInfo(), doctor and every refused 'cuda' device.
#pragma once

#include <string>

namespace rk {

/** Empty when a CUDA device is usable; otherwise the cause (CPU build, no driver, no device). */
std::string cudaUnavailableReason();

}  // namespace rk
