#include <vector>

#include "rppg/dft.hpp"
#include "rppg/kernels.hpp"

namespace rppg {

template <class F>
void band_psd_fwd(const F* x, long B, const Basis<F>& bs, bool demean, bool normalize, F eps,
                  F* out, F* re, F* im) {
  const int T = bs.T, K = bs.K;
  for_blocks(B, dft_row_flops(bs), [&](long r0, int m) {
    dft_forward(x + r0 * T, m, bs, demean, re + r0 * K, im + r0 * K);
    for (int i = 0; i < m; ++i) {
      const long o = (r0 + i) * K;
      double sum = 0;
      for (int k = 0; k < K; ++k) {
        out[o + k] = re[o + k] * re[o + k] + im[o + k] * im[o + k];
        sum += out[o + k];
      }
      if (normalize) {
        const F inv = static_cast<F>(1.0 / (sum + eps));
        for (int k = 0; k < K; ++k) out[o + k] *= inv;
      }
    }
  });
}

template <class F>
void band_psd_bwd(const F* grad_out, const F* out, const F* re, const F* im, long B,
                  const Basis<F>& bs, bool demean, bool normalize, F eps, F* grad_x) {
  const int T = bs.T, K = bs.K;
  for_blocks(B, dft_row_flops(bs), [&](long r0, int m) {
    thread_local std::vector<F> g;
    g.resize(static_cast<size_t>(m) * 2 * K);
    for (int i = 0; i < m; ++i) {
      const long o = (r0 + i) * K;
      F* gi = g.data() + static_cast<long>(i) * 2 * K;
      double gp = 0, sum = 0;
      F inv = 1;
      if (normalize) {  // dp_k/dP_j = (delta_kj - p_k) / (S + eps)
        for (int k = 0; k < K; ++k) {
          gp += double(grad_out[o + k]) * out[o + k];
          sum += double(re[o + k]) * re[o + k] + double(im[o + k]) * im[o + k];
        }
        inv = static_cast<F>(1.0 / (sum + eps));
      }
      for (int k = 0; k < K; ++k) {
        const F gP = normalize ? (grad_out[o + k] - static_cast<F>(gp)) * inv : grad_out[o + k];
        gi[k] = 2 * gP * re[o + k];
        gi[K + k] = 2 * gP * im[o + k];
      }
    }
    dft_backward(g.data(), m, bs, demean, grad_x + r0 * T);
  });
}

template void band_psd_fwd<float>(const float*, long, const Basis<float>&, bool, bool, float, float*,
                                  float*, float*);
template void band_psd_fwd<double>(const double*, long, const Basis<double>&, bool, bool, double,
                                   double*, double*, double*);
template void band_psd_bwd<float>(const float*, const float*, const float*, const float*, long,
                                  const Basis<float>&, bool, bool, float, float*);
template void band_psd_bwd<double>(const double*, const double*, const double*, const double*, long,
                                   const Basis<double>&, bool, bool, double, double*);

}  // namespace rppg
