// std::thread parallel-for (no OpenMP: torch ships its own runtime).
#pragma once
#include <functional>

namespace rppg {

int get_num_threads();        // default: RPPG_NUM_THREADS env var, else hardware_concurrency()
void set_num_threads(int n);  // n <= 0 restores the default

// Runs fn(begin, end) over [0, n) split into contiguous ranges of `grain` multiples.
// `work` is the approximate flop count; small jobs stay on the calling thread.
void parallel_for(long n, long grain, double work, const std::function<void(long, long)>& fn);

}  // namespace rppg
