#include "kernels/attention_mix.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/float_io.h"

namespace rk {

namespace {

using kernels::loadFloat;
using kernels::storeFloat;

// Pixels per tile: a tile of x, y and the gradient at C = 64..256 stays in L1/L2, and 64 pixels amortise
// the per-pixel dot products' setup.
constexpr int64_t kTile = 64;

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

// Copies pixels pix[0..n) of one image into a float [n][C] tile (any of the two layouts, fp32 or bf16).
template <typename T>
void gather(const T* image, const MapLayout& l, const int64_t* pix, int64_t n, int64_t C, float* tile) {
  if (l.channel == 1) {
    for (int64_t t = 0; t < n; ++t) {
      const T* src = image + pix[t] * l.pixel;
      float* dst = tile + t * C;
      for (int64_t c = 0; c < C; ++c) dst[c] = loadFloat(src[c]);
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      const T* src = image + c * l.channel;
      for (int64_t t = 0; t < n; ++t) tile[t * C + c] = loadFloat(src[pix[t] * l.pixel]);
    }
  }
}

// The inverse of gather: writes a float [n][C] tile to pixels pix[0..n) of one image.
template <typename T>
void scatter(T* image, const MapLayout& l, const int64_t* pix, int64_t n, int64_t C, const float* tile) {
  if (l.channel == 1) {
    for (int64_t t = 0; t < n; ++t) {
      T* dst = image + pix[t] * l.pixel;
      const float* src = tile + t * C;
      for (int64_t c = 0; c < C; ++c) dst[c] = storeFloat<T>(src[c]);
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      T* dst = image + c * l.channel;
      for (int64_t t = 0; t < n; ++t) dst[pix[t] * l.pixel] = storeFloat<T>(tile[t * C + c]);
    }
  }
}

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// Forward of one tile. w: the weight as [W0x | W0y | W1x | W1y] (C each). Writes z[t] = (z0, z1) and the
// mix over x's tile (x is not needed afterwards).
RK_MULTIVERSION
void mixForwardTile(float* x, const float* y, int64_t n, int64_t C, const float* w, float b0, float b1, float* z) {
  const float *w0x = w, *w0y = w + C, *w1x = w + 2 * C, *w1y = w + 3 * C;
  for (int64_t t = 0; t < n; ++t) {
    float* xt = x + t * C;
    const float* yt = y + t * C;
    float l0 = 0, l1 = 0;
#pragma omp simd reduction(+ : l0, l1)
    for (int64_t c = 0; c < C; ++c) {
      l0 += w0x[c] * xt[c] + w0y[c] * yt[c];
      l1 += w1x[c] * xt[c] + w1y[c] * yt[c];
    }
    const float z0 = sigmoid(l0 + b0), z1 = sigmoid(l1 + b1);
    z[2 * t] = z0;
    z[2 * t + 1] = z1;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) xt[c] = xt[c] * z0 + yt[c] * z1;
  }
}

// Backward of one tile: g is the output gradient; writes gx over g and gy into its own tile, and adds
// this tile's weight and bias gradients to gw ([4C] as w, then the 2 biases).
RK_MULTIVERSION
void mixBackwardTile(float* g, const float* x, const float* y, int64_t n, int64_t C, const float* w, const float* z, float* gy, float* gw) {
  const float *w0x = w, *w0y = w + C, *w1x = w + 2 * C, *w1y = w + 3 * C;
  float *g0x = gw, *g0y = gw + C, *g1x = gw + 2 * C, *g1y = gw + 3 * C;
  for (int64_t t = 0; t < n; ++t) {
    float* gt = g + t * C;
    const float* xt = x + t * C;
    const float* yt = y + t * C;
    float* gyt = gy + t * C;
    float s0 = 0, s1 = 0;
#pragma omp simd reduction(+ : s0, s1)
    for (int64_t c = 0; c < C; ++c) {
      s0 += gt[c] * xt[c];
      s1 += gt[c] * yt[c];
    }
    const float z0 = z[2 * t], z1 = z[2 * t + 1];
    const float d0 = s0 * z0 * (1.0f - z0), d1 = s1 * z1 * (1.0f - z1);
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const float gc = gt[c];
      gt[c] = gc * z0 + d0 * w0x[c] + d1 * w1x[c];
      gyt[c] = gc * z1 + d0 * w0y[c] + d1 * w1y[c];
      g0x[c] += d0 * xt[c];
      g1x[c] += d1 * xt[c];
      g0y[c] += d0 * yt[c];
      g1y[c] += d1 * yt[c];
    }
    gw[4 * C] += d0;
    gw[4 * C + 1] += d1;
  }
}

// Adds a gy tile into the per-image accumulator [h*w][C] at its source pixels (several output pixels
// share a source when the residual is upsampled).
RK_MULTIVERSION
void accumulateRows(float* acc, const int64_t* pix, int64_t n, int64_t C, const float* tile) {
  for (int64_t t = 0; t < n; ++t) {
    float* dst = acc + pix[t] * C;
    const float* src = tile + t * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) dst[c] += src[c];
  }
}

// The shapes, sizes and index maps one call works with.
struct MixGeometry {
  int64_t N, C, H, W, h, w;
  std::vector<int64_t> rowIndex, colIndex;  // source row / column of each output row / column

  MixGeometry(const torch::Tensor& x, const torch::Tensor& residual)
      : N(x.size(0)), C(x.size(1)), H(x.size(2)), W(x.size(3)), h(residual.size(2)), w(residual.size(3)),
        rowIndex(nearestIndex(H, h)), colIndex(nearestIndex(W, w)) {}

  // Output pixels [p0, p0 + n) and their source pixels in the residual.
  void tilePixels(int64_t p0, int64_t n, int64_t* pix, int64_t* src) const {
    for (int64_t t = 0; t < n; ++t) {
      const int64_t p = p0 + t;
      pix[t] = p;
      src[t] = rowIndex[p / W] * w + colIndex[p % W];
    }
  }
};

template <typename T>
void forwardKernel(const torch::Tensor& x, const torch::Tensor& res, const float* wb, const MixGeometry& g, torch::Tensor& out, float* zAll) {
  const MapLayout lx = layoutOf(x), lr = layoutOf(res), lo = layoutOf(out);
  const T* xp = x.data_ptr<T>();
  const T* rp = res.data_ptr<T>();
  T* op = out.data_ptr<T>();
  const int64_t C = g.C, HW = g.H * g.W;
  at::parallel_for(0, g.N, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> xt(kTile * C), yt(kTile * C);
    int64_t pix[kTile], src[kTile];
    for (int64_t n = begin; n < end; ++n) {
      for (int64_t p0 = 0; p0 < HW; p0 += kTile) {
        const int64_t cnt = std::min(kTile, HW - p0);
        g.tilePixels(p0, cnt, pix, src);
        gather(xp + n * lx.image, lx, pix, cnt, C, xt.data());
        gather(rp + n * lr.image, lr, src, cnt, C, yt.data());
        mixForwardTile(xt.data(), yt.data(), cnt, C, wb, wb[4 * C], wb[4 * C + 1], zAll + (n * HW + p0) * 2);
        scatter(op + n * lo.image, lo, pix, cnt, C, xt.data());
      }
    }
  });
}

// partial: [N][4C + 2], this image's weight and bias gradient (summed over images afterwards, in order).
template <typename T>
void backwardKernel(const torch::Tensor& grad, const torch::Tensor& x, const torch::Tensor& res, const float* wb, const float* zAll, const MixGeometry& g,
                    torch::Tensor& gx, torch::Tensor& gres, float* partial) {
  const MapLayout lg = layoutOf(grad), lx = layoutOf(x), lr = layoutOf(res), lgx = layoutOf(gx), lgr = layoutOf(gres);
  const T* gp = grad.data_ptr<T>();
  const T* xp = x.data_ptr<T>();
  const T* rp = res.data_ptr<T>();
  T* gxp = gx.data_ptr<T>();
  T* grp = gres.data_ptr<T>();
  const int64_t C = g.C, HW = g.H * g.W, hw = g.h * g.w;
  at::parallel_for(0, g.N, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> gt(kTile * C), xt(kTile * C), yt(kTile * C), gyt(kTile * C), acc(hw * C);
    int64_t pix[kTile], src[kTile];
    for (int64_t n = begin; n < end; ++n) {
      float* gw = partial + n * (4 * C + 2);
      std::fill(gw, gw + 4 * C + 2, 0.0f);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t p0 = 0; p0 < HW; p0 += kTile) {
        const int64_t cnt = std::min(kTile, HW - p0);
        g.tilePixels(p0, cnt, pix, src);
        gather(gp + n * lg.image, lg, pix, cnt, C, gt.data());
        gather(xp + n * lx.image, lx, pix, cnt, C, xt.data());
        gather(rp + n * lr.image, lr, src, cnt, C, yt.data());
        mixBackwardTile(gt.data(), xt.data(), yt.data(), cnt, C, wb, zAll + (n * HW + p0) * 2, gyt.data(), gw);
        scatter(gxp + n * lgx.image, lgx, pix, cnt, C, gt.data());
        accumulateRows(acc.data(), src, cnt, C, gyt.data());
      }
      // The residual's gradient is written once per image, by the thread that owns the image.
      for (int64_t q0 = 0; q0 < hw; q0 += kTile) {
        const int64_t cnt = std::min(kTile, hw - q0);
        for (int64_t t = 0; t < cnt; ++t) pix[t] = q0 + t;
        scatter(grp + n * lgr.image, lgr, pix, cnt, C, acc.data() + q0 * C);
      }
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
    grad = dense(grad.to(x.scalar_type()));
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
