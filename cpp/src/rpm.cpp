// RPM-Distill spectral components (docs/METHODS.md §1.3): forward and student backward.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "rppg/dft.hpp"
#include "rppg/kernels.hpp"
#include "rppg/vecmath.hpp"

// The per-row passes are sums over K bins in double: without reassociation each is one serial
// chain of dependent adds (~4 cycles per bin), which dominated rpm's row math. Let GCC split them
// into vector partial sums (only the order of additions changes; NaN / inf handling does not).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("associative-math", "no-signed-zeros", "no-trapping-math")
#endif

namespace rppg {
namespace {

constexpr double kEps = 1e-8;

// Per-row spectral statistics, in double (K is small).
struct RowSpec {
  std::vector<double> P, lr, l, soft_raw, q;
  double mean = 0, sd = 0, c = 0, H = 0;

  std::vector<float> fb;  // float scratch for the vectorized log / exp (float inputs only)

  template <class F>
  void compute(const F* re, const F* im, int K) {
    constexpr bool fast = std::is_same<F, float>::value;  // float inputs: float log / exp suffice
    P.resize(K); lr.resize(K); l.resize(K); soft_raw.resize(K); q.resize(K);
    for (int k = 0; k < K; ++k) P[k] = double(re[k]) * re[k] + double(im[k]) * im[k];
    if (fast) {
      fb.resize(K);
      for (int k = 0; k < K; ++k) fb[k] = static_cast<float>(P[k] + kEps);
      log_inplace(fb.data(), K);
      for (int k = 0; k < K; ++k) lr[k] = fb[k];
    } else {
      for (int k = 0; k < K; ++k) lr[k] = std::log(P[k] + kEps);
    }
    mean = 0;
    for (int k = 0; k < K; ++k) mean += lr[k];
    mean /= K;
    double var = 0;
    for (int k = 0; k < K; ++k) var += (lr[k] - mean) * (lr[k] - mean);
    sd = std::sqrt(var / K);
    const double isd = 1.0 / (sd + kEps);
    for (int k = 0; k < K; ++k) l[k] = (lr[k] - mean) * isd;
    softmax(lr, soft_raw, fast);
    c = 0;
    for (int k = 0; k < K; ++k) c += k * soft_raw[k];
    softmax(l, q, fast);
    H = 0;
    if (fast) {
      for (int k = 0; k < K; ++k) fb[k] = static_cast<float>(q[k] + kEps);
      log_inplace(fb.data(), K);
      for (int k = 0; k < K; ++k) H -= q[k] * fb[k];
    } else {
      for (int k = 0; k < K; ++k) H -= q[k] * std::log(q[k] + kEps);
    }
  }

  void softmax(const std::vector<double>& v, std::vector<double>& out, bool fast) {
    const double mx = *std::max_element(v.begin(), v.end());
    const size_t n = v.size();
    double z = 0;
    if (fast) {
      fb.resize(n);
      for (size_t k = 0; k < n; ++k) fb[k] = static_cast<float>(v[k] - mx);
      exp_inplace(fb.data(), static_cast<int>(n));
      for (size_t k = 0; k < n; ++k) z += (out[k] = fb[k]);
    } else {
      for (size_t k = 0; k < n; ++k) z += (out[k] = std::exp(v[k] - mx));
    }
    const double iz = 1.0 / z;
    for (auto& o : out) o *= iz;
  }
};

// Teacher peak window w_k and rest-of-band mask (fast: float exp, for float inputs).
void peak_window(double c_t, int K, std::vector<double>& w, std::vector<double>& mask, bool fast,
                 std::vector<float>& fb) {
  const double sigma = std::max(1.0, std::floor(0.02 * K) / 2.0);
  w.resize(K);
  mask.resize(K);
  if (fast) {
    fb.resize(K);
    for (int k = 0; k < K; ++k) {
      const double z = (k - c_t) / sigma;
      fb[k] = static_cast<float>(-0.5 * z * z);
    }
    exp_inplace(fb.data(), K);
    for (int k = 0; k < K; ++k) w[k] = fb[k];
  } else {
    for (int k = 0; k < K; ++k) {
      const double z = (k - c_t) / sigma;
      w[k] = std::exp(-0.5 * z * z);
    }
  }
  for (int k = 0; k < K; ++k) mask[k] = std::max(0.0, 1.0 - w[k]);
}

double smooth_l1(double d) { return std::fabs(d) < 1 ? 0.5 * d * d : std::fabs(d) - 0.5; }
double smooth_l1_grad(double d) { return std::fabs(d) < 1 ? d : (d > 0 ? 1.0 : -1.0); }
double sign(double d) { return d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0); }

}  // namespace

template <class F>
void rpm_fwd(const F* s, const F* t, long B, const Basis<F>& bs, bool demean, F* comps,
             F* centroid_t, F* ratio, F* re_s, F* im_s, F* re_t, F* im_t) {
  const int T = bs.T, K = bs.K;
  for_blocks(B, 2 * dft_row_flops(bs), [&](long r0, int m) {
    dft_forward(s + r0 * T, m, bs, demean, re_s + r0 * K, im_s + r0 * K);
    dft_forward(t + r0 * T, m, bs, demean, re_t + r0 * K, im_t + r0 * K);
    RowSpec st, tt;
    std::vector<double> w, mask;
    for (int i = 0; i < m; ++i) {
      const long b = r0 + i, o = b * K;
      st.compute(re_s + o, im_s + o, K);
      tt.compute(re_t + o, im_t + o, K);
      peak_window(tt.c, K, w, mask, std::is_same<F, float>::value, tt.fb);
      double sw = 0, sm = 0, lp = 0, lo = 0, pw = 0, ptot = 0;
      for (int k = 0; k < K; ++k) {
        const double d = std::fabs(st.l[k] - tt.l[k]);
        sw += w[k]; sm += mask[k];
        lp += w[k] * d; lo += mask[k] * d;
        pw += tt.P[k] * w[k]; ptot += tt.P[k];
      }
      comps[b * 3 + 0] = static_cast<F>(lp / (sw + kEps));
      comps[b * 3 + 1] = static_cast<F>(lo / (sm + kEps));
      comps[b * 3 + 2] = static_cast<F>(smooth_l1(st.c - tt.c) + smooth_l1(st.H - tt.H));
      centroid_t[b] = static_cast<F>(tt.c);
      ratio[b] = static_cast<F>(ptot > 0 ? pw / ptot : 0.0);
    }
  });
}

template <class F>
void rpm_bwd(const F* grad_comps, const F* re_s, const F* im_s, const F* re_t, const F* im_t,
             long B, const Basis<F>& bs, bool demean, F* grad_s) {
  const int T = bs.T, K = bs.K;
  for_blocks(B, dft_row_flops(bs), [&](long r0, int m) {
    thread_local std::vector<F> g;
    g.resize(static_cast<size_t>(m) * 2 * K);
    RowSpec st, tt;
    std::vector<double> w, mask, gl(K), u(K);
    for (int i = 0; i < m; ++i) {
      const long b = r0 + i, o = b * K;
      st.compute(re_s + o, im_s + o, K);
      tt.compute(re_t + o, im_t + o, K);
      peak_window(tt.c, K, w, mask, std::is_same<F, float>::value, tt.fb);
      const double gpk = grad_comps[b * 3 + 0], goff = grad_comps[b * 3 + 1], gsh = grad_comps[b * 3 + 2];
      double sw = 0, sm = 0;
      for (int k = 0; k < K; ++k) { sw += w[k]; sm += mask[k]; }
      // d/d l (z-scored student log spectrum): |l_s - l_t| terms, then the entropy term.
      const double gH = gsh * smooth_l1_grad(st.H - tt.H);
      const double gc = gsh * smooth_l1_grad(st.c - tt.c);
      double qu = 0;
      if (std::is_same<F, float>::value) {
        st.fb.resize(K);
        for (int k = 0; k < K; ++k) st.fb[k] = static_cast<float>(st.q[k] + kEps);
        log_inplace(st.fb.data(), K);
        for (int k = 0; k < K; ++k) u[k] = st.fb[k];
      } else {
        for (int k = 0; k < K; ++k) u[k] = std::log(st.q[k] + kEps);
      }
      for (int k = 0; k < K; ++k) {
        u[k] = -(u[k] + st.q[k] / (st.q[k] + kEps));
        qu += st.q[k] * u[k];
      }
      double glmean = 0, glu = 0;
      for (int k = 0; k < K; ++k) {
        const double a = gpk * w[k] / (sw + kEps) + goff * mask[k] / (sm + kEps);
        gl[k] = a * sign(st.l[k] - tt.l[k]) + gH * st.q[k] * (u[k] - qu);
        glmean += gl[k];
        glu += gl[k] * (st.lr[k] - st.mean);
      }
      glmean /= K;
      const double den = st.sd + kEps;
      F* gi = g.data() + static_cast<long>(i) * 2 * K;
      for (int k = 0; k < K; ++k) {
        const double cen = st.lr[k] - st.mean;
        double glr = (gl[k] - glmean) / den;
        if (st.sd > 0) glr -= cen * glu / (K * den * den * st.sd);
        glr += gc * st.soft_raw[k] * (k - st.c);
        const double gP = glr / (st.P[k] + kEps);
        gi[k] = static_cast<F>(2 * gP * re_s[o + k]);
        gi[K + k] = static_cast<F>(2 * gP * im_s[o + k]);
      }
    }
    dft_backward(g.data(), m, bs, demean, grad_s + r0 * T);
  });
}

#define RPPG_INST(F)                                                                            \
  template void rpm_fwd<F>(const F*, const F*, long, const Basis<F>&, bool, F*, F*, F*, F*, F*,   \
                           F*, F*);                                                             \
  template void rpm_bwd<F>(const F*, const F*, const F*, const F*, const F*, long, const Basis<F>&, \
                           bool, F*);
RPPG_INST(float)
RPPG_INST(double)
#undef RPPG_INST

}  // namespace rppg
