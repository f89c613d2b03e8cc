// plano's own retry_policy YAML, ported: the 17 "P0 edge case" patterns of
// plano's configuration tests (crates/common/src/configuration.rs) and the
// retry configs of its e2e suite (tests/e2e/configs/retry_it*.yaml). A plano
// configuration must load unchanged (RETRY.md section 1).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "policy/config.h"
#include "policy/config_loader.h"
#include "tests/unit/config_test_util.h"

namespace rebound {
namespace {

using ::rebound::testing::Dump;
using ::rebound::testing::Env;
using ::rebound::testing::Load;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The models plano's patterns name, besides the primary openai/gpt-4o.
constexpr std::string_view kPatternModels = R"(  - model: openai/gpt-4o-mini
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
  - model: anthropic/claude-3-5-sonnet
    base_url: https://api.anthropic.com
    access_key: $ANTHROPIC_API_KEY
  - model: anthropic/claude-3-opus
    base_url: https://api.anthropic.com
    access_key: $ANTHROPIC_API_KEY
)";

// Loads a plano retry_policy as openai/gpt-4o's policy; it must load (plano's
// patterns may draw warnings, e.g. for fallbacks of the other interface) and
// the policy is returned.
RetryPolicy ParsePattern(std::string_view policy) {
  LoadResult r = Load(testing::WithPolicy(policy, kPatternModels));
  EXPECT_TRUE(r.ok()) << Dump(r);
  if (!r.ok() || !r.config->providers[0].retry_policy) return RetryPolicy{};
  return *r.config->providers[0].retry_policy;
}

TEST(PlanoPatternTest, Pattern1MultiProviderFailoverForRateLimits) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: "different_provider"
    max_attempts: 2
)");
  EXPECT_THAT(p.fallback_models, ElementsAre("anthropic/claude-3-5-sonnet"));
  ASSERT_EQ(p.on_status_codes.size(), 1u);
  EXPECT_EQ(p.on_status_codes[0].policy.strategy, Strategy::kDifferentProvider);
  EXPECT_EQ(p.on_status_codes[0].policy.max_attempts, 2);
}

TEST(PlanoPatternTest, Pattern2SameProviderFailoverWithModelDowngrade) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [openai/gpt-4o-mini, anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: "same_provider"
    max_attempts: 2
)");
  EXPECT_EQ(p.fallback_models.size(), 2u);
  EXPECT_EQ(p.on_status_codes[0].policy.strategy, Strategy::kSameProvider);
}

TEST(PlanoPatternTest, Pattern3SingleModelWithBackoffOnMultipleErrorTypes) {
  RetryPolicy p = ParsePattern(R"(fallback_models: []
on_status_codes:
  - codes: [429]
    strategy: "same_model"
    max_attempts: 3
  - codes: [503]
    strategy: "same_model"
    max_attempts: 3
backoff:
  apply_to: "same_model"
  base_ms: 500
)");
  EXPECT_THAT(p.fallback_models, IsEmpty());
  EXPECT_EQ(p.on_status_codes.size(), 2u);
  ASSERT_TRUE(p.backoff.has_value());
  EXPECT_EQ(p.backoff->apply_to, BackoffApplyTo::kSameModel);
  EXPECT_EQ(p.backoff->base_ms, 500);
  EXPECT_EQ(p.backoff->max_ms, 5000) << "max_ms defaults to 5000";
}

TEST(PlanoPatternTest, Pattern4PerStatusCodeStrategyCustomization) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [openai/gpt-4o-mini, anthropic/claude-3-5-sonnet]
default_strategy: "different_provider"
default_max_attempts: 2
on_status_codes:
  - codes: [429]
    strategy: "same_provider"
    max_attempts: 2
  - codes: [502]
    strategy: "different_provider"
    max_attempts: 3
  - codes: [503]
    strategy: "same_model"
    max_attempts: 2
  - codes: [504]
    strategy: "different_provider"
    max_attempts: 2
on_timeout:
  strategy: "different_provider"
  max_attempts: 2
)");
  EXPECT_EQ(p.default_strategy, Strategy::kDifferentProvider);
  EXPECT_EQ(p.default_max_attempts, 2);
  ASSERT_EQ(p.on_status_codes.size(), 4u);
  EXPECT_EQ(p.on_status_codes[2].policy.strategy, Strategy::kSameModel);
  EXPECT_EQ(p.on_timeout, (ClassPolicy{Strategy::kDifferentProvider, 2}));
}

TEST(PlanoPatternTest, Pattern5TimeoutSpecificConfiguration) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [anthropic/claude-3-5-sonnet]
default_strategy: "different_provider"
default_max_attempts: 2
on_status_codes:
  - codes: [429]
    strategy: "same_provider"
    max_attempts: 2
on_timeout:
  strategy: "different_provider"
  max_attempts: 3
)");
  EXPECT_EQ(p.on_timeout.max_attempts, 3);
}

TEST(PlanoPatternTest, Pattern6EmptyPolicyHasAllDefaults) {
  RetryPolicy p = ParsePattern("{}");
  EXPECT_THAT(p.fallback_models, IsEmpty());
  EXPECT_EQ(p.default_strategy, Strategy::kDifferentProvider);
  EXPECT_EQ(p.default_max_attempts, 2);
  EXPECT_THAT(p.on_status_codes, IsEmpty());
  EXPECT_EQ(p.on_timeout, (ClassPolicy{Strategy::kDifferentProvider, 2}));
  EXPECT_EQ(p.backoff, std::nullopt);
  EXPECT_EQ(p.max_retry_duration_ms, std::nullopt);
  EXPECT_EQ(p, RetryPolicy{});
}

TEST(PlanoPatternTest, Pattern6NoRetryPolicySectionMeansNoRetries) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].retry_policy, std::nullopt);
}

TEST(PlanoPatternTest, Pattern7BackoffOnlyForSameModel) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: "same_model"
    max_attempts: 2
backoff:
  apply_to: "same_model"
  base_ms: 100
  max_ms: 5000
  jitter: true
)");
  ASSERT_TRUE(p.backoff.has_value());
  EXPECT_EQ(p.backoff->apply_to, BackoffApplyTo::kSameModel);
  EXPECT_TRUE(p.backoff->jitter);
}

TEST(PlanoPatternTest, Pattern8BackoffForSameProvider) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [openai/gpt-4o-mini, anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: "same_provider"
    max_attempts: 2
backoff:
  apply_to: "same_provider"
  base_ms: 200
  max_ms: 10000
  jitter: true
)");
  ASSERT_TRUE(p.backoff.has_value());
  EXPECT_EQ(p.backoff->apply_to, BackoffApplyTo::kSameProvider);
  EXPECT_EQ(p.backoff->base_ms, 200);
  EXPECT_EQ(p.backoff->max_ms, 10000);
}

TEST(PlanoPatternTest, Pattern9GlobalBackoff) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: "different_provider"
    max_attempts: 2
backoff:
  apply_to: "global"
  base_ms: 50
  max_ms: 2000
  jitter: true
)");
  ASSERT_TRUE(p.backoff.has_value());
  EXPECT_EQ(p.backoff->apply_to, BackoffApplyTo::kGlobal);
  EXPECT_EQ(p.backoff->base_ms, 50);
  EXPECT_EQ(p.backoff->max_ms, 2000);
}

TEST(PlanoPatternTest, Pattern10DeterministicBackoffWithoutJitter) {
  RetryPolicy p = ParsePattern(R"(fallback_models: []
on_status_codes:
  - codes: [429]
    strategy: "same_model"
    max_attempts: 3
backoff:
  apply_to: "same_model"
  base_ms: 1000
  max_ms: 30000
  jitter: false
)");
  ASSERT_TRUE(p.backoff.has_value());
  EXPECT_FALSE(p.backoff->jitter);
  EXPECT_EQ(p.backoff->base_ms, 1000);
  EXPECT_EQ(p.backoff->max_ms, 30000);
}

TEST(PlanoPatternTest, Pattern11NoBackoffFastFailover) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: "different_provider"
    max_attempts: 2
)");
  EXPECT_EQ(p.backoff, std::nullopt);
}

TEST(PlanoPatternTest, Pattern12ModelLevelRetryAfterBlocking) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [openai/gpt-4o-mini, anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: "different_provider"
    max_attempts: 2
  - codes: [503]
    strategy: "different_provider"
    max_attempts: 2
retry_after_handling:
  scope: "model"
  apply_to: "global"
)");
  EXPECT_EQ(p.fallback_models.size(), 2u);
  EXPECT_EQ(p.on_status_codes.size(), 2u);
  EXPECT_EQ(p.retry_after, (RetryAfterPolicy{BlockScope::kModel, ApplyTo::kGlobal, 300}));
}

TEST(PlanoPatternTest, Pattern13ProviderLevelRetryAfterBlocking) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: "different_provider"
    max_attempts: 2
  - codes: [503]
    strategy: "different_provider"
    max_attempts: 2
  - codes: [502]
    strategy: "different_provider"
    max_attempts: 2
retry_after_handling:
  scope: "provider"
  apply_to: "global"
)");
  EXPECT_EQ(p.on_status_codes.size(), 3u);
  EXPECT_EQ(p.retry_after, (RetryAfterPolicy{BlockScope::kProvider, ApplyTo::kGlobal, 300}));
}

TEST(PlanoPatternTest, Pattern14RequestLevelRetryAfter) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: "different_provider"
    max_attempts: 2
  - codes: [503]
    strategy: "different_provider"
    max_attempts: 2
retry_after_handling:
  scope: "model"
  apply_to: "request"
)");
  EXPECT_EQ(p.retry_after, (RetryAfterPolicy{BlockScope::kModel, ApplyTo::kRequest, 300}));
}

TEST(PlanoPatternTest, Pattern15RetryAfterDefaultsPlusBackoff) {
  RetryPolicy p = ParsePattern(R"(fallback_models: []
on_status_codes:
  - codes: [429]
    strategy: "same_model"
    max_attempts: 3
  - codes: [503]
    strategy: "same_model"
    max_attempts: 3
backoff:
  apply_to: "same_model"
  base_ms: 1000
  max_ms: 30000
  jitter: true
)");
  // No retry_after_handling: the defaults apply, and are enforced.
  EXPECT_EQ(p.retry_after, (RetryAfterPolicy{BlockScope::kModel, ApplyTo::kGlobal, 300}));
  EXPECT_EQ(p.backoff, (BackoffPolicy{BackoffApplyTo::kSameModel, 1000, 30000, true}));
}

TEST(PlanoPatternTest, Pattern16FallbackModelsListForTargetedFailover) {
  RetryPolicy p = ParsePattern(
      R"(fallback_models: [openai/gpt-4o-mini, anthropic/claude-3-5-sonnet, anthropic/claude-3-opus]
default_strategy: "different_provider"
default_max_attempts: 2
on_status_codes:
  - codes: [429]
    strategy: "same_provider"
    max_attempts: 2
)");
  EXPECT_THAT(p.fallback_models, ElementsAre("openai/gpt-4o-mini", "anthropic/claude-3-5-sonnet",
                                             "anthropic/claude-3-opus"));
  EXPECT_EQ(p.default_strategy, Strategy::kDifferentProvider);
  EXPECT_EQ(p.default_max_attempts, 2);
  ASSERT_EQ(p.on_status_codes.size(), 1u);
  EXPECT_EQ(p.on_status_codes[0].policy.strategy, Strategy::kSameProvider);
}

TEST(PlanoPatternTest, Pattern17MixedIntegerAndRangeCodes) {
  RetryPolicy p = ParsePattern(R"(fallback_models: [anthropic/claude-3-5-sonnet]
default_strategy: "different_provider"
default_max_attempts: 2
on_status_codes:
  - codes: [429, "430-450", 526]
    strategy: "same_provider"
    max_attempts: 2
  - codes: ["502-504"]
    strategy: "different_provider"
    max_attempts: 3
)");
  ASSERT_EQ(p.on_status_codes.size(), 2u);
  const std::vector<int>& first = p.on_status_codes[0].codes;
  // 429 + (430..=450 = 21 codes) + 526 = 23 codes, in order.
  ASSERT_EQ(first.size(), 23u);
  EXPECT_EQ(first.front(), 429);
  EXPECT_EQ(first[1], 430);
  EXPECT_EQ(first[21], 450);
  EXPECT_EQ(first.back(), 526);
  EXPECT_EQ(std::count(first.begin(), first.end(), 451), 0);
  EXPECT_THAT(p.on_status_codes[1].codes, ElementsAre(502, 503, 504));
  EXPECT_EQ(p.RuleForStatus(440), &p.on_status_codes[0]);
  EXPECT_EQ(p.RuleForStatus(503), &p.on_status_codes[1]);
}

TEST(PlanoPatternTest, BackoffWithoutApplyToFails) {
  LoadResult r = Load(testing::WithPolicy(R"(on_status_codes:
  - codes: [429]
    strategy: "same_model"
    max_attempts: 2
backoff:
  base_ms: 100
  max_ms: 5000
)",
                                          kPatternModels));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.config, nullptr);
  EXPECT_TRUE(HasErrors(r.diagnostics));
}

TEST(PlanoPatternTest, DegenerateRangeExpandsToOneCode) {
  // plano's property: "N-N" expands to [N], for every valid N (rebound
  // rejects 1xx and 2xx, which never reach a retry decision).
  for (int code = 300; code <= 599; ++code) {
    std::string n = std::to_string(code);
    RetryPolicy p = ParsePattern("on_status_codes:\n  - codes: [\"" + n + "-" + n + "\"]\n");
    ASSERT_EQ(p.on_status_codes.size(), 1u);
    ASSERT_THAT(p.on_status_codes[0].codes, ElementsAre(code));
  }
}

TEST(PlanoPatternTest, FullRangeExpands) {
  RetryPolicy p = ParsePattern("on_status_codes:\n  - codes: [\"300-599\"]\n");
  ASSERT_EQ(p.on_status_codes.size(), 1u);
  ASSERT_EQ(p.on_status_codes[0].codes.size(), 300u);
  EXPECT_EQ(p.on_status_codes[0].codes.front(), 300);
  EXPECT_EQ(p.on_status_codes[0].codes.back(), 599);
}

// ---------------------------------------------------------------------------
// plano's e2e retry configs, whole files, with the mock ports they expect.

Env E2eEnv() {
  Env env = testing::DefaultEnv();
  env["MOCK_PRIMARY_PORT"] = "18001";
  env["MOCK_SECONDARY_PORT"] = "18002";
  env["MOCK_FALLBACK1_PORT"] = "18003";
  env["MOCK_FALLBACK2_PORT"] = "18004";
  return env;
}

TEST(PlanoE2eConfigTest, FallbackPriority) {
  // tests/e2e/configs/retry_it7_fallback_priority.yaml
  LoadResult r = Load(R"(
version: v0.3.0

listeners:
  - type: model
    name: model_listener
    port: 12000

model_providers:
  - model: openai/gpt-4o
    base_url: http://host.docker.internal:${MOCK_PRIMARY_PORT}
    access_key: test-key-primary
    default: true
    retry_policy:
      fallback_models: [anthropic/claude-3-5-sonnet, mistral/mistral-large]
      default_strategy: "different_provider"
      default_max_attempts: 3
      on_status_codes:
        - codes: [429]
          strategy: "different_provider"
          max_attempts: 3

  - model: anthropic/claude-3-5-sonnet
    base_url: http://host.docker.internal:${MOCK_FALLBACK1_PORT}
    access_key: test-key-fallback1

  - model: mistral/mistral-large
    base_url: http://host.docker.internal:${MOCK_FALLBACK2_PORT}
    access_key: test-key-fallback2
)",
                      E2eEnv());
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(testing::Warning(3, "listeners", "listen addresses")))
      << Dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.providers[0].base_url, "http://host.docker.internal:18001");
  EXPECT_EQ(c.providers[2].base_url, "http://host.docker.internal:18004");
  EXPECT_EQ(c.providers[0].access_key, "test-key-primary");
  EXPECT_EQ(c.Default(), &c.providers[0]);
}

TEST(PlanoE2eConfigTest, HighLatencyFailover) {
  // tests/e2e/configs/retry_it11_high_latency_failover.yaml
  LoadResult r = Load(R"(
version: v0.3.0

listeners:
  - type: model
    name: model_listener
    port: 12000

model_providers:
  - model: openai/gpt-4o
    base_url: http://host.docker.internal:${MOCK_PRIMARY_PORT}
    access_key: test-key-primary
    default: true
    retry_policy:
      fallback_models: [anthropic/claude-3-5-sonnet]
      default_strategy: "different_provider"
      default_max_attempts: 2
      on_status_codes:
        - codes: [429]
          strategy: "different_provider"
          max_attempts: 2
      on_high_latency:
        threshold_ms: 1000
        measure: "total"
        min_triggers: 1
        strategy: "different_provider"
        max_attempts: 2
        block_duration_seconds: 60
        scope: "model"
        apply_to: "global"

  - model: anthropic/claude-3-5-sonnet
    base_url: http://host.docker.internal:${MOCK_SECONDARY_PORT}
    access_key: test-key-secondary
)",
                      E2eEnv());
  ASSERT_TRUE(r.ok()) << Dump(r);
  HighLatencyPolicy h{1000,
                      LatencyMeasure::kTotal,
                      1,
                      60,
                      {Strategy::kDifferentProvider, 2},
                      60,
                      BlockScope::kModel,
                      ApplyTo::kGlobal};
  EXPECT_EQ(r.config->providers[0].retry_policy->on_high_latency, h);
}

// ---------------------------------------------------------------------------
// plano entries without base_url (issue 10 item 10): plano's schema requires
// only `model`; well-known providers get their public endpoint.

struct KnownEndpoint {
  std::string_view provider;
  std::string_view base_url;
  ProviderInterface interface;
  bool strip_v1 = false;
};

constexpr KnownEndpoint kKnownEndpoints[] = {
    {"openai", "https://api.openai.com", ProviderInterface::kOpenAi},
    {"anthropic", "https://api.anthropic.com", ProviderInterface::kAnthropic},
    {"mistral", "https://api.mistral.ai", ProviderInterface::kOpenAi},
    {"groq", "https://api.groq.com/openai", ProviderInterface::kOpenAi},
    {"deepseek", "https://api.deepseek.com", ProviderInterface::kOpenAi},
    {"together", "https://api.together.ai", ProviderInterface::kOpenAi},
    {"together_ai", "https://api.together.ai", ProviderInterface::kOpenAi},
    {"fireworks", "https://api.fireworks.ai/inference", ProviderInterface::kOpenAi},
    {"openrouter", "https://openrouter.ai/api", ProviderInterface::kOpenAi},
    {"xai", "https://api.x.ai", ProviderInterface::kOpenAi},
    {"gemini", "https://generativelanguage.googleapis.com/v1beta/openai",
     ProviderInterface::kOpenAi, /*strip_v1=*/true},
};

TEST(PlanoProviderDefaultsTest, EntryWithOnlyModelAndKeyLoads) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty()) << Dump(r);
  const ModelProvider& p = r.config->providers[0];
  EXPECT_EQ(p.base_url, "https://api.openai.com");
  EXPECT_EQ(p.interface, ProviderInterface::kOpenAi);
  EXPECT_FALSE(p.strip_v1_path_prefix);
}

TEST(PlanoProviderDefaultsTest, EveryWellKnownProviderGetsItsPublicEndpoint) {
  for (const KnownEndpoint& e : kKnownEndpoints) {
    std::string id = std::string(e.provider) + "/some-model";
    LoadResult r = Load("model_providers:\n  - model: " + id + "\n    access_key: k\n");
    ASSERT_TRUE(r.ok()) << id << "\n" << Dump(r);
    const ModelProvider& p = r.config->providers[0];
    EXPECT_EQ(p.base_url, e.base_url) << id;
    EXPECT_EQ(p.interface, e.interface) << id;
    EXPECT_EQ(p.strip_v1_path_prefix, e.strip_v1) << id;
  }
}

TEST(PlanoProviderDefaultsTest, WrittenBaseUrlAndInterfaceWinOverTheDefaults) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: http://proxy.internal:8080
    access_key: k
  - model: gemini/gemini-2.0-flash
    base_url: https://generativelanguage.googleapis.com/v1beta/openai
    access_key: k
  - model: anthropic/claude-sonnet-4
    provider_interface: openai
    access_key: k
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  const std::vector<ModelProvider>& p = r.config->providers;
  EXPECT_EQ(p[0].base_url, "http://proxy.internal:8080");
  // Only the default drops /v1: a written URL is used as written.
  EXPECT_FALSE(p[1].strip_v1_path_prefix);
  EXPECT_EQ(p[2].base_url, "https://api.anthropic.com");
  EXPECT_EQ(p[2].interface, ProviderInterface::kOpenAi);
}

TEST(PlanoProviderDefaultsTest, UnknownProviderWithoutBaseUrlIsAnErrorNamingTheKnownOnes) {
  LoadResult r = Load(R"(
model_providers:
  - model: acme/model-1
    access_key: k
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(testing::Error(
                  2, "model_providers[0].base_url",
                  "is required for provider \"acme\": rebound knows the public URL of anthropic, "
                  "deepseek, fireworks, gemini, groq, mistral, openai, openrouter, together, "
                  "together_ai and xai only")))
      << Dump(r);
}

}  // namespace
}  // namespace rebound
