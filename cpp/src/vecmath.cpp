#include "rppg/vecmath.hpp"

#include <cmath>
#include <limits>

#include "rppg/gemm.hpp"

#include "rppg/simd_arch.hpp"

namespace rppg {
namespace {

template <class F>
F kl_row_generic(const F* rs, const F* is, const F* rt, const F* it, int n, F eps, F* hs, F* ht, F* pbuf) {
  F* ps = pbuf;
  F* pt = pbuf + n;
  double Ss = 0, St = 0;
  for (int k = 0; k < n; ++k) {
    ps[k] = rs[k] * rs[k] + is[k] * is[k];
    pt[k] = rt[k] * rt[k] + it[k] * it[k];
    Ss += ps[k];
    St += pt[k];
  }
  const F inv_s = static_cast<F>(1.0 / (Ss + eps)), inv_t = static_cast<F>(1.0 / (St + eps));
  double loss = 0, dot_s = 0, dot_t = 0;
  for (int k = 0; k < n; ++k) {
    ps[k] *= inv_s;
    pt[k] *= inv_t;
    const F l = std::log((pt[k] + eps) / (ps[k] + eps));
    loss += pt[k] * l;
    dot_s += -double(pt[k]) * ps[k] / (ps[k] + eps);
    if (ht) dot_t += (l + pt[k] / (pt[k] + eps)) * double(pt[k]);
  }
  if (hs) {
    const F d = static_cast<F>(dot_s);
    for (int k = 0; k < n; ++k) {
      const F gP = (-pt[k] / (ps[k] + eps) - d) * inv_s;
      hs[k] = 2 * gP * rs[k];
      hs[n + k] = 2 * gP * is[k];
    }
  }
  if (ht) {
    const F d = static_cast<F>(dot_t);
    for (int k = 0; k < n; ++k) {
      const F l = std::log((pt[k] + eps) / (ps[k] + eps));
      const F gP = (l + pt[k] / (pt[k] + eps) - d) * inv_t;
      ht[k] = 2 * gP * rt[k];
      ht[n + k] = 2 * gP * it[k];
    }
  }
  return static_cast<F>(loss);
}

#ifdef RPPG_X86_AVX2
#define RPPG_AVX2 __attribute__((target("avx2,fma")))

// Natural log of 8 floats: x = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(z), z = (m-1)/(m+1),
// |z| <= 0.172, the atanh series to z^9 (truncation < 1e-9). Zero, inf and NaN follow std::log;
// subnormal inputs are redone with std::log.
RPPG_AVX2 inline __m256 log8(__m256 x) {
  const __m256i xi = _mm256_castps_si256(x);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(127));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GE_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_sub_epi32(e, _mm256_castps_si256(big));  // big lanes are all ones = -1
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 z = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  const __m256 z2 = _mm256_mul_ps(z, z);
  __m256 p = _mm256_fmadd_ps(z2, _mm256_set1_ps(1.0f / 9), _mm256_set1_ps(1.0f / 7));
  p = _mm256_fmadd_ps(z2, p, _mm256_set1_ps(1.0f / 5));
  p = _mm256_fmadd_ps(z2, p, _mm256_set1_ps(1.0f / 3));
  p = _mm256_fmadd_ps(z2, p, one);
  const __m256 zp = _mm256_mul_ps(_mm256_add_ps(z, z), p);
  __m256 r = _mm256_fmadd_ps(_mm256_cvtepi32_ps(e), _mm256_set1_ps(0.693147180559945f), zp);
  // Special lanes: x <= 0 or below the normal range, inf, NaN.
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(std::numeric_limits<float>::min()), _CMP_LT_OQ);
  const __m256 inf = _mm256_cmp_ps(x, _mm256_set1_ps(std::numeric_limits<float>::infinity()), _CMP_EQ_OQ);
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  if (_mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(tiny, inf), nan))) {
    alignas(32) float xs[8], rs[8];
    _mm256_store_ps(xs, x);
    _mm256_store_ps(rs, r);
    const int mask = _mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(tiny, inf), nan));
    for (int l = 0; l < 8; ++l)
      if (mask >> l & 1) rs[l] = std::log(xs[l]);
    r = _mm256_load_ps(rs);
  }
  return r;
}

RPPG_AVX2 inline double hsum(__m256 v) {
  const __m256d a = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                  _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  const __m128d b = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  return _mm_cvtsd_f64(_mm_add_sd(b, _mm_unpackhi_pd(b, b)));
}

// n a multiple of 8.
RPPG_AVX2 float kl_row_avx2(const float* rs, const float* is, const float* rt, const float* it, int n,
                            float eps, float* hs, float* ht, float* pbuf) {
  float* ps = pbuf;
  float* pt = pbuf + n;
  __m256 ss = _mm256_setzero_ps(), st = _mm256_setzero_ps();
  for (int k = 0; k < n; k += 8) {
    const __m256 a = _mm256_loadu_ps(rs + k), b = _mm256_loadu_ps(is + k);
    const __m256 c = _mm256_loadu_ps(rt + k), d = _mm256_loadu_ps(it + k);
    const __m256 P = _mm256_fmadd_ps(a, a, _mm256_mul_ps(b, b));
    const __m256 Q = _mm256_fmadd_ps(c, c, _mm256_mul_ps(d, d));
    _mm256_storeu_ps(ps + k, P);
    _mm256_storeu_ps(pt + k, Q);
    ss = _mm256_add_ps(ss, P);
    st = _mm256_add_ps(st, Q);
  }
  const float inv_s = static_cast<float>(1.0 / (hsum(ss) + eps));
  const float inv_t = static_cast<float>(1.0 / (hsum(st) + eps));
  const __m256 vis = _mm256_set1_ps(inv_s), vit = _mm256_set1_ps(inv_t), ve = _mm256_set1_ps(eps);
  __m256 vl = _mm256_setzero_ps(), vds = _mm256_setzero_ps(), vdt = _mm256_setzero_ps();
  for (int k = 0; k < n; k += 8) {
    const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(ps + k), vis);
    const __m256 q = _mm256_mul_ps(_mm256_loadu_ps(pt + k), vit);
    const __m256 pe = _mm256_add_ps(p, ve), qe = _mm256_add_ps(q, ve);
    const __m256 rpe = _mm256_div_ps(_mm256_set1_ps(1.0f), pe);  // one division: 1 / (ps + eps)
    const __m256 l = log8(_mm256_mul_ps(qe, rpe));
    vl = _mm256_fmadd_ps(q, l, vl);
    const __m256 gs = _mm256_mul_ps(q, rpe);  // -d loss / d ps
    vds = _mm256_fmadd_ps(gs, p, vds);
    _mm256_storeu_ps(ps + k, gs);            // ps now holds pt / (ps + eps)
    if (ht) {
      const __m256 gt = _mm256_add_ps(l, _mm256_div_ps(q, qe));  // d loss / d pt
      vdt = _mm256_fmadd_ps(gt, q, vdt);
      _mm256_storeu_ps(pt + k, gt);          // pt now holds d loss / d pt
    }
  }
  if (hs) {
    const __m256 d = _mm256_set1_ps(static_cast<float>(hsum(vds)));
    const __m256 c2 = _mm256_set1_ps(-2 * inv_s);
    for (int k = 0; k < n; k += 8) {
      const __m256 g = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(ps + k), d), c2);  // 2 dL/dP
      _mm256_storeu_ps(hs + k, _mm256_mul_ps(g, _mm256_loadu_ps(rs + k)));
      _mm256_storeu_ps(hs + n + k, _mm256_mul_ps(g, _mm256_loadu_ps(is + k)));
    }
  }
  if (ht) {
    const __m256 d = _mm256_set1_ps(static_cast<float>(hsum(vdt)));
    const __m256 c2 = _mm256_set1_ps(2 * inv_t);
    for (int k = 0; k < n; k += 8) {
      const __m256 g = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(pt + k), d), c2);
      _mm256_storeu_ps(ht + k, _mm256_mul_ps(g, _mm256_loadu_ps(rt + k)));
      _mm256_storeu_ps(ht + n + k, _mm256_mul_ps(g, _mm256_loadu_ps(it + k)));
    }
  }
  return static_cast<float>(hsum(vl));
}

// e^x for 8 floats: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 Taylor polynomial (rel. error
// < 2e-7), 2^n added to the exponent. x < -87.3 flushes to 0, x > 88.7 gives inf, NaN stays NaN.
RPPG_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.7f), lo = _mm256_set1_ps(-87.3f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ), over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723212e-6f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // 2^n: n in [-126, 128]; split as 2^(n/2) * 2^(n - n/2) to keep both factors normal.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  y = _mm256_andnot_ps(under, y);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(std::numeric_limits<float>::infinity()), over);
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  return _mm256_blendv_ps(y, x, nan);
}

RPPG_AVX2 void log_avx2(float* x, int n) {
  int k = 0;
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(x + k, log8(_mm256_loadu_ps(x + k)));
  for (; k < n; ++k) x[k] = std::log(x[k]);
}

RPPG_AVX2 void exp_avx2(float* x, int n) {
  int k = 0;
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(x + k, exp8(_mm256_loadu_ps(x + k)));
  for (; k < n; ++k) x[k] = std::exp(x[k]);
}
#endif

#ifdef RPPG_ARM_NEON
// The AVX2 code above on 4-float NEON vectors, same formulas and constants (vfmaq_f32(a, b, c) =
// a + b c; vfmsq_f32(a, b, c) = a - b c).
inline float32x4_t log4(float32x4_t x) {
  const int32x4_t xi = vreinterpretq_s32_f32(x);
  int32x4_t e = vsubq_s32(vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_f32(x), 23)), vdupq_n_s32(127));
  float32x4_t m = vreinterpretq_f32_s32(
      vorrq_s32(vandq_s32(xi, vdupq_n_s32(0x007fffff)), vdupq_n_s32(0x3f800000)));
  const uint32x4_t big = vcgeq_f32(m, vdupq_n_f32(1.41421356f));
  m = vbslq_f32(big, vmulq_f32(m, vdupq_n_f32(0.5f)), m);
  e = vsubq_s32(e, vreinterpretq_s32_u32(big));  // big lanes are all ones = -1
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t z = vdivq_f32(vsubq_f32(m, one), vaddq_f32(m, one));
  const float32x4_t z2 = vmulq_f32(z, z);
  float32x4_t p = vfmaq_f32(vdupq_n_f32(1.0f / 7), z2, vdupq_n_f32(1.0f / 9));
  p = vfmaq_f32(vdupq_n_f32(1.0f / 5), z2, p);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 3), z2, p);
  p = vfmaq_f32(one, z2, p);
  const float32x4_t zp = vmulq_f32(vaddq_f32(z, z), p);
  float32x4_t r = vfmaq_f32(zp, vcvtq_f32_s32(e), vdupq_n_f32(0.693147180559945f));
  // Special lanes: x <= 0 or below the normal range, inf, NaN.
  const uint32x4_t tiny = vcltq_f32(x, vdupq_n_f32(std::numeric_limits<float>::min()));
  const uint32x4_t inf = vceqq_f32(x, vdupq_n_f32(std::numeric_limits<float>::infinity()));
  const uint32x4_t nan = vmvnq_u32(vceqq_f32(x, x));
  const uint32x4_t special = vorrq_u32(vorrq_u32(tiny, inf), nan);
  if (vmaxvq_u32(special)) {
    float xs[4], rs[4];
    uint32_t ms[4];
    vst1q_f32(xs, x);
    vst1q_f32(rs, r);
    vst1q_u32(ms, special);
    for (int l = 0; l < 4; ++l)
      if (ms[l]) rs[l] = std::log(xs[l]);
    r = vld1q_f32(rs);
  }
  return r;
}

inline double hsum4(float32x4_t v) {
  return vaddvq_f64(vaddq_f64(vcvt_f64_f32(vget_low_f32(v)), vcvt_high_f64_f32(v)));
}

// n a multiple of 4.
float kl_row_neon(const float* rs, const float* is, const float* rt, const float* it, int n, float eps,
                  float* hs, float* ht, float* pbuf) {
  float* ps = pbuf;
  float* pt = pbuf + n;
  float32x4_t ss = vdupq_n_f32(0.0f), st = vdupq_n_f32(0.0f);
  for (int k = 0; k < n; k += 4) {
    const float32x4_t a = vld1q_f32(rs + k), b = vld1q_f32(is + k);
    const float32x4_t c = vld1q_f32(rt + k), d = vld1q_f32(it + k);
    const float32x4_t P = vfmaq_f32(vmulq_f32(b, b), a, a);
    const float32x4_t Q = vfmaq_f32(vmulq_f32(d, d), c, c);
    vst1q_f32(ps + k, P);
    vst1q_f32(pt + k, Q);
    ss = vaddq_f32(ss, P);
    st = vaddq_f32(st, Q);
  }
  const float inv_s = static_cast<float>(1.0 / (hsum4(ss) + eps));
  const float inv_t = static_cast<float>(1.0 / (hsum4(st) + eps));
  const float32x4_t vis = vdupq_n_f32(inv_s), vit = vdupq_n_f32(inv_t), ve = vdupq_n_f32(eps);
  float32x4_t vl = vdupq_n_f32(0.0f), vds = vl, vdt = vl;
  for (int k = 0; k < n; k += 4) {
    const float32x4_t p = vmulq_f32(vld1q_f32(ps + k), vis);
    const float32x4_t q = vmulq_f32(vld1q_f32(pt + k), vit);
    const float32x4_t pe = vaddq_f32(p, ve), qe = vaddq_f32(q, ve);
    const float32x4_t rpe = vdivq_f32(vdupq_n_f32(1.0f), pe);  // one division: 1 / (ps + eps)
    const float32x4_t l = log4(vmulq_f32(qe, rpe));
    vl = vfmaq_f32(vl, q, l);
    const float32x4_t gs = vmulq_f32(q, rpe);  // -d loss / d ps
    vds = vfmaq_f32(vds, gs, p);
    vst1q_f32(ps + k, gs);  // ps now holds pt / (ps + eps)
    if (ht) {
      const float32x4_t gt = vaddq_f32(l, vdivq_f32(q, qe));  // d loss / d pt
      vdt = vfmaq_f32(vdt, gt, q);
      vst1q_f32(pt + k, gt);  // pt now holds d loss / d pt
    }
  }
  if (hs) {
    const float32x4_t d = vdupq_n_f32(static_cast<float>(hsum4(vds)));
    const float32x4_t c2 = vdupq_n_f32(-2 * inv_s);
    for (int k = 0; k < n; k += 4) {
      const float32x4_t g = vmulq_f32(vsubq_f32(vld1q_f32(ps + k), d), c2);  // 2 dL/dP
      vst1q_f32(hs + k, vmulq_f32(g, vld1q_f32(rs + k)));
      vst1q_f32(hs + n + k, vmulq_f32(g, vld1q_f32(is + k)));
    }
  }
  if (ht) {
    const float32x4_t d = vdupq_n_f32(static_cast<float>(hsum4(vdt)));
    const float32x4_t c2 = vdupq_n_f32(2 * inv_t);
    for (int k = 0; k < n; k += 4) {
      const float32x4_t g = vmulq_f32(vsubq_f32(vld1q_f32(pt + k), d), c2);
      vst1q_f32(ht + k, vmulq_f32(g, vld1q_f32(rt + k)));
      vst1q_f32(ht + n + k, vmulq_f32(g, vld1q_f32(it + k)));
    }
  }
  return static_cast<float>(hsum4(vl));
}

inline float32x4_t exp4(float32x4_t x) {
  const float32x4_t hi = vdupq_n_f32(88.7f), lo = vdupq_n_f32(-87.3f);
  const uint32x4_t under = vcltq_f32(x, lo), over = vcgtq_f32(x, hi);
  const float32x4_t xc = vminq_f32(vmaxq_f32(x, lo), hi);
  const float32x4_t n = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693145751953125f));
  r = vfmsq_f32(r, n, vdupq_n_f32(1.42860682030941723212e-6f));
  float32x4_t p = vdupq_n_f32(1.0f / 720);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  // 2^n: n in [-126, 128]; split as 2^(n/2) * 2^(n - n/2) to keep both factors normal.
  const int32x4_t ni = vcvtq_s32_f32(n);  // n is integral: truncation is exact
  const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
  const int32x4_t bias = vdupq_n_s32(127);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
  float32x4_t y = vmulq_f32(vmulq_f32(p, s1), s2);
  y = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), under));
  y = vbslq_f32(over, vdupq_n_f32(std::numeric_limits<float>::infinity()), y);
  const uint32x4_t nan = vmvnq_u32(vceqq_f32(x, x));
  return vbslq_f32(nan, x, y);
}

void log_neon(float* x, int n) {
  int k = 0;
  for (; k + 4 <= n; k += 4) vst1q_f32(x + k, log4(vld1q_f32(x + k)));
  for (; k < n; ++k) x[k] = std::log(x[k]);
}

void exp_neon(float* x, int n) {
  int k = 0;
  for (; k + 4 <= n; k += 4) vst1q_f32(x + k, exp4(vld1q_f32(x + k)));
  for (; k < n; ++k) x[k] = std::exp(x[k]);
}
#endif

}  // namespace

float kl_row(const float* rs, const float* is, const float* rt, const float* it, int n, float eps,
             float* hs, float* ht, float* pbuf) {
#ifdef RPPG_X86_AVX2
  if (n % 8 == 0 && eps > 0 && cpu_has_avx2()) return kl_row_avx2(rs, is, rt, it, n, eps, hs, ht, pbuf);
#endif
#ifdef RPPG_ARM_NEON
  if (n % 4 == 0 && eps > 0) return kl_row_neon(rs, is, rt, it, n, eps, hs, ht, pbuf);
#endif
  return kl_row_generic(rs, is, rt, it, n, eps, hs, ht, pbuf);
}

double kl_row(const double* rs, const double* is, const double* rt, const double* it, int n, double eps,
              double* hs, double* ht, double* pbuf) {
  return kl_row_generic(rs, is, rt, it, n, eps, hs, ht, pbuf);
}

void log_inplace(float* x, int n) {
#ifdef RPPG_X86_AVX2
  if (cpu_has_avx2()) return log_avx2(x, n);
#endif
#ifdef RPPG_ARM_NEON
  return log_neon(x, n);
#endif
  for (int k = 0; k < n; ++k) x[k] = std::log(x[k]);
}

void exp_inplace(float* x, int n) {
#ifdef RPPG_X86_AVX2
  if (cpu_has_avx2()) return exp_avx2(x, n);
#endif
#ifdef RPPG_ARM_NEON
  return exp_neon(x, n);
#endif
  for (int k = 0; k < n; ++k) x[k] = std::exp(x[k]);
}

}  // namespace rppg
