// Settles the Promise of a finished async task, on the JS thread (OnOK/OnError). When the task's
// environment is shutting down (its worker thread was terminated, or called process.exit(), while the
// task computed), Node still runs the completion but no JavaScript may run: creating handles, resolving
// and rejecting all fail with a Napi::Error. That error must not leave the completion callback: it
// would reach std::terminate and abort the whole process, the main thread and other workers included.
#pragma once
#include <napi.h>

#include "common/errors.h"

namespace rk {

// Runs body() (which resolves `deferred`); rejects with what it throws; drops the Promise when even
// rejecting fails, because then nobody is left to observe it.
template <typename Body>
void settle(Napi::Env env, Napi::Promise::Deferred& deferred, Body&& body) noexcept {
  try {
    try {
      body();
    } catch (const Napi::Error& e) {
      deferred.Reject(e.Value());
    } catch (...) {
      deferred.Reject(Napi::Error::New(env, messageOf(std::current_exception())).Value());
    }
  } catch (...) {
    // The environment cannot run JavaScript any more: there is nothing to settle.
  }
}

}  // namespace rk
