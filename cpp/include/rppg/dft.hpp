// Direct DFT on a cached basis, forward and adjoint, for one block of rows (single-threaded).
// Kernels split the batch with for_blocks() and fuse the per-row math after the DFT.
#pragma once
#include <functional>

#include "rppg/basis.hpp"

namespace rppg {

constexpr long kBlockRows = 48;  // rows per block (a multiple of kMR): a block's operands stay in L2

// Calls fn(row0, rows) for consecutive blocks of <= kBlockRows rows, threaded over the batch.
// flops_per_row: approximate work of one row (decides how many threads are worth it).
void for_blocks(long B, double flops_per_row, const std::function<void(long, int)>& fn);

// Rows of the scratch a block of m rows needs (m rounded up to the kernel's register block).
inline int padded_rows(int m) { return (m + 5) / 6 * 6; }

// sum_t x[t] in double with 8 independent partial sums (a plain running sum is a serial chain of
// dependent adds, ~4 cycles each: it cost more than the window and fold passes together).
template <class F>
inline double row_sum(const F* x, int n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int t = 0;
  for (; t + 8 <= n; t += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[t + l];
  for (int l = 0; t < n; ++t, ++l) acc[l] += x[t];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// Folded frame (basis.hpp): x [m, T] -> re', im' into re, im [padded_rows(m), ld >= Kp]
// (rows >= m and columns >= K hold junk). x' = x - mean_t(x) when demean.
template <class F>
void dft_forward_folded(const F* x, int m, const Basis<F>& basis, bool demean, F* re, F* im, int ld);

// Adjoint in the folded frame: gre, gim [m, ldg] (d/d re', d/d im') -> gx [m, T] =
// scale_i * (window * (gre . C + gim . S)), minus its row mean when demean. scale may be null (1).
template <class F>
void dft_backward_folded(const F* gre, const F* gim, int ldg, const F* scale, int m,
                         const Basis<F>& basis, bool demean, F* gx);

// Plain frame: x [m, T] -> re, im [m, K]: re_k = sum_t w_t x'_t cos(2 pi f_k t/fs), im_k likewise
// with sin (the sign of im does not matter for the power).
template <class F>
void dft_forward(const F* x, int m, const Basis<F>& basis, bool demean, F* re, F* im);

// g [m, 2K] (d/d re then d/d im, plain frame) -> gx [m, T], minus its row mean when demean.
template <class F>
void dft_backward(const F* g, int m, const Basis<F>& basis, bool demean, F* gx);

// Work of forward + backward per row, in flops (the folded DFT: T*K multiply-adds each way).
template <class F>
double dft_row_flops(const Basis<F>& b) { return 2.0 * b.T * b.K + 50.0 * b.K; }

}  // namespace rppg
