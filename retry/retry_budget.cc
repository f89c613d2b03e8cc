#include "retry/retry_budget.h"

#include <algorithm>

namespace rebound {
namespace {

int64_t Mod(int64_t a, int64_t n) {
  int64_t r = a % n;
  return r < 0 ? r + n : r;
}

}  // namespace

RetryBudget::RetryBudget(const RetryBudgetSettings& settings)
    : settings_(settings),
      reserve_hundredths_(int64_t{settings.min_retries_per_second} * settings.window_seconds * 100),
      ring_(static_cast<size_t>(std::max(settings.window_seconds, 1))),
      newest_second_(0) {}

void RetryBudget::AdvanceLocked(absl::Time now) {
  const int64_t second = absl::ToUnixSeconds(now);
  // The same second, or a clock that stepped back: the newest bucket.
  if (second <= newest_second_) return;
  const int64_t window = static_cast<int64_t>(ring_.size());
  if (second - newest_second_ >= window) {
    for (Bucket& b : ring_) b = Bucket{};
    first_attempts_ = 0;
    retries_ = 0;
  } else {
    for (int64_t s = newest_second_ + 1; s <= second; ++s) {
      Bucket& b = ring_[static_cast<size_t>(Mod(s, window))];
      first_attempts_ -= b.first_attempts;
      retries_ -= b.retries;
      b = Bucket{};
    }
  }
  newest_second_ = second;
}

RetryBudget::Bucket& RetryBudget::CurrentLocked() {
  return ring_[static_cast<size_t>(Mod(newest_second_, static_cast<int64_t>(ring_.size())))];
}

int64_t RetryBudget::BalanceLocked() const {
  return reserve_hundredths_ + int64_t{settings_.percent} * first_attempts_ - 100 * retries_;
}

void RetryBudget::RecordFirstAttempt(absl::Time now) {
  absl::MutexLock lock(&mu_);
  AdvanceLocked(now);
  ++CurrentLocked().first_attempts;
  ++first_attempts_;
}

bool RetryBudget::TryWithdrawRetry(absl::Time now) {
  absl::MutexLock lock(&mu_);
  AdvanceLocked(now);
  if (BalanceLocked() < 100) return false;
  ++CurrentLocked().retries;
  ++retries_;
  return true;
}

RetryBudget::Window RetryBudget::Snapshot(absl::Time now) {
  absl::MutexLock lock(&mu_);
  AdvanceLocked(now);
  return Window{first_attempts_, retries_, BalanceLocked()};
}

}  // namespace rebound
