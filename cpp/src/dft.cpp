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
  const int T = bs.T, H = bs.H, m6 = padded_rows(m);
  thread_local std::vector<F> pe, po, y;
  pe.assign(static_cast<size_t>(m6) * H, F(0));
  po.assign(static_cast<size_t>(m6) * H, F(0));
  y.resize(T);
  const F* w = bs.win.data();
  for (int i = 0; i < m; ++i) {
    const F* src = x + static_cast<long>(i) * T;
    F mu = 0;
    if (demean) {
      double mean = 0;
      for (int t = 0; t < T; ++t) mean += src[t];
      mu = static_cast<F>(mean / T);
    }
    for (int t = 0; t < T; ++t) y[t] = w[t] * (src[t] - mu);
    // Pack into the A micro-panel layout [H][kMR]: row i at (i / kMR) * H * kMR + j * kMR + i % kMR.
    F* e = pe.data() + static_cast<long>(i / kMR) * H * kMR + i % kMR;
    F* o = po.data() + static_cast<long>(i / kMR) * H * kMR + i % kMR;
    for (int j = 0; j < T / 2; ++j) {
      const F hi = y[T - 1 - j], lo = y[j];
      e[j * kMR] = hi + lo;
      o[j * kMR] = hi - lo;
    }
    if (T % 2) e[(H - 1) * kMR] = y[H - 1];  // the middle sample (d = 0): even part only
  }
  gemm_packed(m6, bs.Kp, H, pe.data(), bs.fc.data(), re, ld);
  gemm_packed(m6, bs.Kp, H, po.data(), bs.fsn.data(), im, ld);
}

template <class F>
void dft_backward_folded(const F* gre, const F* gim, int ldg, const F* scale, int m, const Basis<F>& bs,
                         bool demean, F* gx) {
  const int T = bs.T, K = bs.K, H = bs.H, Hp = bs.Hp, m6 = padded_rows(m);
  thread_local std::vector<F> pa, pb, a, b;
  pa.assign(static_cast<size_t>(m6) * K, F(0));
  pb.assign(static_cast<size_t>(m6) * K, F(0));
  a.resize(static_cast<size_t>(m6) * Hp);
  b.resize(static_cast<size_t>(m6) * Hp);
  for (int i = 0; i < m; ++i) {
    F* da = pa.data() + static_cast<long>(i / kMR) * K * kMR + i % kMR;
    F* db = pb.data() + static_cast<long>(i / kMR) * K * kMR + i % kMR;
    const F* sa = gre + static_cast<long>(i) * ldg;
    const F* sb = gim + static_cast<long>(i) * ldg;
    for (int k = 0; k < K; ++k) {
      da[k * kMR] = sa[k];
      db[k * kMR] = sb[k];
    }
  }
  gemm_packed(m6, Hp, K, pa.data(), bs.bc.data(), a.data(), Hp);
  gemm_packed(m6, Hp, K, pb.data(), bs.bsn.data(), b.data(), Hp);
  const F* w = bs.win.data();
  for (int i = 0; i < m; ++i) {
    const F* ai = a.data() + static_cast<long>(i) * Hp;
    const F* bi = b.data() + static_cast<long>(i) * Hp;
    F* dst = gx + static_cast<long>(i) * T;
    const F s = scale ? scale[i] : F(1);
    for (int j = 0; j < H; ++j) {
      dst[T - 1 - j] = s * w[T - 1 - j] * (ai[j] + bi[j]);
      dst[j] = s * w[j] * (ai[j] - bi[j]);  // the middle of odd T: bi = 0 (sin 0)
    }
    if (demean) {
      double mean = 0;
      for (int t = 0; t < T; ++t) mean += dst[t];
      const F mu = static_cast<F>(mean / T);
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
