// Loading: the schema, defaults, environment references, plano files, wrong
// types and unreadable input. Validation rules (RETRY.md section 2) are in
// config_validation_test.cc, plano's retry patterns in config_plano_test.cc.
#include "policy/config_loader.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <limits>

#include "policy/config.h"
#include "policy/diagnostic.h"
#include "policy/limits.h"
#include "tests/unit/config_test_util.h"

namespace rebound {
namespace {

using ::rebound::testing::Dump;
using ::rebound::testing::Env;
using ::rebound::testing::Error;
using ::rebound::testing::Load;
using ::rebound::testing::Warning;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

// ---------------------------------------------------------------------------
// Model helpers

TEST(ConfigModelTest, EnumsSpellAsInYaml) {
  EXPECT_EQ(ToString(Strategy::kSameModel), "same_model");
  EXPECT_EQ(ToString(Strategy::kSameProvider), "same_provider");
  EXPECT_EQ(ToString(Strategy::kDifferentProvider), "different_provider");
  EXPECT_EQ(ToString(BlockScope::kModel), "model");
  EXPECT_EQ(ToString(BlockScope::kProvider), "provider");
  EXPECT_EQ(ToString(ApplyTo::kGlobal), "global");
  EXPECT_EQ(ToString(ApplyTo::kRequest), "request");
  EXPECT_EQ(ToString(BackoffApplyTo::kSameModel), "same_model");
  EXPECT_EQ(ToString(BackoffApplyTo::kSameProvider), "same_provider");
  EXPECT_EQ(ToString(BackoffApplyTo::kGlobal), "global");
  EXPECT_EQ(ToString(LatencyMeasure::kTtfb), "ttfb");
  EXPECT_EQ(ToString(LatencyMeasure::kTotal), "total");
  EXPECT_EQ(ToString(ProviderInterface::kOpenAi), "openai");
  EXPECT_EQ(ToString(ProviderInterface::kAnthropic), "anthropic");
}

TEST(ConfigModelTest, RuleForStatusReturnsTheFirstEntryListingTheCode) {
  RetryPolicy p;
  p.on_status_codes = {{{429, 503}, {Strategy::kSameModel, 3}},
                       {{503, 504}, {Strategy::kSameProvider, 4}}};
  ASSERT_NE(p.RuleForStatus(503), nullptr);
  EXPECT_EQ(p.RuleForStatus(503), &p.on_status_codes[0]);
  EXPECT_EQ(p.RuleForStatus(504), &p.on_status_codes[1]);
  EXPECT_EQ(p.RuleForStatus(500), nullptr);
}

TEST(ConfigModelTest, UpstreamThreadsZeroMeansOnePerCoreWithinTheLimit) {
  EXPECT_EQ(ResolveUpstreamThreads(0, 2), 2);
  EXPECT_EQ(ResolveUpstreamThreads(0, 1), 1);
  EXPECT_EQ(ResolveUpstreamThreads(0, 0), 1);  // affinity unreadable
  EXPECT_EQ(ResolveUpstreamThreads(0, 64), limits::kMaxUpstreamThreads);
  EXPECT_EQ(ResolveUpstreamThreads(3, 2), 3);  // a configured count is kept
  EXPECT_EQ(ResolveUpstreamThreads(1, 64), 1);
}

TEST(ConfigModelTest, FindAndDefault) {
  Config c;
  c.providers.resize(2);
  c.providers[0].model_id = "openai/a";
  c.providers[1].model_id = "openai/b";
  EXPECT_EQ(c.Default(), nullptr);
  c.providers[1].is_default = true;
  EXPECT_EQ(c.Find("openai/a"), &c.providers[0]);
  EXPECT_EQ(c.Find("openai/b"), &c.providers[1]);
  EXPECT_EQ(c.Find("openai/c"), nullptr);
  EXPECT_EQ(c.Default(), &c.providers[1]);
}

TEST(ConfigModelTest, EqualityIgnoresWhereTheConfigCameFrom) {
  Config a, b;
  a.source = "a.yaml";
  b.source = "b.yaml";
  a.providers.resize(1);
  b.providers.resize(1);
  a.providers[0].line = 3;
  b.providers[0].line = 30;
  EXPECT_EQ(a, b);
  b.providers[0].headers.emplace_back("x", "y");
  EXPECT_NE(a, b);
}

TEST(DiagnosticTest, ToStringIsCompilerStyle) {
  Diagnostic d{Diagnostic::Severity::kError, "config.yaml", 12,
               "model_providers[0].retry_policy.backoff.base_ms", "must be >= 1"};
  EXPECT_EQ(d.ToString(),
            "config.yaml:12: error: model_providers[0].retry_policy.backoff.base_ms: must be >= 1");
  d.severity = Diagnostic::Severity::kWarning;
  EXPECT_EQ(d.ToString(),
            "config.yaml:12: warning: model_providers[0].retry_policy.backoff.base_ms: must be "
            ">= 1");
  Diagnostic unknown_line{Diagnostic::Severity::kError, "c.yaml", 0, "", "cannot open"};
  EXPECT_EQ(unknown_line.ToString(), "c.yaml: error: cannot open");
}

TEST(DiagnosticTest, HasErrorsIgnoresWarnings) {
  std::vector<Diagnostic> d;
  EXPECT_FALSE(HasErrors(d));
  d.push_back({Diagnostic::Severity::kWarning, "f", 1, "k", "m"});
  EXPECT_FALSE(HasErrors(d));
  d.push_back({Diagnostic::Severity::kError, "f", 2, "k", "m"});
  EXPECT_TRUE(HasErrors(d));
}

// ---------------------------------------------------------------------------
// Defaults

TEST(ConfigLoaderTest, MinimalProviderGetsEveryDefault) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty()) << Dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.source, "test.yaml");
  EXPECT_EQ(c.server, ServerSettings{});
  EXPECT_EQ(c.server.listen_address, "127.0.0.1:50051");
  EXPECT_EQ(c.server.metrics_address, "127.0.0.1:9464");
  EXPECT_EQ(c.server.max_body_bytes, 8 << 20);
  EXPECT_EQ(c.server.max_in_flight, 4096);
  EXPECT_EQ(c.server.max_connections_per_provider, 256);
  EXPECT_EQ(c.server.drain_grace_ms, 30000);
  EXPECT_EQ(c.server.upstream_threads, 0);  // one per core
  EXPECT_EQ(c.control_plane, ControlPlaneSettings{});
  EXPECT_THAT(c.control_plane.addresses, IsEmpty());
  ASSERT_EQ(c.providers.size(), 1u);
  const ModelProvider& p = c.providers[0];
  EXPECT_EQ(p.model_id, "openai/gpt-4o");
  EXPECT_EQ(p.provider, "openai");
  EXPECT_EQ(p.bare_model, "gpt-4o");
  EXPECT_EQ(p.base_url, "https://api.openai.com");
  EXPECT_EQ(p.access_key, "sk-openai-test");
  EXPECT_EQ(p.access_key_source, "$OPENAI_API_KEY");
  EXPECT_EQ(p.interface, ProviderInterface::kOpenAi);
  EXPECT_FALSE(p.passthrough_auth);
  EXPECT_FALSE(p.is_default);
  EXPECT_THAT(p.headers, IsEmpty());
  EXPECT_EQ(p.timeouts.connect_ms, 5000);
  EXPECT_EQ(p.timeouts.first_byte_ms, 60000);
  EXPECT_EQ(p.timeouts.idle_ms, 30000);
  EXPECT_EQ(p.timeouts.total_ms, std::nullopt);
  EXPECT_EQ(p.retry_policy, std::nullopt) << "absent retry_policy means no retries";
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(c.Default(), nullptr);
}

TEST(ConfigLoaderTest, EmptyRetryPolicyHasEveryDefault) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy: {}
  - model: mistral/large
    base_url: https://api.mistral.ai
    access_key: $MISTRAL_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty()) << Dump(r);
  ASSERT_TRUE(r.config->providers[0].retry_policy.has_value());
  const RetryPolicy& p = *r.config->providers[0].retry_policy;
  EXPECT_EQ(p, RetryPolicy{});
  EXPECT_THAT(p.fallback_models, IsEmpty());
  EXPECT_EQ(p.default_strategy, Strategy::kDifferentProvider);
  EXPECT_EQ(p.default_max_attempts, 2);
  EXPECT_THAT(p.on_status_codes, IsEmpty());
  EXPECT_EQ(p.on_timeout.strategy, Strategy::kDifferentProvider);
  EXPECT_EQ(p.on_timeout.max_attempts, 2);
  EXPECT_EQ(p.on_high_latency, std::nullopt);
  EXPECT_EQ(p.backoff, std::nullopt);
  EXPECT_EQ(p.retry_after.scope, BlockScope::kModel);
  EXPECT_EQ(p.retry_after.apply_to, ApplyTo::kGlobal);
  EXPECT_EQ(p.retry_after.max_retry_after_seconds, 300);
  EXPECT_EQ(p.max_retry_duration_ms, std::nullopt);
}

TEST(ConfigLoaderTest, ClassesInheritThePolicyDefaults) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      default_strategy: same_provider
      default_max_attempts: 4
      on_status_codes:
        - codes: [429]
        - codes: [503]
          strategy: same_model
        - codes: [504]
          max_attempts: 7
      on_timeout: {}
      on_high_latency:
        threshold_ms: 5000
      backoff:
        apply_to: global
      retry_after_handling: {}
  - model: openai/gpt-4o-mini
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty()) << Dump(r);
  const RetryPolicy& p = *r.config->providers[0].retry_policy;
  ASSERT_EQ(p.on_status_codes.size(), 3u);
  EXPECT_EQ(p.on_status_codes[0].policy, (ClassPolicy{Strategy::kSameProvider, 4}));
  EXPECT_EQ(p.on_status_codes[1].policy, (ClassPolicy{Strategy::kSameModel, 4}));
  EXPECT_EQ(p.on_status_codes[2].policy, (ClassPolicy{Strategy::kSameProvider, 7}));
  EXPECT_EQ(p.on_timeout, (ClassPolicy{Strategy::kSameProvider, 4}));
  ASSERT_TRUE(p.on_high_latency.has_value());
  const HighLatencyPolicy& h = *p.on_high_latency;
  EXPECT_EQ(h.threshold_ms, 5000);
  EXPECT_EQ(h.measure, LatencyMeasure::kTtfb);
  EXPECT_EQ(h.min_triggers, 1);
  EXPECT_EQ(h.trigger_window_seconds, 60);
  EXPECT_EQ(h.policy, (ClassPolicy{Strategy::kSameProvider, 4}));
  EXPECT_EQ(h.block_duration_seconds, 300);
  EXPECT_EQ(h.scope, BlockScope::kModel);
  EXPECT_EQ(h.apply_to, ApplyTo::kGlobal);
  ASSERT_TRUE(p.backoff.has_value());
  EXPECT_EQ(p.backoff->apply_to, BackoffApplyTo::kGlobal);
  EXPECT_EQ(p.backoff->base_ms, 100);
  EXPECT_EQ(p.backoff->max_ms, 5000);
  EXPECT_TRUE(p.backoff->jitter);
  EXPECT_EQ(p.retry_after, RetryAfterPolicy{});
}

TEST(ConfigLoaderTest, OnTimeoutAbsentTakesThePolicyDefaults) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      default_strategy: same_model
      default_max_attempts: 3
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].retry_policy->on_timeout,
            (ClassPolicy{Strategy::kSameModel, 3}));
}

TEST(ConfigLoaderTest, EveryFieldSet) {
  LoadResult r = Load(R"(
version: v0.4.0
server:
  listen: 0.0.0.0:6000
  metrics_listen: "[::]:9000"
  max_body_bytes: 1048576
  max_in_flight: 10
  max_connections_per_provider: 20
  drain_grace_ms: 1500
  upstream_threads: 16
  tls:
    cert_file: /etc/rebound/cert.pem
    key_file: /etc/rebound/key.pem
    client_ca_file: /etc/rebound/ca.pem
control_plane:
  addresses: [cp-0.cp:7000, "cp-1.cp:7000"]
  replica_id: replica-a
  token_file: /var/run/token
  ca_file: /etc/cp-ca.pem
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com///
    access_key: ${OPENAI_API_KEY}
    provider_interface: openai
    passthrough_auth: false
    default: true
    headers:
      OpenAI-Organization: org-1
      X-Trace: "on"
    timeouts:
      connect_ms: 1000
      first_byte_ms: 2000
      idle_ms: 3000
      total_ms: 4000
    retry_policy:
      fallback_models: [mistral/large, openai/gpt-4o-mini]
      default_strategy: same_provider
      default_max_attempts: 3
      on_status_codes:
        - codes: [429, "500 - 502"]
          strategy: different_provider
          max_attempts: 4
      on_timeout:
        strategy: same_model
        max_attempts: 5
      on_high_latency:
        threshold_ms: 8000
        measure: total
        min_triggers: 3
        trigger_window_seconds: 120
        strategy: different_provider
        max_attempts: 2
        block_duration_seconds: 600
        scope: provider
        apply_to: request
      backoff:
        apply_to: same_provider
        base_ms: 250
        max_ms: 8000
        jitter: false
      retry_after_handling:
        scope: provider
        apply_to: request
        max_retry_after_seconds: 60
      max_retry_duration_ms: 45000
  - model: openai/gpt-4o-mini
    base_url: http://localhost:8080/v1/
    passthrough_auth: true
  - model: mistral/large
    base_url: https://api.mistral.ai
    access_key: literal-key
  - model: anthropic/claude-sonnet-4
    base_url: https://api.anthropic.com
    access_key: $ANTHROPIC_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty()) << Dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.server.listen_address, "0.0.0.0:6000");
  EXPECT_EQ(c.server.metrics_address, "[::]:9000");
  EXPECT_EQ(c.server.max_body_bytes, 1048576);
  EXPECT_EQ(c.server.max_in_flight, 10);
  EXPECT_EQ(c.server.max_connections_per_provider, 20);
  EXPECT_EQ(c.server.drain_grace_ms, 1500);
  EXPECT_EQ(c.server.upstream_threads, 16);
  EXPECT_EQ(c.server.tls.cert_file, "/etc/rebound/cert.pem");
  EXPECT_EQ(c.server.tls.key_file, "/etc/rebound/key.pem");
  EXPECT_EQ(c.server.tls.client_ca_file, "/etc/rebound/ca.pem");
  EXPECT_THAT(c.control_plane.addresses, ElementsAre("cp-0.cp:7000", "cp-1.cp:7000"));
  EXPECT_EQ(c.control_plane.replica_id, "replica-a");
  EXPECT_EQ(c.control_plane.token_file, "/var/run/token");
  EXPECT_EQ(c.control_plane.ca_file, "/etc/cp-ca.pem");

  ASSERT_EQ(c.providers.size(), 4u);
  const ModelProvider& p = c.providers[0];
  EXPECT_EQ(p.base_url, "https://api.openai.com") << "trailing slashes are stripped";
  EXPECT_EQ(p.access_key, "sk-openai-test");
  EXPECT_EQ(p.access_key_source, "${OPENAI_API_KEY}");
  EXPECT_TRUE(p.is_default);
  EXPECT_EQ(c.Default(), &p);
  EXPECT_THAT(p.headers, ElementsAre(Pair("OpenAI-Organization", "org-1"), Pair("X-Trace", "on")));
  EXPECT_EQ(p.timeouts, (Timeouts{1000, 2000, 3000, 4000}));
  const RetryPolicy& rp = *p.retry_policy;
  EXPECT_THAT(rp.fallback_models, ElementsAre("mistral/large", "openai/gpt-4o-mini"));
  EXPECT_EQ(rp.default_strategy, Strategy::kSameProvider);
  EXPECT_EQ(rp.default_max_attempts, 3);
  ASSERT_EQ(rp.on_status_codes.size(), 1u);
  EXPECT_THAT(rp.on_status_codes[0].codes, ElementsAre(429, 500, 501, 502));
  EXPECT_EQ(rp.on_status_codes[0].policy, (ClassPolicy{Strategy::kDifferentProvider, 4}));
  EXPECT_EQ(rp.on_timeout, (ClassPolicy{Strategy::kSameModel, 5}));
  HighLatencyPolicy h{8000,
                      LatencyMeasure::kTotal,
                      3,
                      120,
                      {Strategy::kDifferentProvider, 2},
                      600,
                      BlockScope::kProvider,
                      ApplyTo::kRequest};
  EXPECT_EQ(rp.on_high_latency, h);
  EXPECT_EQ(rp.backoff, (BackoffPolicy{BackoffApplyTo::kSameProvider, 250, 8000, false}));
  EXPECT_EQ(rp.retry_after, (RetryAfterPolicy{BlockScope::kProvider, ApplyTo::kRequest, 60}));
  EXPECT_EQ(rp.max_retry_duration_ms, 45000);

  EXPECT_EQ(c.providers[1].base_url, "http://localhost:8080/v1");
  EXPECT_TRUE(c.providers[1].passthrough_auth);
  EXPECT_EQ(c.providers[1].access_key, "");
  EXPECT_EQ(c.providers[2].access_key, "literal-key");
  EXPECT_EQ(c.providers[2].access_key_source, "literal-key");
  EXPECT_EQ(c.providers[3].interface, ProviderInterface::kAnthropic)
      << "provider anthropic defaults to the anthropic interface";
  EXPECT_EQ(c.Find("mistral/large"), &c.providers[2]);
}

TEST(ConfigLoaderTest, ModelIdSplitsAtTheFirstSlash) {
  LoadResult r = Load(R"(
model_providers:
  - model: openrouter/meta-llama/llama-3
    base_url: https://openrouter.ai/api
    access_key: k
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].provider, "openrouter");
  EXPECT_EQ(r.config->providers[0].bare_model, "meta-llama/llama-3");
  EXPECT_EQ(r.config->providers[0].interface, ProviderInterface::kOpenAi);
}

TEST(ConfigLoaderTest, ProviderInterfaceOverridesTheDefault) {
  LoadResult r = Load(R"(
model_providers:
  - model: anthropic/claude-via-proxy
    base_url: https://proxy.example.com
    access_key: k
    provider_interface: openai
  - model: bedrock/claude
    base_url: https://proxy.example.com
    access_key: k
    provider_interface: anthropic
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].interface, ProviderInterface::kOpenAi);
  EXPECT_EQ(r.config->providers[1].interface, ProviderInterface::kAnthropic);
}

TEST(ConfigLoaderTest, EmptyDocumentLoadsWithAWarning) {
  for (std::string_view text : {"", "# nothing\n", "---\n"}) {
    LoadResult r = Load(text);
    ASSERT_TRUE(r.ok()) << Dump(r);
    EXPECT_THAT(r.diagnostics,
                ElementsAre(Warning(0, "model_providers", "no model providers are configured")));
    EXPECT_THAT(r.config->providers, IsEmpty());
  }
}

TEST(ConfigLoaderTest, EmptyProviderListWarns) {
  LoadResult r = Load("model_providers: []\n");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(0, "model_providers", "no model providers are configured")));
}

// ---------------------------------------------------------------------------
// Environment references

TEST(ConfigLoaderTest, AccessKeyExpandsDollarVarAndBracedVar) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/a
    base_url: https://x
    access_key: $OPENAI_API_KEY
  - model: openai/b
    base_url: https://x
    access_key: ${ANTHROPIC_API_KEY}
  - model: openai/c
    base_url: https://x
    access_key: "sk-$not-a-reference"
  - model: openai/d
    base_url: https://x
    access_key: "${UNCLOSED"
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  const auto& p = r.config->providers;
  EXPECT_EQ(p[0].access_key, "sk-openai-test");
  EXPECT_EQ(p[0].access_key_source, "$OPENAI_API_KEY");
  EXPECT_EQ(p[1].access_key, "sk-ant-test");
  EXPECT_EQ(p[1].access_key_source, "${ANTHROPIC_API_KEY}");
  EXPECT_EQ(p[2].access_key, "sk-$not-a-reference") << "only a whole-value reference expands";
  EXPECT_EQ(p[3].access_key, "${UNCLOSED");
}

TEST(ConfigLoaderTest, MissingVariableResolvesEmpty) {
  // With passthrough_auth the caller's credential is used, so an unset
  // variable is not an error; the key just stays empty.
  LoadResult r = Load(R"(
model_providers:
  - model: openai/a
    base_url: https://x
    access_key: $NOT_SET_ANYWHERE
    passthrough_auth: true
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, IsEmpty());
  EXPECT_EQ(r.config->providers[0].access_key, "");
  EXPECT_EQ(r.config->providers[0].access_key_source, "$NOT_SET_ANYWHERE");
}

TEST(ConfigLoaderTest, MissingVariableWithoutPassthroughIsAnError) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/a
    base_url: https://x
    access_key: ${NOT_SET_ANYWHERE}
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(4, "model_providers[0].access_key",
                                "the environment variable NOT_SET_ANYWHERE is not set")));
}

TEST(ConfigLoaderTest, BaseUrlExpandsVariablesLikePlanoConfigs) {
  // plano's own e2e configs write base_url: http://host:${PORT}.
  Env env = testing::DefaultEnv();
  env["MOCK_PORT"] = "18080";
  LoadResult r = Load(R"(
model_providers:
  - model: openai/a
    base_url: http://host.docker.internal:${MOCK_PORT}/
    access_key: k
  - model: openai/b
    base_url: http://$NOPE_HOST:${NOPE_PORT}
    access_key: k
)",
                      env);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(6, "model_providers[1].base_url",
                                "environment variables NOPE_HOST, NOPE_PORT, which are not set")));
  env["NOPE_HOST"] = "h";
  env["NOPE_PORT"] = "1";
  r = Load(R"(
model_providers:
  - model: openai/a
    base_url: http://host.docker.internal:${MOCK_PORT}/
    access_key: k
)",
           env);
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].base_url, "http://host.docker.internal:18080");
}

TEST(ConfigLoaderTest, EnvironmentComesOnlyFromTheInjectedLookup) {
  ::setenv("REBOUND_TEST_ONLY_IN_PROCESS_ENV", "from-process", 1);
  LoadResult r = Load(R"(
model_providers:
  - model: openai/a
    base_url: https://x
    access_key: $REBOUND_TEST_ONLY_IN_PROCESS_ENV
    passthrough_auth: true
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].access_key, "");
  EXPECT_EQ(ProcessEnv()("REBOUND_TEST_ONLY_IN_PROCESS_ENV"), "from-process");
  EXPECT_EQ(ProcessEnv()("REBOUND_TEST_SURELY_NOT_SET_42"), std::nullopt);
  ::unsetenv("REBOUND_TEST_ONLY_IN_PROCESS_ENV");
}

// ---------------------------------------------------------------------------
// Top level and plano files

TEST(ConfigLoaderTest, LlmProvidersIsAnAliasOfModelProviders) {
  LoadResult r = Load(R"(
llm_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    bogus: 1
)");
  EXPECT_FALSE(r.ok());
  // Paths use the key the file uses.
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(5, "llm_providers[0].bogus", "unknown key")));
  r = Load(R"(
llm_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  ASSERT_EQ(r.config->providers.size(), 1u);
  EXPECT_EQ(r.config->providers[0].model_id, "openai/gpt-4o");
}

TEST(ConfigLoaderTest, BothProviderSectionsIsAnError) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
llm_providers:
  - model: openai/gpt-4o-mini
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(5, "llm_providers", "already set at line 1")));
}

TEST(ConfigLoaderTest, ListenersAreIgnoredWithAWarning) {
  LoadResult r = Load(R"(
version: v0.3.0
listeners:
  - type: model
    name: model_listener
    port: 12000
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(2, "listeners", "listen addresses live under server")));
}

TEST(ConfigLoaderTest, PlanoSectionsAreUnsupportedWarningsByName) {
  LoadResult r = Load(R"(
agents: []
filters: []
endpoints: {}
model_aliases: {}
overrides: {}
system_prompt: hi
prompt_targets: []
prompt_guards: {}
ratelimits: []
tracing: {random_sampling: 100}
mode: llm
routing: {}
state_storage: {type: memory}
routing_preferences: []
model_metrics_sources: []
error_target: {}
state_storage_v1_responses: {type: memory}
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  const char* names[] = {"agents",
                         "filters",
                         "endpoints",
                         "model_aliases",
                         "overrides",
                         "system_prompt",
                         "prompt_targets",
                         "prompt_guards",
                         "ratelimits",
                         "tracing",
                         "mode",
                         "routing",
                         "state_storage",
                         "routing_preferences",
                         "model_metrics_sources",
                         "error_target",
                         "state_storage_v1_responses"};
  ASSERT_EQ(r.diagnostics.size(), std::size(names)) << Dump(r);
  for (size_t i = 0; i < std::size(names); ++i) {
    EXPECT_THAT(r.diagnostics[i], Warning(static_cast<int>(i) + 1, names[i],
                                          std::string("'") + names[i] +
                                              "' is a plano section that rebound does "
                                              "not support"));
  }
}

TEST(ConfigLoaderTest, UnknownTopLevelKeyIsAnErrorWithASuggestion) {
  LoadResult r = Load(R"(
model_provider:
  - model: openai/gpt-4o
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(0, "model_providers", "no model providers"),
                          Error(1, "model_provider", "did you mean 'model_providers'?")));
}

TEST(ConfigLoaderTest, PlanoProviderKeysAreIgnoredWithWarnings) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    name: gpt-4o
    base_url: https://api.openai.com
    http_host: api.openai.com
    access_key: $OPENAI_API_KEY
    routing_preferences:
      - name: code generation
        description: writes code
    usage: general
    endpoint: api.openai.com
    protocol: https
    cluster_name: openai
    stream: true
    port: 443
    rate_limits: {}
    base_url_path_prefix: /v1
    internal: false
    capabilities: {context_window: 128000}
    provider: openai
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  std::vector<std::pair<int, std::string>> expected = {
      {3, "name"},          {5, "http_host"},    {7, "routing_preferences"},   {10, "usage"},
      {11, "endpoint"},     {12, "protocol"},    {13, "cluster_name"},         {14, "stream"},
      {15, "port"},         {16, "rate_limits"}, {17, "base_url_path_prefix"}, {18, "internal"},
      {19, "capabilities"}, {20, "provider"}};
  ASSERT_EQ(r.diagnostics.size(), expected.size()) << Dump(r);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_THAT(r.diagnostics[i],
                Warning(expected[i].first, "model_providers[0]." + expected[i].second,
                        "plano provider key that rebound does not use"));
  }
}

TEST(ConfigLoaderTest, PlanoProviderInterfacesMapWithAWarning) {
  LoadResult r = Load(R"(
model_providers:
  - model: anthropic/claude
    base_url: https://api.anthropic.com
    access_key: k
    provider_interface: claude
  - model: groq/llama
    base_url: https://api.groq.com/openai
    access_key: k
    provider_interface: groq
  - model: x/y
    base_url: https://x
    access_key: k
    provider_interface: smoke_signals
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(5, "model_providers[0].provider_interface",
                                  "\"claude\" is read as \"anthropic\""),
                          Warning(9, "model_providers[1].provider_interface",
                                  "\"groq\" is read as \"openai\""),
                          Error(13, "model_providers[2].provider_interface",
                                "unknown value \"smoke_signals\"; allowed: openai, anthropic")));
}

// A plano configuration in the style of plano's full reference
// (docs/source/resources/includes/plano_config_full_reference.yaml), every
// base_url written out (tests/unit/config_plano_test.cc covers the defaults).
constexpr char kPlanoFullExample[] = R"(
# Plano Gateway configuration version
version: v0.4.0

agents:
  - id: weather_agent
    url: http://localhost:10510

filters:
  - id: input_guards
    url: http://localhost:10500

model_providers:
  - model: openai/gpt-4o
    access_key: $OPENAI_API_KEY
    base_url: https://api.openai.com
    default: true
    retry_policy:
      fallback_models: [openai/gpt-4o-mini, mistral/ministral-3b-latest]
      default_strategy: "different_provider"
      default_max_attempts: 2
      on_status_codes:
        - codes: [429, "430-450", 526]
          strategy: "same_provider"
          max_attempts: 2
        - codes: ["502-504"]
          strategy: "different_provider"
          max_attempts: 3
      on_timeout:
        strategy: "different_provider"
        max_attempts: 2
      backoff:
        apply_to: "global"
        base_ms: 100
        max_ms: 5000
      retry_after_handling:
        scope: "model"
        apply_to: "global"

  - model: openai/gpt-4o-mini
    access_key: $OPENAI_API_KEY
    base_url: https://api.openai.com

  - model: anthropic/claude-sonnet-4-0
    access_key: $ANTHROPIC_API_KEY
    base_url: https://api.anthropic.com

  - model: mistral/ministral-3b-latest
    access_key: $MISTRAL_API_KEY
    base_url: https://api.mistral.ai

  - model: openai/gpt-4o-litellm
    base_url: https://litellm.example.com
    passthrough_auth: true

  - model: openai/llama-3.3-70b
    base_url: https://api.custom-provider.com
    http_host: api.custom-provider.com
    access_key: $OPENAI_API_KEY

  - model: moonshotai/kimi-for-coding
    access_key: $OPENAI_API_KEY
    base_url: https://api.kimi.com/coding/v1
    headers:
      User-Agent: "KimiCLI/1.3"

model_aliases:
  fast-llm:
    target: gpt-4o-mini

routing_preferences:
  - name: code generation
    description: generating new code snippets
    models:
      - anthropic/claude-sonnet-4-0
      - openai/gpt-4o

listeners:
  - type: model
    name: model_1
    address: 0.0.0.0
    port: 12000
    timeout: 30s
    max_retries: 3

endpoints:
  app_server:
    endpoint: 127.0.0.1:80
    connect_timeout: 0.005s

system_prompt: |
  You are a helpful assistant.

prompt_targets:
  - name: get_current_weather
    description: Get current weather at a location.
    endpoint:
      name: app_server
      path: /weather

ratelimits:
  - model: openai/gpt-4o
    selector:
      key: x-user-id
      value: "*"
    limit:
      tokens: 100000
      unit: hour

overrides:
  optimize_context_window: true

routing:
  session_ttl_seconds: 600

state_storage:
  type: memory

prompt_guards:
  input_guards:
    jailbreak:
      on_exception:
        message: "I'm sorry, I can't help with that request."

tracing:
  random_sampling: 100
  trace_arch_internal: false
)";

TEST(ConfigLoaderTest, FullPlanoExampleLoadsWithOnlyWarnings) {
  LoadResult r = Load(kPlanoFullExample);
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(
      r.diagnostics,
      ElementsAre(
          Warning(4, "agents", "plano section"), Warning(8, "filters", "plano section"),
          Warning(57, "model_providers[5].http_host", "plano provider key"),
          Warning(66, "model_aliases", "plano section"),
          Warning(70, "routing_preferences", "plano section"),
          Warning(77, "listeners", "listen addresses live under server"),
          Warning(85, "endpoints", "plano section"), Warning(90, "system_prompt", "plano section"),
          Warning(93, "prompt_targets", "plano section"),
          Warning(100, "ratelimits", "plano section"), Warning(109, "overrides", "plano section"),
          Warning(112, "routing", "plano section"), Warning(115, "state_storage", "plano section"),
          Warning(118, "prompt_guards", "plano section"), Warning(124, "tracing", "plano section")))
      << Dump(r);
  const Config& c = *r.config;
  ASSERT_EQ(c.providers.size(), 7u);
  EXPECT_EQ(c.Default()->model_id, "openai/gpt-4o");
  const RetryPolicy& p = *c.providers[0].retry_policy;
  EXPECT_EQ(p.on_status_codes[0].codes.size(), 23u);
  EXPECT_EQ(c.providers[2].interface, ProviderInterface::kAnthropic);
  EXPECT_THAT(c.providers[6].headers, ElementsAre(Pair("User-Agent", "KimiCLI/1.3")));
}

// ---------------------------------------------------------------------------
// Server and control plane

TEST(ConfigLoaderTest, ServerValuesAreChecked) {
  LoadResult r = Load(R"(
server:
  listen: localhost
  metrics_listen: "1.2.3.4:70000"
  max_body_bytes: 0
  max_in_flight: -5
  max_connections_per_provider: many
  drain_grace_ms: 1.5
  upstream_threads: 17
  tls: {cert_file: /c.pem}
  port: 80
model_providers: []
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(
      r.diagnostics,
      ElementsAre(
          Warning(0, "model_providers", "no model providers"),
          Error(2, "server.listen", "must look like host:port"),
          Error(3, "server.metrics_listen", "must look like host:port"),
          Error(4, "server.max_body_bytes", "must be an integer from 1 to 1073741824, got 0"),
          Error(5, "server.max_in_flight", "must be an integer from 1 to 1000000, got -5"),
          Error(6, "server.max_connections_per_provider", "got \"many\""),
          Error(7, "server.drain_grace_ms",
                "must be an integer from 1 to 86400000 (milliseconds: at most 24 h), got \"1.5\""),
          Error(8, "server.upstream_threads", "must be an integer from 0 to 16, got 17"),
          Error(9, "server.tls.key_file", "cert_file and key_file go together"),
          Error(10, "server.port", "unknown key")))
      << Dump(r);
}

TEST(ConfigLoaderTest, HttpFrontDoorSettings) {
  LoadResult off = Load("model_providers: []\n");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off.config->server.http_listen, "") << "the front door is off unless set";
  LoadResult on = Load(R"(
server:
  http_listen: 127.0.0.1:0
  http_max_connections: 20
  http_idle_timeout_ms: 5000
  http_request_timeout_ms: 700
model_providers: []
)");
  ASSERT_TRUE(on.ok()) << Dump(on);
  EXPECT_EQ(on.config->server.http_listen, "127.0.0.1:0");
  EXPECT_EQ(on.config->server.http_max_connections, 20);
  EXPECT_EQ(on.config->server.http_idle_timeout_ms, 5000);
  EXPECT_EQ(on.config->server.http_request_timeout_ms, 700);
  LoadResult bad = Load(R"(
server:
  http_listen: "8080"
  http_max_connections: 0
  http_idle_timeout_ms: 0
  http_request_timeout_ms: forever
model_providers: []
)");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.diagnostics,
              ElementsAre(Warning(0, "model_providers", "no model providers"),
                          Error(2, "server.http_listen", "must look like host:port"),
                          Error(3, "server.http_max_connections", "got 0"),
                          Error(4, "server.http_idle_timeout_ms", "got 0"),
                          Error(5, "server.http_request_timeout_ms", "got \"forever\"")))
      << Dump(bad);
}

TEST(ConfigLoaderTest, AddressForms) {
  for (std::string_view ok : {"127.0.0.1:1", "[::1]:50051", "[::]:0", "localhost:65535",
                              "0.0.0.0:0", "gateway.internal:443"}) {
    LoadResult r = Load("server:\n  listen: \"" + std::string(ok) + "\"\nmodel_providers: []\n");
    EXPECT_TRUE(r.ok()) << ok << "\n" << Dump(r);
  }
  for (std::string_view bad : {":80", "host:", "host:port", "::1:80", "[::1]80", "a b:80",
                               "host:123456", "host:-1", "http://host:80"}) {
    LoadResult r = Load("server:\n  listen: \"" + std::string(bad) + "\"\nmodel_providers: []\n");
    EXPECT_FALSE(r.ok()) << bad;
  }
  // Control-plane addresses are dialled, so port 0 is meaningless there.
  LoadResult r = Load(R"(
control_plane:
  addresses: ["cp:0", "cp:7000", 7000]
model_providers: []
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(0, "model_providers", "no model providers"),
                          Error(2, "control_plane.addresses[0]", "must look like host:port"),
                          Error(2, "control_plane.addresses[2]", "must look like host:port")));
}

TEST(ConfigLoaderTest, TlsClientCaNeedsServerCertificates) {
  LoadResult r = Load(R"(
server:
  tls:
    client_ca_file: /ca.pem
model_providers: []
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Warning(0, "model_providers", "no model providers"),
                                         Error(3, "server.tls.client_ca_file",
                                               "requires cert_file and key_file")));
}

TEST(ConfigLoaderTest, ControlPlaneUnknownKeyAndWrongTypes) {
  LoadResult r = Load(R"(
control_plane:
  addresses: cp:7000
  replica_id: [a]
  token: /x
model_providers: []
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(0, "model_providers", "no model providers"),
                          Error(2, "control_plane.addresses", "must be a list, got \"cp:7000\""),
                          Error(3, "control_plane.replica_id", "must be a string, got a list"),
                          Error(4, "control_plane.token", "unknown key \"token\"")));
}

// ---------------------------------------------------------------------------
// Wrong types never crash and always say what is expected

TEST(ConfigLoaderTest, WrongTypesAreErrors) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    default: "true"
    passthrough_auth: yes
    headers: [a, b]
    timeouts:
      connect_ms: "100"
      first_byte_ms: 1e3
      idle_ms: 99999999999999999999
      total_ms: {}
    retry_policy:
      default_max_attempts: 3000000000
      fallback_models: openai/x
      on_status_codes: {codes: [429]}
      on_timeout: [same_model]
      backoff: same_model
      max_retry_duration_ms: ~
  - model: [openai/x]
    base_url: 42
  - just a string
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(
      r.diagnostics,
      ElementsAre(
          Error(5, "model_providers[0].default", "must be true or false, got the string \"true\""),
          Error(6, "model_providers[0].passthrough_auth", "must be true or false, got \"yes\""),
          Error(7, "model_providers[0].headers", "must be a map of keys, got a list"),
          Error(9, "model_providers[0].timeouts.connect_ms",
                "must be an integer from 1 to 86400000 (milliseconds: at most 24 h), got the "
                "string \"100\""),
          Error(10, "model_providers[0].timeouts.first_byte_ms", "got \"1e3\""),
          Error(11, "model_providers[0].timeouts.idle_ms", "is out of range"),
          Error(12, "model_providers[0].timeouts.total_ms", "got a map"),
          // The only provider: a failover could never find a target.
          Warning(13, "model_providers[0].retry_policy.default_strategy",
                  "can never find a target"),
          Error(14, "model_providers[0].retry_policy.default_max_attempts",
                "must be an integer from 1 to 100, got 3000000000"),
          Error(15, "model_providers[0].retry_policy.fallback_models", "must be a list"),
          Error(16, "model_providers[0].retry_policy.on_status_codes", "must be a list, got a map"),
          Error(17, "model_providers[0].retry_policy.on_timeout",
                "must be a map of keys, got a list"),
          Error(18, "model_providers[0].retry_policy.backoff",
                "must be a map of keys, got \"same_model\""),
          Error(19, "model_providers[0].retry_policy.max_retry_duration_ms",
                "got nothing (an empty value)"),
          Error(20, "model_providers[1].model", "must be a string, got a list"),
          // A missing key is reported at its entry's line.
          Error(20, "model_providers[1].access_key", "is required unless passthrough_auth"),
          Error(21, "model_providers[1].base_url", "must start with http:// or https://"),
          Error(22, "model_providers[2]", "must be a map of keys, got \"just a string\"")))
      << Dump(r);
}

TEST(ConfigLoaderTest, TopLevelMustBeAMap) {
  LoadResult r = Load("- a\n- b\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(1, "", "the top level must be a map")));
  r = Load("just text\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(1, "", "the top level must be a map")));
}

TEST(ConfigLoaderTest, SectionsOfTheWrongType) {
  LoadResult r = Load(R"(
server: [1]
control_plane: x
model_providers: {model: openai/x}
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(1, "server", "must be a map of keys, got a list"),
                          Error(2, "control_plane", "must be a map of keys, got \"x\""),
                          Error(3, "model_providers", "must be a list, got a map")));
}

TEST(ConfigLoaderTest, NegativeAndNonIntegerNumbers) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      default_max_attempts: -1
      max_retry_duration_ms: 2.5
      on_status_codes:
        - codes: [429.0, -429, "429"]
          max_attempts: -2
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(
      r.diagnostics,
      ElementsAre(
          Warning(5, "model_providers[0].retry_policy.default_strategy", "can never find a target"),
          Error(6, "model_providers[0].retry_policy.default_max_attempts", "got -1"),
          Error(7, "model_providers[0].retry_policy.max_retry_duration_ms", "got \"2.5\""),
          Error(9, "model_providers[0].retry_policy.on_status_codes[0].codes[0]",
                "must be a status code (300-599) or a range \"A-B\", got \"429.0\""),
          Error(9, "model_providers[0].retry_policy.on_status_codes[0].codes[1]",
                "status code -429 is outside 100-599"),
          Error(9, "model_providers[0].retry_policy.on_status_codes[0].codes[2]", "got \"429\""),
          Error(10, "model_providers[0].retry_policy.on_status_codes[0].max_attempts", "got -2")))
      << Dump(r);
}

TEST(ConfigLoaderTest, ExplicitYamlTagsAreHonoured) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: !!str 12345
    default: !!bool true
    timeouts: {connect_ms: !!int 250}
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].access_key, "12345");
  EXPECT_TRUE(r.config->providers[0].is_default);
  EXPECT_EQ(r.config->providers[0].timeouts.connect_ms, 250);
}

TEST(ConfigLoaderTest, HeadersAreChecked) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    headers:
      X-Ok: fine
      X-Number: 7
      Bad Header: x
      x-ok: again
      X-List: [1]
      X-Ref: "Bearer ${ORG_TOKEN}"
      X-Ok: third
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(
      r.diagnostics,
      ElementsAre(
          Error(8, "model_providers[0].headers.Bad Header", "is not a valid HTTP header name"),
          Error(9, "model_providers[0].headers.x-ok", "is set twice"),
          Error(10, "model_providers[0].headers.X-List", "must be a string header value"),
          Warning(11, "model_providers[0].headers.X-Ref",
                  "expands variables only in access_key and base_url"),
          Error(12, "model_providers[0].headers.X-Ok",
                "duplicate key; it is already set at line 6")))
      << Dump(r);
}

TEST(ConfigLoaderTest, DuplicateKeysAreErrors) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy: {}
    retry_policy: {default_max_attempts: 9}
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(5, "model_providers[0].retry_policy.default_strategy",
                                  "can never find a target"),
                          Error(6, "model_providers[0].retry_policy",
                                "duplicate key; it is already set at line 5")));
}

TEST(ConfigLoaderTest, EmptyRetryPolicyValueMeansNoRetriesWithAWarning) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Warning(5, "model_providers[0].retry_policy", "write retry_policy: {}")));
  EXPECT_EQ(r.config->providers[0].retry_policy, std::nullopt);
}

TEST(ConfigLoaderTest, ModelAndBaseUrlAreRequiredAndChecked) {
  LoadResult r = Load(R"(
model_providers:
  - base_url: https://api.openai.com
    access_key: k
  - model: gpt-4o
    base_url: https://api.openai.com
    access_key: k
  - model: /gpt-4o
    access_key: k
  - model: "openai/"
    base_url: "https://"
    access_key: k
  - model: "openai/gpt 4o"
    base_url: "https:///path"
    access_key: k
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(2, "model_providers[0].model", "is required"),
                          Error(4, "model_providers[1].model",
                                "must be provider/model with both parts non-empty"),
                          Error(7, "model_providers[2].model", "got \"/gpt-4o\""),
                          Error(7, "model_providers[2].base_url", "is required"),
                          Error(9, "model_providers[3].model", "got \"openai/\""),
                          Error(10, "model_providers[3].base_url", "must be a URL with a host"),
                          Error(12, "model_providers[4].model", "got \"openai/gpt 4o\""),
                          Error(13, "model_providers[4].base_url", "must be a URL with a host")))
      << Dump(r);
}

// ---------------------------------------------------------------------------
// Syntax errors, limits and files

TEST(ConfigLoaderTest, SyntaxErrorHasItsLine) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    retry_policy:
      fallback_models: [a/b, c/d
      default_max_attempts: 2
)");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u) << Dump(r);
  EXPECT_EQ(r.diagnostics[0].severity, Diagnostic::Severity::kError);
  EXPECT_GE(r.diagnostics[0].line, 5);
  EXPECT_THAT(r.diagnostics[0].message, HasSubstr("invalid YAML"));
  EXPECT_THAT(r.diagnostics[0].ToString(), HasSubstr("test.yaml:"));

  r = Load("a: 1\n  b: 2\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(2, "", "invalid YAML: illegal map value")));
}

TEST(ConfigLoaderTest, OnlyOneDocument) {
  LoadResult r = Load("model_providers: []\n---\nmodel_providers: []\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(2, "", "one YAML document")));
}

TEST(ConfigLoaderTest, StrayTopLevelCommaIsAnErrorNotAHang) {
  // yaml-cpp's LoadAll allocates forever on these; the loader must not.
  LoadResult r = Load(",");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(1, "", "invalid YAML: unexpected token")));
  r = Load(",model_providers: []\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(1, "", "invalid YAML")));
  r = Load("model_providers: []\n,\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(2, "", "invalid YAML")));
  r = Load("[a]\n,\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(2, "", "invalid YAML: unexpected token")));
}

// Found by tests/fuzz/config_loader_fuzzer: yaml-cpp passes bytes that are
// not UTF-8 through, ToYaml wrote them back as U+FFFD, and the round trip
// (a control-plane push) changed the config.
TEST(ConfigLoaderTest, TextThatIsNotUtf8IsAnError) {
  LoadResult r = Load("model_providers:\n  - model: openai/gpt-4o\n"
                      "    base_url: https://api\xAEopenai.com\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(3, "", "must be UTF-8 text; byte 67 is not")));
  // Overlong forms, surrogates and bytes past U+10FFFF are not UTF-8 either.
  for (std::string_view bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"}) {
    r = Load("# " + std::string(bad) + "\n");
    EXPECT_THAT(r.diagnostics, ElementsAre(Error(1, "", "byte 2 is not"))) << bad.size();
  }
  // A BOM and any valid character are fine.
  r = Load("\xEF\xBB\xBF# caf\xC3\xA9 \xF0\x9F\x98\x80\nmodel_providers: []\n");
  EXPECT_FALSE(HasErrors(r.diagnostics)) << Dump(r);
}

// With the text checked, escapes are the only other way to put bytes into a
// scalar, and yaml-cpp rejects those that are not characters (lone
// surrogates, above U+10FFFF), so every string the loader reads is UTF-8.
TEST(ConfigLoaderTest, EscapesThatAreNotCharactersAreErrors) {
  for (std::string_view bad : {"\\ud800", "\\udfff", "\\ud83d\\ude00", "\\U00110000"}) {
    LoadResult r = Load("model_providers:\n  - model: \"openai/x" + std::string(bad) + "\"\n");
    EXPECT_THAT(r.diagnostics, ElementsAre(Error(2, "", "invalid YAML: invalid unicode"))) << bad;
  }
  // (yaml-cpp does not pair \ud83d\ude00 either; \U0001F600 is the YAML way.)
  LoadResult r = Load("model_providers:\n  - model: \"openai/\\U0001F600\"\n"
                      "    base_url: https://x.com\n    access_key: k\n");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].model_id, "openai/\xF0\x9F\x98\x80");
}

// Caught by tests/fuzz/config_loader_fuzzer's one-line invariant: a quoted
// key with a line break went into the diagnostic's key path as it was, so
// one diagnostic printed as two lines (and a file could forge a
// "file:line: error:" line).
TEST(ConfigLoaderTest, KeysWithLineBreaksAreEscapedInDiagnostics) {
  LoadResult r = Load(R"(
"a\nb": 1
model_providers:
  - model: openai/x
    base_url: https://x.com
    access_key: k
    headers: {"X\rY": v}
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(1, "\"a\\x0ab\"", "unknown key \"a\\x0ab\""),
                          Error(6, "model_providers[0].headers.\"X\\x0dY\"",
                                "not a valid HTTP header name")))
      << Dump(r);
  for (const Diagnostic& d : r.diagnostics) {
    EXPECT_EQ(d.ToString().find_first_of("\r\n"), std::string::npos) << d.ToString();
  }
}

// Found by tests/fuzz/config_loader_fuzzer: yaml-cpp's message quoted a raw
// control character (here a line break), which split the diagnostic.
TEST(ConfigLoaderTest, YamlErrorMessagesAreOneLine) {
  static constexpr char kFound[] = "server: {}\n---\nserver) \x1a\0\n";
  const std::pair<std::string, int> cases[] = {{std::string(kFound, sizeof(kFound) - 1), 4},
                                               {"a: \"\\\x01\"\n", 1}};
  for (const auto& [text, line] : cases) {
    LoadResult r = Load(text);
    EXPECT_FALSE(r.ok());
    ASSERT_THAT(r.diagnostics, ElementsAre(Error(line, "", "invalid YAML: "))) << Dump(r);
    EXPECT_EQ(r.diagnostics[0].ToString().find_first_of("\r\n"), std::string::npos) << Dump(r);
    EXPECT_THAT(r.diagnostics[0].message, HasSubstr("\\x")) << Dump(r);
  }
}

TEST(ConfigLoaderTest, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '[');
  LoadResult r = Load("model_providers: " + deep);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(HasErrors(r.diagnostics));
}

TEST(ConfigLoaderTest, OversizedInputIsRejected) {
  std::string big = "# " + std::string(5 << 20, 'x') + "\n";
  LoadResult r = Load(big);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(0, "", "the limit is")));
}

TEST(ConfigLoaderTest, AliasesAndAnchorsWork) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: &url https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy: &policy
      default_strategy: same_provider
  - model: openai/gpt-4o-mini
    base_url: *url
    access_key: $OPENAI_API_KEY
    retry_policy: *policy
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[1].base_url, "https://api.openai.com");
  EXPECT_EQ(r.config->providers[1].retry_policy->default_strategy, Strategy::kSameProvider);
}

TEST(ConfigLoaderTest, MissingFileNamesTheFile) {
  LoadResult r = LoadConfigFromFile("/nonexistent/rebound.yaml", testing::MapEnv({}));
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].file, "/nonexistent/rebound.yaml");
  EXPECT_EQ(r.diagnostics[0].severity, Diagnostic::Severity::kError);
  EXPECT_THAT(r.diagnostics[0].ToString(),
              HasSubstr("/nonexistent/rebound.yaml: error: cannot open the configuration file: "
                        "No such file or directory"));
}

TEST(ConfigLoaderTest, DirectoryIsUnreadable) {
  LoadResult r = LoadConfigFromFile(::testing::TempDir(), testing::MapEnv({}));
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_THAT(r.diagnostics[0].message, HasSubstr("configuration file"));
}

TEST(ConfigLoaderTest, LoadsFromAFile) {
  std::string path = ::testing::TempDir() + "/rebound_config_loader_test.yaml";
  {
    std::ofstream out(path);
    out << "model_providers:\n"
           "  - model: openai/gpt-4o\n"
           "    base_url: https://api.openai.com\n"
           "    access_key: $K\n"
           "    oops: 1\n";
  }
  LoadResult r = LoadConfigFromFile(path, testing::MapEnv({{"K", "secret"}}));
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].ToString(),
            path +
                ":5: error: model_providers[0].oops: unknown key \"oops\"; allowed here: "
                "model, base_url, access_key, provider_interface, passthrough_auth, headers, "
                "default_max_tokens, context_window, default, timeouts, tls_ca_file, retry_policy");
  {
    std::ofstream out(path);
    out << "model_providers:\n"
           "  - model: openai/gpt-4o\n"
           "    base_url: https://api.openai.com\n"
           "    access_key: $K\n";
  }
  r = LoadConfigFromFile(path, testing::MapEnv({{"K", "secret"}}));
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->source, path);
  EXPECT_EQ(r.config->providers[0].access_key, "secret");
  std::remove(path.c_str());
}

// ---------------------------------------------------------------------------
// Secrets

TEST(ConfigLoaderTest, SecretsNeverAppearInDiagnostics) {
  Env env = testing::DefaultEnv();
  env["SECRET_FROM_ENV"] = "sk-env-SECRET-value";
  LoadResult r = Load(R"(
model_providers:
  - model: openai/a
    base_url: https://user:sk-url-SECRET@example.com
    access_key: sk-literal-SECRET-value
    headers:
      Authorization: Bearer sk-header-SECRET
      Bad Name: sk-header2-SECRET
      X-Nested: [sk-nested-SECRET]
    unknown_key: sk-unknown-SECRET
  - model: openai/b
    base_url: ftp://user:sk-url2-SECRET@example.com
    access_key: $SECRET_FROM_ENV
    retry_policy:
      fallback_models: [sk-fallback-not-secret]
  - model: openai/c
    base_url: https://x
    access_key: [sk-list-SECRET]
)",
                      env);
  EXPECT_FALSE(r.ok());
  EXPECT_GE(r.diagnostics.size(), 5u) << Dump(r);
  EXPECT_THAT(Dump(r), ::testing::Not(HasSubstr("SECRET"))) << Dump(r);
}

// Issue 10 items 2, 6, 14: the new server limits and the provider's CA.
TEST(ConfigLoaderTest, ResponseLimitPauseTimeoutAndProviderCaLoad) {
  LoadResult r = Load(R"(
server:
  max_response_bytes: 1000
  stream_pause_timeout_ms: 2500
model_providers:
  - model: corp/llm
    base_url: https://llm.corp.internal
    access_key: k
    tls_ca_file: /etc/corp/ca.pem
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->server.max_response_bytes, 1000);
  EXPECT_EQ(r.config->server.stream_pause_timeout_ms, 2500);
  EXPECT_EQ(r.config->providers[0].tls_ca_file, "/etc/corp/ca.pem");
  LoadResult defaults = Load("model_providers: []\n");
  ASSERT_TRUE(defaults.ok()) << Dump(defaults);
  EXPECT_EQ(defaults.config->server.max_response_bytes, 64 << 20);
  EXPECT_EQ(defaults.config->server.stream_pause_timeout_ms, 30000);
}

TEST(ConfigLoaderTest, ResponseLimitPauseTimeoutAndProviderCaAreValidated) {
  LoadResult r = Load(R"(
server:
  max_response_bytes: 0
  stream_pause_timeout_ms: 86400001
model_providers:
  - model: corp/llm
    base_url: https://llm.corp.internal
    access_key: k
    tls_ca_file: ""
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(Dump(r), HasSubstr("server.max_response_bytes"));
  EXPECT_THAT(Dump(r), HasSubstr("server.stream_pause_timeout_ms"));
  EXPECT_THAT(Dump(r), HasSubstr("tls_ca_file"));
}

}  // namespace
}  // namespace rebound
