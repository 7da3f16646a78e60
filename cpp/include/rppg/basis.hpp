// Cached, windowed cos/sin DFT basis for a set of K frequencies over T samples.
#pragma once
#include <memory>
#include <vector>

namespace rppg {

enum class Window { None = 0, Hann = 1 };

// Rows j < K hold w_t cos(2 pi f_j t / fs); rows K <= j < 2K hold w_t sin(2 pi f_{j-K} t / fs).
// Two layouts of the same [2K, T] matrix, zero padded to multiples of kPad:
//   wt [T, n_pad]   (forward:  Y[B, 2K] = X[B, T] . wt)
//   w  [2K, t_pad]  (backward: G_x[B, T] = G[B, 2K] . w)
template <class F>
struct Basis {
  int T = 0, K = 0, n_pad = 0, t_pad = 0;
  std::vector<F> wt, w;
};

constexpr int kPad = 16;
inline int round_up(int n, int m) { return (n + m - 1) / m * m; }

// Thread-safe cache keyed by (T, freqs, fs, window, periodic, dtype). Throws std::invalid_argument.
template <class F>
std::shared_ptr<const Basis<F>> get_basis(int T, const std::vector<double>& freqs, double fs,
                                          Window window, bool periodic);

size_t basis_cache_size();
void basis_cache_clear();

}  // namespace rppg
