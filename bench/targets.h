// The two ways a benchmark sends its calls. A target is one path to the
// fake provider: straight over HTTP (the baseline) or through rebound-server
// over gRPC. Runners only see these interfaces, so both paths are driven by
// exactly the same code.
#ifndef REBOUND_BENCH_TARGETS_H_
#define REBOUND_BENCH_TARGETS_H_

#include <cstddef>
#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rebound::bench {

// What a completed call reported about itself.
struct CallInfo {
  size_t body_bytes = 0;  // response body
  // The gateway's own timing of its upstream HTTP attempts (the sum of the
  // attempt records' durations), in nanoseconds; -1 on the direct path.
  int64_t upstream_ns = -1;
  // Streaming calls: from sending to the first event's bytes (the first
  // body byte on the direct path, the first SseEvent through the gateway),
  // and the events received; -1 and 0 for unary calls.
  int64_t first_event_ns = -1;
  int64_t events = 0;
};

// One call at a time, on the calling thread.
class SyncTarget {
 public:
  virtual ~SyncTarget() = default;
  // Sends one call and blocks until it ends. OK only for a complete 200
  // answer. Not thread-safe.
  virtual absl::StatusOr<CallInfo> Call() = 0;
};

// Many calls in flight, completions delivered on the target's own threads.
class AsyncTarget {
 public:
  // The outcome of one call: OK only for a complete 200 answer.
  using DoneCallback = absl::AnyInvocable<void(absl::Status) &&>;

  virtual ~AsyncTarget() = default;
  // Starts one call without blocking; `done` runs exactly once, later, on a
  // thread of the target (it may start further calls). Thread-safe. Every
  // call must have completed before the target is destroyed.
  virtual void Start(DoneCallback done) = 0;
};

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_TARGETS_H_
