// The tiled GEMM and the two DFT products built on it (forward: x . basisT; backward: G . basis).
#include "spectral_internal.cuh"

namespace rppg {
namespace cuda {
namespace {

// ------------------------------------------------------------------------------------------------
// GEMM C[M, N] = A[M, Kd] . Bm[Kd, N], all row-major and contiguous (lda = Kd, ldb = ldc = N).
// Block tile BM x BN, K-step BK, each thread a TM x TN micro tile whose rows / columns are strided
// by BM/TM and BN/TN so that shared-memory reads of a warp hit consecutive banks (B) or broadcast
// (A), and the global stores of a warp are coalesced. M tiles run on grid.x (no 65535 limit on B),
// N tiles on grid.y.
template <typename S, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    gemm_nn_kernel(const S* __restrict__ A, const S* __restrict__ Bm, S* __restrict__ C,
                   int64_t M, int N, int Kd, S* __restrict__ C2, int split) {
  constexpr int TX = BN / TN;  // threads along N
  constexpr int TY = BM / TM;  // threads along M
  constexpr int NT = TX * TY;
  __shared__ S As[BK][BM + 1];  // As[k][m] (transposed; +1 breaks the store bank conflicts)
  __shared__ S Bs[BK][BN];

  const int tid = threadIdx.x;
  const int tx = tid % TX;
  const int ty = tid / TX;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int n0 = blockIdx.y * BN;

  S acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = S(0);

  for (int k0 = 0; k0 < Kd; k0 += BK) {
    // A tile: BM rows x BK columns; consecutive threads read consecutive k of a row.
#pragma unroll
    for (int e = tid; e < BM * BK; e += NT) {
      const int i = e / BK, j = e % BK;
      const int64_t gm = m0 + i;
      const int gk = k0 + j;
      As[j][i] = (gm < M && gk < Kd) ? A[gm * Kd + gk] : S(0);
    }
    // B tile: BK rows x BN columns; consecutive threads read consecutive n of a row.
#pragma unroll
    for (int e = tid; e < BK * BN; e += NT) {
      const int i = e / BN, j = e % BN;
      const int gk = k0 + i;
      const int gn = n0 + j;
      Bs[i][j] = (gk < Kd && gn < N) ? Bm[static_cast<int64_t>(gk) * N + gn] : S(0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      S a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = As[kk][ty + i * TY];
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = Bs[kk][tx + j * TX];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t gm = m0 + ty + i * TY;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int gn = n0 + tx + j * TX;
      if (gn >= N) continue;
      if (split > 0)  // columns [0, split) -> C [M, split], [split, N) -> C2 [M, N - split]
        (gn < split ? C[gm * split + gn] : C2[gm * (N - split) + (gn - split)]) = acc[i][j];
      else
        C[gm * N + gn] = acc[i][j];
    }
  }
}

template <typename S, int BM, int BN, int BK, int TM, int TN>
void launch_gemm_cfg(const S* A, const S* Bm, S* C, int64_t M, int N, int Kd, S* C2, int split,
                     cudaStream_t st) {
  constexpr int threads = (BM / TM) * (BN / TN);
  const int64_t gx = (M + BM - 1) / BM;
  const int gy = (N + BN - 1) / BN;
  if (gx > 2147483647LL || gy > 65535) throw std::runtime_error("rppg_distill CUDA: problem too large");
  gemm_nn_kernel<S, BM, BN, BK, TM, TN>
      <<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), threads, 0, st>>>(A, Bm, C, M, N,
                                                                                      Kd, C2, split);
  RPPG_CHECK_LAUNCH("gemm_nn_kernel");
}

template <typename S>
void launch_gemm(const S* A, const S* Bm, S* C, int64_t M, int N, int Kd, S* C2, int split,
                 cudaStream_t st) {
  if (M <= 0 || N <= 0) return;
  // Small batches: 16-row tiles so that fewer threads idle on padding rows.
  if (M <= 32)
    launch_gemm_cfg<S, 16, 64, 16, 1, 4>(A, Bm, C, M, N, Kd, C2, split, st);
  else
    launch_gemm_cfg<S, 64, 64, 16, 4, 4>(A, Bm, C, M, N, Kd, C2, split, st);
}

}  // namespace

// re, im [B, K] = x . basisT: one GEMM with N = 2K whose epilogue splits the columns.
template <typename S>
void forward_dft(const BasisEntry& bs, const GridSpec& g, cudaStream_t st, const S* x, int64_t B,
                 S* re, S* im) {
  launch_gemm<S>(x, static_cast<const S*>(bs.basisT), re, B, 2 * K_of(g), static_cast<int>(g.T), im,
                 K_of(g), st);
}
// grad_x [B, T] = G [B, 2K] . basis (the centered basis already includes the demean adjoint).
template <typename S>
void backward_dft(const BasisEntry& bs, const GridSpec& g, cudaStream_t st, const S* G, int64_t B,
                  S* gx) {
  launch_gemm<S>(G, static_cast<const S*>(bs.basis), gx, B, static_cast<int>(g.T), 2 * K_of(g),
                 nullptr, 0, st);
}

template void forward_dft<float>(const BasisEntry&, const GridSpec&, cudaStream_t, const float*, int64_t, float*, float*);
template void forward_dft<double>(const BasisEntry&, const GridSpec&, cudaStream_t, const double*, int64_t, double*, double*);
template void backward_dft<float>(const BasisEntry&, const GridSpec&, cudaStream_t, const float*, int64_t, float*);
template void backward_dft<double>(const BasisEntry&, const GridSpec&, cudaStream_t, const double*, int64_t, double*);

}  // namespace cuda
}  // namespace rppg
