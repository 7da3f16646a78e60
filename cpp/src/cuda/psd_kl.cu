// KL(p_teacher || p_student) over the normalized band PSD (docs/METHODS.md §1.2): row kernels, the
// deterministic batch mean and the launchers.
#include "spectral_internal.cuh"

namespace rppg {
namespace cuda {
namespace {

// loss = sum_k pt (log(pt + eps) - log(ps + eps)); also writes ps, pt [B, K].
template <typename S>
__global__ void __launch_bounds__(kRowThreads)
    psd_kl_fwd_rows(const S* __restrict__ re_s_all, const S* __restrict__ im_s_all,
                    const S* __restrict__ re_t_all, const S* __restrict__ im_t_all,
                    S* __restrict__ loss, S* __restrict__ ps_all, S* __restrict__ pt_all,
                    int64_t B, int K, S eps) {
  RPPG_ROW_LOOP(B) {
    const int64_t o = row * K;
    const S *res = re_s_all + o, *ims = im_s_all + o, *ret = re_t_all + o, *imt = im_t_all + o;
    S ss = S(0), st = S(0);
    for (int k = lane; k < K; k += 32) {
      ss += power_at(res, ims, k);
      st += power_at(ret, imt, k);
    }
    const S is = S(1) / (warp_sum(ss) + eps);
    const S it = S(1) / (warp_sum(st) + eps);
    S kl = S(0);
    for (int k = lane; k < K; k += 32) {
      const S ps = power_at(res, ims, k) * is;
      const S pt = power_at(ret, imt, k) * it;
      ps_all[o + k] = ps;
      pt_all[o + k] = pt;
      kl += pt * (d_log(pt + eps) - d_log(ps + eps));
    }
    kl = warp_sum(kl);
    if (lane == 0) loss[row] = kl;
  }
}

// Deterministic batch mean: one block, fixed-order tree reduction.
template <typename S>
__global__ void __launch_bounds__(256) mean_kernel(const S* __restrict__ v, S* __restrict__ out,
                                                   int64_t n) {
  __shared__ S part[8];
  S acc = S(0);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += v[i];
  acc = warp_sum(acc);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = acc;
  __syncthreads();
  if (threadIdx.x < 32) {
    S t = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : S(0);
    t = warp_sum(t);
    if (threadIdx.x == 0) out[0] = n > 0 ? t / static_cast<S>(n) : S(0);
  }
}

// dL/dps_k = -pt_k / (ps_k + eps); dL/dpt_k = log(pt_k + eps) - log(ps_k + eps) + pt_k / (pt_k + eps);
// then through p = P / (sum P + eps): gP_j = (gp_j - sum_k gp_k p_k) / (sum P + eps), and
// P = Re^2 + Im^2. The upstream gradient of row b is grad[grad_is_scalar ? 0 : b] * scale.
template <typename S>
__global__ void __launch_bounds__(kRowThreads)
    psd_kl_bwd_rows(const S* __restrict__ grad, bool grad_is_scalar, S scale,
                    const S* __restrict__ ps_all, const S* __restrict__ pt_all,
                    const S* __restrict__ re_s_all, const S* __restrict__ im_s_all,
                    const S* __restrict__ re_t_all, const S* __restrict__ im_t_all,
                    S* __restrict__ Gs, S* __restrict__ Gt, int64_t B, int K, S eps) {
  RPPG_ROW_LOOP(B) {
    const S g = grad[grad_is_scalar ? 0 : row] * scale;
    const int64_t o = row * K;
    const S *res = re_s_all + o, *ims = im_s_all + o, *ret = re_t_all + o, *imt = im_t_all + o;
    const S *ps = ps_all + o, *pt = pt_all + o;
    S ss = S(0), st = S(0), ds = S(0), dt = S(0);
    for (int k = lane; k < K; k += 32) {
      ss += power_at(res, ims, k);
      ds += -pt[k] / (ps[k] + eps) * ps[k];
      if (Gt != nullptr) {
        st += power_at(ret, imt, k);
        dt += (d_log(pt[k] + eps) - d_log(ps[k] + eps) + pt[k] / (pt[k] + eps)) * pt[k];
      }
    }
    const S is = S(1) / (warp_sum(ss) + eps);
    ds = warp_sum(ds);
    S it = S(0);
    if (Gt != nullptr) {  // uniform over the whole grid: the shuffles stay convergent
      it = S(1) / (warp_sum(st) + eps);
      dt = warp_sum(dt);
    }
    S* ws = Gs + row * 2 * K;
    for (int k = lane; k < K; k += 32) {
      const S gPs = g * (-pt[k] / (ps[k] + eps) - ds) * is;
      ws[k] = S(2) * res[k] * gPs;
      ws[K + k] = S(2) * ims[k] * gPs;
    }
    if (Gt != nullptr) {
      S* wt = Gt + row * 2 * K;
      for (int k = lane; k < K; k += 32) {
        const S gpt = d_log(pt[k] + eps) - d_log(ps[k] + eps) + pt[k] / (pt[k] + eps);
        const S gPt = g * (gpt - dt) * it;
        wt[k] = S(2) * ret[k] * gPt;
        wt[K + k] = S(2) * imt[k] * gPt;
      }
    }
  }
}

// ---- typed implementations (B > 0 checked by the callers) ----
template <typename S>
void psd_kl_fwd_impl(int device, cudaStream_t st, int64_t B, const GridSpec& g, double eps,
                     std::uintptr_t s, std::uintptr_t t, std::uintptr_t loss, std::uintptr_t mean,
                     std::uintptr_t ps, std::uintptr_t pt, std::uintptr_t re_s, std::uintptr_t im_s,
                     std::uintptr_t re_t, std::uintptr_t im_t) {
  auto bs = get_basis<S>(g, device, st);
  forward_dft<S>(*bs, g, st, as_ptr<const S>(s), B, as_ptr<S>(re_s), as_ptr<S>(im_s));
  forward_dft<S>(*bs, g, st, as_ptr<const S>(t), B, as_ptr<S>(re_t), as_ptr<S>(im_t));
  psd_kl_fwd_rows<S><<<row_grid(B), kRowThreads, 0, st>>>(
      as_ptr<const S>(re_s), as_ptr<const S>(im_s), as_ptr<const S>(re_t), as_ptr<const S>(im_t),
      as_ptr<S>(loss), as_ptr<S>(ps), as_ptr<S>(pt), B, K_of(g), static_cast<S>(eps));
  RPPG_CHECK_LAUNCH("psd_kl_fwd_rows");
  if (mean != 0) {
    mean_kernel<S><<<1, 256, 0, st>>>(as_ptr<const S>(loss), as_ptr<S>(mean), B);
    RPPG_CHECK_LAUNCH("mean_kernel");
  }
}

template <typename S>
void psd_kl_bwd_impl(int device, cudaStream_t st, int64_t B, const GridSpec& g, double eps,
                     std::uintptr_t grad, bool grad_is_scalar, double scale, std::uintptr_t ps,
                     std::uintptr_t pt, std::uintptr_t re_s, std::uintptr_t im_s,
                     std::uintptr_t re_t, std::uintptr_t im_t, std::uintptr_t gs, std::uintptr_t gt,
                     std::uintptr_t ws, std::uintptr_t wt) {
  auto bs = get_basis<S>(g, device, st);
  const bool both = gt != 0 && wt != 0;
  psd_kl_bwd_rows<S><<<row_grid(B), kRowThreads, 0, st>>>(
      as_ptr<const S>(grad), grad_is_scalar, static_cast<S>(scale), as_ptr<const S>(ps),
      as_ptr<const S>(pt), as_ptr<const S>(re_s), as_ptr<const S>(im_s), as_ptr<const S>(re_t),
      as_ptr<const S>(im_t), as_ptr<S>(ws), both ? as_ptr<S>(wt) : nullptr, B, K_of(g),
      static_cast<S>(eps));
  RPPG_CHECK_LAUNCH("psd_kl_bwd_rows");
  backward_dft<S>(*bs, g, st, as_ptr<const S>(ws), B, as_ptr<S>(gs));
  if (both) backward_dft<S>(*bs, g, st, as_ptr<const S>(wt), B, as_ptr<S>(gt));
}

}  // namespace

void psd_kl_forward(DType dt, int device, std::uintptr_t stream, int64_t B, const GridSpec& g,
                    double eps, std::uintptr_t student, std::uintptr_t teacher, std::uintptr_t loss,
                    std::uintptr_t mean, std::uintptr_t ps, std::uintptr_t pt, std::uintptr_t re_s,
                    std::uintptr_t im_s, std::uintptr_t re_t, std::uintptr_t im_t) {
  validate(g, B);
  if (B == 0) return;
  DeviceGuard guard(device);
  RPPG_DISPATCH(dt, psd_kl_fwd_impl, device, as_stream(stream), B, g, eps, student, teacher, loss, mean,
                ps, pt, re_s, im_s, re_t, im_t);
}

void psd_kl_backward(DType dt, int device, std::uintptr_t stream, int64_t B, const GridSpec& g,
                     double eps, std::uintptr_t grad, bool grad_is_scalar, double scale,
                     std::uintptr_t ps, std::uintptr_t pt, std::uintptr_t re_s, std::uintptr_t im_s,
                     std::uintptr_t re_t, std::uintptr_t im_t, std::uintptr_t grad_s,
                     std::uintptr_t grad_t, std::uintptr_t work_s, std::uintptr_t work_t) {
  validate(g, B);
  if (B == 0) return;
  DeviceGuard guard(device);
  RPPG_DISPATCH(dt, psd_kl_bwd_impl, device, as_stream(stream), B, g, eps, grad, grad_is_scalar, scale,
                ps, pt, re_s, im_s, re_t, im_t, grad_s, grad_t, work_s, work_t);
}

}  // namespace cuda
}  // namespace rppg
