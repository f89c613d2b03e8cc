// The per-request decision maker of the attempt loop: the retry and failover
// engine of RETRY.md sections 3-7.
//
// RetryState is pure: it never touches a socket, a timer or the clock, and
// draws randomness from an injected source. The Call (gateway/call.h) reports
// what each attempt did and executes what RetryState decides: start an
// attempt at a target after a wait, deliver the answer, or fail with the
// retry_exhausted detail. Envoy's split: the RetryPolicy is immutable and
// shared; a RetryState lives for one request and is used by one thread.
//
// The rules it applies, in order, and every decision it makes where RETRY.md
// is silent, are written out in retry/README.md; a change to one is a
// change to that file.
#ifndef REBOUND_RETRY_RETRY_STATE_H_
#define REBOUND_RETRY_RETRY_STATE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "blocks/block_table.h"
#include "common/http_types.h"
#include "policy/config.h"
#include "retry/attempt.h"
#include "retry/decision_steps.h"
#include "retry/latency_tracker.h"
#include "retry/retry_budget.h"
#include "retry/retry_budget_gate.h"

namespace rebound {

// Caller options that can only narrow the policy (CompletionRequest.retry).
struct NarrowingOptions {
  bool disable_retries = false;
  int max_attempts = 0;  // <= 0 = no extra cap
  // Empty = no restriction. Null entries (unknown models) are ignored; the
  // request is rejected before a Call exists (gateway/request_validation.h).
  std::vector<const ModelProvider*> allowed_models;
};

// Why a request ended as exhausted (a bounded metric label, see ToString).
enum class EndReason {
  kNone,         // not exhausted
  kAttemptCap,   // the hard cap of 10 or the caller's max_attempts/disable_retries
  kClassBudget,  // the failure's class used up its max_attempts
  kNoCandidate,  // the strategy found no model to try
  kRetryBudget,  // the next wait would pass max_retry_duration_ms
  kDeadline,     // the next wait would pass the caller's deadline
  kProviderBudget,  // the server.retry_budget of every provider left to retry is spent
};
std::string_view ToString(EndReason reason);

struct Decision {
  enum class Kind {
    kAttempt,    // start an attempt at `target` after `wait`
    kDeliver,    // the last attempt's answer goes to the caller as it is
    kExhausted,  // retries exhausted: fail with the fields below
  };
  Kind kind = Kind::kDeliver;

  // kAttempt.
  const ModelProvider* target = nullptr;
  absl::Duration wait = absl::ZeroDuration();  // max(backoff, block_wait), whole ms
  absl::Duration backoff = absl::ZeroDuration();     // exponential backoff part
  absl::Duration block_wait = absl::ZeroDuration();  // Retry-After block part
  // The attempt must end by then: the earlier of the caller's deadline and
  // the end of max_retry_duration_ms (kDeadline / kRetryBudget; kNone and
  // InfiniteFuture when neither applies). The I/O layer ends an attempt
  // still running at that time with a timeout of that kind, which ends the
  // call (OnAttemptDone exhausts with the matching reason).
  absl::Time attempt_end = absl::InfiniteFuture();
  TimeoutKind attempt_end_kind = TimeoutKind::kNone;

  // kExhausted.
  EndReason end_reason = EndReason::kNone;
  absl::StatusCode code = absl::StatusCode::kOk;  // from the last failure
  std::string message;                            // human readable, no secrets
  std::string exhausted_json;  // {"error":{"type":"retry_exhausted",...}}
  // When a retry can succeed again (blocks, Retry-After); zero = not known or
  // not caused by blocks. Whole milliseconds.
  absl::Duration pushback = absl::ZeroDuration();
  bool retry_budget_exhausted = false;
  int last_http_status = 0;  // 0 when the last failure had no HTTP status
};

// A candidate a failover passed over because it cannot serve the request.
struct SkippedCandidate {
  const ModelProvider* model = nullptr;
  std::string reason;  // "not_translatable: n", "cross_interface: skip", ...
  bool operator==(const SkippedCandidate&) const = default;
};

// Why `model` cannot take a failover of the request; empty when it can.
using CandidateFilter = std::function<std::string(const ModelProvider&)>;

// Uniform doubles in [0, 1), for backoff jitter.
using RandomSource = std::function<double()>;
// A thread-local Mersenne Twister seeded from std::random_device: the
// production source. Tests inject their own.
RandomSource DefaultRandomSource();

class RetryState {
 public:
  struct Options {
    NarrowingOptions narrowing;
    // Process-wide tables. nullptr = none: `apply_to: global` then behaves
    // like `request` (used by tests and by tools without a server).
    BlockTable* global_blocks = nullptr;
    LatencyTracker* latency = nullptr;
    // Backoff jitter; empty = DefaultRandomSource().
    RandomSource random;
    // When the call must end: the caller's deadline less the margin the
    // I/O layer needs to answer before it; InfiniteFuture when none.
    absl::Time deadline = absl::InfiniteFuture();
    // The process's retry budgets (retry/retry_budgets.h). nullptr = no
    // budget: retries are limited by the policy alone.
    RetryBudgetGate* retry_budget = nullptr;
    // Asked at most once per model, only when a strategy reaches it (it may
    // translate the request: the happy path never pays for it); never for
    // the primary. Empty: a model of another provider_interface than the
    // primary's cannot serve ("provider_interface differs").
    CandidateFilter candidate_filter;
    // The process's hedge budget (server.hedge_budget); nullptr = hedges
    // are limited by max_hedges alone.
    RetryBudget* hedge_budget = nullptr;
  };

  // Where a hedge goes (Hedge()).
  struct HedgeDecision {
    const ModelProvider* target = nullptr;  // nullptr: no hedge
    bool refused_by_budget = false;         // a target existed; the budget said no
    absl::Time attempt_end = absl::InfiniteFuture();  // as Decision's
    TimeoutKind attempt_end_kind = TimeoutKind::kNone;
  };

  // `config` and `primary` (one of config's providers) must outlive the
  // state, as must the tables (the Call holds a shared_ptr to the config).
  RetryState(const Config* config, const ModelProvider* primary, Options options);
  // No process-wide tables, the default random source, no deadline: for
  // tools, and for callers not yet wired to the tables.
  RetryState(const Config* config, const ModelProvider* primary, NarrowingOptions narrowing)
      : RetryState(config, primary, WithNarrowing(std::move(narrowing))) {}

  RetryState(const RetryState&) = delete;
  RetryState& operator=(const RetryState&) = delete;

  // The first attempt. Call once.
  Decision Begin(absl::Time now);
  // After every attempt, in order, until a kDeliver or kExhausted decision.
  // `result.target` must be the target of the decision that started it.
  Decision OnAttemptDone(const AttemptResult& result, absl::Time now);

  // Hedging (retry_policy.hedge). At most two attempts run at once: the
  // attempt a decision started, and one hedge of it.
  //
  // How long the attempt just started may go without a first byte before it
  // is hedged; nullopt when it may not be (no hedge policy, max_hedges
  // spent, or the attempt cap leaves no room for one more attempt).
  std::optional<absl::Duration> HedgeDelay() const;
  // `running` had no first byte for HedgeDelay(): the hedge's target, by the
  // hedge's strategy from `running` (never a model already tried or blocked
  // by a Retry-After; a hedge never waits), after the hedge budget allowed
  // it. Counts the hedge when it returns a target.
  HedgeDecision Hedge(const ModelProvider& running, absl::Time now);
  // One attempt of a race ended while the other keeps running: the loser
  // (kHedgeLost), or a failure. Recorded and, for a failure, counted against
  // its class with its Retry-After and blocks, as OnAttemptDone would; no
  // decision is made (the other attempt's end makes it).
  void OnRacerDone(const AttemptResult& result, absl::Time now);

  // Every attempt so far, as recorded (error_type filled in or marked).
  const std::vector<AttemptResult>& attempts() const { return attempts_; }
  const ModelProvider* primary() const { return primary_; }
  const RetryPolicy* policy() const { return policy_; }
  // The targets the retry budget refused in the last decision, one per
  // provider (empty when none was refused).
  const std::vector<const ModelProvider*>& budget_denials() const { return budget_denied_; }
  // The candidates the filter refused so far, in the order they were met.
  const std::vector<SkippedCandidate>& skipped() const { return skipped_; }

 private:
  static Options WithNarrowing(NarrowingOptions narrowing) {
    Options o;
    o.narrowing = std::move(narrowing);
    return o;
  }

  // Active blocks covering one model, split by kind.
  struct BlockStatus {
    absl::Time retry_after_until = absl::InfinitePast();
    absl::Time latency_until = absl::InfinitePast();
  };
  // Where the next attempt goes, before waits are checked.
  struct Route {
    const ModelProvider* target = nullptr;  // nullptr: no candidate
    absl::Duration block_wait = absl::ZeroDuration();
    bool blocked = false;  // a block stopped or diverted the preferred target
  };

  BlockStatus BlocksOn(const ModelProvider& model, absl::Time now) const;
  // The candidate filter's verdict, asked once per model (recorded in
  // skipped_ when it refuses).
  bool Compatible(const ModelProvider& model) const;
  Usability UsabilityOf(const ModelProvider& model, absl::Time now) const;
  Strategy LatencyStrategy() const;
  Selection Select(Strategy strategy, const ModelProvider& from, absl::Time now) const;
  Route RouteFrom(const ModelProvider& from, Strategy strategy, absl::Time now) const;
  // Waits, max_retry_duration_ms, deadline and retry budget for a route;
  // `failed` is null at Begin. nullopt: the retry budget refused the target
  // (now in budget_denied_), route again.
  // kExhaust: a route whose wait passes max_retry_duration_ms or the
  // deadline ends the request; kDecline: it is declined (nullopt), for a
  // preference that has an alternative.
  enum class Overrun { kExhaust, kDecline };
  std::optional<Decision> Schedule(const ModelProvider* failed, const Route& route,
                                   absl::Time now, Overrun overrun = Overrun::kExhaust);
  // retry_after_handling.same_model_max_wait_ms: `model`'s Retry-After block
  // ends within it, so the next attempt waits for `model`; nullopt when the
  // wait is longer, does not fit the time left, or the budget refused it.
  std::optional<Decision> WaitForSameModel(const ModelProvider* failed, const ModelProvider& model,
                                           absl::Time now);
  // Appends `result` to attempts_, its error_type filled in when a failure
  // came without one.
  AttemptResult& Record(const AttemptResult& result);
  // Counts a retriable failure against its class, with its Retry-After and
  // on_errors block. Returns the class's failures so far.
  int RecordFailure(const AttemptResult& record, const Classification& c, absl::Time now);
  // The decision after the `count`-th failure of record's class.
  Decision DecideRetry(const AttemptResult& record, const Classification& c, int count,
                       absl::Time now);
  // Routes from the model that just failed and schedules, skipping providers
  // whose retry budget is spent.
  Decision Retry(const ModelProvider& failed, Strategy strategy, absl::Time now);
  bool ProviderAttempted(const ModelProvider& model) const;
  bool BudgetDenied(const ModelProvider& model) const;
  Decision Exhaust(EndReason reason, std::string why, bool blocked, bool budget,
                   absl::Time now) const;
  // Sets the attempt's end (deadline, retry budget) on a kAttempt decision.
  void CapAttempt(Decision* d) const;
  // An attempt the deadline or max_retry_duration_ms ended: the call ends.
  Decision ExhaustCutAttempt(const AttemptResult& cut, absl::Time now);

  void MergeBlock(ApplyTo apply_to, const BlockKey& key, BlockKind kind, absl::Time until);
  void RecordRetryAfter(const AttemptResult& result, absl::Time now);
  void RecordLatency(AttemptResult& record, absl::Time now);
  int& ClassCount(const ErrorClass& c);
  int FailuresInBackoffScope(const ModelProvider& next) const;

  const Config* config_;
  const ModelProvider* primary_;
  const RetryPolicy* policy_;  // nullptr: the primary has no retry_policy
  BlockTable* global_blocks_;
  LatencyTracker* latency_;
  RandomSource random_;
  absl::Time deadline_;
  RetryBudgetGate* retry_budget_;
  RetryBudget* hedge_budget_;
  int attempt_cap_;

  CandidateFilter candidate_filter_;
  std::vector<const ModelProvider*> candidates_;  // config order, allowed
  std::vector<const ModelProvider*> preferred_;   // fallback_models or allowed_models

  std::vector<AttemptResult> attempts_;
  std::vector<const ModelProvider*> attempted_;
  // Refused by the retry budget in the current decision; cleared per decision.
  std::vector<const ModelProvider*> budget_denied_;
  // The filter's verdicts so far (a cache: filled by const lookups).
  mutable std::vector<const ModelProvider*> compatible_;
  mutable std::vector<SkippedCandidate> skipped_;
  std::vector<int> rule_counts_;        // per on_status_codes entry
  std::vector<int> error_rule_counts_;  // per on_errors entry
  int hedges_ = 0;
  int default_count_ = 0;
  int timeout_count_ = 0;
  int stream_count_ = 0;
  std::vector<std::pair<BlockKey, Block>> request_blocks_;
  std::optional<absl::Time> budget_start_;
  std::optional<absl::Duration> observed_max_retry_after_;
  bool last_failure_had_retry_after_ = false;
};

}  // namespace rebound

#endif  // REBOUND_RETRY_RETRY_STATE_H_
