// Writes results: a table for people (stdout) and a JSON file for tools.
#ifndef REBOUND_BENCH_REPORT_H_
#define REBOUND_BENCH_REPORT_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/results.h"

namespace rebound::bench {

// How the run was configured, echoed in both outputs.
struct BenchSettings {
  int64_t calls = 0;
  int64_t warmup = 0;
  int64_t block = 0;
  double rps = 0;
  double seconds = 0;
  int concurrency = 0;
  int repeat = 0;
  int64_t body_bytes = 0;
  int64_t response_bytes = 0;
  int streams = 0;
  int cpus = 0;
  double load_average = 0;  // 1-minute load average when the run started
};

// The targets, checked in the table: issue 5's absolute ones, tightened by
// issue 15, whose yardstick is nginx's proxy hop in the same run.
inline constexpr double kTargetAddedP50Ms = 0.1;
inline constexpr double kTargetAddedP99Ms = 0.25;
inline constexpr double kTargetFixedRateAddedP99Ms = 0.5;
inline constexpr double kTargetThroughputCallsPerS = 10'000;
inline constexpr double kTargetKibPerStream = 32;
inline constexpr double kTargetThroughputVsNginx = 0.8;    // calls/s at saturation, at least
inline constexpr double kTargetAddedP50VsNginx = 2.0;      // sequential added p50, at most
inline constexpr double kTargetServerCpuUsPerCall = 80;    // unary, at saturation

void PrintTable(const BenchSettings& settings, const ResultSet& combined, std::FILE* out);

// {"settings": {...}, "median": {...}, "passes": [{...}, ...]}; every
// result is a flat "phase.path.metric" key ("median" sums the error counts).
absl::Status WriteJson(const std::string& path, const BenchSettings& settings,
                       const ResultSet& combined, const std::vector<ResultSet>& passes);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_REPORT_H_
