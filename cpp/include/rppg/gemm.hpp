// Small dense products for the direct DFT: C[M, N] = A[M, Kd] . B[Kd, N] (row-major).
#pragma once

namespace rppg {

// Single-threaded. N must be a multiple of 16 (the basis is padded); lda/ldb/ldc in elements.
// float uses an AVX2+FMA register-blocked kernel when the CPU supports it (runtime check).
void gemm_nn(int M, int N, int Kd, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
void gemm_nn(int M, int N, int Kd, const double* A, int lda, const double* B, int ldb, double* C,
             int ldc);

const char* simd_name();  // "avx2+fma" or "generic"

}  // namespace rppg
