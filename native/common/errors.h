// How C++ failures reach JavaScript. Every binding body runs inside rk::guard(), which turns
// argument errors into TypeError/RangeError and every C++ or LibTorch exception into a JS Error:
// no input from JavaScript may terminate the process.
#pragma once
#include <stdexcept>
#include <string>

#include <napi.h>
#include <c10/util/Exception.h>

namespace rk {

// Wrong kind of value (a string where a Tensor was expected, ...). Becomes a JS TypeError.
struct JsTypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Right kind, unacceptable value (negative size, dim out of range, ...). Becomes a JS RangeError.
struct JsRangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs body() and converts whatever it throws into a JS exception. Returns body()'s value.
template <typename Body>
auto guard(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const JsTypeError& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const JsRangeError& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, std::string("LibTorch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  } catch (...) {
    throw Napi::Error::New(env, "reviewkd: unknown native exception");
  }
}

// Message for a C++ exception caught on a worker thread, where no JS env is at hand.
inline std::string messageOf(std::exception_ptr p) {
  try {
    std::rethrow_exception(p);
  } catch (const c10::Error& e) {
    return std::string("LibTorch: ") + e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "reviewkd: unknown native exception";
  }
}

}  // namespace rk
