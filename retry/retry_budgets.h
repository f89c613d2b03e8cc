// The process's retry budgets: one RetryBudget per provider of the
// configuration, behind the RetryBudgetGate that RetryState consults.
//
// Per provider (the text before '/' in a model id): a provider fails as a
// whole more often than one of its models, and its capacity is what a storm
// overloads. Per replica process: budgets are not shared through the control
// plane. Each replica limits its own retries, so a fleet of R replicas sends
// a failing provider at most R times one replica's floor plus percent% of
// the fleet's first attempts; sharing would buy little (the percent part is
// already proportional to traffic) for a round trip on every retry.
//
// An immutable set: the provider map is built once and never changes, so
// lookups take no lock (each RetryBudget has its own). A reload builds a new
// set with Rebuild, which keeps the RetryBudget (and its window) of every
// provider still configured with the same settings; calls in flight keep
// the set they started with alive through their shared_ptr. Thread-safe:
// calls on every upstream loop share one set.
#ifndef REBOUND_RETRY_RETRY_BUDGETS_H_
#define REBOUND_RETRY_RETRY_BUDGETS_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "policy/config.h"
#include "retry/retry_budget.h"
#include "retry/retry_budget_gate.h"

namespace rebound {

class RetryBudgets final : public RetryBudgetGate {
 public:
  // Budgets for every provider of `config`, or nullptr when
  // config.server.retry_budget is disabled (retries are then unlimited
  // beyond the policies' own max_attempts). A provider that `previous`
  // (may be null) already had, with the same settings, keeps its budget
  // object: its counts carry over. Changed settings start afresh.
  static std::shared_ptr<RetryBudgets> Build(const Config& config, const RetryBudgets* previous);

  RetryBudgets(const RetryBudgets&) = delete;
  RetryBudgets& operator=(const RetryBudgets&) = delete;

  // RetryBudgetGate. A provider the set does not know (none of the config the
  // set was built from) is not limited: the set and the config a call uses
  // are taken together, so this does not happen in the server.
  void RecordFirstAttempt(std::string_view provider, absl::Time now) override;
  bool TryWithdrawRetry(std::string_view provider, absl::Time now) override;

  // The budget of `provider`, or nullptr. For tests and introspection.
  RetryBudget* Find(std::string_view provider) const;
  size_t size() const { return budgets_.size(); }

 private:
  RetryBudgets() = default;

  absl::flat_hash_map<std::string, std::shared_ptr<RetryBudget>> budgets_;
};

}  // namespace rebound

#endif  // REBOUND_RETRY_RETRY_BUDGETS_H_
