// Cached, windowed cos/sin DFT basis for a set of K frequencies over T samples.
#pragma once
#include <memory>
#include <vector>

namespace rppg {

enum class Window { None = 0, Hann = 1 };

// Direct DFT at K frequencies over T samples, in folded (even/odd) form. With c = (T-1)/2 and the
// pairs (t_hi = T-1-j, t_lo = j), j < H = ceil(T/2), d_j = c - j >= 0, and y = window * x:
//   re'_k = sum_j (y[t_hi] + y[t_lo]) cos(w_k d_j),  im'_k = sum_j (y[t_hi] - y[t_lo]) sin(w_k d_j)
// (the middle sample of odd T enters once, with no odd part), w_k = 2 pi f_k / fs. This is the DFT
// about the centre c: re - i im = exp(-i w_k c) (re' - i im'), where re_k = sum_t y_t cos(w_k t),
// im_k = sum_t y_t sin(w_k t), so |.|^2 is unchanged and half the multiply-adds of the plain form.
// Bases are stored as packed GEMM panels of kPad columns (see gemm.hpp):
//   fc, fsn: forward,  Kp / kPad panels of [H][kPad]  (column k: cos / sin(w_k d_j)), Kp = round_up(K)
//   bc, bsn: backward, Hp / kPad panels of [K][kPad]  (column j), Hp = round_up(H)
template <class F>
struct Basis {
  int T = 0, K = 0, H = 0, Kp = 0, Hp = 0;
  std::vector<F> win;           // [T] window values
  std::vector<F> fc, fsn, bc, bsn;
  std::vector<F> rot_c, rot_s;  // [K] cos / sin(w_k c): rotation between the folded and plain frames
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
