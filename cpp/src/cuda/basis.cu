// Grid validation and the basis cache: the windowed cos/sin basis per (device, dtype, T, fs,
// window, demean, freqs), built in double on the host, uploaded once, evicted least-recently-used.
#include <map>
#include <mutex>
#include <tuple>

#include "spectral_internal.cuh"

namespace rppg {
namespace cuda {
namespace {

// ------------------------------------------------------------------------------------------------
// Basis cache.
struct BasisKey {
  int device;
  int dtype;
  int64_t T;
  double fs;
  bool hann, periodic, demean;
  std::vector<double> freqs;
  bool operator<(const BasisKey& o) const {
    return std::tie(device, dtype, T, fs, hann, periodic, demean, freqs) <
           std::tie(o.device, o.dtype, o.T, o.fs, o.hann, o.periodic, o.demean, o.freqs);
  }
};

constexpr size_t kMaxCacheEntries = 64;
std::mutex g_cache_mutex;
uint64_t g_tick = 0;  // last-use stamps for least-recently-used eviction
// Intentionally leaked: freeing device memory from a static destructor at process exit would run
// after the CUDA runtime has been torn down. clear_basis_cache() frees explicitly.
using BasisMap = std::map<BasisKey, std::pair<std::shared_ptr<BasisEntry>, uint64_t>>;
BasisMap& g_cache = *new BasisMap();

// The basis in double, [2K, T]: row k = w_t cos(2 pi f_k t / fs), row K + k = w_t sin(...) (the
// CPU core's convention), each row centered over t when demean.
std::vector<double> make_basis(const GridSpec& g) {
  const int64_t T = g.T;
  const size_t K = g.freqs.size();
  std::vector<double> win(static_cast<size_t>(T), 1.0);
  const double two_pi = 6.283185307179586476925286766559;
  if (g.hann) {
    // as the CPU core (cpp/src/basis.cpp): symmetric uses T - 1, or 1 when T == 1
    const double denom = g.periodic ? static_cast<double>(T) : static_cast<double>(T > 1 ? T - 1 : 1);
    for (int64_t t = 0; t < T; ++t)
      win[t] = 0.5 - 0.5 * std::cos(two_pi * static_cast<double>(t) / denom);
  }
  std::vector<double> b(2 * K * static_cast<size_t>(T));
  for (size_t k = 0; k < K; ++k) {
    const double cyc = g.freqs[k] / g.fs;  // cycles per sample
    double* rc = &b[k * T];
    double* rs = &b[(K + k) * T];
    double mc = 0.0, ms = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      double ph = cyc * static_cast<double>(t);
      ph -= std::floor(ph);  // reduce to [0, 1) before scaling: exact for rfft bins k/n
      const double a = two_pi * ph;
      rc[t] = win[t] * std::cos(a);
      rs[t] = win[t] * std::sin(a);
      mc += rc[t];
      ms += rs[t];
    }
    if (g.demean) {
      mc /= static_cast<double>(T);
      ms /= static_cast<double>(T);
      for (int64_t t = 0; t < T; ++t) {
        rc[t] -= mc;
        rs[t] -= ms;
      }
    }
  }
  return b;
}

template <typename S>
std::shared_ptr<BasisEntry> upload_basis(const GridSpec& g, int device, cudaStream_t st) {
  const std::vector<double> bd = make_basis(g);
  const size_t K2 = 2 * g.freqs.size();
  const size_t T = static_cast<size_t>(g.T);
  std::vector<S> b(K2 * T), bt(K2 * T);
  for (size_t j = 0; j < K2; ++j)
    for (size_t t = 0; t < T; ++t) {
      b[j * T + t] = static_cast<S>(bd[j * T + t]);
      bt[t * K2 + j] = static_cast<S>(bd[j * T + t]);
    }
  auto e = std::make_shared<BasisEntry>();
  e->device = device;
  const size_t bytes = K2 * T * sizeof(S);
  RPPG_CHECK(cudaMalloc(&e->basis, bytes));
  RPPG_CHECK(cudaMalloc(&e->basisT, bytes));
  RPPG_CHECK(cudaMalloc(reinterpret_cast<void**>(&e->freqs), g.freqs.size() * sizeof(double)));
  RPPG_CHECK(cudaMemcpyAsync(e->freqs, g.freqs.data(), g.freqs.size() * sizeof(double),
                             cudaMemcpyHostToDevice, st));
  RPPG_CHECK(cudaMemcpyAsync(e->basis, b.data(), bytes, cudaMemcpyHostToDevice, st));
  RPPG_CHECK(cudaMemcpyAsync(e->basisT, bt.data(), bytes, cudaMemcpyHostToDevice, st));
  // The host vectors die at return, and other streams may use the entry: wait for the copies.
  RPPG_CHECK(cudaStreamSynchronize(st));
  return e;
}

}  // namespace

template <typename S>
std::shared_ptr<BasisEntry> get_basis(const GridSpec& g, int device, cudaStream_t st) {
  BasisKey key{device, sizeof(S) == 8 ? 1 : 0, g.T, g.fs, g.hann, g.periodic, g.demean, g.freqs};
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  auto it = g_cache.find(key);
  if (it != g_cache.end()) {
    it->second.second = ++g_tick;
    return it->second.first;
  }
  auto e = upload_basis<S>(g, device, st);
  while (g_cache.size() >= kMaxCacheEntries) {
    // cudaFree synchronizes the device, so kernels still reading an evicted basis finish first;
    // callers holding the shared_ptr keep it alive until their launches are queued.
    auto oldest = g_cache.begin();
    for (auto j = g_cache.begin(); j != g_cache.end(); ++j)
      if (j->second.second < oldest->second.second) oldest = j;
    g_cache.erase(oldest);
  }
  g_cache.emplace(key, std::make_pair(e, ++g_tick));
  return e;
}

template std::shared_ptr<BasisEntry> get_basis<float>(const GridSpec&, int, cudaStream_t);
template std::shared_ptr<BasisEntry> get_basis<double>(const GridSpec&, int, cudaStream_t);

void validate(const GridSpec& g, int64_t B) {
  if (B < 0) throw std::invalid_argument("batch size must be >= 0");
  if (g.T < 1) throw std::invalid_argument("T must be >= 1");
  if (g.freqs.empty()) throw std::invalid_argument("the frequency grid is empty");
  if (!(g.fs > 0.0) || !std::isfinite(g.fs)) throw std::invalid_argument("fs must be positive and finite");
  // grid.y of the GEMMs carries ceil(N / 64) tiles, N = 2K (forward) or T (backward).
  if (g.T > 65535LL * 64 || 2 * g.freqs.size() > 65535ull * 64ull)
    throw std::invalid_argument("T or K too large for the CUDA kernels");
}

void clear_basis_cache() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  g_cache.clear();
}

size_t basis_cache_size() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  return g_cache.size();
}

}  // namespace cuda
}  // namespace rppg
