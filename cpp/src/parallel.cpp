#include "rppg/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

namespace rppg {
namespace {

std::atomic<int> g_threads{0};
constexpr double kWorkPerThread = 4e6;  // flops: below this a thread spawn costs more than it saves

int default_threads() {
  if (const char* env = std::getenv("RPPG_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace

int get_num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : default_threads();
}

void set_num_threads(int n) { g_threads.store(n > 0 ? n : 0); }

void parallel_for(long n, long grain, double work, const std::function<void(long, long)>& fn) {
  if (n <= 0) return;
  grain = std::max(1L, grain);
  const long chunks = (n + grain - 1) / grain;
  long nt = std::min<long>(get_num_threads(), chunks);
  nt = std::min<long>(nt, std::max(1L, static_cast<long>(work / kWorkPerThread)));
  if (nt <= 1) {
    fn(0, n);
    return;
  }
  const long per = (chunks + nt - 1) / nt * grain;
  std::vector<std::thread> pool;
  pool.reserve(nt - 1);
  for (long i = 1; i < nt; ++i) {
    const long b = i * per, e = std::min(n, b + per);
    if (b < e) pool.emplace_back(fn, b, e);
  }
  fn(0, std::min(n, per));
  for (auto& th : pool) th.join();
}

}  // namespace rppg
