// Type tags for the native handle classes. V8 checks the receiver of a class *method*, but not of an
// *accessor*: a getter taken from one prototype and called on another native object (or a handle whose
// prototype was swapped) would reinterpret that object's memory. Every handle is tagged when it is
// constructed; accessors and IsTensor/From check the tag before touching the C++ object.
#pragma once
#include <string>

#include <napi.h>

namespace rk {

inline constexpr napi_type_tag kTensorTag = {0x7265766965776b64ULL, 0x0000000000000001ULL};
inline constexpr napi_type_tag kModuleTag = {0x7265766965776b64ULL, 0x0000000000000002ULL};
inline constexpr napi_type_tag kOptimizerTag = {0x7265766965776b64ULL, 0x0000000000000003ULL};
inline constexpr napi_type_tag kDistillerTag = {0x7265766965776b64ULL, 0x0000000000000004ULL};
inline constexpr napi_type_tag kTermTag = {0x7265766965776b64ULL, 0x0000000000000005ULL};

inline bool hasTag(const Napi::Value& v, const napi_type_tag& tag) { return v.IsObject() && v.As<Napi::Object>().CheckTypeTag(&tag); }

// Throws a JS TypeError unless the accessor's receiver is a handle of the class tagged `tag`.
inline void checkReceiver(const Napi::CallbackInfo& info, const napi_type_tag& tag, const char* cls) {
  if (!hasTag(info.This(), tag)) throw Napi::TypeError::New(info.Env(), std::string("Illegal invocation: the receiver is not a ") + cls);
}

}  // namespace rk
