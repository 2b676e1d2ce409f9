// Declaration-only stand-in for gloo's header of this name (see ../README.md). ProcessGroupGloo.hpp calls
// only setTimeout on a context (in an inline member); the object itself is built and owned by libtorch.
#pragma once
#include <chrono>

namespace gloo {

class Context {
 public:
  // Defined in libtorch_cpu.so (which exports gloo's symbols).
  void setTimeout(std::chrono::milliseconds timeout);
};

}  // namespace gloo
