// One-shot timers on a single thread, in the style of Envoy's dispatcher:
// the EventLoop implements them for production, a manual clock for tests.
#ifndef REBOUND_COMMON_TIMERS_H_
#define REBOUND_COMMON_TIMERS_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace rebound {

// Thread safety: every method, and every timer callback, runs on the one
// thread that owns the Timers (for an EventLoop, its loop thread).
class Timers {
 public:
  using TimerId = uint64_t;  // never 0

  virtual ~Timers() = default;
  // Runs `fn` once, `delay` from now (at once for a delay <= 0), never from
  // inside this call. Returns an id for CancelTimer.
  virtual TimerId AddTimerAfter(absl::Duration delay, absl::AnyInvocable<void() &&> fn) = 0;
  // `fn` will not run. Cancelling an unknown or already-fired timer is a no-op.
  virtual void CancelTimer(TimerId id) = 0;
};

}  // namespace rebound

#endif  // REBOUND_COMMON_TIMERS_H_
