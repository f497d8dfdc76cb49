// The server's metrics (GET /metrics): requests and errors by route and status, requests in
// flight, and latency quantiles (p50, p90, p99, nearest rank) over the last `window` requests,
// for all requests and for inference (POST /run) alone. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace torusml::deploy::server {

/// Quantiles of a set of latencies, in seconds (0 for an empty set).
struct LatencyQuantiles {
  std::size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

/// Nearest-rank quantiles of `seconds` (taken by value: sorted here).
LatencyQuantiles latency_quantiles(std::vector<double> seconds);

class Metrics {
 public:
  /// `window` >= 1: the number of latest latencies kept per series.
  explicit Metrics(std::size_t window = 1024);

  /// A request entered / left a handler (the in-flight gauge).
  void begin_request();
  void end_request();
  /// One finished request: its route ("/run", "/keys", ..., "other"), status and latency.
  void record(std::string_view route, int status, double seconds);

  std::uint64_t requests() const;
  std::uint64_t errors() const;  // status >= 400
  std::uint64_t in_flight() const;
  LatencyQuantiles latency() const;      // every request
  LatencyQuantiles run_latency() const;  // POST /run
  /// Everything above as one JSON object.
  std::string to_json() const;

 private:
  struct Window {
    std::vector<double> values;
    std::size_t next = 0;
  };
  void push(Window& w, double seconds);

  std::size_t window_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  mutable std::mutex mutex_;
  std::uint64_t requests_ = 0, errors_ = 0, in_flight_ = 0;
  std::map<std::string, std::uint64_t> by_route_;
  std::map<int, std::uint64_t> by_status_;
  Window all_, run_;
};

}  // namespace torusml::deploy::server
