// Direct DFT on a cached basis, forward and adjoint, for one block of rows (single-threaded).
// Kernels split the batch with for_blocks() and fuse the per-row math after the DFT.
#pragma once
#include <functional>

#include "rppg/basis.hpp"

namespace rppg {

constexpr long kBlockRows = 48;  // rows per block: a block's input and output stay in L2

// Calls fn(row0, rows) for consecutive blocks of <= kBlockRows rows, threaded over the batch.
// flops_per_row: approximate work of one row (decides how many threads are worth it).
void for_blocks(long B, double flops_per_row, const std::function<void(long, int)>& fn);

// x [m, T] -> re, im [m, K]: re_k = sum_t w_t x'_t cos(2 pi f_k t/fs), im_k likewise with sin,
// x' = x - mean_t(x) when demean (the sign of im does not matter for the power).
template <class F>
void dft_forward(const F* x, int m, const Basis<F>& basis, bool demean, F* re, F* im);

// g [m, 2K] (d/d re then d/d im) -> gx [m, T] = g . basis, minus its row mean when demean.
template <class F>
void dft_backward(const F* g, int m, const Basis<F>& basis, bool demean, F* gx);

// Work of forward + backward per row, in flops.
template <class F>
double dft_row_flops(const Basis<F>& b) { return 2.0 * b.T * 2 * b.K + 50.0 * b.K; }

}  // namespace rppg
