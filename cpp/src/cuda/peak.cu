// Peak frequency of the band power: row kernel and launcher.
#include "spectral_internal.cuh"

namespace rppg {
namespace cuda {
namespace {

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

// ---- typed implementations (B > 0 checked by the callers) ----
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
