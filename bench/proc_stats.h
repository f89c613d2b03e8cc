// What a benchmark reads of a process from /proc: its CPU time and its
// resident memory. One reader for rebound-bench and rebound-cp-bench.
#ifndef REBOUND_BENCH_PROC_STATS_H_
#define REBOUND_BENCH_PROC_STATS_H_

#include <sys/types.h>

#include "absl/status/statusor.h"

namespace rebound::bench {

// user + system CPU seconds `pid` (all its threads) has consumed so far,
// from /proc/<pid>/stat. Resolution: one clock tick (usually 10 ms).
absl::StatusOr<double> ProcessCpuSeconds(pid_t pid);

// VmRSS of `pid` in KiB, from /proc/<pid>/status.
absl::StatusOr<double> ResidentKib(pid_t pid);
// VmHWM (the peak of VmRSS so far) of `pid` in KiB.
absl::StatusOr<double> PeakResidentKib(pid_t pid);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_PROC_STATS_H_
