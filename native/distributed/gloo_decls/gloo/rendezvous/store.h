// Declaration-only stand-in for gloo's header of this name (see ../../README.md): the abstract store
// interface that ProcessGroupGloo::GlooStore overrides. This translation unit never creates a GlooStore
// (libtorch does, from its own build), so only the overridden members must exist here.
#pragma once
#include <chrono>
#include <string>
#include <vector>

namespace gloo {
namespace rendezvous {

class Store {
 public:
  virtual ~Store() = default;
  virtual void set(const std::string& key, const std::vector<char>& data) = 0;
  virtual std::vector<char> get(const std::string& key) = 0;
  virtual void wait(const std::vector<std::string>& keys) = 0;
  virtual void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) = 0;
};

}  // namespace rendezvous
}  // namespace gloo
