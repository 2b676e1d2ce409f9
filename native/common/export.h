// Registration helper: every exported function runs inside guard() with an Args that carries its name.
#pragma once
#include <functional>

#include <napi.h>

#include "common/args.h"
#include "common/errors.h"

namespace rk {

using Binding = std::function<Napi::Value(const Args&)>;

inline void exportFunction(Napi::Env env, Napi::Object exports, const char* name, Binding fn) {
  exports.Set(name, Napi::Function::New(
                        env,
                        [fn = std::move(fn), name](const Napi::CallbackInfo& info) -> Napi::Value {
                          return guard(info.Env(), [&] { return fn(Args(info, name)); });
                        },
                        name));
}

// The registration entry points of each concern (defined in their own files, called by addon.cc).
void registerCreation(Napi::Env env, Napi::Object exports);
void registerMath(Napi::Env env, Napi::Object exports);
void registerShape(Napi::Env env, Napi::Object exports);
void registerReadback(Napi::Env env, Napi::Object exports);
void registerAutograd(Napi::Env env, Napi::Object exports);
void registerAsyncOps(Napi::Env env, Napi::Object exports);
void registerRuntime(Napi::Env env, Napi::Object exports);
void registerReview(Napi::Env env, Napi::Object exports);
void registerBatchNorm(Napi::Env env, Napi::Object exports);
void registerIo(Napi::Env env, Napi::Object exports);
void registerModels(Napi::Env env, Napi::Object exports);
void registerEngine(Napi::Env env, Napi::Object exports);
void registerOptim(Napi::Env env, Napi::Object exports);
void registerTerms(Napi::Env env, Napi::Object exports);
void registerDistiller(Napi::Env env, Napi::Object exports);
void registerTorchScriptExport(Napi::Env env, Napi::Object exports);
void registerJpeg(Napi::Env env, Napi::Object exports);

}  // namespace rk
