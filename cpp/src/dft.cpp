#include "rppg/dft.hpp"

#include <algorithm>
#include <vector>

#include "rppg/gemm.hpp"
#include "rppg/parallel.hpp"

namespace rppg {

void for_blocks(long B, double flops_per_row, const std::function<void(long, int)>& fn) {
  // Grain of 6 rows (the kernel's register block) so threads get near-equal shares.
  parallel_for(B, 6, flops_per_row * B, [&](long b0, long b1) {
    for (long r0 = b0; r0 < b1; r0 += kBlockRows)
      fn(r0, static_cast<int>(std::min(kBlockRows, b1 - r0)));
  });
}

template <class F>
void dft_forward(const F* x, int m, const Basis<F>& bs, bool demean, F* re, F* im) {
  const int T = bs.T, K = bs.K, N = bs.n_pad;
  thread_local std::vector<F> xa, y;
  y.resize(static_cast<size_t>(m) * N);
  const F* a = x;
  if (demean) {
    xa.resize(static_cast<size_t>(m) * T);
    for (int i = 0; i < m; ++i) {
      const F* src = x + static_cast<long>(i) * T;
      double mean = 0;
      for (int t = 0; t < T; ++t) mean += src[t];
      const F mu = static_cast<F>(mean / T);
      F* dst = xa.data() + static_cast<long>(i) * T;
      for (int t = 0; t < T; ++t) dst[t] = src[t] - mu;
    }
    a = xa.data();
  }
  gemm_nn(m, N, T, a, T, bs.wt.data(), N, y.data(), N);
  for (int i = 0; i < m; ++i) {
    const F* yi = y.data() + static_cast<long>(i) * N;
    std::copy(yi, yi + K, re + static_cast<long>(i) * K);
    std::copy(yi + K, yi + 2 * K, im + static_cast<long>(i) * K);
  }
}

template <class F>
void dft_backward(const F* g, int m, const Basis<F>& bs, bool demean, F* gx) {
  const int T = bs.T, K = bs.K, N = bs.t_pad;
  thread_local std::vector<F> y;
  y.resize(static_cast<size_t>(m) * N);
  gemm_nn(m, N, 2 * K, g, 2 * K, bs.w.data(), N, y.data(), N);
  for (int i = 0; i < m; ++i) {
    const F* yi = y.data() + static_cast<long>(i) * N;
    F* dst = gx + static_cast<long>(i) * T;
    double mean = 0;
    if (demean) {
      for (int t = 0; t < T; ++t) mean += yi[t];
      mean /= T;
    }
    const F mu = static_cast<F>(mean);
    for (int t = 0; t < T; ++t) dst[t] = yi[t] - mu;
  }
}

template void dft_forward<float>(const float*, int, const Basis<float>&, bool, float*, float*);
template void dft_forward<double>(const double*, int, const Basis<double>&, bool, double*, double*);
template void dft_backward<float>(const float*, int, const Basis<float>&, bool, float*);
template void dft_backward<double>(const double*, int, const Basis<double>&, bool, double*);

}  // namespace rppg
