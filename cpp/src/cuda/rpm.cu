// RPM-Distill components (docs/METHODS.md §1.3): per-side statistics, row kernels and launchers.
#include "spectral_internal.cuh"

namespace rppg {
namespace cuda {
namespace {

// ---- RPM-Distill per-side statistics (docs/METHODS.md §1.3) ----
// r_k = log(P_k + 1e-8); mu, sd (population) of r; l = (r - mu) / (sd + 1e-8);
// centroid c = sum_k k softmax(r)_k (band bin index 0..K-1); H = -sum q log(q + 1e-8), q = softmax(l).
template <typename S>
struct SideStats {
  S mu, sd, is, rmax, za, c, lmax, zq, H, sumP;
};

template <typename S>
__device__ __forceinline__ S log_power(const S* re, const S* im, int k) {
  return d_log(power_at(re, im, k) + S(1e-8));
}

template <typename S>
__device__ SideStats<S> side_stats(const S* __restrict__ re, const S* __restrict__ im, int K,
                                   int lane) {
  SideStats<S> st;
  S sr = S(0), mx = -INFINITY, sp = S(0);
  for (int k = lane; k < K; k += 32) {
    const S P = power_at(re, im, k);
    const S v = d_log(P + S(1e-8));
    sr += v;
    mx = fmax(mx, v);
    sp += P;
  }
  st.mu = warp_sum(sr) / static_cast<S>(K);
  st.rmax = warp_max(mx);
  st.sumP = warp_sum(sp);
  S var = S(0), za = S(0), ca = S(0);
  for (int k = lane; k < K; k += 32) {
    const S v = log_power(re, im, k);
    const S d = v - st.mu;
    var += d * d;
    const S e = d_exp(v - st.rmax);
    za += e;
    ca += static_cast<S>(k) * e;
  }
  st.sd = d_sqrt(warp_sum(var) / static_cast<S>(K));
  st.is = S(1) / (st.sd + S(1e-8));
  st.za = warp_sum(za);
  st.c = warp_sum(ca) / st.za;
  st.lmax = (st.rmax - st.mu) * st.is;  // z-scoring is increasing, so the max maps to the max
  S zq = S(0);
  for (int k = lane; k < K; k += 32) zq += d_exp((log_power(re, im, k) - st.mu) * st.is - st.lmax);
  st.zq = warp_sum(zq);
  S h = S(0);
  for (int k = lane; k < K; k += 32) {
    const S q = d_exp((log_power(re, im, k) - st.mu) * st.is - st.lmax) / st.zq;
    h -= q * d_log(q + S(1e-8));
  }
  st.H = warp_sum(h);
  return st;
}

// sigma = max(1, floor(0.02 K) / 2)
template <typename S>
__device__ __forceinline__ S peak_sigma(int K) {
  const S s = static_cast<S>(floor(0.02 * static_cast<double>(K))) / S(2);
  return s > S(1) ? s : S(1);
}
template <typename S>
__device__ __forceinline__ S peak_w(int k, S c_t, S sigma) {
  const S z = (static_cast<S>(k) - c_t) / sigma;
  return d_exp(S(-0.5) * z * z);
}

template <typename S>
__global__ void __launch_bounds__(kRowThreads)
    rpm_fwd_rows(const S* __restrict__ re_s_all, const S* __restrict__ im_s_all,
                 const S* __restrict__ re_t_all, const S* __restrict__ im_t_all,
                 S* __restrict__ comps, S* __restrict__ centroid, S* __restrict__ ratio, int64_t B,
                 int K) {
  const S sigma = peak_sigma<S>(K);
  RPPG_ROW_LOOP(B) {
    const int64_t o = row * K;
    const S *res = re_s_all + o, *ims = im_s_all + o, *ret = re_t_all + o, *imt = im_t_all + o;
    const SideStats<S> s = side_stats(res, ims, K, lane);
    const SideStats<S> t = side_stats(ret, imt, K, lane);
    S sw = S(0), sm = S(0), swd = S(0), smd = S(0), spw = S(0);
    for (int k = lane; k < K; k += 32) {
      const S w = peak_w(k, t.c, sigma);
      const S m = w < S(1) ? S(1) - w : S(0);
      const S ls = (log_power(res, ims, k) - s.mu) * s.is;
      const S lt = (log_power(ret, imt, k) - t.mu) * t.is;
      const S D = d_abs(ls - lt);
      sw += w;
      sm += m;
      swd += w * D;
      smd += m * D;
      spw += power_at(ret, imt, k) * w;
    }
    sw = warp_sum(sw);
    sm = warp_sum(sm);
    swd = warp_sum(swd);
    smd = warp_sum(smd);
    spw = warp_sum(spw);
    if (lane == 0) {
      comps[row * 3 + 0] = swd / (sw + S(1e-8));
      comps[row * 3 + 1] = smd / (sm + S(1e-8));
      comps[row * 3 + 2] = smooth_l1(s.c - t.c) + smooth_l1(s.H - t.H);
      centroid[row] = t.c;
      ratio[row] = t.sumP > S(0) ? spw / t.sumP : S(0);
    }
  }
}

// d l_k (student, z-scored) of peak/off/entropy terms:
// gl_k = (cw w_k + cm m_k) sign(l_s - l_t) + gH q_k (u_k - sum q u), u_k = -(log(q_k + 1e-8) + q_k / (q_k + 1e-8)).
template <typename S>
__device__ __forceinline__ S rpm_grad_l(const S* res, const S* ims, const S* ret, const S* imt, int k,
                                        const SideStats<S>& s, const SideStats<S>& t, S sigma, S cw,
                                        S cm, S gH, S qu, S& r_out) {
  const S r = log_power(res, ims, k);
  r_out = r;
  const S ls = (r - s.mu) * s.is;
  const S lt = (log_power(ret, imt, k) - t.mu) * t.is;
  const S w = peak_w(k, t.c, sigma);
  const S m = w < S(1) ? S(1) - w : S(0);
  const S q = d_exp(ls - s.lmax) / s.zq;
  const S u = -(d_log(q + S(1e-8)) + q / (q + S(1e-8)));
  return (cw * w + cm * m) * sign_of(ls - lt) + gH * q * (u - qu);
}

// Backward of comps w.r.t. the student spectrum (the teacher is constant).
template <typename S>
__global__ void __launch_bounds__(kRowThreads)
    rpm_bwd_rows(const S* __restrict__ gcomps, const S* __restrict__ re_s_all,
                 const S* __restrict__ im_s_all, const S* __restrict__ re_t_all,
                 const S* __restrict__ im_t_all, S* __restrict__ G, int64_t B, int K) {
  const S sigma = peak_sigma<S>(K);
  RPPG_ROW_LOOP(B) {
    const S g0 = gcomps[row * 3 + 0], g1 = gcomps[row * 3 + 1], g2 = gcomps[row * 3 + 2];
    const int64_t o = row * K;
    const S *res = re_s_all + o, *ims = im_s_all + o, *ret = re_t_all + o, *imt = im_t_all + o;
    const SideStats<S> s = side_stats(res, ims, K, lane);
    const SideStats<S> t = side_stats(ret, imt, K, lane);
    S sw = S(0), sm = S(0), qu = S(0);
    for (int k = lane; k < K; k += 32) {
      const S w = peak_w(k, t.c, sigma);
      sw += w;
      sm += w < S(1) ? S(1) - w : S(0);
      const S q = d_exp((log_power(res, ims, k) - s.mu) * s.is - s.lmax) / s.zq;
      qu += q * -(d_log(q + S(1e-8)) + q / (q + S(1e-8)));
    }
    const S cw = g0 / (warp_sum(sw) + S(1e-8));
    const S cm = g1 / (warp_sum(sm) + S(1e-8));
    qu = warp_sum(qu);
    const S gc = g2 * smooth_l1_grad(s.c - t.c);
    const S gH = g2 * smooth_l1_grad(s.H - t.H);
    // z-score backward needs mean(gl) and sum_k gl_k (r_k - mu).
    S sgl = S(0), sglr = S(0);
    for (int k = lane; k < K; k += 32) {
      S r;
      const S gl = rpm_grad_l(res, ims, ret, imt, k, s, t, sigma, cw, cm, gH, qu, r);
      sgl += gl;
      sglr += gl * (r - s.mu);
    }
    const S mgl = warp_sum(sgl) / static_cast<S>(K);
    sglr = warp_sum(sglr);
    // gr_j = is (gl_j - mean gl) - is^2 (r_j - mu) / (K sd) sum_k gl_k (r_k - mu)
    //        + gc a_j (j - c),   a = softmax(r)
    const S zcoef = s.sd > S(0) ? s.is * s.is * sglr / (static_cast<S>(K) * s.sd) : S(0);
    S* w = G + row * 2 * K;
    for (int k = lane; k < K; k += 32) {
      S r;
      const S gl = rpm_grad_l(res, ims, ret, imt, k, s, t, sigma, cw, cm, gH, qu, r);
      const S a = d_exp(r - s.rmax) / s.za;
      const S gr = s.is * (gl - mgl) - zcoef * (r - s.mu) + gc * a * (static_cast<S>(k) - s.c);
      const S gP = gr / (power_at(res, ims, k) + S(1e-8));
      w[k] = S(2) * res[k] * gP;
      w[K + k] = S(2) * ims[k] * gP;
    }
  }
}

// ---- typed implementations (B > 0 checked by the callers) ----
template <typename S>
void rpm_fwd_impl(int device, cudaStream_t st, int64_t B, const GridSpec& g, std::uintptr_t s,
                  std::uintptr_t t, std::uintptr_t comps, std::uintptr_t centroid,
                  std::uintptr_t ratio, std::uintptr_t re_s, std::uintptr_t im_s,
                  std::uintptr_t re_t, std::uintptr_t im_t) {
  auto bs = get_basis<S>(g, device, st);
  forward_dft<S>(*bs, g, st, as_ptr<const S>(s), B, as_ptr<S>(re_s), as_ptr<S>(im_s));
  forward_dft<S>(*bs, g, st, as_ptr<const S>(t), B, as_ptr<S>(re_t), as_ptr<S>(im_t));
  rpm_fwd_rows<S><<<row_grid(B), kRowThreads, 0, st>>>(
      as_ptr<const S>(re_s), as_ptr<const S>(im_s), as_ptr<const S>(re_t), as_ptr<const S>(im_t),
      as_ptr<S>(comps), as_ptr<S>(centroid), as_ptr<S>(ratio), B, K_of(g));
  RPPG_CHECK_LAUNCH("rpm_fwd_rows");
}

template <typename S>
void rpm_bwd_impl(int device, cudaStream_t st, int64_t B, const GridSpec& g,
                  std::uintptr_t gcomps, std::uintptr_t re_s, std::uintptr_t im_s,
                  std::uintptr_t re_t, std::uintptr_t im_t, std::uintptr_t gs,
                  std::uintptr_t work) {
  auto bs = get_basis<S>(g, device, st);
  rpm_bwd_rows<S><<<row_grid(B), kRowThreads, 0, st>>>(
      as_ptr<const S>(gcomps), as_ptr<const S>(re_s), as_ptr<const S>(im_s), as_ptr<const S>(re_t),
      as_ptr<const S>(im_t), as_ptr<S>(work), B, K_of(g));
  RPPG_CHECK_LAUNCH("rpm_bwd_rows");
  backward_dft<S>(*bs, g, st, as_ptr<const S>(work), B, as_ptr<S>(gs));
}

}  // namespace

void rpm_components_forward(DType dt, int device, std::uintptr_t stream, int64_t B,
                            const GridSpec& g, std::uintptr_t student, std::uintptr_t teacher,
                            std::uintptr_t comps, std::uintptr_t centroid, std::uintptr_t ratio,
                            std::uintptr_t re_s, std::uintptr_t im_s, std::uintptr_t re_t,
                            std::uintptr_t im_t) {
  validate(g, B);
  if (B == 0) return;
  DeviceGuard guard(device);
  RPPG_DISPATCH(dt, rpm_fwd_impl, device, as_stream(stream), B, g, student, teacher, comps, centroid,
                ratio, re_s, im_s, re_t, im_t);
}

void rpm_components_backward(DType dt, int device, std::uintptr_t stream, int64_t B,
                             const GridSpec& g, std::uintptr_t grad_comps, std::uintptr_t re_s,
                             std::uintptr_t im_s, std::uintptr_t re_t, std::uintptr_t im_t,
                             std::uintptr_t grad_student, std::uintptr_t work) {
  validate(g, B);
  if (B == 0) return;
  DeviceGuard guard(device);
  RPPG_DISPATCH(dt, rpm_bwd_impl, device, as_stream(stream), B, g, grad_comps, re_s, im_s, re_t, im_t,
                grad_student, work);
}

}  // namespace cuda
}  // namespace rppg
