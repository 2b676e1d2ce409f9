// Per-environment state (main thread, each worker thread, each Electron context has its own),
// which keeps the addon context-aware: no JS references live in globals.
#pragma once
#include <napi.h>

namespace rk {

struct AddonData {
  Napi::FunctionReference tensorConstructor;
  Napi::FunctionReference moduleConstructor;
};

inline AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace rk
