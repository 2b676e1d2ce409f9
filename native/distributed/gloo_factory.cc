// The one translation unit that includes ProcessGroupGloo.hpp. It compiles against the declaration-only
// gloo headers in gloo_decls/ (CMakeLists.txt adds that folder for this file only); the torch CMake
// target defines USE_C10D_GLOO, without which the header would silently be empty, hence the check.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include "distributed/backend_factory.h"

#ifndef USE_C10D_GLOO
#error "USE_C10D_GLOO is not defined: link the addon against the torch CMake target (it defines it)"
#endif

namespace rk {

c10::intrusive_ptr<c10d::Backend> makeGlooBackend(const c10::intrusive_ptr<c10d::Store>& store, const BackendConfig& config) {
  auto options = c10d::ProcessGroupGloo::Options::create(config.timeout);
  options->devices.push_back(config.interface.empty() ? c10d::ProcessGroupGloo::createDeviceForHostname(config.hostname)
                                                      : c10d::ProcessGroupGloo::createDeviceForInterface(config.interface));
  options->threads = config.threads;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, config.rank, config.size, options);
}

}  // namespace rk
