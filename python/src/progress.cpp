// run_with_progress: a long C++ call (compile with key generation) on a worker thread while the
// calling thread reports its progress to Python.
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <thread>

#include "bindings.h"
#include "torusml/common/progress.h"

namespace torusml::python {

void run_with_progress(const std::function<void()>& fn, const py::object& callback) {
  if (callback.is_none()) {
    py::gil_scoped_release release;
    fn();
    return;
  }
  Progress progress;
  std::packaged_task<void()> task([&] {
    ProgressScope scope(&progress);
    fn();
  });
  std::future<void> finished = task.get_future();
  std::optional<py::error_already_set> callback_error;
  {
    std::thread worker(std::move(task));
    auto report = [&] {
      if (callback_error) return;
      try {
        callback(progress.done.load(), progress.total.load());
      } catch (py::error_already_set& e) {
        callback_error = std::move(e);  // raised once the worker is done
      }
    };
    while (true) {
      bool done = false;
      {
        py::gil_scoped_release release;
        done = finished.wait_for(std::chrono::milliseconds(100)) == std::future_status::ready;
      }
      if (done) break;
      report();
    }
    worker.join();
    report();
  }
  finished.get();  // fn's exception, if any
  if (callback_error) throw std::move(*callback_error);
}

}  // namespace torusml::python
