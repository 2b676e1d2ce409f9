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

template <typename T>
inline T storeFloat(float v);

template <>
inline float storeFloat<float>(float v) {
  return v;
}

// Round to nearest even, as c10::BFloat16(float) does; a NaN stays a (quiet) NaN.
template <>
inline c10::BFloat16 storeFloat<c10::BFloat16>(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  const uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
  // The NaN test is a float compare (one vector instruction; an unsigned integer compare takes several on
  // AVX2/AVX-512F) and the select is made on 32-bit values before the single narrowing, so the compiler
  // keeps the whole loop in 32-bit lanes (this rounding is most of the work of a bf16 pass).
  const uint32_t chosen = v != v ? 0x7FC00000u : rounded;
  return c10::BFloat16(static_cast<uint16_t>(chosen >> 16), c10::BFloat16::from_bits());
}

// The float nearest to v that a T can hold (round to nearest even for bfloat16, NaN kept): what a store to
// T and a load back give, computed in 32-bit lanes (no packing to 16 bits and back).
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
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
  float r;
  std::memcpy(&r, &rounded, sizeof r);
  return v != v ? v : r;
}

// Stores a float that is already a T value (loaded from a T, or 0): no rounding needed, so cheaper than
// storeFloat; for bfloat16 the low half of the bits is zero and is dropped.
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

}  // namespace rk::kernels
