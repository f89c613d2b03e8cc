// Counts slow answers per model or provider in a sliding window (RETRY.md
// 3.6): when `min_triggers` of them fall inside `trigger_window_seconds`, the
// caller creates a latency block and the count starts again.
//
// Pure: `now` is passed in. Thread-safe. Memory is bounded twice: a key keeps
// fewer than min_triggers timestamps, and the number of keys is capped.
#ifndef REBOUND_RETRY_LATENCY_TRACKER_H_
#define REBOUND_RETRY_LATENCY_TRACKER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "blocks/block_table.h"

namespace rebound {

class LatencyTracker {
 public:
  static constexpr size_t kDefaultMaxKeys = 10000;

  explicit LatencyTracker(size_t max_keys = kDefaultMaxKeys);

  LatencyTracker(const LatencyTracker&) = delete;
  LatencyTracker& operator=(const LatencyTracker&) = delete;

  // Records one slow answer for `key` at `now`. Returns true when this event
  // makes `min_triggers` events inside the window; the key's events are then
  // cleared, so the next trigger needs `min_triggers` new ones.
  //
  // The window is half-open: an event counts while now - event < window, so
  // two events exactly `window` apart do not trigger together. min_triggers
  // <= 1 triggers on every event and stores nothing.
  bool RecordSlow(const BlockKey& key, absl::Time now, absl::Duration window, int min_triggers);

  // Forgets every key whose events have all left their window; returns how
  // many keys went.
  size_t Sweep(absl::Time now);

  // Keys currently stored.
  size_t size() const;

 private:
  struct Events {
    std::vector<absl::Time> times;  // oldest first, fewer than min_triggers
    absl::Time expires;             // newest event + window: useless after it
  };

  const size_t max_keys_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Events> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rebound

#endif  // REBOUND_RETRY_LATENCY_TRACKER_H_
