#include "retry/retry_state.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "codec/json_scan.h"
#include "codec/rate_limit_headers.h"
#include "retry/status_mapping.h"

namespace rebound {
namespace {

// RETRY.md 3.2: whatever the classes add up to.
constexpr int kHardAttemptCap = 10;

absl::Duration CeilMs(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return absl::ZeroDuration();
  return absl::Ceil(d, absl::Milliseconds(1));
}

bool Contains(const std::vector<const ModelProvider*>& v, const ModelProvider* m) {
  return std::find(v.begin(), v.end(), m) != v.end();
}

std::string SecondsText(absl::Duration d) { return absl::StrCat(FormatJsonSeconds(d), " s"); }

}  // namespace

std::string_view ToString(EndReason reason) {
  switch (reason) {
    case EndReason::kNone: return "none";
    case EndReason::kAttemptCap: return "attempt_cap";
    case EndReason::kClassBudget: return "class_budget";
    case EndReason::kNoCandidate: return "no_candidate";
    case EndReason::kRetryBudget: return "retry_budget";
    case EndReason::kDeadline: return "deadline";
    case EndReason::kProviderBudget: return "provider_retry_budget";
  }
  return "unknown";
}

RandomSource DefaultRandomSource() {
  return [] {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
  };
}

// ---------------------------------------------------------------------------
// Pure helpers

// Whether an on_errors entry may route `result`: any failure the provider
// explained, and a success only when it is a content-filter refusal. An
// answer too large and a hedge's loser are never retried.
bool ErrorRuleApplies(const AttemptResult& result) {
  switch (result.kind) {
    case AttemptResult::Kind::kSuccess:
      return result.provider_error == ProviderErrorClass::kContentFilter;
    case AttemptResult::Kind::kResponseTooLarge:
    case AttemptResult::Kind::kHedgeLost:
      return false;
    default:
      return true;
  }
}

Classification ClassifyAttempt(const RetryPolicy& policy, const AttemptResult& result) {
  Classification c;
  const ClassPolicy defaults{policy.default_strategy, policy.default_max_attempts, std::nullopt};
  if (const ErrorRule* rule = policy.RuleForError(result.provider_error);
      rule != nullptr && ErrorRuleApplies(result)) {
    c.outcome = Outcome::kRetriable;
    c.error_class = {ErrorClass::Kind::kErrorRule, static_cast<int>(rule - policy.on_errors.data())};
    c.policy = rule->policy;
    c.error_rule = rule;
    return c;
  }
  switch (result.kind) {
    case AttemptResult::Kind::kSuccess:
      c.outcome = Outcome::kSuccess;
      return c;
    case AttemptResult::Kind::kResponseTooLarge:
    case AttemptResult::Kind::kHedgeLost:
      c.outcome = Outcome::kFinal;
      return c;
    case AttemptResult::Kind::kHttpError:
      if (const StatusCodeRule* rule = policy.RuleForStatus(result.http_status)) {
        c.outcome = Outcome::kRetriable;
        c.error_class = {ErrorClass::Kind::kStatusRule,
                         static_cast<int>(rule - policy.on_status_codes.data())};
        c.policy = rule->policy;
        return c;
      }
      if (!IsRetriableStatus(result.http_status)) {
        c.outcome = Outcome::kFinal;
        return c;
      }
      c.outcome = Outcome::kRetriable;
      c.error_class = {ErrorClass::Kind::kDefault, -1};
      c.policy = defaults;
      return c;
    case AttemptResult::Kind::kTimeout:
      c.outcome = Outcome::kRetriable;
      c.error_class = {ErrorClass::Kind::kTimeout, -1};
      c.policy = policy.on_timeout;
      return c;
    case AttemptResult::Kind::kStreamInterrupted:
      c.outcome = Outcome::kRetriable;
      c.error_class = {ErrorClass::Kind::kStream, -1};
      c.policy = defaults;
      return c;
    case AttemptResult::Kind::kTransportError:
    case AttemptResult::Kind::kOverloaded:
      c.outcome = Outcome::kRetriable;
      c.error_class = {ErrorClass::Kind::kDefault, -1};
      c.policy = defaults;
      return c;
  }
  return c;
}

std::string ErrorClassName(const ErrorClass& c) {
  switch (c.kind) {
    case ErrorClass::Kind::kStatusRule: return absl::StrCat("on_status_codes[", c.rule_index, "]");
    case ErrorClass::Kind::kErrorRule: return absl::StrCat("on_errors[", c.rule_index, "]");
    case ErrorClass::Kind::kDefault: return "default";
    case ErrorClass::Kind::kTimeout: return "timeout";
    case ErrorClass::Kind::kStream: return "stream";
  }
  return "default";
}

std::optional<Strategy> StepStrategy(const ClassPolicy& policy, int failures) {
  if (failures < policy.max_attempts) return policy.strategy;
  if (policy.then && failures < policy.max_attempts + policy.then->max_attempts) {
    return policy.then->strategy;
  }
  return std::nullopt;
}

absl::Duration ComputeBackoff(const BackoffPolicy& backoff, int k, double random01) {
  int64_t delay_ms = std::max<int64_t>(backoff.base_ms, 0);
  // Doubling stops at max_ms, so neither the shift nor k can overflow.
  for (int i = 0; i < k && delay_ms < backoff.max_ms; ++i) delay_ms *= 2;
  delay_ms = std::min(delay_ms, backoff.max_ms);
  absl::Duration delay = absl::Milliseconds(delay_ms);
  if (!backoff.jitter) return delay;
  double r = std::clamp(random01, 0.0, 1.0);
  absl::Duration half = delay / 2;
  return CeilMs(half + (delay - half) * r);
}

bool BackoffApplies(BackoffApplyTo apply_to, const ModelProvider& failed,
                    const ModelProvider& next) {
  switch (apply_to) {
    case BackoffApplyTo::kSameModel: return &failed == &next || failed.model_id == next.model_id;
    case BackoffApplyTo::kSameProvider: return failed.provider == next.provider;
    case BackoffApplyTo::kGlobal: return true;
  }
  return true;
}

Selection SelectFailover(Strategy strategy, const ModelProvider& failed,
                         const std::vector<const ModelProvider*>& preferred,
                         const std::vector<const ModelProvider*>& candidates,
                         absl::FunctionRef<Usability(const ModelProvider&)> usability) {
  Selection out;
  const ModelProvider* last_resort = nullptr;
  const bool same_provider = strategy == Strategy::kSameProvider;
  // True when `m` is taken.
  auto consider = [&](const ModelProvider* m) {
    if (m == nullptr || m == &failed) return false;
    if (strategy == Strategy::kLargerContext) {
      if (m->context_window <= failed.context_window) return false;
    } else if ((m->provider == failed.provider) != same_provider) {
      return false;
    }
    switch (usability(*m)) {
      case Usability::kUsable:
        out.target = m;
        return true;
      case Usability::kLatencyBlocked:
        out.skipped_blocked = true;
        if (last_resort == nullptr) last_resort = m;
        return false;
      case Usability::kBlocked:
        out.skipped_blocked = true;
        return false;
      case Usability::kAttempted:
      case Usability::kBudgetDenied:
      case Usability::kIncompatible:
        return false;
    }
    return false;
  };
  for (const ModelProvider* m : preferred) {
    if (consider(m)) return out;
  }
  for (const ModelProvider* m : candidates) {
    if (consider(m)) return out;
  }
  if (last_resort != nullptr) {
    out.target = last_resort;
    out.last_resort = true;
  }
  return out;
}

std::string FormatJsonSeconds(absl::Duration d) {
  int64_t ms = absl::ToInt64Milliseconds(CeilMs(d));
  std::string out = absl::StrCat(ms / 1000);
  int64_t frac = ms % 1000;
  if (frac == 0) return out;
  std::string digits = absl::StrCat(frac + 1000).substr(1);  // three digits, zero-padded
  while (digits.back() == '0') digits.pop_back();
  return absl::StrCat(out, ".", digits);
}

// ---------------------------------------------------------------------------
// RetryState

RetryState::RetryState(const Config* config, const ModelProvider* primary, Options options)
    : config_(config),
      primary_(primary),
      policy_(primary->retry_policy ? &*primary->retry_policy : nullptr),
      global_blocks_(options.global_blocks),
      latency_(options.latency),
      random_(options.random ? std::move(options.random) : DefaultRandomSource()),
      deadline_(options.deadline),
      retry_budget_(options.retry_budget),
      hedge_budget_(options.hedge_budget),
      candidate_filter_(std::move(options.candidate_filter)) {
  const NarrowingOptions& narrow = options.narrowing;
  attempt_cap_ = kHardAttemptCap;
  if (narrow.max_attempts > 0) attempt_cap_ = std::min(attempt_cap_, narrow.max_attempts);
  if (narrow.disable_retries || policy_ == nullptr) attempt_cap_ = 1;
  if (policy_ == nullptr) return;
  rule_counts_.assign(policy_->on_status_codes.size(), 0);
  error_rule_counts_.assign(policy_->on_errors.size(), 0);

  std::vector<const ModelProvider*> allowed;
  for (const ModelProvider* m : narrow.allowed_models) {
    if (m != nullptr && !Contains(allowed, m)) allowed.push_back(m);
  }
  auto eligible = [&](const ModelProvider* m) {
    return m != nullptr && (allowed.empty() || m == primary_ || Contains(allowed, m));
  };
  for (const ModelProvider& m : config_->providers) {
    if (eligible(&m) && !Contains(candidates_, &m)) candidates_.push_back(&m);
  }
  if (!allowed.empty()) {
    for (const ModelProvider* m : allowed) {
      if (eligible(m)) preferred_.push_back(m);
    }
  } else {
    for (const std::string& id : policy_->fallback_models) {
      const ModelProvider* m = config_->Find(id);
      if (eligible(m) && !Contains(preferred_, m)) preferred_.push_back(m);
    }
  }
}

RetryState::BlockStatus RetryState::BlocksOn(const ModelProvider& model, absl::Time now) const {
  BlockStatus s;
  auto add = [&](const Block& b) {
    if (b.until <= now) return;
    absl::Time& t = b.kind == BlockKind::kRetryAfter ? s.retry_after_until : s.latency_until;
    t = std::max(t, b.until);
  };
  if (global_blocks_ != nullptr) {
    CoveringBlocks c = global_blocks_->Covering(model, now);
    s.retry_after_until = c.retry_after_until;
    s.latency_until = c.latency_until;
  }
  for (const auto& [key, block] : request_blocks_) {
    if (key.name == (key.scope == BlockScope::kModel ? model.model_id : model.provider)) add(block);
  }
  return s;
}

bool RetryState::Compatible(const ModelProvider& model) const {
  if (&model == primary_ || Contains(compatible_, &model)) return true;
  for (const SkippedCandidate& s : skipped_) {
    if (s.model == &model) return false;
  }
  std::string reason;
  if (candidate_filter_) {
    reason = candidate_filter_(model);
  } else if (model.interface != primary_->interface) {
    reason = "provider_interface differs";
  }
  if (reason.empty()) {
    compatible_.push_back(&model);
    return true;
  }
  skipped_.push_back({&model, std::move(reason)});
  return false;
}

bool RetryState::ProviderAttempted(const ModelProvider& model) const {
  for (const ModelProvider* m : attempted_) {
    if (m->provider == model.provider) return true;
  }
  return false;
}

bool RetryState::BudgetDenied(const ModelProvider& model) const {
  for (const ModelProvider* m : budget_denied_) {
    if (m->provider == model.provider) return true;
  }
  return false;
}

Usability RetryState::UsabilityOf(const ModelProvider& model, absl::Time now) const {
  if (!Compatible(model)) return Usability::kIncompatible;
  if (Contains(attempted_, &model)) return Usability::kAttempted;
  if (BudgetDenied(model)) return Usability::kBudgetDenied;
  BlockStatus b = BlocksOn(model, now);
  if (b.retry_after_until > now) return Usability::kBlocked;
  if (b.latency_until > now) return Usability::kLatencyBlocked;
  return Usability::kUsable;
}

Strategy RetryState::LatencyStrategy() const {
  return policy_->on_high_latency ? policy_->on_high_latency->policy.strategy
                                  : policy_->default_strategy;
}

Selection RetryState::Select(Strategy strategy, const ModelProvider& from, absl::Time now) const {
  return SelectFailover(strategy, from, preferred_, candidates_,
                        [&](const ModelProvider& m) { return UsabilityOf(m, now); });
}

RetryState::Route RetryState::RouteFrom(const ModelProvider& from, Strategy strategy,
                                        absl::Time now) const {
  Route route;
  if (strategy == Strategy::kSameModel) {
    if (BudgetDenied(from)) return route;  // nothing else to try
    BlockStatus b = BlocksOn(from, now);
    route.target = &from;
    if (b.retry_after_until > now) {
      route.block_wait = b.retry_after_until - now;
      route.blocked = true;
    } else if (b.latency_until > now) {
      // Waiting out a latency block is never useful: reroute, or go anyway.
      Strategy alternative = LatencyStrategy();
      if (alternative != Strategy::kSameModel) {
        Selection s = Select(alternative, from, now);
        if (s.target != nullptr) route.target = s.target;
      }
    }
    return route;
  }
  Selection s = Select(strategy, from, now);
  route.target = s.target;
  route.blocked = s.skipped_blocked;
  return route;
}

int RetryState::FailuresInBackoffScope(const ModelProvider& next) const {
  int n = 0;
  for (const AttemptResult& a : attempts_) {
    if (a.kind == AttemptResult::Kind::kSuccess || a.kind == AttemptResult::Kind::kHedgeLost) {
      continue;
    }
    switch (policy_->backoff->apply_to) {
      case BackoffApplyTo::kSameModel: n += a.target->model_id == next.model_id; break;
      case BackoffApplyTo::kSameProvider: n += a.target->provider == next.provider; break;
      case BackoffApplyTo::kGlobal: ++n; break;
    }
  }
  return n;
}

std::optional<Decision> RetryState::Schedule(const ModelProvider* failed, const Route& route,
                                             absl::Time now, Overrun overrun) {
  Decision d;
  d.kind = Decision::Kind::kAttempt;
  d.target = route.target;
  if (failed != nullptr && policy_->backoff &&
      BackoffApplies(policy_->backoff->apply_to, *failed, *route.target)) {
    // The failure that just happened is in scope, so k counts the earlier ones.
    int k = std::max(FailuresInBackoffScope(*route.target) - 1, 0);
    d.backoff = ComputeBackoff(*policy_->backoff, k,
                               policy_->backoff->jitter ? random_() : 1.0);
  }
  d.block_wait = CeilMs(route.block_wait);
  d.wait = std::max(d.backoff, d.block_wait);

  const absl::Time start = now + d.wait;
  if (budget_start_ && policy_->max_retry_duration_ms) {
    absl::Time budget_end = *budget_start_ + absl::Milliseconds(*policy_->max_retry_duration_ms);
    if (start >= budget_end) {
      if (overrun == Overrun::kDecline) return std::nullopt;
      return Exhaust(EndReason::kRetryBudget,
                     absl::StrCat("max_retry_duration_ms (", *policy_->max_retry_duration_ms,
                                  ") leaves no time for a wait of ", SecondsText(d.wait), " before ",
                                  route.target->model_id),
                     route.blocked, /*budget=*/true, now);
    }
  }
  if (start >= deadline_) {
    if (overrun == Overrun::kDecline) return std::nullopt;
    return Exhaust(EndReason::kDeadline,
                   absl::StrCat("the caller's deadline passes before a wait of ",
                                SecondsText(d.wait), " before ", route.target->model_id, " ends"),
                   route.blocked, /*budget=*/false, now);
  }
  if (retry_budget_ != nullptr) {
    if (!ProviderAttempted(*route.target)) {
      retry_budget_->RecordFirstAttempt(route.target->provider, now);
    } else if (!retry_budget_->TryWithdrawRetry(route.target->provider, now)) {
      budget_denied_.push_back(route.target);
      return std::nullopt;
    }
  }
  if (!Contains(attempted_, route.target)) attempted_.push_back(route.target);
  CapAttempt(&d);
  return d;
}

void RetryState::CapAttempt(Decision* d) const {
  if (deadline_ != absl::InfiniteFuture()) {
    d->attempt_end = deadline_;
    d->attempt_end_kind = TimeoutKind::kDeadline;
  }
  if (policy_ != nullptr && budget_start_ && policy_->max_retry_duration_ms) {
    absl::Time budget_end = *budget_start_ + absl::Milliseconds(*policy_->max_retry_duration_ms);
    if (budget_end < d->attempt_end) {
      d->attempt_end = budget_end;
      d->attempt_end_kind = TimeoutKind::kRetryBudget;
    }
  }
}

Decision RetryState::ExhaustCutAttempt(const AttemptResult& cut, absl::Time now) {
  if (!budget_start_) budget_start_ = now;
  if (cut.timeout_kind == TimeoutKind::kRetryBudget) {
    return Exhaust(EndReason::kRetryBudget,
                   absl::StrCat("max_retry_duration_ms (", *policy_->max_retry_duration_ms,
                                ") ended the attempt at ", cut.target->model_id, " after ",
                                cut.timeout_ms, " ms"),
                   /*blocked=*/false, /*budget=*/true, now);
  }
  return Exhaust(EndReason::kDeadline,
                 absl::StrCat("the caller's deadline ended the attempt at ", cut.target->model_id,
                              " after ", cut.timeout_ms, " ms"),
                 /*blocked=*/false, /*budget=*/false, now);
}

Decision RetryState::Retry(const ModelProvider& failed, Strategy strategy, absl::Time now) {
  // Each turn decides, or adds a provider to budget_denied_ (whose models
  // routing then skips), so the loop ends within one turn per provider.
  while (true) {
    Route route = RouteFrom(failed, strategy, now);
    if (route.target == nullptr && !budget_denied_.empty()) {
      std::string providers;
      for (const ModelProvider* m : budget_denied_) {
        absl::StrAppend(&providers, providers.empty() ? "" : ", ", m->provider);
      }
      const bool several = budget_denied_.size() > 1;
      return Exhaust(EndReason::kProviderBudget,
                     absl::StrCat("the retry budget (server.retry_budget) of provider",
                                  several ? "s " : " ", providers, several ? " are" : " is",
                                  " spent and ", std::string(ToString(strategy)),
                                  " finds no other model to try after ", failed.model_id),
                     route.blocked, false, now);
    }
    if (route.target == nullptr) {
      return Exhaust(EndReason::kNoCandidate,
                     absl::StrCat(std::string(ToString(strategy)),
                                  " finds no model left to try after ", failed.model_id),
                     route.blocked, false, now);
    }
    if (std::optional<Decision> d = Schedule(&failed, route, now)) return *std::move(d);
  }
}

Decision RetryState::Begin(absl::Time now) {
  budget_denied_.clear();
  if (policy_ == nullptr) {
    // No policy: a plain pass-through, blocks neither honoured nor created.
    // Its attempt still earns the provider's retry budget its share.
    if (retry_budget_ != nullptr) retry_budget_->RecordFirstAttempt(primary_->provider, now);
    attempted_.push_back(primary_);
    Decision d;
    d.kind = Decision::Kind::kAttempt;
    d.target = primary_;
    CapAttempt(&d);
    return d;
  }
  // Every call that may hedge earns the hedge budget its share.
  if (policy_->hedge && hedge_budget_ != nullptr) hedge_budget_->RecordFirstAttempt(now);
  BlockStatus b = BlocksOn(*primary_, now);
  Route route;
  if (b.retry_after_until > now) {
    budget_start_ = now;
    if (std::optional<Decision> d = WaitForSameModel(nullptr, *primary_, now)) return *d;
    route = RouteFrom(*primary_, policy_->default_strategy, now);
    route.blocked = true;
    if (route.target == nullptr) {
      return Exhaust(EndReason::kNoCandidate,
                     absl::StrCat(primary_->model_id, " is blocked and ",
                                  std::string(ToString(policy_->default_strategy)),
                                  " finds no other model"),
                     /*blocked=*/true, /*budget=*/false, now);
    }
  } else if (b.latency_until > now) {
    budget_start_ = now;
    route = RouteFrom(*primary_, Strategy::kSameModel, now);  // reroutes per LatencyStrategy
    if (route.target == nullptr) route.target = primary_;     // a slow answer beats none
  } else {
    route.target = primary_;
  }
  // Nothing was attempted yet, so this is a first attempt wherever it goes:
  // the budget records it and never refuses it.
  return *Schedule(nullptr, route, now);
}

void RetryState::MergeBlock(ApplyTo apply_to, const BlockKey& key, BlockKind kind,
                            absl::Time until) {
  if (apply_to == ApplyTo::kGlobal && global_blocks_ != nullptr) {
    global_blocks_->Merge(key, kind, until);
    return;
  }
  for (auto& [k, block] : request_blocks_) {
    if (k == key && block.kind == kind) {
      block.until = std::max(block.until, until);
      return;
    }
  }
  request_blocks_.emplace_back(key, Block{kind, until, ""});
}

void RetryState::RecordRetryAfter(const AttemptResult& result, absl::Time now) {
  last_failure_had_retry_after_ = false;
  if (result.kind != AttemptResult::Kind::kHttpError) return;
  std::optional<absl::Duration> wait = RetryAfterFromHeaders(result.headers, result.http_status, now);
  if (!wait) return;
  const RetryAfterPolicy& ra = policy_->retry_after;
  absl::Duration capped = CapRetryAfter(*wait, ra.max_retry_after_seconds);
  last_failure_had_retry_after_ = true;
  observed_max_retry_after_ = std::max(observed_max_retry_after_.value_or(capped), capped);
  if (capped > absl::ZeroDuration()) {
    MergeBlock(ra.apply_to, BlockKey::For(ra.scope, *result.target), BlockKind::kRetryAfter,
               now + capped);
  }
}

void RetryState::RecordLatency(AttemptResult& record, absl::Time now) {
  if (!policy_->on_high_latency) return;
  const HighLatencyPolicy& hl = *policy_->on_high_latency;
  absl::Duration measured = hl.measure == LatencyMeasure::kTtfb && record.ttfb > absl::ZeroDuration()
                                ? record.ttfb
                                : record.duration;
  if (measured <= absl::Milliseconds(hl.threshold_ms)) return;
  record.error_type = absl::StrCat("high_latency_", absl::ToInt64Milliseconds(CeilMs(measured)),
                                   "ms_threshold_", hl.threshold_ms, "ms");
  BlockKey key = BlockKey::For(hl.scope, *record.target);
  bool triggered;
  if (hl.apply_to == ApplyTo::kGlobal && latency_ != nullptr) {
    triggered = latency_->RecordSlow(key, now, absl::Seconds(hl.trigger_window_seconds),
                                     hl.min_triggers);
  } else {
    // A request sees one slow success at most (it ends the request).
    triggered = hl.min_triggers <= 1;
  }
  if (triggered) {
    MergeBlock(hl.apply_to, key, BlockKind::kLatency,
               now + absl::Seconds(hl.block_duration_seconds));
  }
}

int& RetryState::ClassCount(const ErrorClass& c) {
  switch (c.kind) {
    case ErrorClass::Kind::kStatusRule: return rule_counts_[c.rule_index];
    case ErrorClass::Kind::kErrorRule: return error_rule_counts_[c.rule_index];
    case ErrorClass::Kind::kTimeout: return timeout_count_;
    case ErrorClass::Kind::kStream: return stream_count_;
    case ErrorClass::Kind::kDefault: break;
  }
  return default_count_;
}

AttemptResult& RetryState::Record(const AttemptResult& result) {
  AttemptResult& record = attempts_.emplace_back(result);
  if (record.kind != AttemptResult::Kind::kSuccess && record.error_type.empty()) {
    record.error_type = DefaultErrorType(record);
  }
  return record;
}

Decision RetryState::OnAttemptDone(const AttemptResult& result, absl::Time now) {
  budget_denied_.clear();
  AttemptResult& record = Record(result);
  if (policy_ == nullptr) return Decision{};  // kDeliver: the answer as it is
  if (record.kind == AttemptResult::Kind::kTimeout &&
      (record.timeout_kind == TimeoutKind::kDeadline ||
       record.timeout_kind == TimeoutKind::kRetryBudget)) {
    return ExhaustCutAttempt(record, now);
  }

  Classification c = ClassifyAttempt(*policy_, record);
  if (c.outcome == Outcome::kSuccess) {
    RecordLatency(record, now);
    return Decision{};
  }
  if (c.outcome == Outcome::kFinal) return Decision{};

  int count = RecordFailure(record, c, now);
  Decision d = DecideRetry(record, c, count, now);
  // A content-filter refusal no other model can be asked for is still the
  // provider's answer: the caller gets it rather than an error.
  if (d.kind == Decision::Kind::kExhausted && record.kind == AttemptResult::Kind::kSuccess) {
    return Decision{};
  }
  return d;
}

int RetryState::RecordFailure(const AttemptResult& record, const Classification& c,
                              absl::Time now) {
  if (!budget_start_) budget_start_ = now;
  RecordRetryAfter(record, now);
  if (c.error_rule != nullptr && c.error_rule->block_duration_seconds) {
    MergeBlock(policy_->retry_after.apply_to, BlockKey::For(c.error_rule->block_scope, *record.target),
               BlockKind::kRetryAfter, now + absl::Seconds(*c.error_rule->block_duration_seconds));
  }
  return ++ClassCount(c.error_class);
}

Decision RetryState::DecideRetry(const AttemptResult& record, const Classification& c, int count,
                                 absl::Time now) {
  const int attempts = static_cast<int>(attempts_.size());
  if (attempts >= attempt_cap_) {
    return Exhaust(EndReason::kAttemptCap,
                   absl::StrCat("the request allows ", attempt_cap_, " attempt",
                                attempt_cap_ == 1 ? "" : "s"),
                   false, false, now);
  }
  std::optional<Strategy> strategy = StepStrategy(c.policy, count);
  if (!strategy) {
    const int allowed = c.policy.max_attempts + (c.policy.then ? c.policy.then->max_attempts : 0);
    return Exhaust(EndReason::kClassBudget,
                   absl::StrCat("class ", ErrorClassName(c.error_class), " allows ", allowed,
                                " attempt", allowed == 1 ? "" : "s",
                                c.policy.then ? absl::StrCat(" (", c.policy.max_attempts, " + then ",
                                                             c.policy.then->max_attempts, ")")
                                              : std::string()),
                   false, false, now);
  }
  const ModelProvider& failed = *record.target;
  if (policy_->retry_after.same_model_max_wait_ms && last_failure_had_retry_after_) {
    if (std::optional<Decision> d = WaitForSameModel(&failed, failed, now)) return *d;
    // Too long to wait for this model: a same_model step escalates at once.
    if (*strategy == Strategy::kSameModel && c.policy.then && count < c.policy.max_attempts) {
      strategy = c.policy.then->strategy;
    }
  }
  return Retry(failed, *strategy, now);
}

std::optional<Decision> RetryState::WaitForSameModel(const ModelProvider* failed,
                                                     const ModelProvider& model, absl::Time now) {
  if (!policy_->retry_after.same_model_max_wait_ms || BudgetDenied(model)) return std::nullopt;
  const absl::Time until = BlocksOn(model, now).retry_after_until;
  const absl::Duration wait = std::max(until - now, absl::ZeroDuration());
  if (wait > absl::Milliseconds(*policy_->retry_after.same_model_max_wait_ms)) return std::nullopt;
  Route route;
  route.target = &model;
  route.block_wait = wait;
  route.blocked = wait > absl::ZeroDuration();
  return Schedule(failed, route, now, Overrun::kDecline);
}

std::optional<absl::Duration> RetryState::HedgeDelay() const {
  if (policy_ == nullptr || !policy_->hedge || hedges_ >= policy_->hedge->max_hedges) {
    return std::nullopt;
  }
  // The attempt running is attempts_.size() + 1; its hedge would be the next.
  if (static_cast<int>(attempts_.size()) + 2 > attempt_cap_) return std::nullopt;
  return absl::Milliseconds(policy_->hedge->after_ms);
}

RetryState::HedgeDecision RetryState::Hedge(const ModelProvider& running, absl::Time now) {
  HedgeDecision h;
  if (!HedgeDelay()) return h;
  budget_denied_.clear();
  const Strategy strategy = policy_->hedge->strategy;
  const ModelProvider* target = nullptr;
  if (strategy == Strategy::kSameModel) {
    if (BlocksOn(running, now).retry_after_until <= now) target = &running;
  } else {
    Selection s = Select(strategy, running, now);
    if (!s.last_resort) target = s.target;  // a latency-blocked model is no faster
  }
  if (target == nullptr) return h;
  if (hedge_budget_ != nullptr && !hedge_budget_->TryWithdrawRetry(now)) {
    h.refused_by_budget = true;
    return h;
  }
  ++hedges_;
  if (retry_budget_ != nullptr && !ProviderAttempted(*target)) {
    retry_budget_->RecordFirstAttempt(target->provider, now);
  }
  if (!Contains(attempted_, target)) attempted_.push_back(target);
  Decision d;
  CapAttempt(&d);
  h.target = target;
  h.attempt_end = d.attempt_end;
  h.attempt_end_kind = d.attempt_end_kind;
  return h;
}

void RetryState::OnRacerDone(const AttemptResult& result, absl::Time now) {
  const AttemptResult& record = Record(result);
  if (policy_ == nullptr) return;
  Classification c = ClassifyAttempt(*policy_, record);
  if (c.outcome == Outcome::kRetriable) RecordFailure(record, c, now);
}

Decision RetryState::Exhaust(EndReason reason, std::string why, bool blocked, bool budget,
                             absl::Time now) const {
  Decision d;
  d.kind = Decision::Kind::kExhausted;
  d.end_reason = reason;
  d.retry_budget_exhausted = budget;

  // The shortest remaining Retry-After block over the request's candidates.
  // Latency blocks do not count: they never stop an attempt (a latency-blocked
  // candidate is still used as a last resort), so they say nothing about when
  // a retry can succeed.
  std::optional<absl::Duration> shortest;
  for (const ModelProvider* m : candidates_) {
    if (!Compatible(*m)) continue;
    absl::Time until = BlocksOn(*m, now).retry_after_until;
    if (until <= now) continue;
    shortest = std::min(shortest.value_or(until - now), until - now);
  }
  if (blocked || last_failure_had_retry_after_) {
    d.pushback = CeilMs(shortest.value_or(observed_max_retry_after_.value_or(absl::ZeroDuration())));
  }

  if (attempts_.empty()) {
    d.code = reason == EndReason::kDeadline && !blocked ? absl::StatusCode::kDeadlineExceeded
                                                        : absl::StatusCode::kResourceExhausted;
    d.message = absl::StrCat("no attempt made: ", why);
  } else {
    const AttemptResult& last = attempts_.back();
    d.code = GrpcCodeForFailure(last);
    d.last_http_status = last.http_status;
    d.message = absl::StrCat("retries exhausted after ", attempts_.size(), " attempt",
                             attempts_.size() == 1 ? "" : "s", ": ", why, "; last: ",
                             last.target->model_id, " ", last.error_type);
  }

  std::string& j = d.exhausted_json;
  j = R"({"error":{"message":)";
  json::AppendEncodedString(d.message, &j);
  j += R"(,"type":"retry_exhausted","attempts":[)";
  for (size_t i = 0; i < attempts_.size(); ++i) {
    if (i > 0) j += ',';
    j += R"({"model":)";
    json::AppendEncodedString(attempts_[i].target->model_id, &j);
    j += R"(,"error_type":)";
    json::AppendEncodedString(attempts_[i].error_type, &j);
    if (attempts_[i].provider_error != ProviderErrorClass::kNone) {
      absl::StrAppend(&j, R"(,"error_class":")", std::string(ToString(attempts_[i].provider_error)),
                      "\"");
    }
    if (attempts_[i].hedge) j += R"(,"hedge":true)";
    absl::StrAppend(&j, R"(,"attempt":)", i + 1, "}");
  }
  j += R"(],"skipped":[)";
  for (size_t i = 0; i < skipped_.size(); ++i) {
    if (i > 0) j += ',';
    j += R"({"model":)";
    json::AppendEncodedString(skipped_[i].model->model_id, &j);
    j += R"(,"reason":)";
    json::AppendEncodedString(skipped_[i].reason, &j);
    j += '}';
  }
  absl::StrAppend(&j, R"(],"total_attempts":)", attempts_.size(),
                  R"(,"observed_max_retry_after_seconds":)",
                  observed_max_retry_after_ ? FormatJsonSeconds(*observed_max_retry_after_)
                                            : std::string("null"),
                  R"(,"shortest_remaining_block_seconds":)",
                  shortest ? FormatJsonSeconds(*shortest) : std::string("null"),
                  R"(,"retry_budget_exhausted":)", budget ? "true" : "false",
                  R"(,"exhausted_reason":")", std::string(ToString(reason)), "\"}}");
  return d;
}

}  // namespace rebound
