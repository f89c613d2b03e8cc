// RetryBudget (one provider's sliding-window budget) and RetryBudgets (the
// per-provider set the server uses). Time is injected; nothing sleeps. The
// numbers are exact: the budget's guarantee is an inequality that must hold
// to the retry, and must not be stricter than configured either.
#include "retry/retry_budget.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/config_loader.h"
#include "retry/retry_budgets.h"

namespace rebound {
namespace {

// A whole Unix second, so bucket boundaries fall on whole offsets below.
const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

absl::Time At(double seconds) { return kT0 + absl::Seconds(seconds); }

RetryBudgetSettings Settings(int percent, int min_per_second, int window) {
  RetryBudgetSettings s;
  s.percent = percent;
  s.min_retries_per_second = min_per_second;
  s.window_seconds = window;
  return s;
}

// Withdraws until refused (at most `limit` times); returns how many succeeded.
int Drain(RetryBudget& b, absl::Time now, int limit = 100000) {
  int n = 0;
  while (n < limit && b.TryWithdrawRetry(now)) ++n;
  return n;
}

TEST(RetryBudgetTest, FloorAloneAllowsExactlyFloorTimesWindow) {
  RetryBudget b(Settings(/*percent=*/0, /*min_per_second=*/2, /*window=*/5));
  EXPECT_EQ(Drain(b, At(0)), 10);
  EXPECT_FALSE(b.TryWithdrawRetry(At(0)));
  RetryBudget::Window w = b.Snapshot(At(0));
  EXPECT_EQ(w.retries, 10);
  EXPECT_EQ(w.balance_hundredths, 0);
}

TEST(RetryBudgetTest, PercentOfFirstAttemptsIsExactInHundredths) {
  RetryBudget b(Settings(/*percent=*/20, /*min_per_second=*/0, /*window=*/10));
  EXPECT_FALSE(b.TryWithdrawRetry(At(0))) << "no first attempt, no floor: nothing to spend";
  for (int i = 0; i < 4; ++i) b.RecordFirstAttempt(At(0));
  EXPECT_EQ(b.Snapshot(At(0)).balance_hundredths, 80);
  EXPECT_FALSE(b.TryWithdrawRetry(At(0))) << "0.8 of a retry is not a retry";
  b.RecordFirstAttempt(At(0));
  EXPECT_TRUE(b.TryWithdrawRetry(At(0))) << "five first attempts at 20% earn one";
  EXPECT_FALSE(b.TryWithdrawRetry(At(0)));

  for (int i = 0; i < 45; ++i) b.RecordFirstAttempt(At(0));
  EXPECT_EQ(Drain(b, At(0)), 9) << "50 first attempts earn 10 in all, one already spent";
  RetryBudget::Window w = b.Snapshot(At(0));
  EXPECT_EQ(w.first_attempts, 50);
  EXPECT_EQ(w.retries, 10);
}

TEST(RetryBudgetTest, FloorAndPercentAdd) {
  RetryBudget b(Settings(/*percent=*/20, /*min_per_second=*/1, /*window=*/10));
  for (int i = 0; i < 100; ++i) b.RecordFirstAttempt(At(0.5));
  EXPECT_EQ(Drain(b, At(0.5)), 10 + 20);
}

TEST(RetryBudgetTest, PercentAbove100AllowsSeveralRetriesPerCall) {
  RetryBudget b(Settings(/*percent=*/1000, /*min_per_second=*/0, /*window=*/1));
  b.RecordFirstAttempt(At(0));
  EXPECT_EQ(Drain(b, At(0)), 10);
}

TEST(RetryBudgetTest, ZeroBudgetRefusesEveryRetry) {
  RetryBudget b(Settings(0, 0, 10));
  for (int i = 0; i < 1000; ++i) b.RecordFirstAttempt(At(0));
  EXPECT_FALSE(b.TryWithdrawRetry(At(0)));
}

// An event counts while the current second is below its own second +
// window: at most `window` seconds, at least `window` - 1.
TEST(RetryBudgetTest, FirstAttemptsCountForTheWindowAndNoLonger) {
  RetryBudget b(Settings(/*percent=*/100, /*min_per_second=*/0, /*window=*/3));
  b.RecordFirstAttempt(At(0.999));
  EXPECT_EQ(b.Snapshot(At(2.999)).first_attempts, 1) << "still inside: seconds 0, 1, 2";
  EXPECT_EQ(b.Snapshot(At(3.0)).first_attempts, 0) << "second 0 left the window";
  EXPECT_FALSE(b.TryWithdrawRetry(At(3.0)));

  b.RecordFirstAttempt(At(3.0));
  EXPECT_EQ(b.Snapshot(At(5.999)).first_attempts, 1) << "at most 3 s after it";
  EXPECT_TRUE(b.TryWithdrawRetry(At(5.999)));
}

TEST(RetryBudgetTest, RetriesLeaveTheWindowAndTheFloorComesBack) {
  RetryBudget b(Settings(/*percent=*/0, /*min_per_second=*/1, /*window=*/4));
  EXPECT_EQ(Drain(b, At(0)), 4);
  EXPECT_EQ(Drain(b, At(3.999)), 0) << "the window still holds the 4 retries";
  EXPECT_EQ(Drain(b, At(4.0)), 4) << "a whole window later they are forgotten";
}

TEST(RetryBudgetTest, SlidingWindowBoundsEveryWindowNotJustTheFirst) {
  // 10 first attempts a second at 50%, no floor: 5 retries a second in
  // steady state. Any `window` consecutive seconds hold at most 5 x window
  // retries, and a budget kept busy reaches exactly that.
  constexpr int kWindow = 4;
  RetryBudget b(Settings(/*percent=*/50, /*min_per_second=*/0, kWindow));
  std::vector<int> retries_per_second;
  for (int second = 0; second < 20; ++second) {
    for (int i = 0; i < 10; ++i) b.RecordFirstAttempt(At(second + 0.1));
    retries_per_second.push_back(Drain(b, At(second + 0.2)));
  }
  for (size_t start = 0; start + kWindow <= retries_per_second.size(); ++start) {
    int sum = 0;
    for (int i = 0; i < kWindow; ++i) sum += retries_per_second[start + i];
    EXPECT_EQ(sum, 5 * kWindow) << "window starting at second " << start;
  }
}

TEST(RetryBudgetTest, ClockSteppingBackCountsIntoTheNewestSecond) {
  RetryBudget b(Settings(/*percent=*/100, /*min_per_second=*/0, /*window=*/2));
  b.RecordFirstAttempt(At(10));
  b.RecordFirstAttempt(At(5));  // wall clock stepped back
  EXPECT_EQ(b.Snapshot(At(5)).first_attempts, 2);
  EXPECT_EQ(b.Snapshot(At(11.5)).first_attempts, 2);
  EXPECT_EQ(b.Snapshot(At(12)).first_attempts, 0) << "both expire with second 10";
}

TEST(RetryBudgetTest, JumpForwardByMoreThanAWindowEmptiesIt) {
  RetryBudget b(Settings(/*percent=*/100, /*min_per_second=*/1, /*window=*/3));
  for (int i = 0; i < 5; ++i) b.RecordFirstAttempt(At(0));
  EXPECT_EQ(Drain(b, At(0)), 3 + 5);
  RetryBudget::Window w = b.Snapshot(At(1000));
  EXPECT_EQ(w.first_attempts, 0);
  EXPECT_EQ(w.retries, 0);
  EXPECT_EQ(w.balance_hundredths, 300) << "the floor alone";
}

TEST(RetryBudgetTest, ConcurrentWithdrawalsNeverExceedTheBudget) {
  RetryBudget b(Settings(/*percent=*/0, /*min_per_second=*/100, /*window=*/10));
  constexpr int kThreads = 4;
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (b.TryWithdrawRetry(At(0))) granted.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(granted.load(), 1000) << "exactly the floor: none lost, none extra";
}

// ---------------------------------------------------------------------------
// RetryBudgets

std::shared_ptr<const Config> LoadYaml(std::string_view yaml) {
  LoadResult r = LoadConfigFromString(yaml, "test.yaml", [](std::string_view) {
    return std::optional<std::string>();
  });
  EXPECT_TRUE(r.ok());
  return r.config;
}

std::string Yaml(std::string_view budget, std::string_view models) {
  std::string out = "server:\n  retry_budget: " + std::string(budget) + "\nmodel_providers:\n";
  size_t start = 0;
  while (start < models.size()) {
    size_t end = models.find(',', start);
    if (end == std::string_view::npos) end = models.size();
    out += "  - {model: " + std::string(models.substr(start, end - start)) +
           ", base_url: 'http://127.0.0.1:1', access_key: k}\n";
    start = end + 1;
  }
  return out;
}

TEST(RetryBudgetsTest, DisabledBuildsNothing) {
  auto config = LoadYaml(Yaml("{enabled: false}", "openai/a"));
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(RetryBudgets::Build(*config, nullptr), nullptr);
}

TEST(RetryBudgetsTest, OneBudgetPerProviderSharedByItsModels) {
  auto config = LoadYaml(
      Yaml("{percent: 0, min_retries_per_second: 1, window_seconds: 2}", "openai/a,openai/b,x/c"));
  ASSERT_NE(config, nullptr);
  std::shared_ptr<RetryBudgets> set = RetryBudgets::Build(*config, nullptr);
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->size(), 2u);
  EXPECT_TRUE(set->TryWithdrawRetry("openai", At(0)));
  EXPECT_TRUE(set->TryWithdrawRetry("openai", At(0)));
  EXPECT_FALSE(set->TryWithdrawRetry("openai", At(0))) << "a and b draw on one budget";
  EXPECT_TRUE(set->TryWithdrawRetry("x", At(0))) << "another provider has its own";
  EXPECT_TRUE(set->TryWithdrawRetry("not-configured", At(0))) << "unknown: not limited";
  set->RecordFirstAttempt("not-configured", At(0));  // ignored, no crash
}

TEST(RetryBudgetsTest, RebuildKeepsUnchangedProvidersWithTheirCounts) {
  const std::string budget = "{percent: 0, min_retries_per_second: 1, window_seconds: 2}";
  auto before = LoadYaml(Yaml(budget, "openai/a,gone/b"));
  std::shared_ptr<RetryBudgets> first = RetryBudgets::Build(*before, nullptr);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(Drain(*first->Find("openai"), At(0)), 2);

  auto after = LoadYaml(Yaml(budget, "openai/other-model,new/c"));
  std::shared_ptr<RetryBudgets> second = RetryBudgets::Build(*after, first.get());
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->Find("openai"), first->Find("openai")) << "same provider, same settings";
  EXPECT_FALSE(second->TryWithdrawRetry("openai", At(0))) << "its spent budget stays spent";
  EXPECT_EQ(second->Find("gone"), nullptr);
  ASSERT_NE(second->Find("new"), nullptr);
  EXPECT_TRUE(second->TryWithdrawRetry("new", At(0)));

  auto changed = LoadYaml(Yaml("{percent: 0, min_retries_per_second: 3, window_seconds: 2}",
                               "openai/a"));
  std::shared_ptr<RetryBudgets> third = RetryBudgets::Build(*changed, second.get());
  ASSERT_NE(third, nullptr);
  EXPECT_NE(third->Find("openai"), first->Find("openai")) << "new settings start afresh";
  EXPECT_EQ(Drain(*third->Find("openai"), At(0)), 6);
}

}  // namespace
}  // namespace rebound
