// A fixed-size pool of worker threads for data-parallel loops.
//
// parallel_for(count, fn) calls fn(i) once for each i in [0, count), spread dynamically over the
// workers and the calling thread, and returns when all calls are done. The first exception thrown
// by fn is rethrown in the caller (the remaining indices are skipped). A parallel_for issued from
// inside a worker runs serially on that worker, so nested loops cannot deadlock.
//
// default_thread_pool() has one thread per core, or TORUSML_NUM_THREADS if that is set.
#pragma once

#include <cstddef>
#include <functional>

namespace torusml {

class ThreadPool {
 public:
  /// A pool running loops on `threads` threads in total (the caller counts as one); >= 1.
  explicit ThreadPool(std::size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Number of threads that execute a loop (workers + the calling thread).
  std::size_t size() const noexcept;

  /// Calls fn(i) for every i in [0, count); indices are handed out in chunks of `grain`.
  void parallel_for(std::size_t count, const std::function<void(std::size_t)>& fn,
                    std::size_t grain = 1);

 private:
  struct State;
  State* state_;
};

/// While alive, parallel_for calls made by this thread run serially on it (e.g. to measure
/// single-thread performance, or inside work that is already parallel at a coarser grain).
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  bool previous_;
};

/// The process-wide pool: hardware_concurrency() threads, or TORUSML_NUM_THREADS.
ThreadPool& default_thread_pool();

/// Shorthand for default_thread_pool().parallel_for(...).
void parallel_for(std::size_t count, const std::function<void(std::size_t)>& fn,
                  std::size_t grain = 1);

}  // namespace torusml
