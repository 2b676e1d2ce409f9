#include "kernels/attention_mix.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/float_io.h"

namespace rk {

namespace {

using kernels::loadFloat;
using kernels::storeFloat;

// Pixels per tile (planar path): long enough that each channel's run of x, g and gx is read as one stream
// (runs of 64 pixels at a 4 KB channel stride thrashed L1's sets), short enough that the gathered residual
// and its gradient (2 x 256 x C floats) stay in L2. 64, 256 and 1024 measured: 256 and 1024 alike, 64 slower.
constexpr int64_t kTile = 256;

// Addressing of one N x C x H x W map that is NCHW- or channels-last-contiguous: element (n, c, p) with
// p = h * W + w sits at n * image + c * channel + p * pixel.
struct MapLayout {
  int64_t image, channel, pixel;
};

bool isNhwc(const torch::Tensor& t) { return !t.is_contiguous() && t.is_contiguous(torch::MemoryFormat::ChannelsLast); }

MapLayout layoutOf(const torch::Tensor& t) {
  const int64_t c = t.size(1), hw = t.size(2) * t.size(3);
  return isNhwc(t) ? MapLayout{c * hw, 1, c} : MapLayout{c * hw, hw, 1};
}

// NCHW- or channels-last-contiguous as it is, anything else made NCHW-contiguous.
torch::Tensor dense(const torch::Tensor& t) {
  return t.is_contiguous() || t.is_contiguous(torch::MemoryFormat::ChannelsLast) ? t : t.contiguous();
}

// ATen's legacy "nearest" source index (nearest_idx in UpSample.h, for a size without scale factors):
// identity, a shift for exact 2x, else floor(dst * (float)in / out) clamped, all in float as ATen does.
std::vector<int64_t> nearestIndex(int64_t out, int64_t in) {
  std::vector<int64_t> idx(out);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    if (out == in) idx[d] = d;
    else if (out == 2 * in) idx[d] = d >> 1;
    else idx[d] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(d) * scale)), in - 1);
  }
  return idx;
}

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// Two layouts of the math, chosen by x's memory format, so that x, the output and the gradients are read and
// written in place (no copies) and the inner loops run over contiguous memory:
//  - rows (x channels-last): per pixel, dot products over its C contiguous channels;
//  - planes (x NCHW): per tile of pixels, the same sums accumulated channel by channel, vectorised over pixels.
// w is the weight as [W0x | W0y | W1x | W1y] (C each) followed by the two biases; gw has the same shape.

// ---- rows (x channels-last) ----

// Forward of n pixels: x, out: rows of C values at stride C; yRows[t]: pixel t's source row in the residual.
template <typename T, typename Y>
RK_MULTIVERSION void rowsForward(const T* x, const Y* const* yRows, T* out, int64_t n, int64_t C, const float* w, float* z) {
  const float *w0x = w, *w0y = w + C, *w1x = w + 2 * C, *w1y = w + 3 * C;
  for (int64_t t = 0; t < n; ++t) {
    const T* xt = x + t * C;
    const Y* yt = yRows[t];
    T* ot = out + t * C;
    float l0 = 0, l1 = 0;
#pragma omp simd reduction(+ : l0, l1)
    for (int64_t c = 0; c < C; ++c) {
      const float xv = loadFloat(xt[c]), yv = loadFloat(yt[c]);
      l0 += w0x[c] * xv + w0y[c] * yv;
      l1 += w1x[c] * xv + w1y[c] * yv;
    }
    const float z0 = sigmoid(l0 + w[4 * C]), z1 = sigmoid(l1 + w[4 * C + 1]);
    z[2 * t] = z0;
    z[2 * t + 1] = z1;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) ot[c] = storeFloat<T>(loadFloat(xt[c]) * z0 + loadFloat(yt[c]) * z1);
  }
}

// Backward of n pixels: writes gx rows, adds each pixel's residual gradient into its source row of the
// per-image accumulator (gyRows[t]; pixels sharing a source are added in pixel order) and the weight/bias
// gradients into gw.
template <typename T, typename Y>
RK_MULTIVERSION void rowsBackward(const T* g, const T* x, const Y* const* yRows, T* gx, float* const* gyRows, int64_t n, int64_t C, const float* w,
                                  const float* z, float* gw) {
  const float *w0x = w, *w0y = w + C, *w1x = w + 2 * C, *w1y = w + 3 * C;
  float *g0x = gw, *g0y = gw + C, *g1x = gw + 2 * C, *g1y = gw + 3 * C;
  for (int64_t t = 0; t < n; ++t) {
    const T* gt = g + t * C;
    const T* xt = x + t * C;
    const Y* yt = yRows[t];
    T* gxt = gx + t * C;
    float* gyt = gyRows[t];
    float s0 = 0, s1 = 0;
#pragma omp simd reduction(+ : s0, s1)
    for (int64_t c = 0; c < C; ++c) {
      const float gv = loadFloat(gt[c]);
      s0 += gv * loadFloat(xt[c]);
      s1 += gv * loadFloat(yt[c]);
    }
    const float z0 = z[2 * t], z1 = z[2 * t + 1];
    const float d0 = s0 * z0 * (1.0f - z0), d1 = s1 * z1 * (1.0f - z1);
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const float gv = loadFloat(gt[c]), xv = loadFloat(xt[c]), yv = loadFloat(yt[c]);
      gxt[c] = storeFloat<T>(gv * z0 + d0 * w0x[c] + d1 * w1x[c]);
      gyt[c] += gv * z1 + d0 * w0y[c] + d1 * w1y[c];
      g0x[c] += d0 * xv;
      g1x[c] += d1 * xv;
      g0y[c] += d0 * yv;
      g1y[c] += d1 * yv;
    }
    gw[4 * C] += d0;
    gw[4 * C + 1] += d1;
  }
}

// ---- planes (x NCHW) ----

// Forward of the n pixels of a tile: x and out at channel stride xs; y: the tile's residual, [C][n] floats;
// l: 2n floats of scratch.
template <typename T>
RK_MULTIVERSION void planesForward(const T* x, int64_t xs, const float* y, T* out, int64_t n, int64_t C, const float* w, float* z, float* l) {
  const float *w0x = w, *w0y = w + C, *w1x = w + 2 * C, *w1y = w + 3 * C;
  float *l0 = l, *l1 = l + n;
  for (int64_t t = 0; t < n; ++t) l0[t] = w[4 * C], l1[t] = w[4 * C + 1];
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + c * xs;
    const float* yc = y + c * n;
#pragma omp simd
    for (int64_t t = 0; t < n; ++t) {
      const float xv = loadFloat(xc[t]);
      l0[t] += w0x[c] * xv + w0y[c] * yc[t];
      l1[t] += w1x[c] * xv + w1y[c] * yc[t];
    }
  }
  for (int64_t t = 0; t < n; ++t) l0[t] = sigmoid(l0[t]), l1[t] = sigmoid(l1[t]);
  for (int64_t t = 0; t < n; ++t) z[2 * t] = l0[t], z[2 * t + 1] = l1[t];
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + c * xs;
    const float* yc = y + c * n;
    T* oc = out + c * xs;
#pragma omp simd
    for (int64_t t = 0; t < n; ++t) oc[t] = storeFloat<T>(loadFloat(xc[t]) * l0[t] + yc[t] * l1[t]);
  }
}

// Backward of a tile: g, x, gx at channel stride xs; y and gy (written): [C][n] floats; d: 4n floats of scratch.
template <typename T>
RK_MULTIVERSION void planesBackward(const T* g, const T* x, int64_t xs, const float* y, T* gx, float* gy, int64_t n, int64_t C, const float* w,
                                    const float* z, float* gw, float* d) {
  const float *w0x = w, *w0y = w + C, *w1x = w + 2 * C, *w1y = w + 3 * C;
  float *s0 = d, *s1 = d + n, *z0 = d + 2 * n, *z1 = d + 3 * n;
  for (int64_t t = 0; t < n; ++t) s0[t] = s1[t] = 0, z0[t] = z[2 * t], z1[t] = z[2 * t + 1];
  for (int64_t c = 0; c < C; ++c) {
    const T *gc = g + c * xs, *xc = x + c * xs;
    const float* yc = y + c * n;
#pragma omp simd
    for (int64_t t = 0; t < n; ++t) {
      const float gv = loadFloat(gc[t]);
      s0[t] += gv * loadFloat(xc[t]);
      s1[t] += gv * yc[t];
    }
  }
  // s becomes d = s z (1 - z), the gradient of the logits.
  for (int64_t t = 0; t < n; ++t) s0[t] *= z0[t] * (1.0f - z0[t]), s1[t] *= z1[t] * (1.0f - z1[t]);
  float gb0 = 0, gb1 = 0;
  for (int64_t t = 0; t < n; ++t) gb0 += s0[t], gb1 += s1[t];
  gw[4 * C] += gb0;
  gw[4 * C + 1] += gb1;
  for (int64_t c = 0; c < C; ++c) {
    const T *gc = g + c * xs, *xc = x + c * xs;
    const float* yc = y + c * n;
    T* gxc = gx + c * xs;
    float* gyc = gy + c * n;
    float a0x = 0, a1x = 0, a0y = 0, a1y = 0;
#pragma omp simd reduction(+ : a0x, a1x, a0y, a1y)
    for (int64_t t = 0; t < n; ++t) {
      const float gv = loadFloat(gc[t]), xv = loadFloat(xc[t]), yv = yc[t];
      gxc[t] = storeFloat<T>(gv * z0[t] + s0[t] * w0x[c] + s1[t] * w1x[c]);
      gyc[t] = gv * z1[t] + s0[t] * w0y[c] + s1[t] * w1y[c];
      a0x += s0[t] * xv;
      a1x += s1[t] * xv;
      a0y += s0[t] * yv;
      a1y += s1[t] * yv;
    }
    gw[c] += a0x;
    gw[2 * C + c] += a1x;
    gw[C + c] += a0y;
    gw[3 * C + c] += a1y;
  }
}

// ---- the residual: gathered per image or tile, its gradient accumulated per image ----

// One residual image as float rows [hw][C] (for the rows path when the residual is not fp32 channels-last).
template <typename T>
void residualRows(const T* r, const MapLayout& l, int64_t hw, int64_t C, float* rows) {
  if (l.channel == 1) {
    for (int64_t i = 0; i < hw * C; ++i) rows[i] = loadFloat(r[i]);
  } else {
    for (int64_t c = 0; c < C; ++c)
      for (int64_t q = 0; q < hw; ++q) rows[q * C + c] = loadFloat(r[c * l.channel + q]);
  }
}

// The residual values of a tile's pixels (source pixels src[0..n)) as float planes [C][n].
template <typename T>
void residualTile(const T* r, const MapLayout& l, const int64_t* src, int64_t n, int64_t C, float* tile) {
  for (int64_t c = 0; c < C; ++c) {
    const T* rc = r + c * l.channel;
    float* tc = tile + c * n;
    for (int64_t t = 0; t < n; ++t) tc[t] = loadFloat(rc[src[t] * l.pixel]);
  }
}

// Writes one image's residual gradient, accumulated as float rows [hw][C] or planes [C][hw], in gres's layout.
template <typename T>
void storeResidualGrad(const float* acc, bool planar, T* dst, const MapLayout& l, int64_t hw, int64_t C) {
  const bool dstPlanar = l.channel != 1;
  if (planar == dstPlanar) {
    for (int64_t i = 0; i < hw * C; ++i) dst[i] = storeFloat<T>(acc[i]);
  } else if (planar) {
    for (int64_t q = 0; q < hw; ++q)
      for (int64_t c = 0; c < C; ++c) dst[q * C + c] = storeFloat<T>(acc[c * hw + q]);
  } else {
    for (int64_t c = 0; c < C; ++c)
      for (int64_t q = 0; q < hw; ++q) dst[c * hw + q] = storeFloat<T>(acc[q * C + c]);
  }
}

// The shapes, sizes and index maps one call works with.
struct MixGeometry {
  int64_t N, C, H, W, h, w;
  std::vector<int64_t> source;  // source pixel in the residual of each output pixel

  MixGeometry(const torch::Tensor& x, const torch::Tensor& residual)
      : N(x.size(0)), C(x.size(1)), H(x.size(2)), W(x.size(3)), h(residual.size(2)), w(residual.size(3)), source(H * W) {
    const std::vector<int64_t> rows = nearestIndex(H, h), cols = nearestIndex(W, w);
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) source[i * W + j] = rows[i] * w + cols[j];
  }
};

template <typename T>
void forwardKernel(const torch::Tensor& x, const torch::Tensor& res, const float* wb, const MixGeometry& g, torch::Tensor& out, float* zAll) {
  const MapLayout lx = layoutOf(x), lr = layoutOf(res);
  const T* xp = x.data_ptr<T>();
  const T* rp = res.data_ptr<T>();
  T* op = out.data_ptr<T>();
  const int64_t C = g.C, HW = g.H * g.W, hw = g.h * g.w;
  const bool rows = lx.channel == 1;
  // In the rows path an fp32 channels-last residual is read in place; any other is converted per image.
  const bool residualInPlace = rows && lr.channel == 1 && std::is_same_v<T, float>;
  at::parallel_for(0, g.N, 1, [&](int64_t begin, int64_t end) {
    const int64_t tile = std::min(kTile, HW);
    std::vector<float> buf(rows ? (residualInPlace ? 0 : hw * C) : tile * C + 2 * tile);
    std::vector<const T*> yT(rows ? HW : 0);
    std::vector<const float*> yF(rows ? HW : 0);
    for (int64_t n = begin; n < end; ++n) {
      const T* xn = xp + n * lx.image;
      const T* rn = rp + n * lr.image;
      T* on = op + n * lx.image;
      float* zn = zAll + n * HW * 2;
      if (rows && residualInPlace) {
        for (int64_t p = 0; p < HW; ++p) yT[p] = rn + g.source[p] * C;
        rowsForward(xn, yT.data(), on, HW, C, wb, zn);
      } else if (rows) {
        residualRows(rn, lr, hw, C, buf.data());
        for (int64_t p = 0; p < HW; ++p) yF[p] = buf.data() + g.source[p] * C;
        rowsForward(xn, yF.data(), on, HW, C, wb, zn);
      } else {
        for (int64_t p0 = 0; p0 < HW; p0 += tile) {
          const int64_t cnt = std::min(tile, HW - p0);
          residualTile(rn, lr, g.source.data() + p0, cnt, C, buf.data());
          planesForward(xn + p0, HW, buf.data(), on + p0, cnt, C, wb, zn + p0 * 2, buf.data() + tile * C);
        }
      }
    }
  });
}

// partial: [N][4C + 2], this image's weight and bias gradient (summed over images afterwards, in order).
// grad is in x's memory format (the caller makes it so).
template <typename T>
void backwardKernel(const torch::Tensor& grad, const torch::Tensor& x, const torch::Tensor& res, const float* wb, const float* zAll, const MixGeometry& g,
                    torch::Tensor& gx, torch::Tensor& gres, float* partial) {
  const MapLayout lx = layoutOf(x), lr = layoutOf(res), lgr = layoutOf(gres);
  const T* gp = grad.data_ptr<T>();
  const T* xp = x.data_ptr<T>();
  const T* rp = res.data_ptr<T>();
  T* gxp = gx.data_ptr<T>();
  T* grp = gres.data_ptr<T>();
  const int64_t C = g.C, HW = g.H * g.W, hw = g.h * g.w;
  const bool rows = lx.channel == 1;
  const bool residualInPlace = rows && lr.channel == 1 && std::is_same_v<T, float>;
  at::parallel_for(0, g.N, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> acc(hw * C);
    const int64_t tile = std::min(kTile, HW);
    std::vector<float> buf(rows ? (residualInPlace ? 0 : hw * C) : 2 * tile * C + 4 * tile);
    std::vector<const T*> yT(rows ? HW : 0);
    std::vector<const float*> yF(rows ? HW : 0);
    std::vector<float*> gyRows(rows ? HW : 0);
    for (int64_t n = begin; n < end; ++n) {
      const T* gn = gp + n * lx.image;
      const T* xn = xp + n * lx.image;
      const T* rn = rp + n * lr.image;
      T* gxn = gxp + n * lx.image;
      const float* zn = zAll + n * HW * 2;
      float* gw = partial + n * (4 * C + 2);
      std::fill(gw, gw + 4 * C + 2, 0.0f);
      std::fill(acc.begin(), acc.end(), 0.0f);
      if (rows) {
        for (int64_t p = 0; p < HW; ++p) gyRows[p] = acc.data() + g.source[p] * C;
        if (residualInPlace) {
          for (int64_t p = 0; p < HW; ++p) yT[p] = rn + g.source[p] * C;
          rowsBackward(gn, xn, yT.data(), gxn, gyRows.data(), HW, C, wb, zn, gw);
        } else {
          residualRows(rn, lr, hw, C, buf.data());
          for (int64_t p = 0; p < HW; ++p) yF[p] = buf.data() + g.source[p] * C;
          rowsBackward(gn, xn, yF.data(), gxn, gyRows.data(), HW, C, wb, zn, gw);
        }
      } else {
        float* yTile = buf.data();
        float* gyTile = buf.data() + tile * C;
        float* scratch = buf.data() + 2 * tile * C;
        for (int64_t p0 = 0; p0 < HW; p0 += tile) {
          const int64_t cnt = std::min(tile, HW - p0);
          const int64_t* src = g.source.data() + p0;
          residualTile(rn, lr, src, cnt, C, yTile);
          planesBackward(gn + p0, xn + p0, HW, yTile, gxn + p0, gyTile, cnt, C, wb, zn + p0 * 2, gw, scratch);
          for (int64_t c = 0; c < C; ++c)
            for (int64_t t = 0; t < cnt; ++t) acc[c * hw + src[t]] += gyTile[c * cnt + t];
        }
      }
      // The residual's gradient is written once per image, by the thread that owns the image.
      storeResidualGrad(acc.data(), !rows, grp + n * lgr.image, lgr, hw, C);
    }
  });
}

void checkInputs(const torch::Tensor& x, const torch::Tensor& residual, const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(x.defined() && residual.defined() && weight.defined() && bias.defined(), "attentionMix: every tensor must be defined");
  TORCH_CHECK(x.device().is_cpu() && residual.device().is_cpu() && weight.device().is_cpu() && bias.device().is_cpu(),
              "attentionMix: CPU tensors only; got x on ", x.device(), ", residual on ", residual.device(), ", weight on ", weight.device(), ", bias on ",
              bias.device());
  TORCH_CHECK(x.dim() == 4, "attentionMix: x must be 4-d (N, C, H, W); got shape ", x.sizes());
  TORCH_CHECK(residual.dim() == 4, "attentionMix: residual must be 4-d (N, C, h, w); got shape ", residual.sizes());
  TORCH_CHECK(x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kBFloat16, "attentionMix: x must be float32 or bfloat16; got ", x.scalar_type());
  TORCH_CHECK(residual.scalar_type() == torch::kFloat || residual.scalar_type() == torch::kBFloat16, "attentionMix: residual must be float32 or bfloat16; got ",
              residual.scalar_type());
  TORCH_CHECK(residual.size(0) == x.size(0) && residual.size(1) == x.size(1), "attentionMix: residual must be ", x.size(0), " x ", x.size(1),
              " x h x w like x ", x.sizes(), "; got ", residual.sizes());
  TORCH_CHECK(x.numel() > 0 && residual.numel() > 0, "attentionMix: x and residual must not be empty; got ", x.sizes(), " and ", residual.sizes());
  const int64_t C = x.size(1);
  TORCH_CHECK(weight.scalar_type() == torch::kFloat && bias.scalar_type() == torch::kFloat, "attentionMix: weight and bias must be float32; got ",
              weight.scalar_type(), " and ", bias.scalar_type());
  TORCH_CHECK(weight.numel() == 4 * C && (weight.dim() == 2 || (weight.dim() == 4 && weight.size(2) == 1 && weight.size(3) == 1)) && weight.size(0) == 2,
              "attentionMix: weight must be [2, ", 2 * C, ", 1, 1] (the 1x1 conv over [x, residual]); got ", weight.sizes());
  TORCH_CHECK(bias.dim() == 1 && bias.size(0) == 2, "attentionMix: bias must be [2]; got ", bias.sizes());
}

// Weight and bias as one contiguous float [4C + 2] vector (tiny).
torch::Tensor packParams(const torch::Tensor& weight, const torch::Tensor& bias) {
  return torch::cat({weight.detach().reshape({-1}), bias.detach().reshape({-1})}).contiguous();
}

class AttentionMixFunction : public torch::autograd::Function<AttentionMixFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& xIn, const torch::Tensor& resIn, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
    const torch::Tensor x = dense(xIn), res = dense(resIn);
    const MixGeometry g(x, res);
    const torch::Tensor wb = packParams(weight, bias);
    torch::Tensor out = torch::empty_like(x, torch::MemoryFormat::Preserve);
    torch::Tensor z = torch::empty({g.N, g.H * g.W, 2}, x.options().dtype(torch::kFloat));
    if (x.scalar_type() == torch::kBFloat16) forwardKernel<c10::BFloat16>(x, res, wb.data_ptr<float>(), g, out, z.data_ptr<float>());
    else forwardKernel<float>(x, res, wb.data_ptr<float>(), g, out, z.data_ptr<float>());
    ctx->save_for_backward({x, res, weight, bias, z});
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &res = saved[1], &weight = saved[2], &bias = saved[3], &z = saved[4];
    torch::Tensor grad = grads[0];
    if (!grad.defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    // The kernels read the gradient in x's memory format (a no-op for the usual gradient, which has it).
    grad = grad.to(x.scalar_type()).contiguous(isNhwc(x) ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous);
    const MixGeometry g(x, res);
    const torch::Tensor wb = packParams(weight, bias);
    torch::Tensor gx = torch::empty_like(x, torch::MemoryFormat::Preserve);
    torch::Tensor gres = torch::empty_like(res, torch::MemoryFormat::Preserve);
    torch::Tensor partial = torch::empty({g.N, 4 * g.C + 2}, x.options().dtype(torch::kFloat));
    if (x.scalar_type() == torch::kBFloat16) {
      backwardKernel<c10::BFloat16>(grad, x, res, wb.data_ptr<float>(), z.data_ptr<float>(), g, gx, gres, partial.data_ptr<float>());
    } else {
      backwardKernel<float>(grad, x, res, wb.data_ptr<float>(), z.data_ptr<float>(), g, gx, gres, partial.data_ptr<float>());
    }
    // Images added in order, on one thread: the same sums whatever the thread count.
    torch::Tensor total = torch::zeros({4 * g.C + 2}, partial.options());
    float* tp = total.data_ptr<float>();
    const float* pp = partial.data_ptr<float>();
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t k = 0; k < 4 * g.C + 2; ++k) tp[k] += pp[n * (4 * g.C + 2) + k];
    }
    torch::Tensor gw = total.slice(0, 0, 4 * g.C).view(weight.sizes()).clone();
    torch::Tensor gb = total.slice(0, 4 * g.C).clone();
    return {ctx->needs_input_grad(0) ? gx : torch::Tensor(), ctx->needs_input_grad(1) ? gres : torch::Tensor(),
            ctx->needs_input_grad(2) ? gw : torch::Tensor(), ctx->needs_input_grad(3) ? gb : torch::Tensor()};
  }
};

}  // namespace

bool attentionMixApplies(const torch::Tensor& x, const torch::Tensor& residual, const torch::Tensor& weight, const torch::Tensor& bias) {
  const auto mapType = [](const torch::Tensor& t) { return t.scalar_type() == torch::kFloat || t.scalar_type() == torch::kBFloat16; };
  return x.device().is_cpu() && residual.device().is_cpu() && weight.device().is_cpu() && bias.device().is_cpu() && x.dim() == 4 &&
         residual.dim() == 4 && x.numel() > 0 && residual.numel() > 0 && mapType(x) && mapType(residual) && weight.scalar_type() == torch::kFloat &&
         bias.scalar_type() == torch::kFloat;
}

torch::Tensor attentionMix(const torch::Tensor& x, const torch::Tensor& residual, const torch::Tensor& weight, const torch::Tensor& bias) {
  checkInputs(x, residual, weight, bias);
  // The function is not autocast-dispatched: under autocast x arrives in bf16 (conv1's output) and a residual
  // of the other dtype is cast to x's here, outside the function, so autograd casts its gradient back.
  return AttentionMixFunction::apply(x, residual.scalar_type() == x.scalar_type() ? residual : residual.to(x.scalar_type()), weight, bias);
}

}  // namespace rk
