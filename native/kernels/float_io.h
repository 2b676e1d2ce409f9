// Loads and stores of float and bfloat16 values as plain bit operations, so the loops of the fused CPU
// kernels vectorise (c10::BFloat16's own conversion branches on NaN per element), and the macro that
// compiles a hot function for several x86-64 levels: the build has no -march (a prebuilt binary must run
// on any x86-64), so without it the loops would use SSE2 only.
#pragma once
#include <cstdint>
#include <cstring>

#include <c10/util/BFloat16.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(RK_SANITIZE_BUILD)
// GCC/clang function multiversioning: one copy per level, chosen once at load by an ifunc resolver.
#define RK_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RK_MULTIVERSION
#endif

namespace rk::kernels {

inline float loadFloat(float v) { return v; }

inline float loadFloat(c10::BFloat16 v) {
  const uint32_t bits = static_cast<uint32_t>(v.x) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// The float nearest to v that a T can hold (round to nearest even for bfloat16, as c10::BFloat16(float)
// does; a NaN becomes the quiet NaN): what a store to T and a load back give, computed in 32-bit lanes.
// The NaN test is a float compare (one vector instruction; an unsigned integer compare takes several on
// AVX2/AVX-512F) and the select is made on 32-bit values, so the compiler keeps a loop in 32-bit lanes
// (this rounding is most of the work of a bf16 pass).
template <typename T>
inline float roundTo(float v);

template <>
inline float roundTo<float>(float v) {
  return v;
}

template <>
inline float roundTo<c10::BFloat16>(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  const uint32_t rounded = v != v ? 0x7FC00000u : (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
  float r;
  std::memcpy(&r, &rounded, sizeof r);
  return r;
}

// Stores a float that is already a T value (loaded from a T, rounded by roundTo, or 0): no rounding
// needed; for bfloat16 the low half of the bits is zero and is dropped.
template <typename T>
inline T storeExact(float v);

template <>
inline float storeExact<float>(float v) {
  return v;
}

template <>
inline c10::BFloat16 storeExact<c10::BFloat16>(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return c10::BFloat16(static_cast<uint16_t>(bits >> 16), c10::BFloat16::from_bits());
}

// Rounds v to T and stores it (one narrowing, after the rounding in 32-bit lanes).
template <typename T>
inline T storeFloat(float v) {
  return storeExact<T>(roundTo<T>(v));
}

}  // namespace rk::kernels
