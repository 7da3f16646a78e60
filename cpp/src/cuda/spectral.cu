// CUDA kernels of the spectral core (METHODS.md section 1): a cached windowed cos/sin basis, the
// direct DFT as a shared-memory tiled matrix product, and fused per-row epilogues (power,
// normalization, KL, log / z-score / softmax / centroid / entropy / SmoothL1) forward and backward.
//
// Layout. x [B, T]; basis [2K, T] with row 2k = w_t cos(2 pi f_k t / fs) and row 2k+1 =
// -w_t sin(2 pi f_k t / fs) (rows centered over t when demean is on: sum_t b_t (x_t - mean x)
// = sum_t (b_t - mean b) x_t exactly, and the same centered basis is the exact adjoint for the
// backward); basisT [T, 2K] its transpose. Forward: ri [B, 2K] = x . basisT (GEMM, M = B, Kd = T,
// N = 2K). Backward: grad_x [B, T] = G . basis (GEMM, M = B, Kd = 2K, N = T) with
// G [B, 2K] = (2 Re gP, 2 Im gP) from the row epilogue.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "rppg/cuda/spectral_cuda.hpp"

namespace rppg {
namespace cuda {
namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    // Clear a non-sticky error so the next call starts clean.
    (void)cudaGetLastError();
    throw std::runtime_error(std::string("rppg_distill CUDA error in ") + what + ": " +
                             cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
  }
}
#define RPPG_CHECK(expr) check((expr), #expr)
#define RPPG_CHECK_LAUNCH(name) check(cudaGetLastError(), name " (kernel launch)")

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    require_device(device);
    RPPG_CHECK(cudaGetDevice(&prev_));
    if (prev_ != device) {
      RPPG_CHECK(cudaSetDevice(device));
      changed_ = true;
    }
  }
  ~DeviceGuard() {
    if (changed_) (void)cudaSetDevice(prev_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool changed_ = false;
};

inline cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }
template <typename S>
inline S* as_ptr(std::uintptr_t p) {
  return reinterpret_cast<S*>(p);
}

// ------------------------------------------------------------------------------------------------
// Device math helpers (explicit float / double so float32 never promotes to double).
__device__ __forceinline__ float d_log(float v) { return logf(v); }
__device__ __forceinline__ double d_log(double v) { return log(v); }
__device__ __forceinline__ float d_exp(float v) { return expf(v); }
__device__ __forceinline__ double d_exp(double v) { return exp(v); }
__device__ __forceinline__ float d_sqrt(float v) { return sqrtf(v); }
__device__ __forceinline__ double d_sqrt(double v) { return sqrt(v); }
__device__ __forceinline__ float d_abs(float v) { return fabsf(v); }
__device__ __forceinline__ double d_abs(double v) { return fabs(v); }

template <typename S>
__device__ __forceinline__ S warp_sum(S v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <typename S>
__device__ __forceinline__ S warp_max(S v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
template <typename S>
__device__ __forceinline__ S sign_of(S v) {
  return v > S(0) ? S(1) : (v < S(0) ? S(-1) : S(0));
}
// SmoothL1 with beta = 1 and its derivative (torch's convention: |d| < 1 quadratic).
template <typename S>
__device__ __forceinline__ S smooth_l1(S d) {
  S a = d_abs(d);
  return a < S(1) ? S(0.5) * d * d : a - S(0.5);
}
template <typename S>
__device__ __forceinline__ S smooth_l1_grad(S d) {
  return d > S(1) ? S(1) : (d < S(-1) ? S(-1) : d);
}

// ------------------------------------------------------------------------------------------------
// GEMM C[M, N] = A[M, Kd] . Bm[Kd, N], all row-major and contiguous (lda = Kd, ldb = ldc = N).
// Block tile BM x BN, K-step BK, each thread a TM x TN micro tile whose rows / columns are strided
// by BM/TM and BN/TN so that shared-memory reads of a warp hit consecutive banks (B) or broadcast
// (A), and the global stores of a warp are coalesced. M tiles run on grid.x (no 65535 limit on B),
// N tiles on grid.y.
template <typename S, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    gemm_nn_kernel(const S* __restrict__ A, const S* __restrict__ Bm, S* __restrict__ C,
                   int64_t M, int N, int Kd, S* __restrict__ C2, int split) {
  constexpr int TX = BN / TN;  // threads along N
  constexpr int TY = BM / TM;  // threads along M
  constexpr int NT = TX * TY;
  __shared__ S As[BK][BM + 1];  // As[k][m] (transposed; +1 breaks the store bank conflicts)
  __shared__ S Bs[BK][BN];

  const int tid = threadIdx.x;
  const int tx = tid % TX;
  const int ty = tid / TX;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int n0 = blockIdx.y * BN;

  S acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = S(0);

  for (int k0 = 0; k0 < Kd; k0 += BK) {
    // A tile: BM rows x BK columns; consecutive threads read consecutive k of a row.
#pragma unroll
    for (int e = tid; e < BM * BK; e += NT) {
      const int i = e / BK, j = e % BK;
      const int64_t gm = m0 + i;
      const int gk = k0 + j;
      As[j][i] = (gm < M && gk < Kd) ? A[gm * Kd + gk] : S(0);
    }
    // B tile: BK rows x BN columns; consecutive threads read consecutive n of a row.
#pragma unroll
    for (int e = tid; e < BK * BN; e += NT) {
      const int i = e / BN, j = e % BN;
      const int gk = k0 + i;
      const int gn = n0 + j;
      Bs[i][j] = (gk < Kd && gn < N) ? Bm[static_cast<int64_t>(gk) * N + gn] : S(0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      S a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = As[kk][ty + i * TY];
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = Bs[kk][tx + j * TX];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t gm = m0 + ty + i * TY;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int gn = n0 + tx + j * TX;
      if (gn >= N) continue;
      if (split > 0)  // columns [0, split) -> C [M, split], [split, N) -> C2 [M, N - split]
        (gn < split ? C[gm * split + gn] : C2[gm * (N - split) + (gn - split)]) = acc[i][j];
      else
        C[gm * N + gn] = acc[i][j];
    }
  }
}

template <typename S, int BM, int BN, int BK, int TM, int TN>
void launch_gemm_cfg(const S* A, const S* Bm, S* C, int64_t M, int N, int Kd, S* C2, int split,
                     cudaStream_t st) {
  constexpr int threads = (BM / TM) * (BN / TN);
  const int64_t gx = (M + BM - 1) / BM;
  const int gy = (N + BN - 1) / BN;
  if (gx > 2147483647LL || gy > 65535) throw std::runtime_error("rppg_distill CUDA: problem too large");
  gemm_nn_kernel<S, BM, BN, BK, TM, TN>
      <<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), threads, 0, st>>>(A, Bm, C, M, N,
                                                                                      Kd, C2, split);
  RPPG_CHECK_LAUNCH("gemm_nn_kernel");
}

template <typename S>
void launch_gemm(const S* A, const S* Bm, S* C, int64_t M, int N, int Kd, S* C2, int split,
                 cudaStream_t st) {
  if (M <= 0 || N <= 0) return;
  // Small batches: 16-row tiles so that fewer threads idle on padding rows.
  if (M <= 32)
    launch_gemm_cfg<S, 16, 64, 16, 1, 4>(A, Bm, C, M, N, Kd, C2, split, st);
  else
    launch_gemm_cfg<S, 64, 64, 16, 4, 4>(A, Bm, C, M, N, Kd, C2, split, st);
}

// ------------------------------------------------------------------------------------------------
// Per-row epilogues: one warp per row, lanes stride over the K bins, warp-shuffle reductions.
// Rows loop grid-stride; the loop bound is uniform within a warp so full-mask shuffles are safe.
// re, im [B, K]; the backward work buffer G [B, 2K] holds (dL/d re, dL/d im) per row.
constexpr int kRowThreads = 128;
constexpr int kRowsPerBlock = kRowThreads / 32;

inline unsigned row_grid(int64_t B) {
  int64_t blocks = (B + kRowsPerBlock - 1) / kRowsPerBlock;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535LL * 16)));
}

#define RPPG_ROW_LOOP(B)                                                                    \
  const int lane = threadIdx.x & 31;                                                        \
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5); \
       row < (B); row += static_cast<int64_t>(gridDim.x) * kRowsPerBlock)

template <typename S>
__device__ __forceinline__ S power_at(const S* __restrict__ re, const S* __restrict__ im, int k) {
  const S a = re[k], b = im[k];
  return a * a + b * b;
}

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

// ---- RPM-Distill per-side statistics (METHODS.md 1.3) ----
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

// Peak frequency: argmax of the band power (first on ties), parabolic interpolation on P around
// it, offset clamped to half a bin, converted with the local grid spacing (freqs [K] on device).
template <typename S>
__global__ void __launch_bounds__(kRowThreads)
    peak_rows(const S* __restrict__ re_all, const S* __restrict__ im_all,
              const double* __restrict__ freqs, double* __restrict__ hz, int64_t B, int K) {
  RPPG_ROW_LOOP(B) {
    const S* re = re_all + row * K;
    const S* im = im_all + row * K;
    double best = -INFINITY;
    int bi = 0x7fffffff;
    for (int k = lane; k < K; k += 32) {
      const double P = static_cast<double>(re[k]) * re[k] + static_cast<double>(im[k]) * im[k];
      if (P > best) {  // each lane visits increasing k: strict > keeps its first maximum
        best = P;
        bi = k;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const double ob = __shfl_xor_sync(0xffffffffu, best, o);
      const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (ob > best || (ob == best && oi < bi)) {
        best = ob;
        bi = oi;
      }
    }
    if (lane == 0) {
      if (bi >= K) bi = 0;  // no bin compared greater (all NaN): the first bin, like the CPU path
      double f = freqs[bi];
      if (bi > 0 && bi < K - 1) {
        auto P = [&](int k) {
          return static_cast<double>(re[k]) * re[k] + static_cast<double>(im[k]) * im[k];
        };
        const double a = P(bi - 1), b = P(bi), c = P(bi + 1), den = a - 2.0 * b + c;
        if (den < 0.0) {
          double d = 0.5 * (a - c) / den;
          d = d < -0.5 ? -0.5 : (d > 0.5 ? 0.5 : d);
          f += d * (d >= 0.0 ? freqs[bi + 1] - freqs[bi] : freqs[bi] - freqs[bi - 1]);
        }
      }
      hz[row] = f;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Basis cache.
struct BasisKey {
  int device;
  int dtype;
  int64_t T;
  double fs;
  bool hann, periodic, demean;
  std::vector<double> freqs;
  bool operator<(const BasisKey& o) const {
    return std::tie(device, dtype, T, fs, hann, periodic, demean, freqs) <
           std::tie(o.device, o.dtype, o.T, o.fs, o.hann, o.periodic, o.demean, o.freqs);
  }
};

struct BasisEntry {
  void* basis = nullptr;   // [2K, T]
  void* basisT = nullptr;  // [T, 2K]
  double* freqs = nullptr; // [K] (Hz, for the peak estimator)
  int device = 0;
  ~BasisEntry() {
    if (basis != nullptr || basisT != nullptr || freqs != nullptr) {
      int prev = 0;
      if (cudaGetDevice(&prev) == cudaSuccess) {
        (void)cudaSetDevice(device);
        (void)cudaFree(basis);
        (void)cudaFree(basisT);
        (void)cudaFree(freqs);
        (void)cudaSetDevice(prev);
      }
    }
  }
};

constexpr size_t kMaxCacheEntries = 64;
std::mutex g_cache_mutex;
uint64_t g_tick = 0;  // last-use stamps for least-recently-used eviction
// Intentionally leaked: freeing device memory from a static destructor at process exit would run
// after the CUDA runtime has been torn down. clear_basis_cache() frees explicitly.
using BasisMap = std::map<BasisKey, std::pair<std::shared_ptr<BasisEntry>, uint64_t>>;
BasisMap& g_cache = *new BasisMap();

// The basis in double, [2K, T]: row k = w_t cos(2 pi f_k t / fs), row K + k = w_t sin(...) (the
// CPU core's convention), each row centered over t when demean.
std::vector<double> make_basis(const GridSpec& g) {
  const int64_t T = g.T;
  const size_t K = g.freqs.size();
  std::vector<double> win(static_cast<size_t>(T), 1.0);
  const double two_pi = 6.283185307179586476925286766559;
  if (g.hann) {
    // as the CPU core (cpp/src/basis.cpp): symmetric uses T - 1, or 1 when T == 1
    const double denom = g.periodic ? static_cast<double>(T) : static_cast<double>(T > 1 ? T - 1 : 1);
    for (int64_t t = 0; t < T; ++t)
      win[t] = 0.5 - 0.5 * std::cos(two_pi * static_cast<double>(t) / denom);
  }
  std::vector<double> b(2 * K * static_cast<size_t>(T));
  for (size_t k = 0; k < K; ++k) {
    const double cyc = g.freqs[k] / g.fs;  // cycles per sample
    double* rc = &b[k * T];
    double* rs = &b[(K + k) * T];
    double mc = 0.0, ms = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      double ph = cyc * static_cast<double>(t);
      ph -= std::floor(ph);  // reduce to [0, 1) before scaling: exact for rfft bins k/n
      const double a = two_pi * ph;
      rc[t] = win[t] * std::cos(a);
      rs[t] = win[t] * std::sin(a);
      mc += rc[t];
      ms += rs[t];
    }
    if (g.demean) {
      mc /= static_cast<double>(T);
      ms /= static_cast<double>(T);
      for (int64_t t = 0; t < T; ++t) {
        rc[t] -= mc;
        rs[t] -= ms;
      }
    }
  }
  return b;
}

template <typename S>
std::shared_ptr<BasisEntry> upload_basis(const GridSpec& g, int device, cudaStream_t st) {
  const std::vector<double> bd = make_basis(g);
  const size_t K2 = 2 * g.freqs.size();
  const size_t T = static_cast<size_t>(g.T);
  std::vector<S> b(K2 * T), bt(K2 * T);
  for (size_t j = 0; j < K2; ++j)
    for (size_t t = 0; t < T; ++t) {
      b[j * T + t] = static_cast<S>(bd[j * T + t]);
      bt[t * K2 + j] = static_cast<S>(bd[j * T + t]);
    }
  auto e = std::make_shared<BasisEntry>();
  e->device = device;
  const size_t bytes = K2 * T * sizeof(S);
  RPPG_CHECK(cudaMalloc(&e->basis, bytes));
  RPPG_CHECK(cudaMalloc(&e->basisT, bytes));
  RPPG_CHECK(cudaMalloc(reinterpret_cast<void**>(&e->freqs), g.freqs.size() * sizeof(double)));
  RPPG_CHECK(cudaMemcpyAsync(e->freqs, g.freqs.data(), g.freqs.size() * sizeof(double),
                             cudaMemcpyHostToDevice, st));
  RPPG_CHECK(cudaMemcpyAsync(e->basis, b.data(), bytes, cudaMemcpyHostToDevice, st));
  RPPG_CHECK(cudaMemcpyAsync(e->basisT, bt.data(), bytes, cudaMemcpyHostToDevice, st));
  // The host vectors die at return, and other streams may use the entry: wait for the copies.
  RPPG_CHECK(cudaStreamSynchronize(st));
  return e;
}

template <typename S>
std::shared_ptr<BasisEntry> get_basis(const GridSpec& g, int device, cudaStream_t st) {
  BasisKey key{device, sizeof(S) == 8 ? 1 : 0, g.T, g.fs, g.hann, g.periodic, g.demean, g.freqs};
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  auto it = g_cache.find(key);
  if (it != g_cache.end()) {
    it->second.second = ++g_tick;
    return it->second.first;
  }
  auto e = upload_basis<S>(g, device, st);
  while (g_cache.size() >= kMaxCacheEntries) {
    // cudaFree synchronizes the device, so kernels still reading an evicted basis finish first;
    // callers holding the shared_ptr keep it alive until their launches are queued.
    auto oldest = g_cache.begin();
    for (auto j = g_cache.begin(); j != g_cache.end(); ++j)
      if (j->second.second < oldest->second.second) oldest = j;
    g_cache.erase(oldest);
  }
  g_cache.emplace(key, std::make_pair(e, ++g_tick));
  return e;
}

void validate(const GridSpec& g, int64_t B) {
  if (B < 0) throw std::invalid_argument("batch size must be >= 0");
  if (g.T < 1) throw std::invalid_argument("T must be >= 1");
  if (g.freqs.empty()) throw std::invalid_argument("the frequency grid is empty");
  if (!(g.fs > 0.0) || !std::isfinite(g.fs)) throw std::invalid_argument("fs must be positive and finite");
  // grid.y of the GEMMs carries ceil(N / 64) tiles, N = 2K (forward) or T (backward).
  if (g.T > 65535LL * 64 || 2 * g.freqs.size() > 65535ull * 64ull)
    throw std::invalid_argument("T or K too large for the CUDA kernels");
}

int K_of(const GridSpec& g) { return static_cast<int>(g.freqs.size()); }

// ---- typed implementations (B > 0 checked by the callers) ----
// re, im [B, K] = x . basisT: one GEMM with N = 2K whose epilogue splits the columns.
template <typename S>
void forward_dft(const BasisEntry& bs, const GridSpec& g, cudaStream_t st, const S* x, int64_t B,
                 S* re, S* im) {
  launch_gemm<S>(x, static_cast<const S*>(bs.basisT), re, B, 2 * K_of(g), static_cast<int>(g.T), im,
                 K_of(g), st);
}
// grad_x [B, T] = G [B, 2K] . basis (the centered basis already includes the demean adjoint).
template <typename S>
void backward_dft(const BasisEntry& bs, const GridSpec& g, cudaStream_t st, const S* G, int64_t B,
                  S* gx) {
  launch_gemm<S>(G, static_cast<const S*>(bs.basis), gx, B, static_cast<int>(g.T), 2 * K_of(g),
                 nullptr, 0, st);
}

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

template <typename S>
void peak_impl(int device, cudaStream_t st, int64_t B, const GridSpec& g, std::uintptr_t x,
               std::uintptr_t hz, std::uintptr_t re, std::uintptr_t im) {
  auto bs = get_basis<S>(g, device, st);
  forward_dft<S>(*bs, g, st, as_ptr<const S>(x), B, as_ptr<S>(re), as_ptr<S>(im));
  peak_rows<S><<<row_grid(B), kRowThreads, 0, st>>>(as_ptr<const S>(re), as_ptr<const S>(im),
                                                    bs->freqs, as_ptr<double>(hz), B, K_of(g));
  RPPG_CHECK_LAUNCH("peak_rows");
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Public launchers.
int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

void require_device(int device) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    throw std::runtime_error(std::string("no CUDA device: ") + cudaGetErrorString(err));
  }
  if (n == 0) throw std::runtime_error("no CUDA device");
  if (device < 0 || device >= n)
    throw std::runtime_error("CUDA device " + std::to_string(device) + " does not exist (" +
                             std::to_string(n) + " present)");
}

std::string describe_device(int device) {
  require_device(device);
  cudaDeviceProp p{};
  RPPG_CHECK(cudaGetDeviceProperties(&p, device));
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.multiProcessorCount) + " SMs)";
}

void clear_basis_cache() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  g_cache.clear();
}

size_t basis_cache_size() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  return g_cache.size();
}

void synchronize(int device, std::uintptr_t stream) {
  DeviceGuard guard(device);
  RPPG_CHECK(cudaStreamSynchronize(as_stream(stream)));
}

#define RPPG_DISPATCH(dt, fn, ...)          \
  do {                                      \
    if ((dt) == DType::f64)                 \
      fn<double>(__VA_ARGS__);              \
    else                                    \
      fn<float>(__VA_ARGS__);               \
  } while (0)

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

void peak_frequency_forward(DType dt, int device, std::uintptr_t stream, int64_t B,
                            const GridSpec& g, std::uintptr_t x, std::uintptr_t hz,
                            std::uintptr_t re, std::uintptr_t im) {
  validate(g, B);
  if (B == 0) return;
  DeviceGuard guard(device);
  RPPG_DISPATCH(dt, peak_impl, device, as_stream(stream), B, g, x, hz, re, im);
}

}  // namespace cuda
}  // namespace rppg
