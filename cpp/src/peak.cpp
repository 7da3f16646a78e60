// Peak frequency of the band power spectrum with parabolic interpolation between grid points.
#include <vector>

#include "rppg/dft.hpp"
#include "rppg/kernels.hpp"

namespace rppg {

template <class F>
void peak_frequency_fwd(const F* x, long B, const Basis<F>& bs, const double* freqs, bool demean,
                        double* freq) {
  const int T = bs.T, K = bs.K;
  for_blocks(B, dft_row_flops(bs) / 2, [&](long r0, int m) {
    thread_local std::vector<F> re, im;
    re.resize(static_cast<size_t>(m) * K);
    im.resize(static_cast<size_t>(m) * K);
    dft_forward(x + r0 * T, m, bs, demean, re.data(), im.data());
    for (int i = 0; i < m; ++i) {
      const F* r = re.data() + static_cast<long>(i) * K;
      const F* q = im.data() + static_cast<long>(i) * K;
      auto P = [&](int k) { return double(r[k]) * r[k] + double(q[k]) * q[k]; };
      int best = 0;
      double pbest = P(0);
      for (int k = 1; k < K; ++k)
        if (P(k) > pbest) { pbest = P(k); best = k; }
      double f = freqs[best];
      if (best > 0 && best < K - 1) {
        const double a = P(best - 1), c = P(best + 1), den = a - 2 * pbest + c;
        if (den < 0) {
          double d = 0.5 * (a - c) / den;
          d = d < -0.5 ? -0.5 : (d > 0.5 ? 0.5 : d);
          f += d * (d >= 0 ? freqs[best + 1] - freqs[best] : freqs[best] - freqs[best - 1]);
        }
      }
      freq[r0 + i] = f;
    }
  });
}

template void peak_frequency_fwd<float>(const float*, long, const Basis<float>&, const double*, bool,
                                        double*);
template void peak_frequency_fwd<double>(const double*, long, const Basis<double>&, const double*,
                                         bool, double*);

}  // namespace rppg
