// The retry budget (server.retry_budget) against a retry storm, end to end:
// the real rebound-server, a real fake provider that answers every request
// with 503, and a policy that retries the same model up to 5 times. The fake's
// own request record is the measure of the load the provider received.
//
// The bound: over one window, a provider receives its first attempts plus at
// most min_retries_per_second x window_seconds + percent% of those first
// attempts. Each run here fits well inside one window (asserted), and calls
// are sequential, so the count is exact, not just bounded: the budget must
// neither let one retry too many through nor stop one too early. The
// concurrent test checks the bound with several client threads and two
// upstream event loops spending the same budget.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "codec/json_scan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"

namespace rebound::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kModel[] = "openai/gpt-4o";
constexpr int kCalls = 200;
constexpr int kMaxAttempts = 5;
constexpr int kPercent = 20;
constexpr int kFloorPerSecond = 1;
// Long enough that no first attempt leaves the window during a run (the
// sliding window counts an event for at least window - 1 seconds).
constexpr int kWindowSeconds = 30;
// floor x window + percent% of the first attempts: 30 + 40.
constexpr int kBudgetedRetries = kFloorPerSecond * kWindowSeconds + kCalls * kPercent / 100;

std::string BudgetYaml() {
  return absl::StrCat("  retry_budget: {percent: ", kPercent,
                      ", min_retries_per_second: ", kFloorPerSecond,
                      ", window_seconds: ", kWindowSeconds, "}\n");
}

// The value of the sample whose name and labels are exactly `series`, or -1.
double MetricValue(const std::string& text, const std::string& series) {
  size_t pos = 0;
  while ((pos = text.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      size_t start = pos + series.size() + 1;
      size_t end = text.find('\n', start);
      double value = -1;
      if (absl::SimpleAtod(text.substr(start, end - start), &value)) return value;
      return -1;
    }
    pos += series.size();
  }
  return -1;
}

// What one failed call says about itself.
struct Ending {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string reason;  // retry_exhausted JSON's exhausted_reason
  std::string message;
  int attempts = 0;
  int upstream_status = 0;
};

Ending Describe(const client::CallResult& result) {
  Ending e;
  e.code = result.status.error_code();
  e.message = result.status.error_message();
  if (!result.error_detail) return e;
  const v1::ErrorDetail& d = *result.error_detail;
  e.attempts = d.attempts_size();
  e.upstream_status = d.upstream_http_status();
  std::optional<std::string_view> error = json::FindMember(d.retry_exhausted_json(), "error");
  if (!error) return e;
  std::optional<std::string_view> reason = json::FindMember(*error, "exhausted_reason");
  if (!reason) return e;
  absl::StatusOr<std::string> text = json::DecodeString(*reason);
  if (text.ok()) e.reason = *text;
  return e;
}

class RetryBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = FakeProvider::Start({"--default", "status=503"}, "always-503");
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
  }

  // A config with `server_extra` in its server section and one model that
  // retries the same model kMaxAttempts times on every failure.
  std::string GatewayYaml(const std::string& server_extra) {
    return absl::StrCat(ServerSection(server_extra), "model_providers:\n",
                        ProviderEntry(kModel, fake_->base_url(), "sk-test-budget-5d2c81",
                                      absl::StrCat("    retry_policy:\n"
                                                   "      default_strategy: same_model\n"
                                                   "      default_max_attempts: ",
                                                   kMaxAttempts, "\n")));
  }

  std::unique_ptr<GatewayProcess> StartGateway(const std::string& server_extra) {
    std::string yaml = GatewayYaml(server_extra);
    auto gateway = GatewayProcess::Start(yaml);
    EXPECT_TRUE(gateway.ok()) << gateway.status() << "\n" << yaml;
    return gateway.ok() ? *std::move(gateway) : nullptr;
  }

  // Sends kCalls calls one after another; every call must end, as an
  // exhausted 503, with a reason. Returns the endings by reason.
  std::map<std::string, std::vector<Ending>> SendSequentially(GatewayProcess& gateway) {
    std::map<std::string, std::vector<Ending>> by_reason;
    for (int i = 0; i < kCalls; ++i) {
      client::CallResult result = gateway.client().Complete(ChatRequest(kModel), absl::Seconds(10));
      Ending e = Describe(result);
      EXPECT_EQ(e.code, grpc::StatusCode::UNAVAILABLE) << "call " << i << ": " << e.message;
      EXPECT_TRUE(result.error_detail.has_value()) << "call " << i;
      if (result.error_detail) {
        EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_RETRY_EXHAUSTED) << i;
      }
      EXPECT_EQ(e.upstream_status, 503) << "call " << i;
      by_reason[e.reason].push_back(std::move(e));
    }
    return by_reason;
  }

  std::unique_ptr<FakeProvider> fake_;
};

TEST_F(RetryBudgetTest, FailingProviderReceivesAtMostTheBudgetedExtraLoad) {
  std::unique_ptr<GatewayProcess> gateway = StartGateway(BudgetYaml());
  ASSERT_NE(gateway, nullptr);

  absl::Time start = absl::Now();
  std::map<std::string, std::vector<Ending>> by_reason = SendSequentially(*gateway);
  absl::Duration elapsed = absl::Now() - start;
  ASSERT_LT(elapsed, absl::Seconds(kWindowSeconds - 1))
      << "the run must fit in one window for the count to be exact";

  // Every call ended either on its own policy (5 attempts) or on the budget.
  const std::vector<Ending>& by_class = by_reason["class_budget"];
  const std::vector<Ending>& by_budget = by_reason["provider_retry_budget"];
  EXPECT_EQ(by_class.size() + by_budget.size(), static_cast<size_t>(kCalls));
  for (const Ending& e : by_class) EXPECT_EQ(e.attempts, kMaxAttempts) << e.message;
  for (const Ending& e : by_budget) {
    EXPECT_LT(e.attempts, kMaxAttempts) << e.message;
    EXPECT_THAT(e.message, HasSubstr("the retry budget (server.retry_budget) of provider "
                                     "openai is spent"));
  }
  // The floor (30) lets the first calls retry fully; 40 more are earned.
  EXPECT_GE(by_class.size(), static_cast<size_t>(kFloorPerSecond * kWindowSeconds / 4));
  EXPECT_GT(by_budget.size(), static_cast<size_t>(kCalls / 2));

  // The load the provider received, by its own record: every call once,
  // plus exactly the budgeted retries (not 5x, which the policy alone allows).
  int attempts_reported = 0;
  for (const auto& [reason, endings] : by_reason) {
    for (const Ending& e : endings) attempts_reported += e.attempts;
  }
  const int received = fake_->RequestCount();
  EXPECT_GE(received, kCalls);
  EXPECT_LE(received, kCalls + kBudgetedRetries);
  EXPECT_EQ(received, kCalls + kBudgetedRetries) << "the budget was spent to the last retry";
  EXPECT_EQ(attempts_reported, received);

  // The metrics say why: one skipped retry per call the budget ended.
  std::string metrics = gateway->ScrapeMetrics();
  EXPECT_EQ(MetricValue(metrics, "rebound_retry_budget_skips_total{provider=\"openai\"}"),
            static_cast<double>(by_budget.size()))
      << metrics;
  EXPECT_EQ(MetricValue(metrics, "rebound_exhaustions_total{model=\"openai/gpt-4o\","
                                 "reason=\"provider_retry_budget\"}"),
            static_cast<double>(by_budget.size()));
  EXPECT_EQ(MetricValue(metrics, "rebound_exhaustions_total{model=\"openai/gpt-4o\","
                                 "reason=\"class_budget\"}"),
            static_cast<double>(by_class.size()));
}

TEST_F(RetryBudgetTest, WithoutTheBudgetThePolicyMultipliesTheLoad) {
  std::unique_ptr<GatewayProcess> gateway = StartGateway("  retry_budget: {enabled: false}\n");
  ASSERT_NE(gateway, nullptr);
  std::map<std::string, std::vector<Ending>> by_reason = SendSequentially(*gateway);
  EXPECT_EQ(by_reason["class_budget"].size(), static_cast<size_t>(kCalls));
  EXPECT_EQ(fake_->RequestCount(), kCalls * kMaxAttempts);
  std::string metrics = gateway->ScrapeMetrics();
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("rebound_retry_budget_skips_total{")));
}

TEST_F(RetryBudgetTest, ConcurrentCallsOnTwoLoopsStayWithinTheBudget) {
  std::unique_ptr<GatewayProcess> gateway =
      StartGateway(absl::StrCat("  upstream_threads: 2\n", BudgetYaml()));
  ASSERT_NE(gateway, nullptr);
  constexpr int kThreads = 8;
  std::atomic<int> ended{0};
  std::atomic<int> by_budget{0};
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls / kThreads; ++i) {
        Ending e = Describe(gateway->client().Complete(ChatRequest(kModel), absl::Seconds(10)));
        if (e.code == grpc::StatusCode::UNAVAILABLE &&
            (e.reason == "class_budget" || e.reason == "provider_retry_budget")) {
          ended.fetch_add(1);
        }
        if (e.reason == "provider_retry_budget") by_budget.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_LT(absl::Now() - start, absl::Seconds(kWindowSeconds - 1));
  EXPECT_EQ(ended.load(), kCalls) << "every call ends with a reason";
  const int received = fake_->RequestCount();
  EXPECT_GE(received, kCalls);
  EXPECT_LE(received, kCalls + kBudgetedRetries);
  EXPECT_EQ(MetricValue(gateway->ScrapeMetrics(),
                        "rebound_retry_budget_skips_total{provider=\"openai\"}"),
            static_cast<double>(by_budget.load()));
}

// A reload (SIGHUP) must not hand a storming provider a fresh budget: the
// budget of a provider whose settings did not change is kept, counts
// included. Changed settings start afresh.
TEST_F(RetryBudgetTest, ReloadKeepsASpentBudgetAndNewSettingsStartAfresh) {
  // No percent share: the floor alone, 1/s x 20 s = 20 retries, which the
  // first 5 calls spend (4 retries each).
  auto budget = [](int floor) {
    return absl::StrCat("  retry_budget: {percent: 0, min_retries_per_second: ", floor,
                        ", window_seconds: 20}\n");
  };
  std::unique_ptr<GatewayProcess> gateway = StartGateway(budget(1));
  ASSERT_NE(gateway, nullptr);
  auto call = [&] {
    return Describe(gateway->client().Complete(ChatRequest(kModel), absl::Seconds(10)));
  };
  auto reload = [&] {
    const std::string loads = "rebound_config_loads_total{result=\"ok\"}";
    double before = MetricValue(gateway->ScrapeMetrics(), loads);
    gateway->process().Signal(SIGHUP);
    // The file watcher may reload too; either load reads the same file.
    return WaitUntil([&] { return MetricValue(gateway->ScrapeMetrics(), loads) > before; });
  };
  auto rewrite = [&](const std::string& yaml) {
    const std::string tmp = gateway->config_path() + ".tmp";
    FILE* f = fopen(tmp.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fwrite(yaml.data(), 1, yaml.size(), f);
    fclose(f);
    ASSERT_EQ(rename(tmp.c_str(), gateway->config_path().c_str()), 0);
  };

  for (int i = 0; i < 5; ++i) {
    Ending e = call();
    EXPECT_EQ(e.reason, "class_budget") << e.message;
    EXPECT_EQ(e.attempts, kMaxAttempts);
  }
  Ending spent = call();
  EXPECT_EQ(spent.reason, "provider_retry_budget") << spent.message;
  EXPECT_EQ(spent.attempts, 1);

  ASSERT_TRUE(reload());
  Ending after_reload = call();
  EXPECT_EQ(after_reload.reason, "provider_retry_budget") << "the spent budget was kept";
  EXPECT_EQ(after_reload.attempts, 1);

  rewrite(GatewayYaml(budget(2)));
  ASSERT_TRUE(reload());
  Ending fresh = call();
  EXPECT_EQ(fresh.reason, "class_budget") << "new settings, new budget: " << fresh.message;
  EXPECT_EQ(fresh.attempts, kMaxAttempts);

  EXPECT_EQ(fake_->RequestCount(), 5 * kMaxAttempts + 1 + 1 + kMaxAttempts);
}

}  // namespace
}  // namespace rebound::testing
