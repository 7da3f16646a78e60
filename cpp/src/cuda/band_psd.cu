// Band power |X_k|^2 over the grid, optionally normalized to sum 1: row kernels and launchers.
#include "spectral_internal.cuh"

namespace rppg {
namespace cuda {
namespace {

template <typename S>
__global__ void __launch_bounds__(kRowThreads)
    band_psd_fwd_rows(const S* __restrict__ re_all, const S* __restrict__ im_all,
                      S* __restrict__ out, int64_t B, int K, bool normalize, S eps) {
  RPPG_ROW_LOOP(B) {
    const S* re = re_all + row * K;
    const S* im = im_all + row * K;
    S* o = out + row * K;
    if (!normalize) {
      for (int k = lane; k < K; k += 32) o[k] = power_at(re, im, k);
    } else {
      S sum = S(0);
      for (int k = lane; k < K; k += 32) sum += power_at(re, im, k);
      const S inv = S(1) / (warp_sum(sum) + eps);
      for (int k = lane; k < K; k += 32) o[k] = power_at(re, im, k) * inv;
    }
  }
}

// G = (2 Re gP, 2 Im gP); with normalization gP_j = (g_j - sum_k g_k p_k) / (sum P + eps).
template <typename S>
__global__ void __launch_bounds__(kRowThreads)
    band_psd_bwd_rows(const S* __restrict__ gout, const S* __restrict__ out,
                      const S* __restrict__ re_all, const S* __restrict__ im_all,
                      S* __restrict__ G, int64_t B, int K, bool normalize, S eps) {
  RPPG_ROW_LOOP(B) {
    const S* re = re_all + row * K;
    const S* im = im_all + row * K;
    const S* g = gout + row * K;
    S* w = G + row * 2 * K;
    S inv = S(1), dot = S(0);
    if (normalize) {
      const S* p = out + row * K;
      S sum = S(0), gp = S(0);
      for (int k = lane; k < K; k += 32) {
        sum += power_at(re, im, k);
        gp += g[k] * p[k];
      }
      inv = S(1) / (warp_sum(sum) + eps);
      dot = warp_sum(gp);
    }
    for (int k = lane; k < K; k += 32) {
      const S gP = (g[k] - dot) * inv;
      w[k] = S(2) * re[k] * gP;
      w[K + k] = S(2) * im[k] * gP;
    }
  }
}

// ---- typed implementations (B > 0 checked by the callers) ----
template <typename S>
void band_psd_fwd_impl(int device, cudaStream_t st, int64_t B, const GridSpec& g, bool normalize,
                       double eps, std::uintptr_t x, std::uintptr_t out, std::uintptr_t re,
                       std::uintptr_t im) {
  auto bs = get_basis<S>(g, device, st);
  forward_dft<S>(*bs, g, st, as_ptr<const S>(x), B, as_ptr<S>(re), as_ptr<S>(im));
  band_psd_fwd_rows<S><<<row_grid(B), kRowThreads, 0, st>>>(
      as_ptr<const S>(re), as_ptr<const S>(im), as_ptr<S>(out), B, K_of(g), normalize,
      static_cast<S>(eps));
  RPPG_CHECK_LAUNCH("band_psd_fwd_rows");
}

template <typename S>
void band_psd_bwd_impl(int device, cudaStream_t st, int64_t B, const GridSpec& g, bool normalize,
                       double eps, std::uintptr_t gout, std::uintptr_t out, std::uintptr_t re,
                       std::uintptr_t im, std::uintptr_t gx, std::uintptr_t work) {
  auto bs = get_basis<S>(g, device, st);
  band_psd_bwd_rows<S><<<row_grid(B), kRowThreads, 0, st>>>(
      as_ptr<const S>(gout), as_ptr<const S>(out), as_ptr<const S>(re), as_ptr<const S>(im),
      as_ptr<S>(work), B, K_of(g), normalize, static_cast<S>(eps));
  RPPG_CHECK_LAUNCH("band_psd_bwd_rows");
  backward_dft<S>(*bs, g, st, as_ptr<const S>(work), B, as_ptr<S>(gx));
}

}  // namespace

void band_psd_forward(DType dt, int device, std::uintptr_t stream, int64_t B, const GridSpec& g,
                      bool normalize, double eps, std::uintptr_t x, std::uintptr_t out,
                      std::uintptr_t re, std::uintptr_t im) {
  validate(g, B);
  if (B == 0) return;
  DeviceGuard guard(device);
  RPPG_DISPATCH(dt, band_psd_fwd_impl, device, as_stream(stream), B, g, normalize, eps, x, out, re, im);
}

void band_psd_backward(DType dt, int device, std::uintptr_t stream, int64_t B, const GridSpec& g,
                       bool normalize, double eps, std::uintptr_t grad_out, std::uintptr_t out,
                       std::uintptr_t re, std::uintptr_t im, std::uintptr_t grad_x,
                       std::uintptr_t work) {
  validate(g, B);
  if (B == 0) return;
  DeviceGuard guard(device);
  RPPG_DISPATCH(dt, band_psd_bwd_impl, device, as_stream(stream), B, g, normalize, eps, grad_out, out,
                re, im, grad_x, work);
}

}  // namespace cuda
}  // namespace rppg
