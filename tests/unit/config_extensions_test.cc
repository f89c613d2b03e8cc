// The policy keys rebound adds to plano's language: `then:` escalation,
// retry_after_handling.same_model_max_wait_ms, `on_errors`, `context_window`
// and the larger_context strategy, `hedge` and server.hedge_budget. Each
// loads, is validated with a line and a key, round-trips through ToYaml, and
// loads as a control-plane push; a plano file means what it meant.
#include <string>
#include <vector>

#include "policy/config.h"
#include "policy/config_loader.h"
#include "policy/config_yaml.h"
#include "tests/unit/config_test_util.h"

namespace rebound {
namespace {

using ::rebound::testing::DefaultEnv;
using ::rebound::testing::Dump;
using ::rebound::testing::Error;
using ::rebound::testing::Load;
using ::rebound::testing::MapEnv;
using ::rebound::testing::Warning;
using ::rebound::testing::WithPolicy;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOthers[] = R"(  - model: anthropic/claude-3-5-sonnet
    base_url: https://api.anthropic.com
    access_key: $ANTHROPIC_API_KEY
    provider_interface: anthropic
    context_window: 200000
  - model: openai/gpt-4o-mini
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    context_window: 128000
)";

// Every extension at once (policy line k is file line 5 + k).
constexpr char kEveryExtension[] = R"(fallback_models: [anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [500, "502-504"]
    strategy: same_model
    max_attempts: 2
    then:
      strategy: different_provider
      max_attempts: 2
on_errors:
  - errors: [context_length_exceeded]
    strategy: larger_context
    max_attempts: 2
  - errors: [quota_exhausted, content_filter]
    strategy: different_provider
    max_attempts: 2
    block_duration_seconds: 3600
    block_scope: provider
on_timeout:
  strategy: same_model
  max_attempts: 1
  then:
    strategy: same_provider
    max_attempts: 1
retry_after_handling:
  same_model_max_wait_ms: 2000
hedge:
  after_ms: 800
  strategy: different_provider
  max_hedges: 2
)";

std::string EveryExtensionFile() {
  return "server:\n  hedge_budget:\n    percent: 5\n    min_hedges_per_second: 2\n"
         "    window_seconds: 30\n" +
         WithPolicy(kEveryExtension, kOthers);
}

TEST(ConfigExtensionsTest, EveryExtensionLoads) {
  LoadResult r = Load(EveryExtensionFile());
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << Dump(r);
  const RetryPolicy& p = *r.config->providers[0].retry_policy;
  ASSERT_EQ(p.on_status_codes.size(), 1u);
  EXPECT_EQ(p.on_status_codes[0].policy.then,
            (EscalationStep{Strategy::kDifferentProvider, 2}));
  ASSERT_EQ(p.on_errors.size(), 2u);
  EXPECT_THAT(p.on_errors[0].errors, ElementsAre(ProviderErrorClass::kContextLengthExceeded));
  EXPECT_EQ(p.on_errors[0].policy.strategy, Strategy::kLargerContext);
  EXPECT_THAT(p.on_errors[1].errors,
              ElementsAre(ProviderErrorClass::kQuotaExhausted, ProviderErrorClass::kContentFilter));
  EXPECT_EQ(p.on_errors[1].block_duration_seconds, 3600);
  EXPECT_EQ(p.on_errors[1].block_scope, BlockScope::kProvider);
  EXPECT_EQ(p.RuleForError(ProviderErrorClass::kContentFilter), &p.on_errors[1]);
  EXPECT_EQ(p.RuleForError(ProviderErrorClass::kRateLimited), nullptr);
  EXPECT_EQ(p.on_timeout.then, (EscalationStep{Strategy::kSameProvider, 1}));
  EXPECT_EQ(p.retry_after.same_model_max_wait_ms, 2000);
  ASSERT_TRUE(p.hedge.has_value());
  EXPECT_EQ(*p.hedge, (HedgePolicy{800, Strategy::kDifferentProvider, 2}));
  EXPECT_EQ(r.config->providers[1].context_window, 200000);
  EXPECT_EQ(r.config->server.hedge_budget, (RetryBudgetSettings{true, 5, 2, 30}));
}

TEST(ConfigExtensionsTest, EveryExtensionRoundTrips) {
  LoadResult first = Load(EveryExtensionFile());
  ASSERT_TRUE(first.ok()) << Dump(first);
  std::string text = ToYaml(*first.config);
  for (const char* key : {"then:", "on_errors:", "larger_context", "block_scope: provider",
                          "same_model_max_wait_ms: 2000", "hedge:", "max_hedges: 2",
                          "context_window: 200000", "min_hedges_per_second: 2"}) {
    EXPECT_THAT(text, HasSubstr(key));
  }
  LoadResult second = Load(text);
  ASSERT_TRUE(second.ok()) << text << Dump(second);
  EXPECT_EQ(*first.config, *second.config) << text;
  EXPECT_EQ(ToYaml(*second.config), text) << "canonical";
}

TEST(ConfigExtensionsTest, EveryExtensionLoadsAsAControlPlanePush) {
  LoadOptions options;
  options.pushed_policy = true;
  options.allowed_env = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"};
  LoadResult r = LoadConfigFromString(WithPolicy(kEveryExtension, kOthers), "test.yaml",
                                      MapEnv(DefaultEnv()), options);
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].retry_policy->hedge->after_ms, 800);
}

// A plano policy using every key plano has: none of the extensions is set,
// and the canonical YAML writes none of their keys.
TEST(ConfigExtensionsTest, APlanoFileMeansWhatItMeant) {
  LoadResult r = Load(WithPolicy(R"(fallback_models: [anthropic/claude-3-5-sonnet]
default_strategy: different_provider
default_max_attempts: 3
on_status_codes:
  - codes: [429]
    strategy: same_model
    max_attempts: 3
  - codes: ["500-504"]
    strategy: different_provider
    max_attempts: 2
on_timeout:
  strategy: different_provider
  max_attempts: 2
on_high_latency:
  threshold_ms: 5000
  strategy: different_provider
  max_attempts: 2
  block_duration_seconds: 60
backoff:
  apply_to: global
  base_ms: 100
  max_ms: 2000
retry_after_handling:
  scope: model
  apply_to: global
  max_retry_after_seconds: 120
max_retry_duration_ms: 30000
)",
                             kOthers));
  ASSERT_TRUE(r.ok()) << Dump(r);
  const RetryPolicy& p = *r.config->providers[0].retry_policy;
  for (const StatusCodeRule& rule : p.on_status_codes) EXPECT_FALSE(rule.policy.then);
  EXPECT_FALSE(p.on_timeout.then);
  EXPECT_TRUE(p.on_errors.empty());
  EXPECT_FALSE(p.retry_after.same_model_max_wait_ms);
  EXPECT_FALSE(p.hedge);
  std::string text = ToYaml(*r.config);
  for (const char* key : {"then:", "on_errors", "same_model_max_wait_ms", "hedge:", "max_hedges"}) {
    EXPECT_THAT(text, Not(HasSubstr(key))) << key;
  }
}

// ---------------------------------------------------------------------------
// Validation, each with its line and key.

TEST(ConfigExtensionsTest, AnUnknownErrorClassNamesTheKnownOnes) {
  LoadResult r = Load(WithPolicy(R"(on_errors:
  - errors: [prompt_too_long]
    strategy: different_provider
)",
                                 kOthers));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              Contains(Error(7, "model_providers[0].retry_policy.on_errors[0].errors[0]",
                             "\"prompt_too_long\" is not an error class; one of "
                             "context_length_exceeded, content_filter")));
}

TEST(ConfigExtensionsTest, SameModelForASpentQuotaIsAnError) {
  LoadResult r = Load(WithPolicy(R"(on_errors:
  - errors: [quota_exhausted]
    strategy: same_model
)",
                                 kOthers));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              Contains(Error(8, "model_providers[0].retry_policy.on_errors[0].strategy",
                             "same_model for quota_exhausted: a spent quota stays spent")));
}

TEST(ConfigExtensionsTest, SameModelByDefaultForARefusalIsAnError) {
  LoadResult r = Load(WithPolicy(R"(default_strategy: same_model
on_errors:
  - errors: [content_filter]
)",
                                 kOthers));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, Contains(Error(8, "model_providers[0].retry_policy.on_errors[0].strategy",
                                            "same_model for content_filter (default_strategy)")));
}

TEST(ConfigExtensionsTest, LargerContextOutsideAContextRuleIsAnError) {
  LoadResult r = Load(WithPolicy(R"(on_status_codes:
  - codes: [400]
    strategy: larger_context
on_errors:
  - errors: [context_length_exceeded, rate_limited]
    strategy: larger_context
)",
                                 kOthers));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              Contains(Error(8, "model_providers[0].retry_policy.on_status_codes[0].strategy",
                             "larger_context is only for an on_errors entry whose errors are "
                             "[context_length_exceeded]")));
  EXPECT_THAT(r.diagnostics,
              Contains(Error(11, "model_providers[0].retry_policy.on_errors[0].strategy",
                             "larger_context is only for")));
}

TEST(ConfigExtensionsTest, LargerContextWithNoLargerModelIsWarned) {
  LoadResult r = Load(WithPolicy(R"(on_errors:
  - errors: [context_length_exceeded]
    strategy: larger_context
)",
                                 "  - model: openai/gpt-4o-mini\n    base_url: https://api.openai.com\n"
                                 "    access_key: $OPENAI_API_KEY\n"));
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              Contains(Warning(8, "model_providers[0].retry_policy.on_errors[0].strategy",
                               "larger_context can never find a target: no other configured model "
                               "has a context_window larger than 0 (this model sets none)")));
}

TEST(ConfigExtensionsTest, AnErrorClassListedTwiceIsWarned) {
  LoadResult r = Load(WithPolicy(R"(on_errors:
  - errors: [overloaded]
    strategy: different_provider
  - errors: [rate_limited, overloaded]
    strategy: same_provider
)",
                                 kOthers));
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              Contains(Warning(9, "model_providers[0].retry_policy.on_errors[1].errors[1]",
                               "overloaded is already listed in "
                               "model_providers[0].retry_policy.on_errors[0]")));
}

TEST(ConfigExtensionsTest, ThenNeedsAStrategyAndIsNotForHighLatency) {
  LoadResult r = Load(WithPolicy(R"(on_status_codes:
  - codes: [500]
    then:
      max_attempts: 2
on_high_latency:
  threshold_ms: 5000
  then:
    strategy: different_provider
)",
                                 kOthers));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              Contains(Error(8, "model_providers[0].retry_policy.on_status_codes[0].then.strategy",
                             "is required")));
  EXPECT_THAT(r.diagnostics,
              Contains(Error(12, "model_providers[0].retry_policy.on_high_latency.then",
                             "unknown key \"then\"")));
}

TEST(ConfigExtensionsTest, HedgeValuesAreChecked) {
  LoadResult r = Load(WithPolicy(R"(hedge:
  after_ms: 0
  max_hedges: 10
  strategy: larger_context
)",
                                 kOthers));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, Contains(Error(7, "model_providers[0].retry_policy.hedge.after_ms",
                                            "must be an integer from 1")));
  EXPECT_THAT(r.diagnostics, Contains(Error(8, "model_providers[0].retry_policy.hedge.max_hedges",
                                            "")));
  EXPECT_THAT(r.diagnostics, Contains(Error(9, "model_providers[0].retry_policy.hedge.strategy",
                                            "larger_context is only for")));
  LoadResult missing = Load(WithPolicy("hedge: {}\n", kOthers));
  EXPECT_THAT(missing.diagnostics,
              Contains(Error(6, "model_providers[0].retry_policy.hedge.after_ms", "is required")));
}

TEST(ConfigExtensionsTest, ContextWindowAndHedgeBudgetAreChecked) {
  LoadResult r = Load(R"(
server:
  hedge_budget:
    percent: 2000
    min_retries_per_second: 1
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    context_window: 0
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, Contains(Error(3, "server.hedge_budget.percent", "")));
  EXPECT_THAT(r.diagnostics,
              Contains(Error(4, "server.hedge_budget.min_retries_per_second",
                             "min_hedges_per_second")));
  EXPECT_THAT(r.diagnostics, Contains(Error(9, "model_providers[0].context_window", "")));
}

TEST(ConfigExtensionsTest, AWaitAboveTheRetryAfterCapIsWarned) {
  LoadResult r = Load(WithPolicy(R"(retry_after_handling:
  max_retry_after_seconds: 1
  same_model_max_wait_ms: 5000
)",
                                 kOthers));
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              Contains(Warning(8, "model_providers[0].retry_policy.retry_after_handling.same_model_max_wait_ms",
                               "capped there first")));
}

}  // namespace
}  // namespace rebound
