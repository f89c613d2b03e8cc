#include "bench/latency_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rebound::bench {
namespace {

double NsToMs(double ns) { return ns / 1e6; }

}  // namespace

void LatencyRecorder::Merge(const LatencyRecorder& other) {
  samples_ns_.insert(samples_ns_.end(), other.samples_ns_.begin(), other.samples_ns_.end());
}

LatencySummary LatencyRecorder::Summarize() const {
  LatencySummary s;
  if (samples_ns_.empty()) return s;
  std::vector<int64_t> sorted = samples_ns_;
  std::sort(sorted.begin(), sorted.end());
  s.count = static_cast<int64_t>(sorted.size());
  s.p50_ms = NsToMs(static_cast<double>(NearestRank(sorted, 0.50)));
  s.p90_ms = NsToMs(static_cast<double>(NearestRank(sorted, 0.90)));
  s.p99_ms = NsToMs(static_cast<double>(NearestRank(sorted, 0.99)));
  s.max_ms = NsToMs(static_cast<double>(sorted.back()));
  double sum = std::accumulate(sorted.begin(), sorted.end(), 0.0);
  s.mean_ms = NsToMs(sum / static_cast<double>(sorted.size()));
  return s;
}

int64_t NearestRank(const std::vector<int64_t>& sorted, double q) {
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[rank == 0 ? 0 : rank - 1];
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

}  // namespace rebound::bench
