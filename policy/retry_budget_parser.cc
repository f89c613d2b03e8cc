#include "policy/retry_budget_parser.h"

namespace rebound {
namespace {

// Finagle caps percentCanRetry at 1000 %: beyond ten retries per call the
// per-request attempt cap (10) binds first anyway.
constexpr int kMaxPercent = 1000;
// Ten minutes: a longer memory makes the budget slow to notice that a
// provider's traffic dropped, and costs a bucket per second per provider.
constexpr int kMaxWindowSeconds = 600;

}  // namespace

void ParseRetryBudget(YamlReader* r, const Located& v, RetryBudgetSettings* s) {
  if (!r->ExpectMap(v)) return;
  MapFields f(r, v);
  if (auto x = f.Take("enabled")) {
    if (auto b = r->Bool(*x)) s->enabled = *b;
  }
  if (auto x = f.Take("percent")) {
    if (auto n = r->Int32(*x, 0, kMaxPercent)) s->percent = *n;
  }
  if (auto x = f.Take("min_retries_per_second")) {
    if (auto n = r->Int32(*x, 0)) s->min_retries_per_second = *n;
  }
  if (auto x = f.Take("window_seconds")) {
    if (auto n = r->Int32(*x, 1, kMaxWindowSeconds)) s->window_seconds = *n;
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
