#include "policy/retry_budget_parser.h"

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "policy/limits.h"

namespace rebound {
namespace {

// `what` names the budgeted thing ("retries", "hedges") in the floor's key
// and in messages.
void ParseBudget(YamlReader* r, const Located& v, std::string_view what, RetryBudgetSettings* s) {
  const std::string floor_key = absl::StrCat("min_", AbslView(what), "_per_second");
  if (!r->ExpectMap(v)) return;
  MapFields f(r, v);
  if (auto x = f.Take("enabled")) {
    if (auto b = r->Bool(*x)) s->enabled = *b;
  }
  if (auto x = f.Take("percent")) {
    if (auto n = r->Int32(*x, 0, limits::kMaxRetryBudgetPercent)) s->percent = *n;
  }
  if (auto x = f.Take(floor_key)) {
    if (auto n = r->Int32(*x, 0, limits::kMaxRetryBudgetMinRetriesPerSecond)) {
      s->min_retries_per_second = *n;
    }
  }
  if (auto x = f.Take("window_seconds")) {
    if (auto n = r->Int32(*x, 1, limits::kMaxRetryBudgetWindowSeconds)) s->window_seconds = *n;
  }
  if (s->enabled && s->percent == 0 && s->min_retries_per_second == 0) {
    r->reporter().Warning(
        v.line, v.path,
        what == "retries"
            ? "percent 0 and min_retries_per_second 0: no call may ever retry a provider it "
              "already tried (failover to other providers is not limited); enabled: false turns "
              "the budget off"
            : "percent 0 and min_hedges_per_second 0: no call may ever hedge; enabled: false "
              "turns the budget off (hedges are then limited by max_hedges alone)");
  }
  f.Finish({"enabled", "percent", floor_key, "window_seconds"});
}

}  // namespace

void ParseRetryBudget(YamlReader* r, const Located& v, RetryBudgetSettings* s) {
  ParseBudget(r, v, "retries", s);
}

void ParseHedgeBudget(YamlReader* r, const Located& v, RetryBudgetSettings* s) {
  ParseBudget(r, v, "hedges", s);
}

}  // namespace rebound
