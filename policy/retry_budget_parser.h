// Reads the `server.retry_budget` and `server.hedge_budget` blocks into
// RetryBudgetSettings.
// Internal to the policy library; used by the config loader.
#ifndef REBOUND_POLICY_RETRY_BUDGET_PARSER_H_
#define REBOUND_POLICY_RETRY_BUDGET_PARSER_H_

#include "policy/config.h"
#include "policy/yaml_reader.h"

namespace rebound {

// Parses `v` (a map; `{}` keeps every default) into `*settings`, which holds
// the defaults on entry. Reports through `reader`: a value of the wrong type
// or out of range (percent 0..1000, min_retries_per_second >= 0,
// window_seconds 1..600), unknown keys, and a warning when an enabled budget
// can never allow a retry (percent 0 and min_retries_per_second 0).
void ParseRetryBudget(YamlReader* reader, const Located& v, RetryBudgetSettings* settings);

// The same for `server.hedge_budget`, whose floor is `min_hedges_per_second`
// (stored in settings->min_retries_per_second).
void ParseHedgeBudget(YamlReader* reader, const Located& v, RetryBudgetSettings* settings);

}  // namespace rebound

#endif  // REBOUND_POLICY_RETRY_BUDGET_PARSER_H_
