#include <cmath>
#include <vector>

#include "rppg/dft.hpp"
#include "rppg/kernels.hpp"
#include "rppg/vecmath.hpp"

namespace rppg {
namespace {

// p = P / (sum P + eps) for one row; returns sum P.
template <class F>
double normalize_row(const F* re, const F* im, int K, F eps, F* p) {
  double sum = 0;
  for (int k = 0; k < K; ++k) {
    p[k] = re[k] * re[k] + im[k] * im[k];
    sum += p[k];
  }
  const F inv = static_cast<F>(1.0 / (sum + eps));
  for (int k = 0; k < K; ++k) p[k] *= inv;
  return sum;
}

// Gradient wrt p -> row of g [2K] (d/d re, d/d im) through p = P / (S + eps), P = re^2 + im^2.
template <class F>
void p_to_dft_grad(const F* gp, const F* p, const F* re, const F* im, int K, F eps, F* g) {
  double dot = 0, sum = 0;
  for (int k = 0; k < K; ++k) {
    dot += double(gp[k]) * p[k];
    sum += double(re[k]) * re[k] + double(im[k]) * im[k];
  }
  const F inv = static_cast<F>(1.0 / (sum + eps));
  const F d = static_cast<F>(dot);
  for (int k = 0; k < K; ++k) {
    const F gP = (gp[k] - d) * inv;
    g[k] = 2 * gP * re[k];
    g[K + k] = 2 * gP * im[k];
  }
}

}  // namespace

template <class F>
void psd_kl_fwd(const F* s, const F* t, long B, const Basis<F>& bs, bool demean, F eps, F* loss,
                F* ps, F* pt, F* re_s, F* im_s, F* re_t, F* im_t) {
  const int T = bs.T, K = bs.K;
  for_blocks(B, 2 * dft_row_flops(bs), [&](long r0, int m) {
    dft_forward(s + r0 * T, m, bs, demean, re_s + r0 * K, im_s + r0 * K);
    dft_forward(t + r0 * T, m, bs, demean, re_t + r0 * K, im_t + r0 * K);
    for (int i = 0; i < m; ++i) {
      const long o = (r0 + i) * K;
      normalize_row(re_s + o, im_s + o, K, eps, ps + o);
      normalize_row(re_t + o, im_t + o, K, eps, pt + o);
      double l = 0;  // one log per bin: log((p_t + eps) / (p_s + eps))
      for (int k = 0; k < K; ++k) l += pt[o + k] * std::log((pt[o + k] + eps) / (ps[o + k] + eps));
      loss[r0 + i] = static_cast<F>(l);
    }
  });
}

template <class F>
void psd_kl_bwd(const F* grad_loss, const F* ps, const F* pt, const F* re_s, const F* im_s,
                const F* re_t, const F* im_t, long B, const Basis<F>& bs, bool demean, F eps,
                F* grad_s, F* grad_t) {
  const int T = bs.T, K = bs.K;
  for_blocks(B, (grad_t ? 2 : 1) * dft_row_flops(bs), [&](long r0, int m) {
    thread_local std::vector<F> g, gp;
    g.resize(static_cast<size_t>(m) * 2 * K);
    gp.resize(K);
    for (int i = 0; i < m; ++i) {
      const long o = (r0 + i) * K;
      const F gl = grad_loss[r0 + i];
      for (int k = 0; k < K; ++k) gp[k] = -gl * pt[o + k] / (ps[o + k] + eps);
      p_to_dft_grad(gp.data(), ps + o, re_s + o, im_s + o, K, eps, g.data() + static_cast<long>(i) * 2 * K);
    }
    dft_backward(g.data(), m, bs, demean, grad_s + r0 * T);
    if (!grad_t) return;
    for (int i = 0; i < m; ++i) {
      const long o = (r0 + i) * K;
      const F gl = grad_loss[r0 + i];
      for (int k = 0; k < K; ++k) {
        const F a = pt[o + k], b = ps[o + k];
        gp[k] = gl * (std::log((a + eps) / (b + eps)) + a / (a + eps));
      }
      p_to_dft_grad(gp.data(), pt + o, re_t + o, im_t + o, K, eps, g.data() + static_cast<long>(i) * 2 * K);
    }
    dft_backward(g.data(), m, bs, demean, grad_t + r0 * T);
  });
}

template <class F>
void psd_kl_fused_fwd(const F* s, const F* t, long B, const Basis<F>& bs, bool demean, F eps, F* loss,
                      F* hs, F* ht, int ldh) {
  const int T = bs.T, K = bs.K, Kp = bs.Kp;
  if (ldh <= 0) ldh = K;
  const bool direct = ldh == Kp;  // kl_row writes h rows straight into the output
  for_blocks(B, ((hs ? 1.5 : 1.0) + (ht ? 0.5 : 0.0)) * dft_row_flops(bs), [&](long r0, int m) {
    thread_local std::vector<F> ys, yt, h, pbuf;
    const size_t sz = static_cast<size_t>(padded_rows(m)) * Kp;
    ys.resize(2 * sz);
    yt.resize(2 * sz);
    if (!direct) h.resize(4 * static_cast<size_t>(Kp));
    pbuf.resize(2 * static_cast<size_t>(Kp));
    dft_forward_folded(s + r0 * T, m, bs, demean, ys.data(), ys.data() + sz, Kp);
    dft_forward_folded(t + r0 * T, m, bs, demean, yt.data(), yt.data() + sz, Kp);
    for (int i = 0; i < m; ++i) {
      const long o = static_cast<long>(i) * Kp, b = r0 + i;
      F* h_s = !hs ? nullptr : direct ? hs + b * 2 * Kp : h.data();
      F* h_t = !ht ? nullptr : direct ? ht + b * 2 * Kp : h.data() + 2 * Kp;
      loss[b] = kl_row(ys.data() + o, ys.data() + sz + o, yt.data() + o, yt.data() + sz + o, Kp, eps,
                       h_s, h_t, pbuf.data());
      if (direct) continue;
      if (hs) {
        std::copy(h_s, h_s + K, hs + b * 2 * ldh);
        std::copy(h_s + Kp, h_s + Kp + K, hs + b * 2 * ldh + ldh);
      }
      if (ht) {
        std::copy(h_t, h_t + K, ht + b * 2 * ldh);
        std::copy(h_t + Kp, h_t + Kp + K, ht + b * 2 * ldh + ldh);
      }
    }
  });
}

template <class F>
void psd_kl_fused_bwd(const F* grad_loss, F grad_scale, const F* h, long B, const Basis<F>& bs,
                      bool demean, F* grad_x, int ldh) {
  const int T = bs.T;
  if (ldh <= 0) ldh = bs.K;
  for_blocks(B, 0.5 * dft_row_flops(bs), [&](long r0, int m) {
    thread_local std::vector<F> sc;
    sc.assign(m, grad_scale);
    if (grad_loss) std::copy(grad_loss + r0, grad_loss + r0 + m, sc.begin());
    dft_backward_folded(h + r0 * 2 * ldh, h + r0 * 2 * ldh + ldh, 2 * ldh, sc.data(), m, bs, demean,
                        grad_x + r0 * T);
  });
}

template <class F>
void psd_kl_fused_fwd_grad(const F* s, const F* t, long B, const Basis<F>& bs, bool demean, F eps,
                           F* loss, F grad_scale, F* gs, F* gt) {
  const int T = bs.T, Kp = bs.Kp;
  for_blocks(B, (1.0 + (gs ? 0.5 : 0.0) + (gt ? 0.5 : 0.0)) * dft_row_flops(bs), [&](long r0, int m) {
    thread_local std::vector<F> ys, yt, hsb, htb, pbuf, sc;
    const size_t sz = static_cast<size_t>(padded_rows(m)) * Kp;
    ys.resize(2 * sz);
    yt.resize(2 * sz);
    if (gs) hsb.resize(static_cast<size_t>(m) * 2 * Kp);
    if (gt) htb.resize(static_cast<size_t>(m) * 2 * Kp);
    pbuf.resize(2 * static_cast<size_t>(Kp));
    sc.assign(m, grad_scale);
    dft_forward_folded(s + r0 * T, m, bs, demean, ys.data(), ys.data() + sz, Kp);
    dft_forward_folded(t + r0 * T, m, bs, demean, yt.data(), yt.data() + sz, Kp);
    for (int i = 0; i < m; ++i) {
      const long o = static_cast<long>(i) * Kp;
      loss[r0 + i] = kl_row(ys.data() + o, ys.data() + sz + o, yt.data() + o, yt.data() + sz + o, Kp, eps,
                            gs ? hsb.data() + 2 * o : nullptr, gt ? htb.data() + 2 * o : nullptr, pbuf.data());
    }
    if (gs) dft_backward_folded(hsb.data(), hsb.data() + Kp, 2 * Kp, sc.data(), m, bs, demean, gs + r0 * T);
    if (gt) dft_backward_folded(htb.data(), htb.data() + Kp, 2 * Kp, sc.data(), m, bs, demean, gt + r0 * T);
  });
}

#define RPPG_INST(F)                                                                            \
  template void psd_kl_fwd<F>(const F*, const F*, long, const Basis<F>&, bool, F, F*, F*, F*, F*, \
                              F*, F*, F*);                                                      \
  template void psd_kl_bwd<F>(const F*, const F*, const F*, const F*, const F*, const F*, const F*, \
                              long, const Basis<F>&, bool, F, F*, F*);                     \
  template void psd_kl_fused_fwd<F>(const F*, const F*, long, const Basis<F>&, bool, F, F*, F*, F*, int); \
  template void psd_kl_fused_bwd<F>(const F*, F, const F*, long, const Basis<F>&, bool, F*, int); \
  template void psd_kl_fused_fwd_grad<F>(const F*, const F*, long, const Basis<F>&, bool, F, F*, F, F*, F*);
RPPG_INST(float)
RPPG_INST(double)
#undef RPPG_INST

}  // namespace rppg
