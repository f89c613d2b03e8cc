// The pure steps RetryState's decisions are made of: classifying an
// attempt, backoff, failover selection, the exhaustion JSON's numbers.
// RetryState (retry_state.h) is the API; these are declared apart so that
// retry_state_test checks each step on its own, and no caller outside
// retry/ needs them.
#ifndef REBOUND_RETRY_DECISION_STEPS_H_
#define REBOUND_RETRY_DECISION_STEPS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "policy/config.h"
#include "retry/attempt.h"

namespace rebound {

enum class Outcome { kSuccess, kFinal, kRetriable };

// The error class of a retriable failure.
struct ErrorClass {
  enum class Kind { kStatusRule, kErrorRule, kDefault, kTimeout, kStream };
  Kind kind = Kind::kDefault;
  // kStatusRule: index into on_status_codes; kErrorRule: into on_errors.
  int rule_index = -1;
  bool operator==(const ErrorClass&) const = default;
};

struct Classification {
  Outcome outcome = Outcome::kSuccess;
  ErrorClass error_class;  // kRetriable only
  ClassPolicy policy;      // kRetriable only: strategy, max_attempts, then
  const ErrorRule* error_rule = nullptr;  // kErrorRule only
};

// Section 3.1/3.2 for one attempt under `policy`, with the extension that
// an on_errors entry naming the attempt's provider_error comes first: it
// makes any failure (even a 400) retriable, and a unary answer refused by a
// content filter (a 2xx with provider_error kContentFilter) too.
Classification ClassifyAttempt(const RetryPolicy& policy, const AttemptResult& result);

// "default", "timeout", "stream", "on_status_codes[i]" or "on_errors[i]".
std::string ErrorClassName(const ErrorClass& c);

// The strategy for the `failures`-th failure (1-based) of a class, or
// nullopt when the class allows no retry after it: max_attempts failures
// retry with the class's strategy, then `then` allows then->max_attempts
// more with its own.
std::optional<Strategy> StepStrategy(const ClassPolicy& policy, int failures);

// min(max_ms, base_ms * 2^k); with jitter, delay/2 + random01 * delay/2
// (random01 in [0, 1), clamped). Rounded up to a whole millisecond.
absl::Duration ComputeBackoff(const BackoffPolicy& backoff, int k, double random01);

// Whether a retry at `next` after a failure of `failed` is in the backoff
// scope `apply_to`.
bool BackoffApplies(BackoffApplyTo apply_to, const ModelProvider& failed,
                    const ModelProvider& next);

// How a candidate stands for a failover.
enum class Usability {
  kUsable,
  kLatencyBlocked,
  kBlocked,
  kAttempted,
  kBudgetDenied,
  kIncompatible,  // cannot serve this request (another API, untranslatable)
};

struct Selection {
  const ModelProvider* target = nullptr;  // nullptr: nothing to try
  bool last_resort = false;     // target is latency-blocked; nothing better was left
  bool skipped_blocked = false;  // some qualifying candidate was passed over for a block
};

// same_provider / different_provider relative to `failed`, or larger_context
// (any provider, a context_window larger than `failed`'s; same_model is not
// a selection): the first qualifying entry of `preferred`, then of
// `candidates` (configuration order); `failed` itself never qualifies.
// Usable ones win; else the first latency-blocked one (last resort).
Selection SelectFailover(Strategy strategy, const ModelProvider& failed,
                         const std::vector<const ModelProvider*>& preferred,
                         const std::vector<const ModelProvider*>& candidates,
                         absl::FunctionRef<Usability(const ModelProvider&)> usability);

// Seconds for the exhaustion JSON: rounded up to whole milliseconds, printed
// as an integer when whole, else with up to three decimals ("1.5", "0.001").
std::string FormatJsonSeconds(absl::Duration d);

}  // namespace rebound

#endif  // REBOUND_RETRY_DECISION_STEPS_H_
