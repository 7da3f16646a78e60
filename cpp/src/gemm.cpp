#include "rppg/gemm.hpp"

#include <algorithm>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RPPG_X86_AVX2 1
#include <immintrin.h>
#endif

namespace rppg {
namespace {

template <class F>
void gemm_generic(int M, int N, int Kd, const F* A, int lda, const F* B, int ldb, F* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    F* c = C + static_cast<long>(i) * ldc;
    std::fill(c, c + N, F(0));
    const F* a = A + static_cast<long>(i) * lda;
    for (int k = 0; k < Kd; ++k) {
      const F av = a[k];
      const F* b = B + static_cast<long>(k) * ldb;
      for (int j = 0; j < N; ++j) c[j] += av * b[j];
    }
  }
}

#ifdef RPPG_X86_AVX2
// MR rows x 16 columns of C held in 2*MR ymm registers; B panel streamed, A broadcast.
template <int MR>
__attribute__((target("avx2,fma"))) void micro_avx2(int Kd, const float* A, int lda, const float* B,
                                                      int ldb, float* C, int ldc) {
  __m256 c0[MR], c1[MR];
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
  for (int k = 0; k < Kd; ++k) {
    const __m256 b0 = _mm256_loadu_ps(B + static_cast<long>(k) * ldb);
    const __m256 b1 = _mm256_loadu_ps(B + static_cast<long>(k) * ldb + 8);
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + static_cast<long>(r) * lda + k);
      c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm256_storeu_ps(C + static_cast<long>(r) * ldc, c0[r]);
    _mm256_storeu_ps(C + static_cast<long>(r) * ldc + 8, c1[r]);
  }
}

__attribute__((target("avx2,fma"))) void gemm_avx2(int M, int N, int Kd, const float* A, int lda,
                                                     const float* B, int ldb, float* C, int ldc) {
  constexpr int MC = 24;  // rows of A (L1 with one 16-column panel of B) reused across panels
  for (int i0 = 0; i0 < M; i0 += MC) {
    const int i1 = std::min(M, i0 + MC);
    for (int j = 0; j < N; j += 16) {
      int i = i0;
      for (; i + 6 <= i1; i += 6)
        micro_avx2<6>(Kd, A + static_cast<long>(i) * lda, lda, B + j, ldb, C + static_cast<long>(i) * ldc + j, ldc);
      const float* a = A + static_cast<long>(i) * lda;
      float* c = C + static_cast<long>(i) * ldc + j;
      switch (i1 - i) {
        case 5: micro_avx2<5>(Kd, a, lda, B + j, ldb, c, ldc); break;
        case 4: micro_avx2<4>(Kd, a, lda, B + j, ldb, c, ldc); break;
        case 3: micro_avx2<3>(Kd, a, lda, B + j, ldb, c, ldc); break;
        case 2: micro_avx2<2>(Kd, a, lda, B + j, ldb, c, ldc); break;
        case 1: micro_avx2<1>(Kd, a, lda, B + j, ldb, c, ldc); break;
        default: break;
      }
    }
  }
}

bool cpu_has_avx2() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok;
}
#endif

}  // namespace

void gemm_nn(int M, int N, int Kd, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
#ifdef RPPG_X86_AVX2
  if (cpu_has_avx2() && N % 16 == 0) return gemm_avx2(M, N, Kd, A, lda, B, ldb, C, ldc);
#endif
  gemm_generic(M, N, Kd, A, lda, B, ldb, C, ldc);
}

void gemm_nn(int M, int N, int Kd, const double* A, int lda, const double* B, int ldb, double* C,
             int ldc) {
  gemm_generic(M, N, Kd, A, lda, B, ldb, C, ldc);
}

const char* simd_name() {
#ifdef RPPG_X86_AVX2
  if (cpu_has_avx2()) return "avx2+fma";
#endif
  return "generic";
}

}  // namespace rppg
