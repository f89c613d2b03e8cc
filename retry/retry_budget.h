// One provider's retry budget, in the manner of Finagle's RetryBudget and
// Envoy's retry budgets: retries are allowed up to a share of the recent
// first attempts plus a small floor, so that when a provider fails for
// everyone the gateway adds at most that share of extra load instead of
// multiplying it by max_attempts (a retry storm).
//
// The rule. Over a sliding window of `window_seconds` whole seconds,
//   balance = min_retries_per_second * window_seconds
//           + percent / 100 * first_attempts_in_window
//           - retries_in_window
// and a retry is allowed when balance >= 1; it is then counted (withdrawn).
// So within any window, retries <= floor * window + percent% of the first
// attempts, exactly: a budget kept busy reaches that bound to the retry and
// never passes it.
//
// Decisions where Finagle and Envoy differ or are silent:
// - Time is bucketed by whole Unix seconds: a ring of `window_seconds`
//   buckets. An event counts while the current second is less than its own
//   second + window_seconds, i.e. for between window-1 and window seconds.
//   Both deposits and withdrawals expire that way, so the inequality above
//   holds for every window of `window_seconds` consecutive buckets.
// - The floor is a constant reserve (Finagle's `minRetriesPerSec * ttl`), not
//   a refilling token bucket: a quiet provider can take floor * window
//   retries in a burst, then only what its traffic earns until those
//   retries leave the window.
// - Integer arithmetic in hundredths (percent is a whole number): no
//   rounding drift; 5 first attempts at 20% earn exactly one retry.
// - The clock is the caller's `now` (wall time, as RetryState uses it;
//   finite). A clock stepping backwards counts into the newest bucket (events
//   then expire late, which only makes the budget stricter); one jumping
//   forwards forgets what left the window, as if the time had passed.
//
// Thread-safe: one small mutex per provider, held for a few arithmetic
// operations. No allocation after construction (the ring is sized once).
#ifndef REBOUND_RETRY_RETRY_BUDGET_H_
#define REBOUND_RETRY_RETRY_BUDGET_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "policy/config.h"

namespace rebound {

class RetryBudget {
 public:
  // `settings` must be valid (as the config loader checks): percent 0..1000,
  // min_retries_per_second >= 0, window_seconds >= 1. `enabled` is ignored:
  // a disabled budget is simply not created (retry/retry_budgets.h).
  explicit RetryBudget(const RetryBudgetSettings& settings);

  RetryBudget(const RetryBudget&) = delete;
  RetryBudget& operator=(const RetryBudget&) = delete;

  const RetryBudgetSettings& settings() const { return settings_; }

  // One first attempt at this provider at `now`.
  void RecordFirstAttempt(absl::Time now);
  // Withdraws one retry when the balance at `now` is at least 1; returns
  // whether it did.
  bool TryWithdrawRetry(absl::Time now);

  // What the window holds at `now`, for tests and introspection.
  struct Window {
    int64_t first_attempts = 0;
    int64_t retries = 0;
    // The balance in hundredths of a retry (100 = one retry allowed).
    int64_t balance_hundredths = 0;
  };
  Window Snapshot(absl::Time now);

 private:
  // The events of one Unix second; bucket i holds the seconds s with
  // s mod window_seconds == i.
  struct Bucket {
    int64_t first_attempts = 0;
    int64_t retries = 0;
  };

  // Moves the window so that it ends at `now`'s second, dropping buckets
  // that left it.
  void AdvanceLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Bucket& CurrentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t BalanceLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RetryBudgetSettings settings_;
  const int64_t reserve_hundredths_;  // min_retries_per_second * window * 100

  absl::Mutex mu_;
  std::vector<Bucket> ring_ ABSL_GUARDED_BY(mu_);  // window_seconds buckets
  int64_t newest_second_ ABSL_GUARDED_BY(mu_);     // the second of the newest bucket
  int64_t first_attempts_ ABSL_GUARDED_BY(mu_) = 0;  // sums over the ring
  int64_t retries_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rebound

#endif  // REBOUND_RETRY_RETRY_BUDGET_H_
