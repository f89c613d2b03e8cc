// The three load patterns. Each drives one or two targets and returns what
// it measured; none of them knows which path a target is.
#ifndef REBOUND_BENCH_LOAD_RUNNERS_H_
#define REBOUND_BENCH_LOAD_RUNNERS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bench/latency_stats.h"
#include "bench/targets.h"

namespace rebound::bench {

// What one load pattern measured on one path.
struct PathResult {
  LatencySummary latency;  // measured calls only (warm-up excluded)
  // Sequential gateway calls: the gateway's own timing of the upstream
  // attempt, and the rest of each call (latency minus attempt) - the time
  // spent in gRPC, in rebound's request handling and between threads.
  LatencySummary upstream_attempt;
  LatencySummary outside_attempt;
  // Sequential streaming calls: time to the first event, and events received.
  LatencySummary first_event;
  int64_t events = 0;
  int64_t ok = 0;          // measured calls that succeeded
  int64_t errors = 0;      // every failed call, warm-up included
  std::string first_error;
  // Fixed rate: the achieved rate. Saturation: the throughput. Else 0.
  double calls_per_s = 0;
  // Fixed rate: the latest the load generator sent a call, after its
  // scheduled time (shows whether the generator itself kept up).
  double max_send_lag_ms = 0;
  // Saturation: CPU seconds each watched process used in the window.
  std::vector<double> cpu_seconds;
};

// ---------------------------------------------------------------- sequential

struct SequentialOptions {
  int64_t calls = 5000;   // measured calls per path
  int64_t warmup = 500;   // unmeasured calls per path first
  int64_t block = 250;    // calls per block; blocks alternate between paths
};

// One call at a time, in blocks of `block` calls that rotate through
// `paths` (and which path starts each round rotates too), so that drift in
// machine load hits every path alike. One result per path, in order.
std::vector<PathResult> RunSequential(const std::vector<SyncTarget*>& paths,
                                      const SequentialOptions& options);

// ---------------------------------------------------------------- fixed rate

struct FixedRateOptions {
  double rps = 1000;
  absl::Duration duration = absl::Seconds(5);
  absl::Duration warmup = absl::Milliseconds(500);  // same rate, not measured
  absl::Duration drain_timeout = absl::Seconds(30);
};

// Open loop: call i is sent at start + i / rps whether or not earlier calls
// have completed, and its latency runs from that scheduled time, so a stall
// anywhere is charged to every call it delays (no coordinated omission).
PathResult RunFixedRate(AsyncTarget& target, const FixedRateOptions& options);

// ---------------------------------------------------------------- saturation

struct SaturationOptions {
  int concurrency = 32;
  absl::Duration duration = absl::Seconds(5);
  absl::Duration warmup = absl::Milliseconds(500);
  absl::Duration drain_timeout = absl::Seconds(30);
  std::vector<pid_t> cpu_pids{};  // processes whose CPU use is sampled
};

// Closed loop: `concurrency` calls always in flight, each completion
// immediately starting the next. Counts completions in the window.
PathResult RunSaturation(AsyncTarget& target, const SaturationOptions& options);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_LOAD_RUNNERS_H_
