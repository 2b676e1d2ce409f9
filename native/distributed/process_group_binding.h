// JS binding of a process group (NativeProcessGroup) and the bridge the fused training step uses.
#pragma once
#include <string>

#include <napi.h>

#include "engine/distiller.h"

namespace rk {

void registerDistributed(Napi::Env env, Napi::Object exports);

// The gradient-averaging hook of the NativeProcessGroup `v` (a JsTypeError naming argName otherwise).
GradientHook gradientHookFrom(const Napi::Value& v, const std::string& argName);

}  // namespace rk
