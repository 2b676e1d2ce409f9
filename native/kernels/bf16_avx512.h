// bfloat16 passes written for CPUs with AVX512-BF16 (Intel Cooper Lake / Sapphire Rapids and later, AMD
// Zen 4 and later), chosen at run time. Why: in a memory-bound bf16 pass most of the work is rounding
// float results to bfloat16, ~10 vector instructions per 8 values in portable code (round to nearest even,
// keep NaNs, narrow) where VCVTNEPS2BF16 does 16 values in one. The portable loops in the kernels stay
// the reference and the path for every other CPU. One difference: VCVTNEPS2BF16 flushes denormal results
// (below 1.2e-38 in magnitude) to zero where the portable rounding keeps them.
#pragma once
#include <cstdint>

namespace rk::kernels::bf16avx512 {

/**
 * Whether this CPU (and build) runs these functions: AVX512-F/BW/VL and AVX512-BF16, and the setting
 * REVIEWKD_AVX512BF16 is not 0 (read once, at the first call).
 */
bool available();

/**
 * The fused BatchNorm + residual + ReLU pass over `rows` channels-last rows of `c` values (bf16 bits):
 * y = round(x * scale[k] + shift[k]); with a residual y = round(y + r); sum = y if `sum`;
 * out = max(y, 0) (NaN kept). `r` and `sum` may be null.
 */
void activateRows(const uint16_t* x, const uint16_t* r, uint16_t* out, uint16_t* sum, int64_t rows, int64_t c, const float* scale, const float* shift);

/** The same over one NCHW plane of `count` values with one channel's scale and shift. */
void activatePlane(const uint16_t* x, const uint16_t* r, uint16_t* out, uint16_t* sum, int64_t count, float scale, float shift);

/** BatchNorm's affine pass over channels-last rows: y = round(x * scale[k] + shift[k]). */
void affineRows(const uint16_t* x, uint16_t* y, int64_t rows, int64_t c, const float* scale, const float* shift);

/** The same over one NCHW plane of `count` values. */
void affinePlane(const uint16_t* x, uint16_t* y, int64_t count, float scale, float shift);

/** BatchNorm's input gradient over channels-last rows: gx = round(a[k] (g - (x - mean[k]) q[k] - m[k])). */
void gradInputRows(const uint16_t* g, const uint16_t* x, uint16_t* gx, int64_t rows, int64_t c, const float* a, const float* mean, const float* q,
                   const float* m);

/** The same over one NCHW plane of `count` values. */
void gradInputPlane(const uint16_t* g, const uint16_t* x, uint16_t* gx, int64_t count, float a, float mean, float q, float m);

}  // namespace rk::kernels::bf16avx512
