#include "rppg/basis.hpp"

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

namespace rppg {
namespace {

constexpr size_t kMaxEntries = 64;

std::mutex g_mutex;
std::map<std::string, std::shared_ptr<const void>> g_cache;

template <class T>
void append(std::string& key, const T& v) {
  key.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

std::vector<double> window_values(int T, Window window, bool periodic) {
  std::vector<double> w(T, 1.0);
  if (window == Window::Hann) {
    const double denom = periodic ? T : (T > 1 ? T - 1 : 1);
    for (int t = 0; t < T; ++t) w[t] = 0.5 - 0.5 * std::cos(2.0 * M_PI * t / denom);
  }
  return w;
}

// cos / sin(2 pi cycles), the phase reduced to [0, 1) first: keeps rounding small for long signals.
inline void cos_sin_cycles(double cycles, double& c, double& s) {
  cycles -= std::floor(cycles);
  const double ang = 2.0 * M_PI * cycles;
  c = std::cos(ang);
  s = std::sin(ang);
}

template <class F>
std::shared_ptr<Basis<F>> build(int T, const std::vector<double>& freqs, double fs, Window window,
                                bool periodic) {
  auto b = std::make_shared<Basis<F>>();
  const int K = static_cast<int>(freqs.size());
  const int H = (T + 1) / 2;
  b->T = T;
  b->K = K;
  b->H = H;
  b->Kp = round_up(K, kPad);
  b->Hp = round_up(H, kPad);
  const std::vector<double> w = window_values(T, window, periodic);
  b->win.assign(w.begin(), w.end());
  b->fc.assign(static_cast<size_t>(H) * b->Kp, F(0));
  b->fsn.assign(static_cast<size_t>(H) * b->Kp, F(0));
  b->bc.assign(static_cast<size_t>(K) * b->Hp, F(0));
  b->bsn.assign(static_cast<size_t>(K) * b->Hp, F(0));
  b->rot_c.resize(K);
  b->rot_s.resize(K);
  for (int k = 0; k < K; ++k) {
    const double cps = freqs[k] / fs;  // cycles per sample
    double c, s;
    cos_sin_cycles(cps * 0.5 * (T - 1), c, s);
    b->rot_c[k] = static_cast<F>(c);
    b->rot_s[k] = static_cast<F>(s);
    for (int j = 0; j < H; ++j) {
      cos_sin_cycles(cps * 0.5 * (T - 1 - 2 * j), c, s);  // d_j = (T-1)/2 - j
      const size_t f = static_cast<size_t>(k / kPad) * H * kPad + static_cast<size_t>(j) * kPad + k % kPad;
      const size_t g = static_cast<size_t>(j / kPad) * K * kPad + static_cast<size_t>(k) * kPad + j % kPad;
      b->fc[f] = b->bc[g] = static_cast<F>(c);
      b->fsn[f] = b->bsn[g] = static_cast<F>(s);
    }
  }
  return b;
}

}  // namespace

template <class F>
std::shared_ptr<const Basis<F>> get_basis(int T, const std::vector<double>& freqs, double fs,
                                          Window window, bool periodic) {
  if (T < 1) throw std::invalid_argument("T must be >= 1");
  if (freqs.empty()) throw std::invalid_argument("empty frequency grid");
  if (!(fs > 0) || !std::isfinite(fs)) throw std::invalid_argument("fs must be a finite positive number");
  std::string key;
  append(key, T);
  append(key, fs);
  append(key, static_cast<int>(window));
  append(key, periodic);
  append(key, sizeof(F));
  key.append(reinterpret_cast<const char*>(freqs.data()), freqs.size() * sizeof(double));
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) return std::static_pointer_cast<const Basis<F>>(it->second);
  }
  std::shared_ptr<const Basis<F>> b = build<F>(T, freqs, fs, window, periodic);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_cache.size() >= kMaxEntries) g_cache.clear();
  auto res = g_cache.emplace(key, b);  // another thread may have won the race: use its entry
  return std::static_pointer_cast<const Basis<F>>(res.first->second);
}

size_t basis_cache_size() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_cache.size();
}

void basis_cache_clear() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_cache.clear();
}

template std::shared_ptr<const Basis<float>> get_basis<float>(int, const std::vector<double>&, double,
                                                              Window, bool);
template std::shared_ptr<const Basis<double>> get_basis<double>(int, const std::vector<double>&,
                                                                double, Window, bool);

}  // namespace rppg
