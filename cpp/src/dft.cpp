#include "rppg/dft.hpp"

#include <algorithm>
#include <vector>

#include "rppg/gemm.hpp"
#include "rppg/parallel.hpp"

namespace rppg {

void for_blocks(long B, double flops_per_row, const std::function<void(long, int)>& fn) {
  // Grain of kMR rows (the kernel's register block) so threads get near-equal shares.
  parallel_for(B, kMR, flops_per_row * B, [&](long b0, long b1) {
    for (long r0 = b0; r0 < b1; r0 += kBlockRows)
      fn(r0, static_cast<int>(std::min(kBlockRows, b1 - r0)));
  });
}

template <class F>
void dft_forward_folded(const F* x, int m, const Basis<F>& bs, bool demean, F* re, F* im, int ld) {
  const int T = bs.T, H = bs.H, m6 = padded_rows(m), lda = round_up(H, 8), T2 = T / 2;
  // Row-major even / odd parts [m6][lda] (the GEMM reads them unpacked); pad rows are zero.
  thread_local std::vector<F> pe, po, y;
  pe.resize(static_cast<size_t>(m6) * lda);
  po.resize(static_cast<size_t>(m6) * lda);
  y.resize(T);
  std::fill(pe.begin() + static_cast<long>(m) * lda, pe.end(), F(0));
  std::fill(po.begin() + static_cast<long>(m) * lda, po.end(), F(0));
  const F* w = bs.win.data();
  F* yv = y.data();
  for (int i = 0; i < m; ++i) {
    const F* src = x + static_cast<long>(i) * T;
    F mu = 0;
    if (demean) mu = static_cast<F>(row_sum(src, T) / T);
    for (int t = 0; t < T; ++t) yv[t] = w[t] * (src[t] - mu);
    F* e = pe.data() + static_cast<long>(i) * lda;
    F* o = po.data() + static_cast<long>(i) * lda;
    const F* yh = yv + (T - 1);
    for (int j = 0; j < T2; ++j) {
      const F hi = yh[-j], lo = yv[j];
      e[j] = hi + lo;
      o[j] = hi - lo;
    }
    if (T % 2) {  // the middle sample (d = 0): even part only
      e[H - 1] = yv[H - 1];
      o[H - 1] = 0;
    }
  }
  gemm_rows(m6, bs.Kp, H, pe.data(), lda, bs.fc.data(), re, ld);
  gemm_rows(m6, bs.Kp, H, po.data(), lda, bs.fsn.data(), im, ld);
}

template <class F>
void dft_backward_folded(const F* gre, const F* gim, int ldg, const F* scale, int m, const Basis<F>& bs,
                         bool demean, F* gx) {
  const int T = bs.T, K = bs.K, H = bs.H, Hp = bs.Hp, m6 = padded_rows(m), full = m / kMR * kMR;
  thread_local std::vector<F> a, b, tail;
  a.resize(static_cast<size_t>(m6) * Hp);
  b.resize(static_cast<size_t>(m6) * Hp);
  // Full micro-panels read the gradient rows in place (leading dimension ldg); a last partial
  // panel goes through a zero-padded copy so the GEMM never reads past row m.
  if (full > 0) {
    gemm_rows(full, Hp, K, gre, ldg, bs.bc.data(), a.data(), Hp);
    gemm_rows(full, Hp, K, gim, ldg, bs.bsn.data(), b.data(), Hp);
  }
  if (m > full) {
    tail.assign(2 * static_cast<size_t>(kMR) * K, F(0));
    for (int i = full; i < m; ++i) {
      std::copy(gre + static_cast<long>(i) * ldg, gre + static_cast<long>(i) * ldg + K,
                tail.begin() + static_cast<long>(i - full) * K);
      std::copy(gim + static_cast<long>(i) * ldg, gim + static_cast<long>(i) * ldg + K,
                tail.begin() + static_cast<long>(kMR + i - full) * K);
    }
    gemm_rows(kMR, Hp, K, tail.data(), K, bs.bc.data(), a.data() + static_cast<long>(full) * Hp, Hp);
    gemm_rows(kMR, Hp, K, tail.data() + static_cast<long>(kMR) * K, K, bs.bsn.data(),
              b.data() + static_cast<long>(full) * Hp, Hp);
  }
  const F* w = bs.win.data();
  for (int i = 0; i < m; ++i) {
    const F* ai = a.data() + static_cast<long>(i) * Hp;
    const F* bi = b.data() + static_cast<long>(i) * Hp;
    F* dst = gx + static_cast<long>(i) * T;
    const F s = scale ? scale[i] : F(1);
    F* dh = dst + (T - 1);
    const F* wh = w + (T - 1);
    for (int j = 0; j < H; ++j) dh[-j] = s * wh[-j] * (ai[j] + bi[j]);
    for (int j = 0; j < T - H; ++j) dst[j] = s * w[j] * (ai[j] - bi[j]);
    if (demean) {
      const F mu = static_cast<F>(row_sum(dst, T) / T);
      for (int t = 0; t < T; ++t) dst[t] -= mu;
    }
  }
}

template <class F>
void dft_forward(const F* x, int m, const Basis<F>& bs, bool demean, F* re, F* im) {
  const int K = bs.K, Kp = bs.Kp;
  thread_local std::vector<F> yr, yi;
  yr.resize(static_cast<size_t>(padded_rows(m)) * Kp);
  yi.resize(static_cast<size_t>(padded_rows(m)) * Kp);
  dft_forward_folded(x, m, bs, demean, yr.data(), yi.data(), Kp);
  const F* c = bs.rot_c.data();
  const F* s = bs.rot_s.data();
  for (int i = 0; i < m; ++i) {
    const F* r = yr.data() + static_cast<long>(i) * Kp;
    const F* q = yi.data() + static_cast<long>(i) * Kp;
    F* ro = re + static_cast<long>(i) * K;
    F* io = im + static_cast<long>(i) * K;
    for (int k = 0; k < K; ++k) {
      ro[k] = c[k] * r[k] - s[k] * q[k];
      io[k] = s[k] * r[k] + c[k] * q[k];
    }
  }
}

template <class F>
void dft_backward(const F* g, int m, const Basis<F>& bs, bool demean, F* gx) {
  const int K = bs.K;
  thread_local std::vector<F> gr, gi;
  gr.resize(static_cast<size_t>(m) * K);
  gi.resize(static_cast<size_t>(m) * K);
  const F* c = bs.rot_c.data();
  const F* s = bs.rot_s.data();
  for (int i = 0; i < m; ++i) {
    const F* a = g + static_cast<long>(i) * 2 * K;
    F* r = gr.data() + static_cast<long>(i) * K;
    F* q = gi.data() + static_cast<long>(i) * K;
    for (int k = 0; k < K; ++k) {
      r[k] = c[k] * a[k] + s[k] * a[K + k];
      q[k] = c[k] * a[K + k] - s[k] * a[k];
    }
  }
  dft_backward_folded(gr.data(), gi.data(), K, static_cast<const F*>(nullptr), m, bs, demean, gx);
}

#define RPPG_INST(F)                                                                                 \
  template void dft_forward_folded<F>(const F*, int, const Basis<F>&, bool, F*, F*, int);           \
  template void dft_backward_folded<F>(const F*, const F*, int, const F*, int, const Basis<F>&, bool, \
                                       F*);                                                          \
  template void dft_forward<F>(const F*, int, const Basis<F>&, bool, F*, F*);                       \
  template void dft_backward<F>(const F*, int, const Basis<F>&, bool, F*);
RPPG_INST(float)
RPPG_INST(double)
#undef RPPG_INST

}  // namespace rppg
