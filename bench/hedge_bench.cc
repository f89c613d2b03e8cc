// rebound-hedge-bench: what first-token hedging (retry_policy.hedge) does to
// end-to-end latency when a provider's first token has a heavy tail, and
// what it costs in extra upstream calls. Hedging off and on are measured in
// the same run, against the same two fake providers.
//
//   build/bin/rebound-hedge-bench [--calls 2000] [--concurrency 32]
//       [--repeat 1] [--after_ms 300] [--base_ms 100] [--tail_percent 10]
//       [--tail_ms 3000] [--fallback_tail_percent 0] [--hedge_budget_percent 20]
//
// The primary's fake answers its first token after base_ms, or on
// tail_percent % of requests (drawn at random, per upstream request) after
// tail_ms; the fallback's the same with fallback_tail_percent. Two
// rebound-server processes share the fakes: one without a hedge policy, one
// with `hedge: {after_ms}` and server.hedge_budget.percent. Each pass sends
// `calls` unary calls through each (closed loop, `concurrency` in flight;
// the two modes alternate which goes first) and reports p50 / p99 / p99.9
// latency, upstream requests per call and the hedge counters; with
// --repeat, the medians over the passes.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/latency_stats.h"
#include "tests/integration/gateway_fixture.h"

ABSL_FLAG(int, calls, 2000, "calls per mode and pass");
ABSL_FLAG(int, concurrency, 32, "calls in flight");
ABSL_FLAG(int, repeat, 1, "passes; medians are reported");
ABSL_FLAG(int, after_ms, 300, "hedge.after_ms");
ABSL_FLAG(int, base_ms, 100, "the fakes' usual first-token delay");
ABSL_FLAG(int, tail_percent, 10, "share of upstream requests with the slow first token");
ABSL_FLAG(int, tail_ms, 3000, "the slow first-token delay");
ABSL_FLAG(int, fallback_tail_percent, 0,
          "the same tail on the fallback provider (0: the fallback is healthy)");
ABSL_FLAG(int, hedge_budget_percent, 20, "server.hedge_budget.percent of the hedging server");

namespace rebound::bench {
namespace {

using testing::FakeProvider;
using testing::GatewayProcess;

constexpr char kPrimary[] = "openai/gpt-4o";

struct ModeResult {
  double p50_ms = 0, p99_ms = 0, p999_ms = 0;
  double upstream_per_call = 0;
  int errors = 0;
  double started = 0, won = 0, lost = 0, failed = 0, refused = 0;
};

std::string Config(const FakeProvider& a, const FakeProvider& b, bool hedge) {
  std::string server = absl::StrCat("  max_in_flight: 8192\n  hedge_budget: {percent: ",
                                    absl::GetFlag(FLAGS_hedge_budget_percent), "}\n");
  std::string policy = hedge ? absl::StrCat("    retry_policy:\n      hedge: {after_ms: ",
                                            absl::GetFlag(FLAGS_after_ms), "}\n")
                             : "    retry_policy: {}\n";
  return absl::StrCat(testing::ServerSection(server), "model_providers:\n",
                      testing::ProviderEntry(kPrimary, a.base_url(), "key-a",
                                             "    default: true\n" + policy),
                      testing::ProviderEntry("mistral/mistral-large", b.base_url(), "key-b"));
}

double Hedges(const std::string& metrics, const char* result) {
  return testing::MetricValue(metrics, absl::StrCat("rebound_hedges_total{model=\"", kPrimary,
                                                    "\",result=\"", result, "\"}"))
      .value_or(0);
}

ModeResult RunMode(GatewayProcess& gateway, FakeProvider& a, FakeProvider& b) {
  const int calls = absl::GetFlag(FLAGS_calls);
  const std::string before = gateway.ScrapeMetrics();
  const int upstream_before = a.RequestCount() + b.RequestCount();
  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  std::vector<std::vector<int64_t>> samples(absl::GetFlag(FLAGS_concurrency));
  std::vector<std::thread> threads;
  for (auto& mine : samples) {
    threads.emplace_back([&, out = &mine] {
      while (next.fetch_add(1) < calls) {
        absl::Time start = absl::Now();
        client::CallResult r = gateway.client().Complete(testing::ChatRequest(kPrimary),
                                                         absl::Seconds(30));
        out->push_back(absl::ToInt64Nanoseconds(absl::Now() - start));
        if (!r.ok()) errors.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<int64_t> all;
  for (const auto& s : samples) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  ModeResult m;
  m.p50_ms = NearestRank(all, 0.5) / 1e6;
  m.p99_ms = NearestRank(all, 0.99) / 1e6;
  m.p999_ms = NearestRank(all, 0.999) / 1e6;
  m.errors = errors.load();
  m.upstream_per_call =
      static_cast<double>(a.RequestCount() + b.RequestCount() - upstream_before) / calls;
  const std::string after = gateway.ScrapeMetrics();
  m.started = Hedges(after, "started") - Hedges(before, "started");
  m.won = Hedges(after, "won") - Hedges(before, "won");
  m.lost = Hedges(after, "lost") - Hedges(before, "lost");
  m.failed = Hedges(after, "failed") - Hedges(before, "failed");
  m.refused = Hedges(after, "refused") - Hedges(before, "refused");
  return m;
}

ModeResult Medians(const std::vector<ModeResult>& passes) {
  auto median = [&](double ModeResult::*field) {
    std::vector<double> v;
    for (const ModeResult& p : passes) v.push_back(p.*field);
    return Median(v);
  };
  ModeResult m;
  m.p50_ms = median(&ModeResult::p50_ms);
  m.p99_ms = median(&ModeResult::p99_ms);
  m.p999_ms = median(&ModeResult::p999_ms);
  m.upstream_per_call = median(&ModeResult::upstream_per_call);
  for (const ModeResult& p : passes) m.errors += p.errors;
  m.started = median(&ModeResult::started);
  m.won = median(&ModeResult::won);
  m.lost = median(&ModeResult::lost);
  m.failed = median(&ModeResult::failed);
  m.refused = median(&ModeResult::refused);
  return m;
}

int Main() {
  auto fault = [](int tail_percent) {
    return absl::StrCat("delay_first_token_ms=", absl::GetFlag(FLAGS_base_ms),
                        ";tail_percent=", tail_percent,
                        ";tail_delay_ms=", absl::GetFlag(FLAGS_tail_ms));
  };
  auto a = FakeProvider::Start({"--default", fault(absl::GetFlag(FLAGS_tail_percent))},
                               "hedge-bench-a");
  auto b = FakeProvider::Start({"--default", fault(absl::GetFlag(FLAGS_fallback_tail_percent))},
                               "hedge-bench-b");
  if (!a.ok() || !b.ok()) {
    std::fprintf(stderr, "rebound-hedge-bench: fake provider: %s\n",
                 std::string((a.ok() ? b.status() : a.status()).message()).c_str());
    return 1;
  }
  auto off = GatewayProcess::Start(Config(**a, **b, false));
  auto on = GatewayProcess::Start(Config(**a, **b, true));
  if (!off.ok() || !on.ok()) {
    std::fprintf(stderr, "rebound-hedge-bench: rebound-server: %s\n",
                 std::string((off.ok() ? on.status() : off.status()).message()).c_str());
    return 1;
  }
  std::vector<ModeResult> off_passes, on_passes;
  for (int pass = 0; pass < absl::GetFlag(FLAGS_repeat); ++pass) {
    if (pass % 2 == 0) {
      off_passes.push_back(RunMode(**off, **a, **b));
      on_passes.push_back(RunMode(**on, **a, **b));
    } else {
      on_passes.push_back(RunMode(**on, **a, **b));
      off_passes.push_back(RunMode(**off, **a, **b));
    }
    std::fprintf(stderr, "pass %d: off p99 %.0f ms, on p99 %.0f ms\n", pass + 1,
                 off_passes.back().p99_ms, on_passes.back().p99_ms);
  }
  ModeResult m_off = Medians(off_passes), m_on = Medians(on_passes);
  std::printf(
      "first-token hedging: %d calls per mode and pass, %d in flight, %d pass(es), medians\n"
      "fakes: first token after %d ms, on %d%% of the primary's requests (%d%% of the "
      "fallback's) after %d ms; hedge.after_ms %d, hedge_budget.percent %d\n\n",
      absl::GetFlag(FLAGS_calls), absl::GetFlag(FLAGS_concurrency), absl::GetFlag(FLAGS_repeat),
      absl::GetFlag(FLAGS_base_ms), absl::GetFlag(FLAGS_tail_percent),
      absl::GetFlag(FLAGS_fallback_tail_percent), absl::GetFlag(FLAGS_tail_ms),
      absl::GetFlag(FLAGS_after_ms),
      absl::GetFlag(FLAGS_hedge_budget_percent));
  std::printf("| hedging | p50 ms | p99 ms | p99.9 ms | upstream calls per call | errors |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const auto& [name, m] : {std::pair{"off", m_off}, std::pair{"on", m_on}}) {
    std::printf("| %s | %.1f | %.1f | %.1f | %.3f | %d |\n", name, m.p50_ms, m.p99_ms, m.p999_ms,
                m.upstream_per_call, m.errors);
  }
  std::printf("\nratios on/off: p50 %.2f, p99 %.2f, p99.9 %.2f; extra upstream calls %+.1f%%\n",
              m_on.p50_ms / m_off.p50_ms, m_on.p99_ms / m_off.p99_ms,
              m_on.p999_ms / m_off.p999_ms,
              100 * (m_on.upstream_per_call - m_off.upstream_per_call) / m_off.upstream_per_call);
  std::printf("hedges (per pass): started %.0f, won %.0f, lost %.0f, failed %.0f, refused %.0f\n",
              m_on.started, m_on.won, m_on.lost, m_on.failed, m_on.refused);
  return m_off.errors + m_on.errors == 0 ? 0 : 2;
}

}  // namespace
}  // namespace rebound::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("first-token hedging off vs on under a heavy-tailed provider");
  absl::ParseCommandLine(argc, argv);
  return rebound::bench::Main();
}
