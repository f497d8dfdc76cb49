#include "torusml/deploy/server/metrics.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "torusml/common/error.h"
#include "torusml/deploy/server/json.h"

namespace torusml::deploy::server {

namespace {

double nearest_rank(const std::vector<double>& sorted, double q) {
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void write_quantiles(std::ostringstream& os, const LatencyQuantiles& q) {
  os << "{\"count\": " << q.count << ", \"p50\": " << q.p50 << ", \"p90\": " << q.p90
     << ", \"p99\": " << q.p99 << ", \"max\": " << q.max << "}";
}

}  // namespace

LatencyQuantiles latency_quantiles(std::vector<double> seconds) {
  LatencyQuantiles q;
  q.count = seconds.size();
  if (seconds.empty()) return q;
  std::sort(seconds.begin(), seconds.end());
  q.p50 = nearest_rank(seconds, 0.50);
  q.p90 = nearest_rank(seconds, 0.90);
  q.p99 = nearest_rank(seconds, 0.99);
  q.max = seconds.back();
  return q;
}

Metrics::Metrics(std::size_t window) : window_(window) {
  if (window_ == 0) throw InvalidArgument("metrics: the latency window must hold at least 1 value");
}

void Metrics::begin_request() {
  std::lock_guard lock(mutex_);
  ++in_flight_;
}

void Metrics::end_request() {
  std::lock_guard lock(mutex_);
  if (in_flight_ > 0) --in_flight_;
}

void Metrics::push(Window& w, double seconds) {
  if (w.values.size() < window_) {
    w.values.push_back(seconds);
  } else {
    w.values[w.next] = seconds;
    w.next = (w.next + 1) % window_;
  }
}

void Metrics::record(std::string_view route, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_;
  if (status >= 400) ++errors_;
  ++by_route_[std::string(route)];
  ++by_status_[status];
  push(all_, seconds);
  if (route == "/run" && status == 200) push(run_, seconds);
}

std::uint64_t Metrics::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::uint64_t Metrics::errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

std::uint64_t Metrics::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

LatencyQuantiles Metrics::latency() const {
  std::lock_guard lock(mutex_);
  return latency_quantiles(all_.values);
}

LatencyQuantiles Metrics::run_latency() const {
  std::lock_guard lock(mutex_);
  return latency_quantiles(run_.values);
}

std::string Metrics::to_json() const {
  std::lock_guard lock(mutex_);
  std::ostringstream os;
  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  os << "{\"uptime_seconds\": " << uptime << ", \"requests\": " << requests_
     << ", \"errors\": " << errors_ << ", \"in_flight\": " << in_flight_ << ", \"by_route\": {";
  bool first = true;
  for (const auto& [route, n] : by_route_) {
    os << (first ? "" : ", ") << json_quote(route) << ": " << n;
    first = false;
  }
  os << "}, \"by_status\": {";
  first = true;
  for (const auto& [status, n] : by_status_) {
    os << (first ? "" : ", ") << "\"" << status << "\": " << n;
    first = false;
  }
  os << "}, \"latency_window\": " << window_ << ", \"latency_seconds\": ";
  write_quantiles(os, latency_quantiles(all_.values));
  os << ", \"run_latency_seconds\": ";
  write_quantiles(os, latency_quantiles(run_.values));
  os << "}";
  return os.str();
}

}  // namespace torusml::deploy::server
