// Time sources. Code that decides by time takes a Clock, so tests drive it
// with a manual one (tests/unit/manual_time.h) and prove exact times without
// sleeping; production passes RealClock().
#ifndef REBOUND_COMMON_CLOCK_H_
#define REBOUND_COMMON_CLOCK_H_

#include <cstdint>

#include "absl/time/time.h"

namespace rebound {

// Monotonic time: nanoseconds of CLOCK_MONOTONIC. Used for durations and
// timer deadlines, never shown to users.
using MonoTime = int64_t;
MonoTime MonoNow();
inline MonoTime MonoAfter(absl::Duration d) { return MonoNow() + absl::ToInt64Nanoseconds(d); }

// Both clocks a caller of the request path reads. Thread safety: the real
// clock may be read from any thread; a manual clock from its test's thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time: blocks, Retry-After and the caller's deadline are wall times.
  virtual absl::Time Now() const = 0;
  // Monotonic time, for measuring durations.
  virtual MonoTime Mono() const = 0;
};

// The process's clocks (absl::Now and CLOCK_MONOTONIC). Never null.
const Clock* RealClock();

}  // namespace rebound

#endif  // REBOUND_COMMON_CLOCK_H_
