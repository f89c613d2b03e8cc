// The narrow interface through which RetryState (retry/retry_state.h)
// consults the process's retry budgets (retry/retry_budgets.h): it reports
// each first attempt at a provider and asks for each retry. Kept apart from
// the implementation so that RetryState's tests can inject a fake.
#ifndef REBOUND_RETRY_RETRY_BUDGET_GATE_H_
#define REBOUND_RETRY_RETRY_BUDGET_GATE_H_

#include <string_view>

#include "absl/time/time.h"

namespace rebound {

class RetryBudgetGate {
 public:
  virtual ~RetryBudgetGate() = default;

  // A call is about to send its first attempt to `provider` (the text before
  // '/' of a model id): it earns the provider's budget its share.
  virtual void RecordFirstAttempt(std::string_view provider, absl::Time now) = 0;

  // A call that already attempted `provider` wants to send it another
  // attempt. Takes one retry from the provider's budget and returns true, or
  // returns false and takes nothing when the budget is spent. Atomic: two
  // threads can never both take the last retry.
  virtual bool TryWithdrawRetry(std::string_view provider, absl::Time now) = 0;
};

}  // namespace rebound

#endif  // REBOUND_RETRY_RETRY_BUDGET_GATE_H_
