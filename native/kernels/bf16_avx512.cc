#include "kernels/bf16_avx512.h"

#include <cstdlib>
#include <string>

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(RK_SANITIZE_BUILD)
#define RK_HAVE_AVX512BF16_PATH 1
#include <immintrin.h>
#endif

namespace rk::kernels::bf16avx512 {

#ifdef RK_HAVE_AVX512BF16_PATH

namespace {

#define RK_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// 16 bf16 values (masked: lanes outside `mask` read as 0) as floats: the bits moved to the high half.
RK_AVX512BF16 inline __m512 load16(const uint16_t* p, __mmask16 mask) {
  const __m256i bits = _mm256_maskz_loadu_epi16(mask, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

// Round to nearest even in one instruction, and back to float lanes.
RK_AVX512BF16 inline __m256i toBf16(__m512 v) { return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)); }
RK_AVX512BF16 inline __m512 widen(__m256i bits) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16)); }

// One block of up to 16 values: constants per lane.
RK_AVX512BF16 inline void activateBlock(const uint16_t* x, const uint16_t* r, uint16_t* out, uint16_t* sum, __mmask16 mask, __m512 scale, __m512 shift) {
  // The compiler contracts this multiply-add into one FMA (one rounding fewer than the portable loop: the
  // bf16 results can differ in the last place, within the tests' bf16 tolerance).
  __m256i y = toBf16(_mm512_add_ps(_mm512_mul_ps(load16(x, mask), scale), shift));
  if (r) y = toBf16(_mm512_add_ps(widen(y), load16(r, mask)));
  if (sum) _mm256_mask_storeu_epi16(sum, mask, y);
  // max(0, y) returns its second operand when either is NaN, so a NaN passes through as torch::relu's does.
  _mm256_mask_storeu_epi16(out, mask, toBf16(_mm512_max_ps(_mm512_setzero_ps(), widen(y))));
}

RK_AVX512BF16 inline __mmask16 tailMask(int64_t left) { return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u); }

RK_AVX512BF16 void activateRowsImpl(const uint16_t* x, const uint16_t* r, uint16_t* out, uint16_t* sum, int64_t rows, int64_t c, const float* scale,
                                    const float* shift) {
  for (int64_t k0 = 0; k0 < c; k0 += 16) {
    const __mmask16 mask = tailMask(c - k0);
    const __m512 sc = _mm512_maskz_loadu_ps(mask, scale + k0);
    const __m512 sh = _mm512_maskz_loadu_ps(mask, shift + k0);
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t at = row * c + k0;
      activateBlock(x + at, r ? r + at : nullptr, out + at, sum ? sum + at : nullptr, mask, sc, sh);
    }
  }
}

RK_AVX512BF16 void activatePlaneImpl(const uint16_t* x, const uint16_t* r, uint16_t* out, uint16_t* sum, int64_t count, float scale, float shift) {
  const __m512 sc = _mm512_set1_ps(scale);
  const __m512 sh = _mm512_set1_ps(shift);
  for (int64_t i = 0; i < count; i += 16) {
    activateBlock(x + i, r ? r + i : nullptr, out + i, sum ? sum + i : nullptr, tailMask(count - i), sc, sh);
  }
}

bool detect() {
  // REVIEWKD_AVX512BF16=0 keeps the portable loops (tests compare the two paths; a suspected CPU issue).
  const char* setting = std::getenv("REVIEWKD_AVX512BF16");
  if (setting && std::string(setting) == "0") return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bf16");
}

}  // namespace

bool available() {
  static const bool yes = detect();
  return yes;
}

void activateRows(const uint16_t* x, const uint16_t* r, uint16_t* out, uint16_t* sum, int64_t rows, int64_t c, const float* scale, const float* shift) {
  activateRowsImpl(x, r, out, sum, rows, c, scale, shift);
}

void activatePlane(const uint16_t* x, const uint16_t* r, uint16_t* out, uint16_t* sum, int64_t count, float scale, float shift) {
  activatePlaneImpl(x, r, out, sum, count, scale, shift);
}

#else  // no AVX-512 path in this build: callers check available() first

bool available() { return false; }
void activateRows(const uint16_t*, const uint16_t*, uint16_t*, uint16_t*, int64_t, int64_t, const float*, const float*) {}
void activatePlane(const uint16_t*, const uint16_t*, uint16_t*, uint16_t*, int64_t, float, float) {}

#endif

}  // namespace rk::kernels::bf16avx512
