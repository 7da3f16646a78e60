// Small dense products for the direct DFT on packed operands (single-threaded).
#pragma once

namespace rppg {

constexpr int kMR = 6;  // rows of a packed A micro-panel (the register block of the kernel)

// C[m, N] = A[m, Kd] . B[Kd, N], row-major C with leading dimension ldc (elements).
//   m: a multiple of kMR; A packed as m / kMR micro-panels, each [Kd][kMR] (row r of the panel at
//   column k is Ap[k * kMR + r]);  N: a multiple of 16; B packed as N / 16 panels, each [Kd][16].
// float uses a register-blocked kernel: AVX2+FMA when the CPU supports it (runtime check), NEON on
// aarch64 (build time; simd_arch.hpp).
void gemm_packed(int m, int N, int Kd, const float* Ap, const float* Bp, float* C, int ldc);
void gemm_packed(int m, int N, int Kd, const double* Ap, const double* Bp, double* C, int ldc);
// The same with A row-major, unpacked: row r at column k is A[r * lda + k] (m a multiple of kMR;
// all m rows must be readable). Saves the packing pass where A is produced row by row.
void gemm_rows(int m, int N, int Kd, const float* A, int lda, const float* Bp, float* C, int ldc);
void gemm_rows(int m, int N, int Kd, const double* A, int lda, const double* Bp, double* C, int ldc);

bool cpu_has_avx2();
const char* simd_name();  // "avx2+fma", "neon" or "generic"

}  // namespace rppg
