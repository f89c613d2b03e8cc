// A Clock and Timers that move only when a test says so: timers fire in
// deadline order, each at its own time, so a test proves exact times
// without sleeping.
#ifndef REBOUND_TESTS_UNIT_MANUAL_TIME_H_
#define REBOUND_TESTS_UNIT_MANUAL_TIME_H_

#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/timers.h"

namespace rebound::testing {

class ManualTime final : public Clock, public Timers {
 public:
  // Monotonic time starts far from 0, which some code uses as "not yet".
  static constexpr MonoTime kMonoStart = 1'000'000'000'000;

  explicit ManualTime(absl::Time wall_start = absl::FromUnixSeconds(1'800'000'000))
      : wall_start_(wall_start) {}

  // Clock:
  absl::Time Now() const override { return wall_start_ + elapsed_; }
  MonoTime Mono() const override { return kMonoStart + absl::ToInt64Nanoseconds(elapsed_); }

  // Timers:
  TimerId AddTimerAfter(absl::Duration delay, absl::AnyInvocable<void() &&> fn) override {
    TimerId id = next_id_++;
    absl::Duration at = elapsed_ + std::max(delay, absl::ZeroDuration());
    timers_.emplace(std::make_pair(at, id), std::move(fn));
    deadlines_.emplace(id, at);
    return id;
  }
  void CancelTimer(TimerId id) override {
    auto it = deadlines_.find(id);
    if (it == deadlines_.end()) return;
    timers_.erase({it->second, id});
    deadlines_.erase(it);
  }

  // Moves time forward by `d`, running every timer that comes due on the way
  // at its own time (timers they add are run too when due).
  void Advance(absl::Duration d) {
    const absl::Duration until = elapsed_ + d;
    while (!timers_.empty() && timers_.begin()->first.first <= until) {
      auto it = timers_.begin();
      elapsed_ = it->first.first;
      absl::AnyInvocable<void() &&> fn = std::move(it->second);
      deadlines_.erase(it->first.second);
      timers_.erase(it);
      std::move(fn)();
    }
    elapsed_ = until;
  }

  // How far time has moved since the start.
  absl::Duration elapsed() const { return elapsed_; }
  size_t pending_timers() const { return timers_.size(); }
  // Time until the next timer, or InfiniteDuration when none is armed.
  absl::Duration NextTimerIn() const {
    return timers_.empty() ? absl::InfiniteDuration() : timers_.begin()->first.first - elapsed_;
  }

 private:
  absl::Time wall_start_;
  absl::Duration elapsed_ = absl::ZeroDuration();
  TimerId next_id_ = 1;
  std::map<std::pair<absl::Duration, TimerId>, absl::AnyInvocable<void() &&>> timers_;
  std::unordered_map<TimerId, absl::Duration> deadlines_;
};

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_UNIT_MANUAL_TIME_H_
