// RETRY.md section 2: every validation error and warning, each with its exact
// line and key. Most cases put a policy under model_providers[0] of a file
// that also configures openai/gpt-4o-mini and mistral/large, so that failover
// strategies always have a target and only the rule under test fires.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "policy/config.h"
#include "policy/config_loader.h"
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

constexpr std::string_view kOtherProviders = R"(  - model: openai/gpt-4o-mini
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
  - model: mistral/large
    base_url: https://api.mistral.ai
    access_key: $MISTRAL_API_KEY
)";

std::string WithPolicy(std::string_view policy, std::string_view others = kOtherProviders) {
  return testing::WithPolicy(policy, others);
}

// Policy line k is file line L(k) (see testing::WithPolicy).
constexpr int L(int policy_line) { return 5 + policy_line; }

std::string P(std::string_view suffix) {
  return "model_providers[0].retry_policy." + std::string(suffix);
}

LoadResult LoadPolicy(std::string_view policy) { return Load(WithPolicy(policy)); }

// ---------------------------------------------------------------------------
// Errors: status codes

TEST(ValidationTest, CodeBelow100IsAnError) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: [429, 99]
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(L(2), P("on_status_codes[0].codes[1]"),
                                               "status code 99 is outside 100-599")))
      << Dump(r);
}

TEST(ValidationTest, CodeAbove599IsAnError) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes:
      - 600
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(L(3), P("on_status_codes[0].codes[0]"),
                                               "status code 600 is outside 100-599")))
      << Dump(r);
}

TEST(ValidationTest, RangeReachingOutside100To599IsAnError) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: ["550-600"]
  - codes: ["99-101"]
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(L(2), P("on_status_codes[0].codes[0]"),
                                               "range \"550-600\" reaches outside 100-599"),
                                         Error(L(3), P("on_status_codes[1].codes[0]"),
                                               "range \"99-101\" reaches outside 100-599")))
      << Dump(r);
}

TEST(ValidationTest, InvertedRangeIsAnError) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: ["504-502"]
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(2), P("on_status_codes[0].codes[0]"),
                                "range \"504-502\" is inverted; write the lower code first "
                                "(\"502-504\")")))
      << Dump(r);
}

TEST(ValidationTest, RangeThatIsNotAToBIsAnError) {
  for (std::string_view bad : {"500", "500-", "-504", "500-502-504", "5xx", "500..504", "500 504",
                               "", "0x1F4-504", "+500-504", "500-504x"}) {
    LoadResult r = LoadPolicy("on_status_codes:\n  - codes: [\"" + std::string(bad) + "\"]\n");
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.diagnostics,
                ElementsAre(Error(L(2), P("on_status_codes[0].codes[0]"),
                                  "must be a status code (300-599) or a range \"A-B\"")))
        << bad << "\n"
        << Dump(r);
  }
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: [{a: 1}, [500], ~]
)");
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(2), P("on_status_codes[0].codes[0]"), "got a map"),
                          Error(L(2), P("on_status_codes[0].codes[1]"), "got a list"),
                          Error(L(2), P("on_status_codes[0].codes[2]"), "got nothing")))
      << Dump(r);
}

TEST(ValidationTest, RangesAllowWhitespaceAndUnquotedForm) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: [" 500 - 502 ", "503 -504", 520-521]
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.config->providers[0].retry_policy->on_status_codes[0].codes,
              ElementsAre(500, 501, 502, 503, 504, 520, 521));
}

TEST(ValidationTest, CodesAreRequiredAndNonEmpty) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - strategy: same_model
  - codes: []
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(2), P("on_status_codes[0].codes"), "is required"),
                          Error(L(3), P("on_status_codes[1].codes"), "at least one")))
      << Dump(r);
}

// ---------------------------------------------------------------------------
// Errors: attempt budgets and durations

TEST(ValidationTest, MaxAttemptsBelowOneIsAnError) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: [429]
    max_attempts: 0
  - codes: [503]
    max_attempts: -1
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(3), P("on_status_codes[0].max_attempts"), "got 0"),
                          Error(L(5), P("on_status_codes[1].max_attempts"), "got -1")))
      << Dump(r);
}

TEST(ValidationTest, DefaultMaxAttemptsBelowOneIsAnError) {
  LoadResult r = LoadPolicy("default_max_attempts: 0\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(1), P("default_max_attempts"), "must be an integer from 1")))
      << Dump(r);
}

TEST(ValidationTest, OnTimeoutMaxAttemptsZeroIsAnError) {
  LoadResult r = LoadPolicy(R"(on_timeout:
  strategy: same_model
  max_attempts: 0
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(L(3), P("on_timeout.max_attempts"), "got 0")))
      << Dump(r);
}

TEST(ValidationTest, MaxRetryDurationZeroIsAnError) {
  LoadResult r = LoadPolicy("max_retry_duration_ms: 0\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(L(1), P("max_retry_duration_ms"),
                                               "must be an integer from 1 to 86400000")))
      << Dump(r);
}

TEST(ValidationTest, MaxRetryAfterSecondsZeroIsAnError) {
  LoadResult r = LoadPolicy(R"(retry_after_handling:
  scope: model
  max_retry_after_seconds: 0
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(3), P("retry_after_handling.max_retry_after_seconds"),
                                "must be an integer from 1 to 86400 (seconds: at most 24 h), "
                                "got 0")))
      << Dump(r);
}

// ---------------------------------------------------------------------------
// Errors: backoff

TEST(ValidationTest, BackoffBaseMsZeroIsAnError) {
  LoadResult r = LoadPolicy(R"(backoff:
  apply_to: global
  base_ms: 0
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(L(3), P("backoff.base_ms"), "got 0"))) << Dump(r);
}

TEST(ValidationTest, BackoffMaxMsNotAboveBaseMsIsAnError) {
  LoadResult r = LoadPolicy(R"(backoff:
  apply_to: global
  base_ms: 500
  max_ms: 500
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(L(4), P("backoff.max_ms"),
                                               "max_ms (500) must be greater than base_ms (500)")))
      << Dump(r);

  r = LoadPolicy(R"(backoff:
  apply_to: global
  max_ms: 50
)");
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(L(3), P("backoff.max_ms"),
                                               "max_ms (50) must be greater than base_ms (100)")))
      << Dump(r);

  // The default max_ms (5000) against a larger base_ms: reported at backoff.
  r = LoadPolicy(R"(backoff:
  apply_to: global
  base_ms: 6000
)");
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(1), P("backoff.max_ms"),
                                "max_ms (5000, the default) must be greater than base_ms (6000)")))
      << Dump(r);
}

TEST(ValidationTest, BackoffWithoutApplyToIsAnError) {
  // plano: test_backoff_without_apply_to_fails_deserialization.
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: [429]
    strategy: "same_model"
    max_attempts: 2
backoff:
  base_ms: 100
  max_ms: 5000
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(5), P("backoff.apply_to"),
                                "is required when backoff is set: same_model, same_provider or "
                                "global")))
      << Dump(r);
}

// ---------------------------------------------------------------------------
// Errors: on_high_latency

TEST(ValidationTest, HighLatencyZeroValuesAreErrors) {
  LoadResult r = LoadPolicy(R"(on_high_latency:
  threshold_ms: 0
  max_attempts: 0
  block_duration_seconds: 0
  min_triggers: 0
  trigger_window_seconds: 0
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(2), P("on_high_latency.threshold_ms"), "got 0"),
                          Error(L(3), P("on_high_latency.max_attempts"), "got 0"),
                          Error(L(4), P("on_high_latency.block_duration_seconds"), "got 0"),
                          Error(L(5), P("on_high_latency.min_triggers"), "got 0"),
                          Error(L(6), P("on_high_latency.trigger_window_seconds"), "got 0")))
      << Dump(r);
}

TEST(ValidationTest, MinTriggersAboveOneNeedsATriggerWindow) {
  LoadResult r = LoadPolicy(R"(on_high_latency:
  threshold_ms: 5000
  min_triggers: 3
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(L(3), P("on_high_latency.min_triggers"),
                                               "min_triggers 3 needs trigger_window_seconds")))
      << Dump(r);

  r = LoadPolicy(R"(on_high_latency:
  threshold_ms: 5000
  min_triggers: 3
  trigger_window_seconds: 30
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty());
  EXPECT_EQ(r.config->providers[0].retry_policy->on_high_latency->trigger_window_seconds, 30);
}

TEST(ValidationTest, HighLatencyNeedsAThreshold) {
  LoadResult r = LoadPolicy(R"(on_high_latency:
  measure: total
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(1), P("on_high_latency.threshold_ms"), "is required")))
      << Dump(r);
}

// ---------------------------------------------------------------------------
// Errors: fallback_models

TEST(ValidationTest, FallbackWithoutSlashIsAnError) {
  LoadResult r = LoadPolicy(R"(fallback_models:
  - gpt-4o-mini
  - openai/gpt-4o-mini
  - "/x"
  - "openai/"
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(2), P("fallback_models[0]"), "\"gpt-4o-mini\" is not a model id"),
                          Error(L(4), P("fallback_models[2]"), "\"/x\" is not a model id"),
                          Error(L(5), P("fallback_models[3]"), "\"openai/\" is not a model id")))
      << Dump(r);
}

TEST(ValidationTest, FallbackNamingNoConfiguredModelIsAnError) {
  LoadResult r = LoadPolicy(R"(fallback_models: [mistral/large, anthropic/claude-3-5-sonnet]
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(L(1), P("fallback_models[1]"),
                                "\"anthropic/claude-3-5-sonnet\" names no configured model")))
      << Dump(r);
}

// ---------------------------------------------------------------------------
// Errors: unknown enum values and unknown keys

TEST(ValidationTest, UnknownEnumValuesAreErrors) {
  struct Case {
    std::string policy;
    std::string key;
    std::string allowed;
  };
  const Case cases[] = {
      {"default_strategy: fastest\n", "default_strategy",
       "allowed: same_model, same_provider, different_provider"},
      {"on_status_codes:\n- codes: [429]\n  strategy: random\n", "on_status_codes[0].strategy",
       "allowed: same_model, same_provider, different_provider"},
      {"on_timeout:\n  strategy: Same_Model\n", "on_timeout.strategy",
       "allowed: same_model, same_provider, different_provider"},
      {"on_high_latency:\n  threshold_ms: 5000\n  measure: p99\n", "on_high_latency.measure",
       "allowed: ttfb, total"},
      {"on_high_latency:\n  threshold_ms: 5000\n  scope: region\n", "on_high_latency.scope",
       "allowed: model, provider"},
      {"on_high_latency:\n  threshold_ms: 5000\n  apply_to: replica\n", "on_high_latency.apply_to",
       "allowed: global, request"},
      {"backoff:\n  apply_to: everything\n", "backoff.apply_to",
       "allowed: same_model, same_provider, global"},
      {"retry_after_handling:\n  scope: 5\n", "retry_after_handling.scope",
       "allowed: model, provider"},
      {"retry_after_handling:\n  apply_to: local\n", "retry_after_handling.apply_to",
       "allowed: global, request"},
  };
  for (const Case& c : cases) {
    LoadResult r = LoadPolicy(c.policy);
    EXPECT_FALSE(r.ok()) << c.policy;
    int line = L(static_cast<int>(std::count(c.policy.begin(), c.policy.end(), '\n')));
    EXPECT_THAT(r.diagnostics, ElementsAre(Error(line, P(c.key), "unknown value")))
        << c.policy << Dump(r);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0].message, ::testing::HasSubstr(c.allowed));
  }
}

TEST(ValidationTest, UnknownKeysAreErrorsInEverySection) {
  struct Case {
    std::string policy;
    std::string key;
  };
  const Case cases[] = {
      {"fallback_model: [mistral/large]\n", "fallback_model"},
      {"on_status_codes:\n- codes: [429]\n  retries: 2\n", "on_status_codes[0].retries"},
      {"on_timeout:\n  timeout_ms: 5\n", "on_timeout.timeout_ms"},
      {"on_high_latency:\n  threshold_ms: 5000\n  window: 5\n", "on_high_latency.window"},
      {"backoff:\n  apply_to: global\n  factor: 2\n", "backoff.factor"},
      {"retry_after_handling:\n  max_seconds: 5\n", "retry_after_handling.max_seconds"},
  };
  for (const Case& c : cases) {
    LoadResult r = LoadPolicy(c.policy);
    EXPECT_FALSE(r.ok()) << c.policy;
    int line = L(static_cast<int>(std::count(c.policy.begin(), c.policy.end(), '\n')));
    EXPECT_THAT(r.diagnostics, ElementsAre(Error(line, P(c.key), "unknown key")))
        << c.policy << Dump(r);
  }
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    timeouts:
      read_ms: 5
)");
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(6, "model_providers[0].timeouts.read_ms",
                                "allowed here: connect_ms, first_byte_ms, idle_ms, total_ms")))
      << Dump(r);
  r = Load(R"(
server:
  tls:
    ca_file: x
model_providers: []
)");
  EXPECT_THAT(r.diagnostics, ElementsAre(Warning(0, "model_providers", "no model providers"),
                                         Error(3, "server.tls.ca_file", "unknown key \"ca_file\"")))
      << Dump(r);
}

// ---------------------------------------------------------------------------
// Errors: credentials, duplicate ids, defaults

TEST(ValidationTest, EmptyAccessKeyWithoutPassthroughIsAnError) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/a
    base_url: https://x
  - model: openai/b
    base_url: https://x
    access_key: $NOT_SET
  - model: openai/c
    base_url: https://x
    access_key: $EMPTY_KEY
  - model: openai/d
    base_url: https://x
    access_key: ""
  - model: openai/e
    base_url: https://x
    access_key: $NOT_SET
    passthrough_auth: true
  - model: openai/f
    base_url: https://x
    passthrough_auth: true
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(2, "model_providers[0].access_key",
                                "is required unless passthrough_auth is true"),
                          Error(6, "model_providers[1].access_key",
                                "resolves empty: the environment variable NOT_SET is not set"),
                          Error(9, "model_providers[2].access_key",
                                "resolves empty: the environment variable EMPTY_KEY is empty"),
                          Error(12, "model_providers[3].access_key", "is empty")))
      << Dump(r);
}

TEST(ValidationTest, DuplicateModelIdsAreAnError) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://a
    access_key: k
  - model: openai/gpt-4o-mini
    base_url: https://a
    access_key: k
  - model: openai/gpt-4o
    base_url: https://b
    access_key: k
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(8, "model_providers[2].model",
                                "duplicate model id \"openai/gpt-4o\"; it is already configured "
                                "at line 2")))
      << Dump(r);
}

TEST(ValidationTest, MoreThanOneDefaultIsAnError) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/a
    base_url: https://a
    access_key: k
    default: true
  - model: openai/b
    base_url: https://a
    access_key: k
    default: false
  - model: openai/c
    base_url: https://a
    access_key: k
    default: true
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(13, "model_providers[2].default",
                                "more than one provider has default: true (\"openai/a\" at line "
                                "5 already does)")))
      << Dump(r);
}

TEST(ValidationTest, AllErrorsAreReportedNotJustTheFirst) {
  LoadResult r = LoadPolicy(R"(default_max_attempts: 0
on_status_codes:
  - codes: [99, "504-502"]
    max_attempts: 0
backoff:
  base_ms: 0
max_retry_duration_ms: 0
)");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.diagnostics.size(), 7u) << Dump(r);
  for (const Diagnostic& d : r.diagnostics) {
    EXPECT_EQ(d.severity, Diagnostic::Severity::kError) << d.ToString();
  }
}

// ---------------------------------------------------------------------------
// Warnings

TEST(ValidationTest, CodeInTwoEntriesWarnsAndTheFirstEntryWins) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: [429, 503]
    strategy: same_model
  - codes: [503, "500-504", 429]
    strategy: same_provider
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(
      r.diagnostics,
      ElementsAre(Warning(L(4), P("on_status_codes[1].codes[0]"),
                          "status code 503 is already listed in "
                          "model_providers[0].retry_policy.on_status_codes[0]; the first entry "
                          "wins"),
                  Warning(L(4), P("on_status_codes[1].codes[1]"), "status code 503 is already"),
                  Warning(L(4), P("on_status_codes[1].codes[2]"), "status code 429 is already")))
      << Dump(r);
  const RetryPolicy& p = *r.config->providers[0].retry_policy;
  EXPECT_EQ(p.RuleForStatus(503)->policy.strategy, Strategy::kSameModel);
  EXPECT_EQ(p.RuleForStatus(502)->policy.strategy, Strategy::kSameProvider);
}

TEST(ValidationTest, BackoffSameModelWithDefaultDifferentProviderWarns) {
  LoadResult r = LoadPolicy(R"(default_strategy: different_provider
backoff:
  apply_to: same_model
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, ElementsAre(Warning(L(3), P("backoff.apply_to"),
                                                 "apply_to: same_model with default_strategy: "
                                                 "different_provider")))
      << Dump(r);
  // The default strategy is different_provider too.
  r = LoadPolicy("backoff: {apply_to: same_model}\n");
  EXPECT_THAT(r.diagnostics, ElementsAre(Warning(L(1), P("backoff.apply_to"), "same_model")))
      << Dump(r);
}

TEST(ValidationTest, BackoffSameProviderWithDefaultSameModelWarns) {
  LoadResult r = LoadPolicy(R"(default_strategy: same_model
backoff:
  apply_to: same_provider
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(L(3), P("backoff.apply_to"),
                                  "apply_to: same_provider with default_strategy: same_model")))
      << Dump(r);
}

TEST(ValidationTest, MatchingBackoffAndStrategyDoNotWarn) {
  for (std::string_view policy :
       {"default_strategy: same_model\nbackoff: {apply_to: same_model}\n",
        "default_strategy: same_provider\nbackoff: {apply_to: same_provider}\n",
        "default_strategy: different_provider\nbackoff: {apply_to: global}\n",
        "default_strategy: same_provider\nbackoff: {apply_to: same_model}\n"}) {
    LoadResult r = LoadPolicy(policy);
    ASSERT_TRUE(r.ok()) << Dump(r);
    EXPECT_THAT(r.diagnostics, IsEmpty()) << policy << Dump(r);
  }
}

TEST(ValidationTest, DifferentProviderWithNoOtherProviderWarns) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      default_strategy: different_provider
  - model: openai/gpt-4o-mini
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(6, "model_providers[0].retry_policy.default_strategy",
                                  "different_provider can never find a target: no other "
                                  "configured model has a provider other than \"openai\"")))
      << Dump(r);
}

TEST(ValidationTest, ImplicitDefaultStrategyWarnsAtTheRetryPolicyLine) {
  // plano warned for a single provider with a failover strategy.
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy: {}
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(5, "model_providers[0].retry_policy.default_strategy",
                                  "different_provider (the default) can never find a target")))
      << Dump(r);
}

TEST(ValidationTest, SameProviderWithNoOtherModelOfTheProviderWarns) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      default_strategy: same_model
      on_status_codes:
        - codes: [429]
          strategy: same_provider
      on_timeout:
        strategy: same_provider
      on_high_latency:
        threshold_ms: 5000
        strategy: same_provider
  - model: mistral/large
    base_url: https://api.mistral.ai
    access_key: $MISTRAL_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  const std::string p = "model_providers[0].retry_policy.";
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(9, p + "on_status_codes[0].strategy",
                                  "same_provider can never find a target: no other configured "
                                  "model has the provider \"openai\""),
                          Warning(11, p + "on_timeout.strategy", "same_provider can never"),
                          Warning(14, p + "on_high_latency.strategy", "same_provider can never")))
      << Dump(r);
}

TEST(ValidationTest, ModelsOfAnotherInterfaceQualifyUnlessCrossInterfaceIsSkip) {
  const std::string yaml = R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      default_strategy: different_provider
      cross_interface: )";
  const std::string others = R"(
  - model: anthropic/claude-3-5-sonnet
    base_url: https://api.anthropic.com
    access_key: $ANTHROPIC_API_KEY
)";
  LoadResult translated = Load(yaml + "translate" + others);
  ASSERT_TRUE(translated.ok()) << Dump(translated);
  EXPECT_THAT(translated.diagnostics, IsEmpty()) << Dump(translated);
  LoadResult skipped = Load(yaml + "skip" + others);
  ASSERT_TRUE(skipped.ok()) << Dump(skipped);
  EXPECT_THAT(skipped.diagnostics,
              ElementsAre(Warning(6, "model_providers[0].retry_policy.default_strategy",
                                  "can never find a target: no other configured model with the "
                                  "openai interface (cross_interface: skip) has a provider other "
                                  "than \"openai\"")))
      << Dump(skipped);
}

TEST(ValidationTest, SameModelAlwaysQualifies) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      default_strategy: same_model
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty()) << Dump(r);
}

TEST(ValidationTest, FallbackEqualToThePrimaryWarns) {
  LoadResult r = LoadPolicy("fallback_models: [mistral/large, openai/gpt-4o]\n");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, ElementsAre(Warning(L(1), P("fallback_models[1]"),
                                                 "\"openai/gpt-4o\" is this entry's own model")))
      << Dump(r);
}

TEST(ValidationTest, FallbackListedTwiceWarns) {
  LoadResult r = LoadPolicy(R"(fallback_models:
  - mistral/large
  - openai/gpt-4o-mini
  - mistral/large
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(L(4), P("fallback_models[2]"),
                                  "\"mistral/large\" is already listed at "
                                  "model_providers[0].retry_policy.fallback_models[0]")))
      << Dump(r);
}

constexpr char kAnthropicProvider[] =
    "  - model: anthropic/claude-3-5-sonnet\n"
    "    base_url: https://api.anthropic.com\n"
    "    access_key: $ANTHROPIC_API_KEY\n";

TEST(ValidationTest, FallbackWithAnotherInterfaceIsTranslatedWithoutAWarning) {
  LoadResult r = Load(WithPolicy("fallback_models: [anthropic/claude-3-5-sonnet, mistral/large]\n",
                                 std::string(kOtherProviders) + kAnthropicProvider));
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].retry_policy->cross_interface, CrossInterface::kTranslate);
}

TEST(ValidationTest, FallbackWithAnotherInterfaceUnderCrossInterfaceSkipWarns) {
  LoadResult r = Load(WithPolicy("fallback_models: [anthropic/claude-3-5-sonnet, mistral/large]\n"
                                 "cross_interface: skip\n",
                                 std::string(kOtherProviders) + kAnthropicProvider));
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(L(1), P("fallback_models[0]"),
                                  "uses the anthropic interface and this model the openai one; "
                                  "cross_interface: skip means it is never tried")))
      << Dump(r);
  EXPECT_EQ(r.config->providers[0].retry_policy->cross_interface, CrossInterface::kSkip);
}

TEST(ValidationTest, CrossInterfaceAcceptsOnlyItsTwoValues) {
  LoadResult r = Load(WithPolicy("cross_interface: always\n", kOtherProviders));
  EXPECT_FALSE(r.ok()) << Dump(r);
  EXPECT_THAT(Dump(r), HasSubstr("translate, skip"));
}

TEST(ValidationTest, ProviderScopeWithSameModelWarns) {
  LoadResult r = LoadPolicy(R"(on_high_latency:
  threshold_ms: 5000
  strategy: same_model
  scope: provider
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, ElementsAre(Warning(L(4), P("on_high_latency.scope"),
                                                 "scope: provider with strategy same_model")))
      << Dump(r);

  r = LoadPolicy(R"(default_strategy: same_model
retry_after_handling:
  scope: provider
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(L(3), P("retry_after_handling.scope"),
                                  "scope: provider with default_strategy: same_model")))
      << Dump(r);

  // The latency strategy inherited from default_strategy counts too.
  r = LoadPolicy(R"(default_strategy: same_model
on_high_latency:
  threshold_ms: 5000
  scope: provider
)");
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(L(4), P("on_high_latency.scope"), "scope: provider")))
      << Dump(r);
}

TEST(ValidationTest, ThresholdBelowOneSecondWarns) {
  LoadResult r = LoadPolicy(R"(on_high_latency:
  threshold_ms: 999
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, ElementsAre(Warning(L(2), P("on_high_latency.threshold_ms"),
                                                 "999 ms is an aggressive latency threshold")))
      << Dump(r);
  r = LoadPolicy("on_high_latency: {threshold_ms: 1000}\n");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty()) << Dump(r);
}

TEST(ValidationTest, AttemptBudgetAboveTheHardCapWarns) {
  LoadResult r = LoadPolicy(R"(default_max_attempts: 11
on_status_codes:
  - codes: [429]
    max_attempts: 10
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(L(1), P("default_max_attempts"),
                                  "11 is above the hard cap of 10 attempts per request")))
      << Dump(r);
}

TEST(ValidationTest, WarningsAloneStillYieldAConfig) {
  LoadResult r = LoadPolicy(R"(fallback_models: [mistral/large, mistral/large, openai/gpt-4o]
on_status_codes:
  - codes: [429]
  - codes: [429]
on_high_latency: {threshold_ms: 10}
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.diagnostics.size(), 4u) << Dump(r);
  EXPECT_FALSE(HasErrors(r.diagnostics));
}

// ---------------------------------------------------------------------------
// Errors: upper bounds (issue 10 item 12a)

// One bounded field: `yaml` has a "V" where the value goes.
struct Bounded {
  std::string_view yaml;
  int line;
  std::string key;
  int64_t max;
  int64_t fits;  // the largest value that loads (max, unless another rule binds first)
};

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kDaySeconds = 86'400;

std::vector<Bounded> BoundedFields() {
  auto server = [](std::string_view key, int64_t max) {
    return Bounded{"", 2, "server." + std::string(key), max, max};
  };
  auto timeout = [](std::string_view key) {
    return Bounded{"", 5, "model_providers[0].timeouts." + std::string(key), kDayMs, kDayMs};
  };
  auto policy = [](std::string_view yaml, std::string_view key, int64_t max, int64_t fits = 0) {
    return Bounded{yaml, L(1), P(key), max, fits == 0 ? max : fits};
  };
  std::vector<Bounded> fields = {
      server("max_body_bytes", int64_t{1} << 30),
      server("max_in_flight", 1'000'000),
      server("max_connections_per_provider", 65'536),
      server("drain_grace_ms", kDayMs),
      server("upstream_threads", 16),
      server("retry_budget.percent", 1000),
      server("retry_budget.min_retries_per_second", 100'000),
      server("retry_budget.window_seconds", 600),
      timeout("connect_ms"),
      timeout("first_byte_ms"),
      timeout("idle_ms"),
      timeout("total_ms"),
      policy("default_max_attempts: V", "default_max_attempts", 100),
      policy("max_retry_duration_ms: V", "max_retry_duration_ms", kDayMs),
      policy("on_timeout: {max_attempts: V}", "on_timeout.max_attempts", 100),
      policy("on_status_codes: [{codes: [503], max_attempts: V}]",
             "on_status_codes[0].max_attempts", 100),
      policy("backoff: {apply_to: global, max_ms: V}", "backoff.max_ms", kDayMs),
      // base_ms must stay below max_ms, itself at most a day.
      policy("backoff: {apply_to: global, max_ms: 86400000, base_ms: V}", "backoff.base_ms", kDayMs,
             kDayMs - 1),
      policy("retry_after_handling: {max_retry_after_seconds: V}",
             "retry_after_handling.max_retry_after_seconds", kDaySeconds),
      policy("on_high_latency: {threshold_ms: V}", "on_high_latency.threshold_ms", kDayMs),
      policy("on_high_latency: {threshold_ms: 5000, trigger_window_seconds: V}",
             "on_high_latency.trigger_window_seconds", kDaySeconds),
      policy("on_high_latency: {threshold_ms: 5000, block_duration_seconds: V}",
             "on_high_latency.block_duration_seconds", kDaySeconds),
      policy("on_high_latency: {threshold_ms: 5000, trigger_window_seconds: 60, min_triggers: V}",
             "on_high_latency.min_triggers", 1000),
      policy("on_high_latency: {threshold_ms: 5000, max_attempts: V}",
             "on_high_latency.max_attempts", 100),
  };
  return fields;
}

std::string FileWith(const Bounded& b, int64_t value) {
  std::string v = std::to_string(value);
  const std::string& key = b.key;
  if (key.rfind("server.retry_budget.", 0) == 0) {
    return "server:\n  retry_budget: {" + key.substr(20) + ": " + v + "}\n";
  }
  if (key.rfind("server.", 0) == 0) return "server:\n  " + key.substr(7) + ": " + v + "\n";
  if (key.rfind("model_providers[0].timeouts.", 0) == 0) {
    return "model_providers:\n  - model: openai/gpt-4o\n    base_url: https://api.openai.com\n"
           "    access_key: $OPENAI_API_KEY\n    timeouts: {" +
           key.substr(28) + ": " + v + "}\n";
  }
  std::string yaml(b.yaml);
  yaml.replace(yaml.find('V'), 1, v);
  return WithPolicy(yaml + "\n");
}

TEST(ValidationTest, EveryDurationAndCountHasAnUpperBound) {
  for (const Bounded& b : BoundedFields()) {
    LoadResult at = Load(FileWith(b, b.fits));
    EXPECT_FALSE(HasErrors(at.diagnostics)) << b.key << "\n" << Dump(at);
    for (int64_t over : {b.max + 1, std::numeric_limits<int64_t>::max()}) {
      LoadResult r = Load(FileWith(b, over));
      EXPECT_FALSE(r.ok()) << b.key << " = " << over;
      auto error = std::find_if(r.diagnostics.begin(), r.diagnostics.end(),
                                [&](const Diagnostic& d) {
                                  return d.key == b.key &&
                                         d.severity == Diagnostic::Severity::kError;
                                });
      if (error == r.diagnostics.end()) {
        ADD_FAILURE() << b.key << " = " << over << " is accepted\n" << Dump(r);
        continue;
      }
      EXPECT_THAT(*error, Error(b.line, b.key, "to " + std::to_string(b.max)));
      EXPECT_THAT(error->message, HasSubstr("got " + std::to_string(over)));
    }
  }
}

TEST(ValidationTest, DurationBoundsSayTheyAreOneDay) {
  // The server turns milliseconds into int64 nanoseconds: 2^63 - 1 ms made
  // every attempt time out at once.
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    timeouts: {first_byte_ms: 9223372036854775807}
    retry_policy:
      default_strategy: same_model
      on_high_latency: {threshold_ms: 5000, block_duration_seconds: 86401}
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(5, "model_providers[0].timeouts.first_byte_ms",
                                "must be an integer from 1 to 86400000 (milliseconds: at most "
                                "24 h), got 9223372036854775807"),
                          Error(8, "model_providers[0].retry_policy.on_high_latency."
                                   "block_duration_seconds",
                                "must be an integer from 1 to 86400 (seconds: at most 24 h), "
                                "got 86401")))
      << Dump(r);
}

// ---------------------------------------------------------------------------
// Errors: codes that never reach a retry decision (issue 10 item 12b)

TEST(ValidationTest, InformationalAndSuccessCodesAreErrors) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: [100, 199, 200, 204, 299, 300, 503]
  - codes: ["100-199", "200-299", "250-503", "101-101"]
)");
  EXPECT_FALSE(r.ok());
  const std::string kFailures = "on_status_codes lists failures (300-599)";
  EXPECT_THAT(
      r.diagnostics,
      ElementsAre(
          Error(L(2), P("on_status_codes[0].codes[0]"),
                "status code 100 is informational (1xx), never the final answer; " + kFailures),
          Error(L(2), P("on_status_codes[0].codes[1]"), "status code 199 is informational"),
          Error(L(2), P("on_status_codes[0].codes[2]"),
                "status code 200 is a success (2xx), which is never retried; " + kFailures),
          Error(L(2), P("on_status_codes[0].codes[3]"), "status code 204 is a success"),
          Error(L(2), P("on_status_codes[0].codes[4]"), "status code 299 is a success"),
          Error(L(3), P("on_status_codes[1].codes[0]"),
                "range \"100-199\" includes informational (1xx) codes; " + kFailures),
          Error(L(3), P("on_status_codes[1].codes[1]"),
                "range \"200-299\" includes success (2xx) codes; " + kFailures),
          Error(L(3), P("on_status_codes[1].codes[2]"), "range \"250-503\" includes success"),
          Error(L(3), P("on_status_codes[1].codes[3]"),
                "range \"101-101\" includes informational")))
      << Dump(r);
}

TEST(ValidationTest, RedirectAndErrorCodesStillLoad) {
  LoadResult r = LoadPolicy(R"(on_status_codes:
  - codes: [300, 308, "300-399", 599]
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].retry_policy->on_status_codes[0].codes.size(), 103u);
}

// ---------------------------------------------------------------------------
// Errors: integers with a leading '+' (issue 10 item 12c)

TEST(ValidationTest, LeadingPlusSignsAreErrorsInCodesAndIntegers) {
  LoadResult r = Load(R"(
server:
  max_in_flight: +10
  retry_budget: {window_seconds: +5}
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    timeouts: {connect_ms: +250, idle_ms: !!int "+250"}
    retry_policy:
      default_strategy: same_model
      default_max_attempts: +3
      on_status_codes:
        - codes: [+429, "+429", "+500-504", !!int "+503"]
          max_attempts: +2
)");
  EXPECT_FALSE(r.ok());
  const std::string kPolicy = "model_providers[0].retry_policy.";
  EXPECT_THAT(
      r.diagnostics,
      ElementsAre(
          Error(2, "server.max_in_flight", "must be an integer from 1 to 1000000, got \"+10\""),
          Error(3, "server.retry_budget.window_seconds", "got \"+5\""),
          Error(8, "model_providers[0].timeouts.connect_ms", "got \"+250\""),
          Error(8, "model_providers[0].timeouts.idle_ms", "got \"+250\""),
          Error(11, kPolicy + "default_max_attempts", "got \"+3\""),
          Error(13, kPolicy + "on_status_codes[0].codes[0]",
                "must be a status code (300-599) or a range \"A-B\", got \"+429\""),
          Error(13, kPolicy + "on_status_codes[0].codes[1]", "got \"+429\""),
          Error(13, kPolicy + "on_status_codes[0].codes[2]", "got \"+500-504\""),
          Error(13, kPolicy + "on_status_codes[0].codes[3]", "got \"+503\""),
          Error(14, kPolicy + "on_status_codes[0].max_attempts", "got \"+2\"")))
      << Dump(r);
}

// Found by tests/fuzz/config_loader_fuzzer: model ids were echoed between
// plain quotes, so a quoted "a/b\nc" split the diagnostic in two lines (and
// other control characters went to the terminal as they were).
TEST(ConfigValidationTest, ModelIdsInMessagesAreEscaped) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      fallback_models: ["anthropic/claude\n3", "openai/gpt-4o"]
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(5, "model_providers[0].retry_policy.default_strategy",
                                  "has a provider other than \"openai\""),
                          Error(6, "model_providers[0].retry_policy.fallback_models[0]",
                                "\"anthropic/claude\\x0a3\" names no configured model"),
                          Warning(6, "model_providers[0].retry_policy.fallback_models[1]",
                                  "\"openai/gpt-4o\" is this entry's own model")))
      << Dump(r);
  for (const Diagnostic& d : r.diagnostics) {
    EXPECT_EQ(d.ToString().find_first_of("\r\n"), std::string::npos) << d.ToString();
  }
}

}  // namespace
}  // namespace rebound
