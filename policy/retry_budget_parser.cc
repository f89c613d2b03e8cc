#include "policy/retry_budget_parser.h"

#include "policy/limits.h"

namespace rebound {
void ParseRetryBudget(YamlReader* r, const Located& v, RetryBudgetSettings* s) {
  if (!r->ExpectMap(v)) return;
  MapFields f(r, v);
  if (auto x = f.Take("enabled")) {
    if (auto b = r->Bool(*x)) s->enabled = *b;
  }
  if (auto x = f.Take("percent")) {
    if (auto n = r->Int32(*x, 0, limits::kMaxRetryBudgetPercent)) s->percent = *n;
  }
  if (auto x = f.Take("min_retries_per_second")) {
    if (auto n = r->Int32(*x, 0, limits::kMaxRetryBudgetMinRetriesPerSecond)) {
      s->min_retries_per_second = *n;
    }
  }
  if (auto x = f.Take("window_seconds")) {
    if (auto n = r->Int32(*x, 1, limits::kMaxRetryBudgetWindowSeconds)) s->window_seconds = *n;
  }
  if (s->enabled && s->percent == 0 && s->min_retries_per_second == 0) {
    r->reporter().Warning(v.line, v.path,
                          "percent 0 and min_retries_per_second 0: no call may ever retry a "
                          "provider it already tried (failover to other providers is not "
                          "limited); enabled: false turns the budget off");
  }
  f.Finish({"enabled", "percent", "min_retries_per_second", "window_seconds"});
}

}  // namespace rebound
