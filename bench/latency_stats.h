// Latency samples and their summaries (percentiles), plus the median used to
// combine repeated runs. Pure: no clocks, no I/O.
#ifndef REBOUND_BENCH_LATENCY_STATS_H_
#define REBOUND_BENCH_LATENCY_STATS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rebound::bench {

// What one measurement's latencies look like, in milliseconds.
struct LatencySummary {
  int64_t count = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double mean_ms = 0;
  double max_ms = 0;
};

// Collects latencies in nanoseconds. Not thread-safe: callers that record
// from several threads either lock or give each thread its own recorder.
class LatencyRecorder {
 public:
  void Reserve(size_t n) { samples_ns_.reserve(n); }
  void Add(int64_t ns) { samples_ns_.push_back(ns); }
  void Merge(const LatencyRecorder& other);
  size_t count() const { return samples_ns_.size(); }

  // Sorts a copy; all zeros when there are no samples.
  LatencySummary Summarize() const;

 private:
  std::vector<int64_t> samples_ns_;
};

// The q-quantile (0 <= q <= 1) of ascending `sorted` by the nearest-rank
// method: the smallest sample with at least q of all samples at or below it.
// Requires a non-empty input.
int64_t NearestRank(const std::vector<int64_t>& sorted, double q);

// The median of `values` (the mean of the middle two for an even count);
// 0 for an empty input.
double Median(std::vector<double> values);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_LATENCY_STATS_H_
