#include "rppg/parallel.hpp"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define RPPG_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define RPPG_PAUSE() __asm__ __volatile__("yield")  // spin hint, not a system call
#else
#define RPPG_PAUSE() std::this_thread::yield()
#endif

namespace rppg {
namespace {

std::atomic<int> g_threads{0};
constexpr double kWorkPerThread = 8e6;  // flops: below this waking a worker costs more than it saves
constexpr double kWorkPerThreadOmp = 1.5e6;  // on the OpenMP team: handing work over is cheaper
constexpr int kSpin = 4000;             // pause iterations before blocking (a few microseconds)

int default_threads() {
  if (const char* env = std::getenv("RPPG_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

// Persistent workers (created on first use, grown on demand) with dynamic chunks: the caller and
// the workers claim chunks from one atomic counter, so a worker the OS has not scheduled (a loaded
// machine) delays nothing -- the caller takes its chunks. One parallel region at a time; a call
// that finds the pool busy (another Python thread, or a nested call) runs on its own thread.
class Pool {
 public:
  bool try_run(int nt, long n, long chunk, const std::function<void(long, long)>& fn) {
    std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    const long total = (n + chunk - 1) / chunk;
    unsigned long gen;
    {
      std::lock_guard<std::mutex> lk(mu_);
      while (static_cast<int>(workers_.size()) < nt - 1) workers_.emplace_back([this] { loop(); });
      fn_ = &fn;
      n_ = n;
      chunk_ = chunk;
      total_ = total;
      wake_ = nt - 1;
      error_ = nullptr;
      done_.store(0, std::memory_order_relaxed);
      gen = ++gen_;
      next_.store(gen << 32, std::memory_order_release);  // generation in the high bits, chunk below
    }
    cv_.notify_all();
    work(gen);
    for (int i = 0; done_.load(std::memory_order_acquire) < total && i < kSpin; ++i) RPPG_PAUSE();
    if (done_.load(std::memory_order_acquire) < total) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [&] { return done_.load() >= total; });
    }
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  // Claims and runs chunks of generation `gen` until none are left.
  void work(unsigned long gen) {
    for (;;) {
      unsigned long cur = next_.load(std::memory_order_acquire);
      long c;
      do {
        if ((cur >> 32) != gen) return;
        c = static_cast<long>(cur & 0xffffffffUL);
        if (c >= total_) return;
      } while (!next_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel));
      const long b = c * chunk_, e = std::min(n_, b + chunk_);
      try {
        (*fn_)(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_mu_);
        if (!error_) error_ = std::current_exception();
      }
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == total_) {
        std::lock_guard<std::mutex> lk(mu_);
        done_cv_.notify_one();
      }
    }
  }

  void loop() {
    unsigned long seen = 0;
    for (;;) {
      unsigned long gen;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return gen_ != seen && wake_ > 0; });
        seen = gen = gen_;
        --wake_;
      }
      work(gen);
    }
  }

  std::mutex run_mu_, mu_, err_mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(long, long)>* fn_ = nullptr;
  long n_ = 0, chunk_ = 0, total_ = 0;
  int wake_ = 0;
  unsigned long gen_ = 0;
  std::atomic<unsigned long> next_{0};
  std::atomic<long> done_{0};
  std::exception_ptr error_;
};

// The process's OpenMP runtime (libgomp, loaded by torch), when there is one. torch leaves its OpenMP
// workers spinning for milliseconds after each parallel op; on a 2-core machine our own worker then
// shares a core with a spinner and the caller ends up doing all the chunks (no speed-up at all).
// Running our parallel regions on that same team hands the work to the spinning threads instead
// (they pick it up within microseconds) and never oversubscribes the cores.
using GompParallel = void (*)(void (*)(void*), void*, unsigned, unsigned);
using OmpInt = int (*)();
struct Gomp {
  GompParallel parallel = nullptr;
  OmpInt in_parallel = nullptr;
};
std::atomic<bool> g_gomp_ready{false};
Gomp g_gomp;
std::mutex g_gomp_mu;

// libgomp is not fork-safe: a forked child that enters a parallel region of the parent's team
// hangs. A child therefore never uses the OpenMP path (our own pool is rebuilt after fork).
std::atomic<bool> g_forked_child{false};
const int g_fork_hook = pthread_atfork(nullptr, nullptr, [] { g_forked_child.store(true); });

int find_gomp(struct dl_phdr_info* info, size_t, void* out) {
  if (info->dlpi_name && std::strstr(info->dlpi_name, "libgomp")) {
    *static_cast<const char**>(out) = info->dlpi_name;
    return 1;
  }
  return 0;
}

const Gomp* gomp() {
  if (g_forked_child.load(std::memory_order_relaxed) || std::getenv("RPPG_NO_OPENMP")) return nullptr;
  if (g_gomp_ready.load(std::memory_order_acquire)) return &g_gomp;
  std::lock_guard<std::mutex> lk(g_gomp_mu);
  if (g_gomp_ready.load()) return &g_gomp;
  void* h = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (!h) {
    const char* name = nullptr;
    dl_iterate_phdr(find_gomp, &name);
    if (name && *name) h = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
  }
  if (!h) return nullptr;  // not loaded (yet): our own pool; looked up again next time
  auto par = reinterpret_cast<GompParallel>(dlsym(h, "GOMP_parallel"));
  auto inpar = reinterpret_cast<OmpInt>(dlsym(h, "omp_in_parallel"));
  if (!par || !inpar) return nullptr;
  g_gomp.parallel = par;
  g_gomp.in_parallel = inpar;
  g_gomp_ready.store(true, std::memory_order_release);
  return &g_gomp;
}

// One region on the OpenMP team: every thread claims chunks from a shared counter.
struct GompJob {
  const std::function<void(long, long)>* fn;
  long n, chunk, total;
  std::atomic<long> next{0};
  std::mutex err_mu;
  std::exception_ptr error;
};

void gomp_body(void* p) {
  auto* job = static_cast<GompJob*>(p);
  for (;;) {
    const long c = job->next.fetch_add(1, std::memory_order_relaxed);
    if (c >= job->total) return;
    const long b = c * job->chunk, e = std::min(job->n, b + job->chunk);
    try {
      (*job->fn)(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lk(job->err_mu);
      if (!job->error) job->error = std::current_exception();
    }
  }
}

bool gomp_run(int nt, long n, long chunk, const std::function<void(long, long)>& fn) {
  const Gomp* g = gomp();
  if (!g || g->in_parallel()) return false;
  GompJob job;
  job.fn = &fn;
  job.n = n;
  job.chunk = chunk;
  job.total = (n + chunk - 1) / chunk;
  g->parallel(gomp_body, &job, static_cast<unsigned>(nt), 0);
  if (job.error) std::rethrow_exception(job.error);
  return true;
}

// Leaked on purpose (workers never join at exit); replaced in a forked child, where the parent's
// workers do not exist.
Pool* g_pool = nullptr;
std::once_flag g_once;

Pool& pool() {
  std::call_once(g_once, [] {
    g_pool = new Pool();
    pthread_atfork(nullptr, nullptr, [] { g_pool = new Pool(); });
  });
  return *g_pool;
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
  const bool omp = gomp() != nullptr;
  nt = std::min<long>(nt, std::max(1L, static_cast<long>(work / (omp ? kWorkPerThreadOmp : kWorkPerThread))));
  if (nt <= 1) {
    fn(0, n);
    return;
  }
  // About four chunks per thread, whole grains, for dynamic balance.
  const long chunk = std::max(1L, (chunks + 4 * nt - 1) / (4 * nt)) * grain;
  if (gomp_run(static_cast<int>(nt), n, chunk, fn)) return;
  if (!pool().try_run(static_cast<int>(nt), n, chunk, fn)) fn(0, n);
}

}  // namespace rppg
