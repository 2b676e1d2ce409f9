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

// Channels-last rows of c values with up to four per-channel constants: `block(offset, mask, constants)`
// handles 16 (or the masked rest of) channels of one row. The constants are loaded once per channel block.
template <int kConstants, typename Block>
RK_AVX512BF16 inline void overRows(int64_t rows, int64_t c, const float* const (&constants)[kConstants], const Block& block) {
  for (int64_t k0 = 0; k0 < c; k0 += 16) {
    const __mmask16 mask = tailMask(c - k0);
    __m512 lanes[kConstants];
    for (int i = 0; i < kConstants; ++i) lanes[i] = _mm512_maskz_loadu_ps(mask, constants[i] + k0);
    for (int64_t row = 0; row < rows; ++row) block(row * c + k0, mask, lanes);
  }
}

// One NCHW plane of `count` values, every lane with the same constants.
template <int kConstants, typename Block>
RK_AVX512BF16 inline void overPlane(int64_t count, const float (&constants)[kConstants], const Block& block) {
  __m512 lanes[kConstants];
  for (int i = 0; i < kConstants; ++i) lanes[i] = _mm512_set1_ps(constants[i]);
  for (int64_t at = 0; at < count; at += 16) block(at, tailMask(count - at), lanes);
}

RK_AVX512BF16 void activateRowsImpl(const uint16_t* x, const uint16_t* r, uint16_t* out, uint16_t* sum, int64_t rows, int64_t c, const float* scale,
                                    const float* shift) {
  overRows<2>(rows, c, {scale, shift}, [&](int64_t at, __mmask16 mask, const __m512* k) RK_AVX512BF16 {
    activateBlock(x + at, r ? r + at : nullptr, out + at, sum ? sum + at : nullptr, mask, k[0], k[1]);
  });
}

RK_AVX512BF16 void activatePlaneImpl(const uint16_t* x, const uint16_t* r, uint16_t* out, uint16_t* sum, int64_t count, float scale, float shift) {
  overPlane<2>(count, {scale, shift}, [&](int64_t at, __mmask16 mask, const __m512* k) RK_AVX512BF16 {
    activateBlock(x + at, r ? r + at : nullptr, out + at, sum ? sum + at : nullptr, mask, k[0], k[1]);
  });
}

RK_AVX512BF16 inline void affineBlock(const uint16_t* x, uint16_t* y, __mmask16 mask, __m512 scale, __m512 shift) {
  _mm256_mask_storeu_epi16(y, mask, toBf16(_mm512_add_ps(_mm512_mul_ps(load16(x, mask), scale), shift)));
}

RK_AVX512BF16 void affineRowsImpl(const uint16_t* x, uint16_t* y, int64_t rows, int64_t c, const float* scale, const float* shift) {
  overRows<2>(rows, c, {scale, shift}, [&](int64_t at, __mmask16 mask, const __m512* k) RK_AVX512BF16 { affineBlock(x + at, y + at, mask, k[0], k[1]); });
}

RK_AVX512BF16 void affinePlaneImpl(const uint16_t* x, uint16_t* y, int64_t count, float scale, float shift) {
  overPlane<2>(count, {scale, shift}, [&](int64_t at, __mmask16 mask, const __m512* k) RK_AVX512BF16 { affineBlock(x + at, y + at, mask, k[0], k[1]); });
}

// k: a, mean, q, m.
RK_AVX512BF16 inline void gradInputBlock(const uint16_t* g, const uint16_t* x, uint16_t* gx, __mmask16 mask, const __m512* k) {
  const __m512 centred = _mm512_sub_ps(load16(x, mask), k[1]);
  const __m512 inner = _mm512_sub_ps(_mm512_sub_ps(load16(g, mask), _mm512_mul_ps(centred, k[2])), k[3]);
  _mm256_mask_storeu_epi16(gx, mask, toBf16(_mm512_mul_ps(k[0], inner)));
}

RK_AVX512BF16 void gradInputRowsImpl(const uint16_t* g, const uint16_t* x, uint16_t* gx, int64_t rows, int64_t c, const float* a, const float* mean,
                                     const float* q, const float* m) {
  overRows<4>(rows, c, {a, mean, q, m}, [&](int64_t at, __mmask16 mask, const __m512* k) RK_AVX512BF16 { gradInputBlock(g + at, x + at, gx + at, mask, k); });
}

RK_AVX512BF16 void gradInputPlaneImpl(const uint16_t* g, const uint16_t* x, uint16_t* gx, int64_t count, float a, float mean, float q, float m) {
  overPlane<4>(count, {a, mean, q, m}, [&](int64_t at, __mmask16 mask, const __m512* k) RK_AVX512BF16 { gradInputBlock(g + at, x + at, gx + at, mask, k); });
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

void affineRows(const uint16_t* x, uint16_t* y, int64_t rows, int64_t c, const float* scale, const float* shift) {
  affineRowsImpl(x, y, rows, c, scale, shift);
}

void affinePlane(const uint16_t* x, uint16_t* y, int64_t count, float scale, float shift) { affinePlaneImpl(x, y, count, scale, shift); }

void gradInputRows(const uint16_t* g, const uint16_t* x, uint16_t* gx, int64_t rows, int64_t c, const float* a, const float* mean, const float* q,
                   const float* m) {
  gradInputRowsImpl(g, x, gx, rows, c, a, mean, q, m);
}

void gradInputPlane(const uint16_t* g, const uint16_t* x, uint16_t* gx, int64_t count, float a, float mean, float q, float m) {
  gradInputPlaneImpl(g, x, gx, count, a, mean, q, m);
}

#else  // no AVX-512 path in this build: callers check available() first

bool available() { return false; }
void activateRows(const uint16_t*, const uint16_t*, uint16_t*, uint16_t*, int64_t, int64_t, const float*, const float*) {}
void activatePlane(const uint16_t*, const uint16_t*, uint16_t*, uint16_t*, int64_t, float, float) {}
void affineRows(const uint16_t*, uint16_t*, int64_t, int64_t, const float*, const float*) {}
void affinePlane(const uint16_t*, uint16_t*, int64_t, float, float) {}
void gradInputRows(const uint16_t*, const uint16_t*, uint16_t*, int64_t, int64_t, const float*, const float*, const float*, const float*) {}
void gradInputPlane(const uint16_t*, const uint16_t*, uint16_t*, int64_t, float, float, float, float) {}

#endif

}  // namespace rk::kernels::bf16avx512
