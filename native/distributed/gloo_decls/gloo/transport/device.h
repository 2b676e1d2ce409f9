// Declaration-only stand-in for gloo's header of this name (see ../../README.md): ProcessGroupGloo.hpp
// only holds these through smart pointers.
#pragma once

namespace gloo {
namespace transport {

class Device;
class UnboundBuffer;

}  // namespace transport
}  // namespace gloo
