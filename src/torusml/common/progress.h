// Progress of long computations (key generation for large parameters), for a caller to display.
//
//   Progress p;
//   std::thread worker([&] { ProgressScope scope(&p); generate_keys(...); });
//   while (...) show(p.done.load(), p.total.load());   // from another thread
//
// A computation announces its units of work (ProgressTask) on the thread that calls it and
// counts them as done from any thread (the pool's workers); with no Progress in scope it costs an
// atomic-free branch.
#pragma once

#include <atomic>
#include <cstdint>

namespace torusml {

/// Units of work announced (`total`) and finished (`done`); readable from any thread.
struct Progress {
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> total{0};
};

/// The Progress the calling thread reports to, or nullptr.
Progress* current_progress();

/// Makes `progress` the calling thread's current_progress() for this object's lifetime (the
/// previous one is restored after).
class ProgressScope {
 public:
  explicit ProgressScope(Progress* progress);
  ~ProgressScope();
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

 private:
  Progress* previous_;
};

/// One computation's share of the calling thread's progress: announces `units` when built;
/// advance() (thread-safe) counts one as done.
class ProgressTask {
 public:
  explicit ProgressTask(std::uint64_t units) : progress_(current_progress()) {
    if (progress_ != nullptr) progress_->total.fetch_add(units, std::memory_order_relaxed);
  }
  void advance() const {
    if (progress_ != nullptr) progress_->done.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  Progress* progress_;
};

}  // namespace torusml
