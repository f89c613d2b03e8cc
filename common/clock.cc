#include "common/clock.h"

#include <time.h>

#include "absl/time/clock.h"

namespace rebound {

MonoTime MonoNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  MonoTime Mono() const override { return MonoNow(); }
};

}  // namespace

const Clock* RealClock() {
  static const SystemClock clock;
  return &clock;
}

}  // namespace rebound
