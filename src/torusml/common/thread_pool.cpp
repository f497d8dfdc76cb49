#include "torusml/common/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>

#include <pthread.h>
#include <string>
#include <thread>
#include <vector>

#include "torusml/common/check.h"

namespace torusml {

namespace {
thread_local bool t_inside_pool_worker = false;
// Set in a child process created by fork(): the pool's worker threads do not exist there, so its
// loops run serially (multiprocessing's fork start method, e.g. in scikit-learn tooling).
std::atomic<bool> g_forked_child{false};
void on_fork_child() {
  g_forked_child.store(true);
}
}  // namespace

SerialScope::SerialScope() : previous_(t_inside_pool_worker) {
  t_inside_pool_worker = true;
}
SerialScope::~SerialScope() {
  t_inside_pool_worker = previous_;
}

struct ThreadPool::State {
  std::vector<std::thread> workers;
  std::mutex submit_mutex;  // one loop at a time
  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable done;
  // Current job.
  const std::function<void(std::size_t)>* fn = nullptr;
  std::size_t count = 0;
  std::size_t grain = 1;
  std::atomic<std::size_t> next{0};
  std::size_t generation = 0;
  std::size_t busy_workers = 0;
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  bool stop = false;

  void run_chunks() {
    for (;;) {
      if (failed.load(std::memory_order_relaxed)) return;
      const std::size_t begin = next.fetch_add(grain, std::memory_order_relaxed);
      if (begin >= count) return;
      const std::size_t end = std::min(count, begin + grain);
      try {
        for (std::size_t i = begin; i < end; ++i) (*fn)(i);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
        failed.store(true, std::memory_order_relaxed);
        return;
      }
    }
  }

  void worker_loop() {
    t_inside_pool_worker = true;
    std::size_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
      }
      run_chunks();
      {
        std::lock_guard lock(mutex);
        if (--busy_workers == 0) done.notify_all();
      }
    }
  }
};

ThreadPool::ThreadPool(std::size_t threads) : state_(new State) {
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, on_fork_child); });
  TORUSML_CHECK(threads >= 1, "a thread pool needs at least one thread");
  for (std::size_t i = 1; i < threads; ++i)
    state_->workers.emplace_back([s = state_] { s->worker_loop(); });
}

ThreadPool::~ThreadPool() {
  if (g_forked_child.load()) return;  // the workers belong to the parent process
  {
    std::lock_guard lock(state_->mutex);
    state_->stop = true;
  }
  state_->wake.notify_all();
  for (auto& t : state_->workers) t.join();
  delete state_;
}

std::size_t ThreadPool::size() const noexcept {
  return state_->workers.size() + 1;
}

void ThreadPool::parallel_for(std::size_t count, const std::function<void(std::size_t)>& fn,
                              std::size_t grain) {
  if (count == 0) return;
  grain = std::max<std::size_t>(grain, 1);
  if (t_inside_pool_worker || state_->workers.empty() || count <= grain || g_forked_child.load()) {
    for (std::size_t i = 0; i < count; ++i) fn(i);
    return;
  }
  std::lock_guard submit(state_->submit_mutex);
  {
    std::lock_guard lock(state_->mutex);
    state_->fn = &fn;
    state_->count = count;
    state_->grain = grain;
    state_->next.store(0, std::memory_order_relaxed);
    state_->error = nullptr;
    state_->failed.store(false, std::memory_order_relaxed);
    state_->busy_workers = state_->workers.size();
    ++state_->generation;
  }
  state_->wake.notify_all();
  // The caller works too, flagged as a worker so that nested loops run serially.
  const bool was_inside = t_inside_pool_worker;
  t_inside_pool_worker = true;
  state_->run_chunks();
  t_inside_pool_worker = was_inside;
  std::exception_ptr error;
  {
    std::unique_lock lock(state_->mutex);
    state_->done.wait(lock, [&] { return state_->busy_workers == 0; });
    error = state_->error;
    state_->fn = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

ThreadPool& default_thread_pool() {
  static ThreadPool pool([] {
    std::size_t n = std::max(1u, std::thread::hardware_concurrency());
    if (const char* env = std::getenv("TORUSML_NUM_THREADS")) {
      try {
        const long v = std::stol(env);
        if (v >= 1 && v <= 4096) n = static_cast<std::size_t>(v);
      } catch (...) {
        // An unparsable value is ignored: the default is one thread per core.
      }
    }
    return n;
  }());
  return pool;
}

void parallel_for(std::size_t count, const std::function<void(std::size_t)>& fn,
                  std::size_t grain) {
  default_thread_pool().parallel_for(count, fn, grain);
}

}  // namespace torusml
