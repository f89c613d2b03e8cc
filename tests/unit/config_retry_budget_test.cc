// server.retry_budget: defaults, every field, range and type errors with
// their lines, the never-retry warning, and the ToYaml round trip.
#include <string>

#include "policy/config.h"
#include "policy/config_loader.h"
#include "policy/config_yaml.h"
#include "tests/unit/config_test_util.h"

namespace rebound {
namespace {

using ::rebound::testing::Dump;
using ::rebound::testing::Error;
using ::rebound::testing::Load;
using ::rebound::testing::Warning;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kProviders[] = R"(model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)";

TEST(ConfigRetryBudgetTest, OnByDefaultWithFinaglesNumbers) {
  LoadResult r = Load(kProviders);
  ASSERT_TRUE(r.ok()) << Dump(r);
  const RetryBudgetSettings& b = r.config->server.retry_budget;
  EXPECT_TRUE(b.enabled);
  EXPECT_EQ(b.percent, 20);
  EXPECT_EQ(b.min_retries_per_second, 10);
  EXPECT_EQ(b.window_seconds, 10);
}

TEST(ConfigRetryBudgetTest, EveryFieldIsRead) {
  LoadResult r = Load(std::string(R"(
server:
  retry_budget: {enabled: false, percent: 1000, min_retries_per_second: 0, window_seconds: 600}
)") + kProviders);
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty()) << Dump(r);
  const RetryBudgetSettings& b = r.config->server.retry_budget;
  EXPECT_FALSE(b.enabled);
  EXPECT_EQ(b.percent, 1000);
  EXPECT_EQ(b.min_retries_per_second, 0);
  EXPECT_EQ(b.window_seconds, 600);
}

TEST(ConfigRetryBudgetTest, EmptyMapKeepsTheDefaults) {
  LoadResult r = Load(std::string("server:\n  retry_budget: {}\n") + kProviders);
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->server.retry_budget, RetryBudgetSettings{});
}

TEST(ConfigRetryBudgetTest, ValuesAreCheckedWithTheirLines) {
  LoadResult r = Load(std::string(R"(
server:
  retry_budget:
    enabled: yes
    percent: 1001
    min_retries_per_second: -1
    window_seconds: 0
    ttl: 10
)") + kProviders);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(3, "server.retry_budget.enabled", "true or false"),
                          Error(4, "server.retry_budget.percent",
                                "must be an integer from 0 to 1000, got 1001"),
                          Error(5, "server.retry_budget.min_retries_per_second",
                                "must be an integer from 0 to"),
                          Error(6, "server.retry_budget.window_seconds",
                                "must be an integer from 1 to 600, got 0"),
                          Error(7, "server.retry_budget.ttl", "unknown key")))
      << Dump(r);
}

TEST(ConfigRetryBudgetTest, StrictTypes) {
  LoadResult r = Load(std::string(R"(
server:
  retry_budget: {percent: 12.5, window_seconds: "10"}
)") + kProviders);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(2, "server.retry_budget.percent", "got \"12.5\""),
                          Error(2, "server.retry_budget.window_seconds", "got the string \"10\"")))
      << Dump(r);
}

TEST(ConfigRetryBudgetTest, NotAMapIsAnError) {
  LoadResult r = Load(std::string("server:\n  retry_budget: 20\n") + kProviders);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(2, "server.retry_budget", "map"))) << Dump(r);
}

TEST(ConfigRetryBudgetTest, ABudgetThatCanNeverRetryWarns) {
  LoadResult r = Load(std::string(R"(
server:
  retry_budget: {percent: 0, min_retries_per_second: 0}
)") + kProviders);
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(2, "server.retry_budget", "no call may ever retry a provider")))
      << Dump(r);

  LoadResult off = Load(std::string(R"(
server:
  retry_budget: {enabled: false, percent: 0, min_retries_per_second: 0}
)") + kProviders);
  ASSERT_TRUE(off.ok()) << Dump(off);
  EXPECT_THAT(off.diagnostics, IsEmpty()) << "a disabled budget limits nothing";
}

TEST(ConfigRetryBudgetTest, RoundTripsThroughToYaml) {
  for (const char* budget : {"{}", "{enabled: false}",
                             "{percent: 7, min_retries_per_second: 0, window_seconds: 1}"}) {
    LoadResult first = Load(std::string("server:\n  retry_budget: ") + budget + "\n" + kProviders);
    ASSERT_TRUE(first.ok()) << Dump(first);
    std::string text = ToYaml(*first.config);
    EXPECT_THAT(text, HasSubstr("retry_budget:")) << "always explicit";
    LoadResult second = Load(text);
    ASSERT_TRUE(second.ok()) << text << Dump(second);
    EXPECT_EQ(second.config->server.retry_budget, first.config->server.retry_budget) << text;
    EXPECT_EQ(*second.config, *first.config) << text;
    EXPECT_EQ(ToYaml(*second.config), text);
  }
}

}  // namespace
}  // namespace rebound
