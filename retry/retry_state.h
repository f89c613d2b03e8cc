// The per-request decision maker of the attempt loop: the retry and failover
// engine of RETRY.md sections 3-7.
//
// RetryState is pure: it never touches a socket, a timer or the clock, and
// draws randomness from an injected source. The Call (server/call.h) reports
// what each attempt did and executes what RetryState decides: start an
// attempt at a target after a wait, deliver the answer, or fail with the
// retry_exhausted detail. Envoy's split: the RetryPolicy is immutable and
// shared; a RetryState lives for one request and is used by one thread.
//
// The rules, in the order they are applied
// ----------------------------------------
// Only the primary's retry_policy governs a request, fallbacks included.
//
// Classification (3.1, 3.2), ClassifyAttempt:
//   success    kSuccess (a complete 2xx).
//   final      any other HTTP status that is neither built-in retriable
//              (408 429 500 502 503 504 529) nor listed in on_status_codes:
//              kDeliver, the answer goes back unchanged, no retry.
//   retriable  class = the first on_status_codes entry listing the status;
//              else `default` (built-in statuses, transport errors, and
//              kOverloaded); `timeout` (every timeout kind, on_timeout);
//              `stream` (kStreamInterrupted, default strategy/attempts).
// Budgets: each class counts its failed attempts including the first, so
// max_attempts 1 = no retry. Every request has a hard cap of 10 attempts.
// NarrowingOptions: disable_retries = exactly one attempt; max_attempts lowers
// the cap; allowed_models restricts the candidates (the primary is always
// allowed) and, when non-empty, replaces fallback_models as the preferred
// order.
//
// Candidates (4): the configured providers, once each, in configuration
// order, restricted to the primary's provider_interface and to
// allowed_models. Selection is relative to the model that just failed:
//   same_model          that model again; if a Retry-After block covers it,
//                       wait for the block (when the wait fits the deadline
//                       and max_retry_duration_ms), else end.
//   same_provider       the first preferred (fallback_models) entry with the
//                       same provider, then the first candidate with it;
//   different_provider  the same with a different provider.
// Failover strategies skip the failed model, attempted models and blocked
// ones. No candidate left = exhausted.
//
// First attempt: an unblocked primary is attempted at once. A primary under
// a Retry-After block starts where default_strategy would send a retry
// relative to the primary (same_model: wait or end).
//
// Waiting (5): backoff applies when the next target relates to the failed
// model as backoff.apply_to says; delay = min(max_ms, base_ms * 2^k) with k
// the failures of this request in that scope before the one that just
// happened (scenario 6: 500 ms, then 1000 ms); jitter picks uniformly in
// [delay/2, delay]. A Retry-After wait applies only when the next target is
// covered by a Retry-After block (so a failover to an unblocked model never
// waits for it). Wait = max(backoff, block wait), rounded up to a whole
// millisecond (never starts an attempt before the block ends).
//
// Blocks (6): every retriable HTTP response with a valid Retry-After (any of
// the headers of 3.3, capped at max_retry_after_seconds) creates a block
// keyed per retry_after_handling.scope, in the global BlockTable or in the
// request (apply_to). A 2xx slower than on_high_latency.threshold_ms is
// delivered, marked `high_latency_<measured>ms_threshold_<threshold>ms`, and
// counted; min_triggers events inside the window create a latency block.
//
// Exhaustion (7): Decision::kExhausted with the gRPC code of the last
// failure, the plano-compatible JSON, the pushback and retry_budget_exhausted
// (plano's field: true when max_retry_duration_ms ended the call). After
// plano's fields the JSON adds "exhausted_reason", the EndReason's name (the
// reason label of rebound_exhaustions_total), so a caller can tell a spent
// provider retry budget ("provider_retry_budget") from the others without
// parsing the message.
//
// Retry budget (server.retry_budget, server/retry_budget.h): against retry
// storms, an optional RetryBudgetGate limits, per provider, the retries to a
// share of the provider's recent first attempts plus a floor.
//   - An attempt at provider P is a *first attempt* when this call has not
//     attempted P before (any model of P), else a *retry* at P. Failover to
//     another provider is therefore a first attempt there: failover is what
//     the gateway is for, and it is not a storm on any one provider. What the
//     budget guarantees: within any window, no provider receives more than
//     (1 + percent/100) x the calls that reach it, plus
//     min_retries_per_second x window_seconds.
//   - The budget is consulted when a decision commits to a target, after the
//     waits were checked against max_retry_duration_ms and the deadline (a
//     retry that is not sent for those reasons costs nothing): a first
//     attempt is recorded, a retry withdraws one unit. The withdrawal happens
//     before the backoff wait, as Finagle's does: a call cancelled during the
//     wait has spent it.
//   - A retry the budget refuses skips every candidate at that provider for
//     this decision; the strategy then picks the next candidate (same_model
//     has none). No candidate left with at least one refusal: the call ends
//     kExhausted with EndReason::kProviderBudget ("provider_retry_budget").
//     budget_denials() lists the refused providers of the last decision, for
//     the rebound_retry_budget_skips_total metric (one per provider and
//     decision: each is one retry not sent).
//   - The first attempt of a call (Begin) is never refused, with or without
//     a retry_policy: the budget limits the gateway's own retries, not the
//     callers' traffic. Calls without a policy still record it.
//   - A call the budget ended gets no pushback of its own (only the usual
//     one when blocks were involved): the budget refills as traffic arrives,
//     and a caller's own retry is a first attempt, which is never refused.
//
// Decisions where RETRY.md is silent
// ----------------------------------
// - kOverloaded (the gateway's own per-provider connection limit) is class
//   `default`, like a transport error: another provider may have room. It
//   counts as an attempt. When it ends a request the code is
//   RESOURCE_EXHAUSTED (gateway overload, ARCHITECTURE.md).
// - No retry_policy on the primary: one attempt at the primary, delivered as
//   it is (kDeliver), even when the primary is blocked, and the request
//   creates no blocks: without a policy there is no scope, cap or
//   alternative, so the model is a plain pass-through.
// - Every request with a policy honours every active global block, whatever
//   scope and apply_to its own policy has: a global block is a fact about the
//   upstream ("openai said wait 60 s"); scope and apply_to decide how the
//   request's own signals are keyed and shared.
// - Latency blocks deprioritise; Retry-After blocks exclude. A Retry-After
//   block predicts failure, a latency block only slowness, and refusing
//   service because a model was once slow would turn slowness into an
//   outage. So:
//   * a latency-blocked candidate is skipped, but when a failover finds no
//     other candidate, the first latency-blocked one (in preference order) is
//     used rather than ending the request;
//   * the engine never waits for a latency block;
//   * when the request's preferred target (the primary at the first attempt,
//     or the same_model target of a retry) is covered by a latency block
//     only, the alternative is chosen with on_high_latency.strategy (or
//     default_strategy when the policy has no on_high_latency) relative to
//     that target; `same_model`, or no alternative, sends to the target
//     anyway.
//   * on_high_latency.max_attempts has no runtime effect: a slow answer is
//     delivered, never retried, so there is no latency failure to count.
//     (It is validated and kept for plano compatibility.)
// - Blocks of the two kinds coexist per key, each with its own deadline
//   (section 6's "later deadline wins" applies within a kind): a Retry-After
//   block is waited for or routed around as section 4 says whatever latency
//   block also covers the model.
// - With apply_to: request, a latency event can only ever be this request's
//   one slow success, which ends the request: such blocks never affect
//   routing. They are still recorded, for consistency.
// - Retry-After is read from HTTP error responses only (kHttpError); a
//   timeout, transport error or interrupted stream carries no usable header.
//   A zero wait (e.g. an HTTP-date in the past) creates no block but counts
//   as observed.
// - max_retry_duration_ms starts at the first failure, or when the first
//   attempt finds the primary blocked. A wait that would end at or after
//   the budget's end is not started: an attempt starting then would end
//   after it. Attempt durations are not predicted.
// - The caller's deadline (requests with a policy): no wait is started
//   unless it ends before the deadline; no attempt starts at or after it.
//   Attempt durations are not predicted. Instead every attempt decision
//   carries attempt_end, the earlier of the deadline and the end of
//   max_retry_duration_ms (once it has started), and the I/O layer ends an
//   attempt still running then with a timeout of kind kDeadline or
//   kRetryBudget. Such an attempt is recorded (error_type
//   timeout_<ms>ms, ms = the time it was allowed) and ends the call at once
//   as exhausted with reason deadline or retry_budget: no wait or attempt
//   could fit anyway. Its code is the timeout's, DEADLINE_EXCEEDED. Calls
//   without a policy are bounded by the deadline the same way.
// - kResponseTooLarge is final: the answer is not retried (another provider
//   would bill the same large answer again).
// - ttfb is used when measured; an answer without a first body byte falls
//   back to the total duration. "Above threshold_ms" is strict (>).
// - Pushback (Decision::pushback, grpc-retry-pushback-ms) is set only when
//   blocks or Retry-After caused the end: a block stopped the chosen target
//   or was the reason a candidate was skipped, or the last failure carried a
//   Retry-After. It is then the shortest remaining Retry-After block over
//   the request's candidates, else the largest observed (capped)
//   Retry-After. shortest_remaining_block_seconds in the JSON is the same
//   shortest Retry-After block: latency blocks never stop an attempt, so
//   they do not say when a retry can succeed.
// - Exhaustion with no attempt at all (first attempt blocked, nothing to
//   wait for within the deadline/budget): RESOURCE_EXHAUSTED, or
//   DEADLINE_EXCEEDED when only the deadline stopped it; attempts [].
// - JSON numbers: integers when whole, else milliseconds precision without
//   trailing zeros ("2", "1.5", "0.25"); null when unknown (no Retry-After
//   observed, no candidate blocked). Strings are JSON-escaped.
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
#include "retry/latency_tracker.h"
#include "retry/retry_budget_gate.h"

namespace rebound {

// Caller options that can only narrow the policy (CompletionRequest.retry).
struct NarrowingOptions {
  bool disable_retries = false;
  int max_attempts = 0;  // <= 0 = no extra cap
  // Empty = no restriction. Null entries (unknown models) are ignored; the
  // Call rejects such requests before the first attempt.
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

// Uniform doubles in [0, 1), for backoff jitter.
using RandomSource = std::function<double()>;
// A thread-local Mersenne Twister seeded from std::random_device: the
// production source. Tests inject their own.
RandomSource DefaultRandomSource();

// ---------------------------------------------------------------------------
// Decision helpers, pure and exposed for tests.

enum class Outcome { kSuccess, kFinal, kRetriable };

// The error class of a retriable failure.
struct ErrorClass {
  enum class Kind { kStatusRule, kDefault, kTimeout, kStream };
  Kind kind = Kind::kDefault;
  int rule_index = -1;  // kStatusRule: index into on_status_codes
  bool operator==(const ErrorClass&) const = default;
};

struct Classification {
  Outcome outcome = Outcome::kSuccess;
  ErrorClass error_class;  // kRetriable only
  ClassPolicy policy;      // kRetriable only: strategy and max_attempts
};

// Section 3.1/3.2 for one attempt under `policy`.
Classification ClassifyAttempt(const RetryPolicy& policy, const AttemptResult& result);

// "default", "timeout", "stream" or "on_status_codes[i]".
std::string ErrorClassName(const ErrorClass& c);

// min(max_ms, base_ms * 2^k); with jitter, delay/2 + random01 * delay/2
// (random01 in [0, 1), clamped). Rounded up to a whole millisecond.
absl::Duration ComputeBackoff(const BackoffPolicy& backoff, int k, double random01);

// Whether a retry at `next` after a failure of `failed` is in the backoff
// scope `apply_to`.
bool BackoffApplies(BackoffApplyTo apply_to, const ModelProvider& failed,
                    const ModelProvider& next);

// How a candidate stands for a failover.
enum class Usability { kUsable, kLatencyBlocked, kBlocked, kAttempted, kBudgetDenied };

struct Selection {
  const ModelProvider* target = nullptr;  // nullptr: nothing to try
  bool last_resort = false;     // target is latency-blocked; nothing better was left
  bool skipped_blocked = false;  // some qualifying candidate was passed over for a block
};

// same_provider / different_provider relative to `failed` (same_model is not
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

// ---------------------------------------------------------------------------

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
    // The process's retry budgets (server/retry_budgets.h). nullptr = no
    // budget: retries are limited by the policy alone.
    RetryBudgetGate* retry_budget = nullptr;
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

  // Every attempt so far, as recorded (error_type filled in or marked).
  const std::vector<AttemptResult>& attempts() const { return attempts_; }
  const ModelProvider* primary() const { return primary_; }
  const RetryPolicy* policy() const { return policy_; }
  // The targets the retry budget refused in the last decision, one per
  // provider (empty when none was refused).
  const std::vector<const ModelProvider*>& budget_denials() const { return budget_denied_; }

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
  Usability UsabilityOf(const ModelProvider& model, absl::Time now) const;
  Strategy LatencyStrategy() const;
  Selection Select(Strategy strategy, const ModelProvider& from, absl::Time now) const;
  Route RouteFrom(const ModelProvider& from, Strategy strategy, absl::Time now) const;
  // Waits, max_retry_duration_ms, deadline and retry budget for a route;
  // `failed` is null at Begin. nullopt: the retry budget refused the target
  // (now in budget_denied_), route again.
  std::optional<Decision> Schedule(const ModelProvider* failed, const Route& route,
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
  int attempt_cap_;

  std::vector<const ModelProvider*> candidates_;  // config order, allowed, same interface
  std::vector<const ModelProvider*> preferred_;   // fallback_models or allowed_models

  std::vector<AttemptResult> attempts_;
  std::vector<const ModelProvider*> attempted_;
  // Refused by the retry budget in the current decision; cleared per decision.
  std::vector<const ModelProvider*> budget_denied_;
  std::vector<int> rule_counts_;  // per on_status_codes entry
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
