#include "rppg/gemm.hpp"

#include <algorithm>

#include "rppg/simd_arch.hpp"

namespace rppg {
namespace {

constexpr int kNR = 16;   // columns of a packed B panel
constexpr int kKC = 256;  // depth block: one B panel slice (kKC x 16) stays in L1 across the A panels

template <class F>
void micro_generic(int kc, const F* a, const F* b, F* C, int ldc, bool acc) {
  F c[kMR][kNR];
  for (int r = 0; r < kMR; ++r)
    for (int j = 0; j < kNR; ++j) c[r][j] = acc ? C[static_cast<long>(r) * ldc + j] : F(0);
  for (int k = 0; k < kc; ++k)
    for (int r = 0; r < kMR; ++r) {
      const F av = a[k * kMR + r];
      for (int j = 0; j < kNR; ++j) c[r][j] += av * b[k * kNR + j];
    }
  for (int r = 0; r < kMR; ++r)
    for (int j = 0; j < kNR; ++j) C[static_cast<long>(r) * ldc + j] = c[r][j];
}

// Row-major A (leading dimension lda): row r at column k is a[r * lda + k].
template <class F>
void micro_rows_generic(int kc, const F* a, int lda, const F* b, F* C, int ldc, bool acc) {
  F c[kMR][kNR];
  for (int r = 0; r < kMR; ++r)
    for (int j = 0; j < kNR; ++j) c[r][j] = acc ? C[static_cast<long>(r) * ldc + j] : F(0);
  for (int k = 0; k < kc; ++k)
    for (int r = 0; r < kMR; ++r) {
      const F av = a[static_cast<long>(r) * lda + k];
      for (int j = 0; j < kNR; ++j) c[r][j] += av * b[k * kNR + j];
    }
  for (int r = 0; r < kMR; ++r)
    for (int j = 0; j < kNR; ++j) C[static_cast<long>(r) * ldc + j] = c[r][j];
}

template <class F, class Micro>
void gemm_blocked_rows(int m, int N, int Kd, const F* A, int lda, const F* Bp, F* C, int ldc, Micro micro) {
  for (int k0 = 0; k0 < Kd; k0 += kKC) {
    const int kc = std::min(kKC, Kd - k0);
    for (int j = 0; j < N; j += kNR) {
      const F* b = Bp + static_cast<long>(j) * Kd + static_cast<long>(k0) * kNR;
      for (int i = 0; i < m; i += kMR)
        micro(kc, A + static_cast<long>(i) * lda + k0, lda, b, C + static_cast<long>(i) * ldc + j, ldc, k0 > 0);
    }
  }
}

template <class F, class Micro>
void gemm_blocked(int m, int N, int Kd, const F* Ap, const F* Bp, F* C, int ldc, Micro micro) {
  for (int k0 = 0; k0 < Kd; k0 += kKC) {
    const int kc = std::min(kKC, Kd - k0);
    for (int j = 0; j < N; j += kNR) {
      const F* b = Bp + static_cast<long>(j) * Kd + static_cast<long>(k0) * kNR;
      for (int i = 0; i < m; i += kMR)
        micro(kc, Ap + static_cast<long>(i) * Kd + static_cast<long>(k0) * kMR, b,
              C + static_cast<long>(i) * ldc + j, ldc, k0 > 0);
    }
  }
}

#ifdef RPPG_X86_AVX2
// 6 rows x 16 columns of C in 12 ymm accumulators; B panel row loaded, A broadcast, both sequential.
__attribute__((target("avx2,fma"))) void micro_avx2(int kc, const float* a, const float* b, float* C,
                                                      int ldc, bool acc) {
  __m256 c0[kMR], c1[kMR];
  for (int r = 0; r < kMR; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b + k * kNR);
    const __m256 b1 = _mm256_loadu_ps(b + k * kNR + 8);
    for (int r = 0; r < kMR; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + k * kMR + r);
      c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
    }
  }
  for (int r = 0; r < kMR; ++r) {
    float* c = C + static_cast<long>(r) * ldc;
    if (acc) {
      c0[r] = _mm256_add_ps(c0[r], _mm256_loadu_ps(c));
      c1[r] = _mm256_add_ps(c1[r], _mm256_loadu_ps(c + 8));
    }
    _mm256_storeu_ps(c, c0[r]);
    _mm256_storeu_ps(c + 8, c1[r]);
  }
}

// Same with a row-major A: six row pointers, each read sequentially (no packing pass).
__attribute__((target("avx2,fma"))) void micro_rows_avx2(int kc, const float* a, int lda, const float* b,
                                                           float* C, int ldc, bool acc) {
  const float *a0 = a, *a1 = a + lda, *a2 = a1 + lda, *a3 = a2 + lda, *a4 = a3 + lda, *a5 = a4 + lda;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
         c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b + k * kNR);
    const __m256 b1 = _mm256_loadu_ps(b + k * kNR + 8);
    __m256 av = _mm256_broadcast_ss(a0 + k);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a1 + k);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a2 + k);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a3 + k);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a4 + k);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a5 + k);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  const __m256 lo[kMR] = {c00, c10, c20, c30, c40, c50}, hi[kMR] = {c01, c11, c21, c31, c41, c51};
  for (int r = 0; r < kMR; ++r) {
    float* c = C + static_cast<long>(r) * ldc;
    __m256 x = lo[r], y = hi[r];
    if (acc) {
      x = _mm256_add_ps(x, _mm256_loadu_ps(c));
      y = _mm256_add_ps(y, _mm256_loadu_ps(c + 8));
    }
    _mm256_storeu_ps(c, x);
    _mm256_storeu_ps(c + 8, y);
  }
}

__attribute__((target("avx2,fma"))) void gemm_rows_avx2(int m, int N, int Kd, const float* A, int lda,
                                                          const float* Bp, float* C, int ldc) {
  gemm_blocked_rows(m, N, Kd, A, lda, Bp, C, ldc, micro_rows_avx2);
}

__attribute__((target("avx2,fma"))) void gemm_avx2(int m, int N, int Kd, const float* Ap,
                                                     const float* Bp, float* C, int ldc) {
  gemm_blocked(m, N, Kd, Ap, Bp, C, ldc, micro_avx2);
}
#endif

#ifdef RPPG_ARM_NEON
// 6 rows x 16 columns of C in 24 q accumulators (4 per row); the 6 A values of step k in one q and
// one d register, used by lane (fmla by element): 30 of the 32 vector registers.
void micro_neon(int kc, const float* a, const float* b, float* C, int ldc, bool acc) {
  float32x4_t c[kMR][4];
  for (int r = 0; r < kMR; ++r)
    for (int q = 0; q < 4; ++q) c[r][q] = vdupq_n_f32(0.0f);
  for (int k = 0; k < kc; ++k) {
    const float* bk = b + k * kNR;
    const float32x4_t b0 = vld1q_f32(bk), b1 = vld1q_f32(bk + 4), b2 = vld1q_f32(bk + 8),
                      b3 = vld1q_f32(bk + 12);
    const float32x4_t a03 = vld1q_f32(a + k * kMR);
    const float32x2_t a45 = vld1_f32(a + k * kMR + 4);
#define RPPG_ROW_Q(r, av, lane, fma)       \
  c[r][0] = fma(c[r][0], b0, av, lane);    \
  c[r][1] = fma(c[r][1], b1, av, lane);    \
  c[r][2] = fma(c[r][2], b2, av, lane);    \
  c[r][3] = fma(c[r][3], b3, av, lane);
    RPPG_ROW_Q(0, a03, 0, vfmaq_laneq_f32)
    RPPG_ROW_Q(1, a03, 1, vfmaq_laneq_f32)
    RPPG_ROW_Q(2, a03, 2, vfmaq_laneq_f32)
    RPPG_ROW_Q(3, a03, 3, vfmaq_laneq_f32)
    RPPG_ROW_Q(4, a45, 0, vfmaq_lane_f32)
    RPPG_ROW_Q(5, a45, 1, vfmaq_lane_f32)
#undef RPPG_ROW_Q
  }
  for (int r = 0; r < kMR; ++r) {
    float* cr = C + static_cast<long>(r) * ldc;
    for (int q = 0; q < 4; ++q) {
      const float32x4_t v = acc ? vaddq_f32(c[r][q], vld1q_f32(cr + 4 * q)) : c[r][q];
      vst1q_f32(cr + 4 * q, v);
    }
  }
}

// Same with a row-major A: six row pointers read sequentially, each value broadcast (fmla by scalar).
void micro_rows_neon(int kc, const float* a, int lda, const float* b, float* C, int ldc, bool acc) {
  const float* ar[kMR];
  for (int r = 0; r < kMR; ++r) ar[r] = a + static_cast<long>(r) * lda;
  float32x4_t c[kMR][4];
  for (int r = 0; r < kMR; ++r)
    for (int q = 0; q < 4; ++q) c[r][q] = vdupq_n_f32(0.0f);
  for (int k = 0; k < kc; ++k) {
    const float* bk = b + k * kNR;
    const float32x4_t b0 = vld1q_f32(bk), b1 = vld1q_f32(bk + 4), b2 = vld1q_f32(bk + 8),
                      b3 = vld1q_f32(bk + 12);
    for (int r = 0; r < kMR; ++r) {
      const float av = ar[r][k];
      c[r][0] = vfmaq_n_f32(c[r][0], b0, av);
      c[r][1] = vfmaq_n_f32(c[r][1], b1, av);
      c[r][2] = vfmaq_n_f32(c[r][2], b2, av);
      c[r][3] = vfmaq_n_f32(c[r][3], b3, av);
    }
  }
  for (int r = 0; r < kMR; ++r) {
    float* cr = C + static_cast<long>(r) * ldc;
    for (int q = 0; q < 4; ++q) {
      const float32x4_t v = acc ? vaddq_f32(c[r][q], vld1q_f32(cr + 4 * q)) : c[r][q];
      vst1q_f32(cr + 4 * q, v);
    }
  }
}
#endif

}  // namespace

bool cpu_has_avx2() {
#ifdef RPPG_X86_AVX2
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok;
#else
  return false;
#endif
}

void gemm_packed(int m, int N, int Kd, const float* Ap, const float* Bp, float* C, int ldc) {
#ifdef RPPG_X86_AVX2
  if (cpu_has_avx2()) return gemm_avx2(m, N, Kd, Ap, Bp, C, ldc);
#endif
#ifdef RPPG_ARM_NEON
  return gemm_blocked(m, N, Kd, Ap, Bp, C, ldc, micro_neon);
#endif
  gemm_blocked(m, N, Kd, Ap, Bp, C, ldc, micro_generic<float>);
}

void gemm_packed(int m, int N, int Kd, const double* Ap, const double* Bp, double* C, int ldc) {
  gemm_blocked(m, N, Kd, Ap, Bp, C, ldc, micro_generic<double>);
}

void gemm_rows(int m, int N, int Kd, const float* A, int lda, const float* Bp, float* C, int ldc) {
#ifdef RPPG_X86_AVX2
  if (cpu_has_avx2()) return gemm_rows_avx2(m, N, Kd, A, lda, Bp, C, ldc);
#endif
#ifdef RPPG_ARM_NEON
  return gemm_blocked_rows(m, N, Kd, A, lda, Bp, C, ldc, micro_rows_neon);
#endif
  gemm_blocked_rows(m, N, Kd, A, lda, Bp, C, ldc, micro_rows_generic<float>);
}

void gemm_rows(int m, int N, int Kd, const double* A, int lda, const double* Bp, double* C, int ldc) {
  gemm_blocked_rows(m, N, Kd, A, lda, Bp, C, ldc, micro_rows_generic<double>);
}

const char* simd_name() {
#ifdef RPPG_ARM_NEON
  return "neon";
#else
  return cpu_has_avx2() ? "avx2+fma" : "generic";
#endif
}

}  // namespace rppg
