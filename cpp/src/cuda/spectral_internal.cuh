// Internal to the CUDA spectral core (not installed): error checks, the device guard, device
// math and warp helpers, the per-row epilogue scaffolding, the basis cache entry and the
// cross-file entry points. One file per purpose includes it:
//   basis.cu     grid validation and the cached windowed cos/sin basis (LRU, per device/dtype)
//   gemm.cu      the shared-memory tiled GEMM and the forward / backward DFT built on it
//   band_psd.cu  band power (optionally normalized): row kernels and launchers
//   psd_kl.cu    KL(p_teacher || p_student) over the band PSD: row kernels and launchers
//   rpm.cu       RPM-Distill per-side statistics and components: row kernels and launchers
//   peak.cu      peak frequency (argmax + parabolic interpolation): row kernel and launcher
//   device.cu    device queries and stream synchronization
//
// The CUDA kernels of the spectral core (docs/METHODS.md §1): a cached windowed cos/sin basis, the
// direct DFT as a shared-memory tiled matrix product, and fused per-row epilogues (power,
// normalization, KL, log / z-score / softmax / centroid / entropy / SmoothL1) forward and backward.
//
// Layout. x [B, T]; basis [2K, T] with row 2k = w_t cos(2 pi f_k t / fs) and row 2k+1 =
// -w_t sin(2 pi f_k t / fs) (rows centered over t when demean is on: sum_t b_t (x_t - mean x)
// = sum_t (b_t - mean b) x_t exactly, and the same centered basis is the exact adjoint for the
// backward); basisT [T, 2K] its transpose. Forward: ri [B, 2K] = x . basisT (GEMM, M = B, Kd = T,
// N = 2K). Backward: grad_x [B, T] = G . basis (GEMM, M = B, Kd = 2K, N = T) with
// G [B, 2K] = (2 Re gP, 2 Im gP) from the row epilogue.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "rppg/cuda/spectral_cuda.hpp"

namespace rppg {
namespace cuda {
namespace {

inline void check(cudaError_t err, const char* what) {
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

}  // namespace

// ------------------------------------------------------------------------------------------------
// Cross-file entry points (external linkage; float and double are instantiated).
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

// The cached basis for (grid, device, dtype of S), uploaded on first use (basis.cu).
template <typename S>
std::shared_ptr<BasisEntry> get_basis(const GridSpec& g, int device, cudaStream_t st);

// Throws std::invalid_argument for a bad batch size or grid (basis.cu).
void validate(const GridSpec& g, int64_t B);

inline int K_of(const GridSpec& g) { return static_cast<int>(g.freqs.size()); }

// re, im [B, K] = x [B, T] . basisT (gemm.cu).
template <typename S>
void forward_dft(const BasisEntry& bs, const GridSpec& g, cudaStream_t st, const S* x, int64_t B,
                 S* re, S* im);
// grad_x [B, T] = G [B, 2K] . basis (gemm.cu).
template <typename S>
void backward_dft(const BasisEntry& bs, const GridSpec& g, cudaStream_t st, const S* G, int64_t B,
                  S* gx);

// Calls fn<double> or fn<float> by the runtime dtype.
#define RPPG_DISPATCH(dt, fn, ...)          \
  do {                                      \
    if ((dt) == DType::f64)                 \
      fn<double>(__VA_ARGS__);              \
    else                                    \
      fn<float>(__VA_ARGS__);               \
  } while (0)

}  // namespace cuda
}  // namespace rppg
