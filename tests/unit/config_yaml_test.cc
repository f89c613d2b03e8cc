// ToYaml: load -> ToYaml -> load gives an equal Config, and the output is the
// canonical form (stable under a second round trip, every field explicit).
#include "policy/config_yaml.h"

#include <string>
#include <string_view>

#include "policy/config.h"
#include "policy/config_loader.h"
#include "tests/unit/config_test_util.h"

namespace rebound {
namespace {

using ::rebound::testing::Dump;
using ::rebound::testing::Env;
using ::rebound::testing::Load;
using ::testing::HasSubstr;
using ::testing::Not;

// Loads `yaml`, writes it back, loads that, and checks both configs and the
// two YAML texts agree.
void ExpectRoundTrip(std::string_view yaml, const Env& env = testing::DefaultEnv()) {
  LoadResult first = Load(yaml, env);
  ASSERT_TRUE(first.ok()) << Dump(first);
  std::string text = ToYaml(*first.config);
  LoadResult second = Load(text, env);
  ASSERT_TRUE(second.ok()) << text << "\n" << Dump(second);
  EXPECT_EQ(*first.config, *second.config) << text;
  EXPECT_EQ(ToYaml(*second.config), text) << "ToYaml is canonical";
}

TEST(ConfigYamlTest, MinimalConfigRoundTrips) {
  ExpectRoundTrip(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
}

TEST(ConfigYamlTest, EmptyConfigRoundTrips) { ExpectRoundTrip(""); }

TEST(ConfigYamlTest, EveryFieldRoundTrips) {
  ExpectRoundTrip(R"(
server:
  listen: 0.0.0.0:6000
  metrics_listen: "[::]:9000"
  max_body_bytes: 1048576
  max_response_bytes: 2097152
  stream_pause_timeout_ms: 4000
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
    base_url: https://api.openai.com/
    access_key: ${OPENAI_API_KEY}
    default: true
    headers:
      OpenAI-Organization: org-1
      X-Bool-Looking: "true"
      X-Number-Looking: "0123"
      X-Null-Looking: "null"
      X-Quote: "say \"hi\"\tnow"
      X-Empty: ""
    timeouts: {connect_ms: 1000, first_byte_ms: 2000, idle_ms: 3000, total_ms: 4000}
    tls_ca_file: /etc/rebound/provider-ca.pem
    retry_policy:
      fallback_models: [mistral/large, openai/gpt-4o-mini]
      default_strategy: same_provider
      default_max_attempts: 3
      on_status_codes:
        - codes: [429, "430-450", 526, 500, 501, 503, "300-302"]
          strategy: different_provider
          max_attempts: 4
        - codes: [504]
      on_timeout: {strategy: same_model, max_attempts: 5}
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
      backoff: {apply_to: same_provider, base_ms: 250, max_ms: 8000, jitter: false}
      retry_after_handling: {scope: provider, apply_to: request, max_retry_after_seconds: 60}
      max_retry_duration_ms: 45000
  - model: openai/gpt-4o-mini
    base_url: http://localhost:8080/v1/
    passthrough_auth: true
    retry_policy: {}
  - model: mistral/large
    base_url: https://api.mistral.ai
    access_key: "literal: with # yaml ~ characters"
  - model: anthropic/claude-sonnet-4
    base_url: https://api.anthropic.com
    access_key: $ANTHROPIC_API_KEY
    provider_interface: anthropic
  - model: openrouter/meta-llama/llama-3
    base_url: https://openrouter.ai/api
    access_key: "12345"
    provider_interface: openai
)");
}

TEST(ConfigYamlTest, PlanoFileRoundTripsWithoutItsIgnoredSections) {
  Env env = testing::DefaultEnv();
  env["MOCK_PRIMARY_PORT"] = "18001";
  LoadResult first = Load(R"(
version: v0.3.0
listeners:
  - type: model
    name: model_listener
    port: 12000
llm_providers:
  - model: openai/gpt-4o
    name: primary
    base_url: http://host.docker.internal:${MOCK_PRIMARY_PORT}
    access_key: test-key-primary
    default: true
    retry_policy:
      fallback_models: [groq/llama]
      on_status_codes:
        - codes: [429, "500-504"]
  - model: groq/llama
    base_url: https://api.groq.com/openai
    access_key: $OPENAI_API_KEY
    provider_interface: groq
tracing:
  random_sampling: 100
)",
                          env);
  ASSERT_TRUE(first.ok()) << Dump(first);
  std::string text = ToYaml(*first.config);
  EXPECT_THAT(text, Not(HasSubstr("listeners")));
  EXPECT_THAT(text, Not(HasSubstr("tracing")));
  EXPECT_THAT(text, Not(HasSubstr("llm_providers")));
  EXPECT_THAT(text, HasSubstr("provider_interface: openai"));
  EXPECT_THAT(text, HasSubstr("base_url: \"http://host.docker.internal:18001\""));
  LoadResult second = Load(text, env);
  ASSERT_TRUE(second.ok()) << text << Dump(second);
  EXPECT_THAT(second.diagnostics, ::testing::IsEmpty()) << Dump(second);
  EXPECT_EQ(*first.config, *second.config);
}

TEST(ConfigYamlTest, AccessKeyIsWrittenAsItsSource) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  std::string text = ToYaml(*r.config);
  EXPECT_THAT(text, HasSubstr("access_key: \"$OPENAI_API_KEY\""));
  EXPECT_THAT(text, Not(HasSubstr("sk-openai-test"))) << "the resolved key is never written";
}

TEST(ConfigYamlTest, EveryFieldIsExplicit) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      on_high_latency: {threshold_ms: 2000}
      backoff: {apply_to: global}
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  std::string text = ToYaml(*r.config);
  for (std::string_view key : {"listen:",
                               "metrics_listen:",
                               "max_body_bytes: 8388608",
                               "max_in_flight: 4096",
                               "max_connections_per_provider: 256",
                               "drain_grace_ms: 30000",
                               "upstream_threads: 0",
                               "addresses: []",
                               "provider_interface: openai",
                               "passthrough_auth: false",
                               "default: false",
                               "headers: {}",
                               "connect_ms: 5000",
                               "first_byte_ms: 60000",
                               "idle_ms: 30000",
                               "fallback_models: []",
                               "default_strategy: different_provider",
                               "default_max_attempts: 2",
                               "on_status_codes: []",
                               "on_timeout:",
                               "measure: ttfb",
                               "min_triggers: 1",
                               "trigger_window_seconds: 60",
                               "block_duration_seconds: 300",
                               "scope: model",
                               "apply_to: global",
                               "base_ms: 100",
                               "max_ms: 5000",
                               "jitter: true",
                               "retry_after_handling:",
                               "max_retry_after_seconds: 300"}) {
    EXPECT_THAT(text, HasSubstr(key)) << text;
  }
  EXPECT_THAT(text, Not(HasSubstr("total_ms"))) << "absent optionals stay absent";
  EXPECT_THAT(text, Not(HasSubstr("max_retry_duration_ms")));
}

TEST(ConfigYamlTest, ConsecutiveCodesAreWrittenAsRanges) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
    retry_policy:
      default_strategy: same_model
      on_status_codes:
        - codes: [429, "430-450", 526, 500, 501, "502-504", 520, 521]
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(ToYaml(*r.config), HasSubstr("codes: [\"429-450\", 526, \"500-504\", 520, 521]"));
}

TEST(ConfigYamlTest, ProgrammaticConfigRoundTrips) {
  Config c;
  c.server.listen_address = "[::1]:0";
  c.server.upstream_threads = 4;
  c.control_plane.addresses = {"a:1", "b:2"};
  ModelProvider p;
  p.model_id = "openai/gpt-4o";
  p.provider = "openai";
  p.bare_model = "gpt-4o";
  p.base_url = "https://api.openai.com";
  p.access_key_source = "${OPENAI_API_KEY}";
  p.access_key = "sk-openai-test";
  p.is_default = true;
  p.headers = {{"X-A", "1"}, {"x-b", "two words"}};
  p.timeouts.total_ms = 90000;
  RetryPolicy rp;
  rp.default_strategy = Strategy::kSameModel;
  rp.on_status_codes = {{{429, 503, 502}, {Strategy::kSameModel, 3}}};
  rp.on_timeout = {Strategy::kSameModel, 1};
  rp.on_high_latency = HighLatencyPolicy{};
  rp.on_high_latency->threshold_ms = 30000;
  rp.on_high_latency->policy = {Strategy::kSameModel, 2};
  rp.backoff = BackoffPolicy{BackoffApplyTo::kSameModel, 10, 20, false};
  rp.max_retry_duration_ms = 1;
  p.retry_policy = rp;
  c.providers.push_back(p);

  std::string text = ToYaml(c);
  LoadResult r = Load(text);
  ASSERT_TRUE(r.ok()) << text << Dump(r);
  EXPECT_THAT(r.diagnostics, ::testing::IsEmpty()) << Dump(r);
  EXPECT_EQ(*r.config, c) << text;
}

// A provider whose base_url is the built-in default is written without it,
// so that the gemini default's /v1 rule (which YAML cannot spell) survives.
TEST(ConfigYamlTest, DefaultedBaseUrlsRoundTripToEqualConfigs) {
  const char* kYaml = R"(
model_providers:
  - model: openai/gpt-4o
    access_key: $OPENAI_API_KEY
  - model: gemini/gemini-2.0-flash
    access_key: $OPENAI_API_KEY
  - model: gemini/gemini-2.0-pro
    base_url: https://generativelanguage.googleapis.com/v1beta/openai
    access_key: $OPENAI_API_KEY
  - model: anthropic/claude-sonnet-4
    base_url: https://api.anthropic.com
    access_key: $ANTHROPIC_API_KEY
  - model: mistral/large
    base_url: https://eu.api.mistral.ai
    access_key: $MISTRAL_API_KEY
)";
  ExpectRoundTrip(kYaml);
  LoadResult first = Load(kYaml);
  ASSERT_TRUE(first.ok()) << Dump(first);
  std::string text = ToYaml(*first.config);
  EXPECT_THAT(text, Not(HasSubstr("api.openai.com"))) << text;
  EXPECT_THAT(text, Not(HasSubstr("api.anthropic.com"))) << "equal to the default: " << text;
  EXPECT_THAT(text, HasSubstr("base_url: \"https://eu.api.mistral.ai\"")) << text;
  LoadResult second = Load(text);
  ASSERT_TRUE(second.ok()) << text << Dump(second);
  EXPECT_TRUE(second.config->providers[1].strip_v1_path_prefix) << text;
  EXPECT_FALSE(second.config->providers[2].strip_v1_path_prefix) << text;
}

TEST(ConfigYamlTest, StripV1IsPartOfTheConfigsEquality) {
  LoadResult r = Load("model_providers:\n  - model: gemini/flash\n    access_key: k\n");
  ASSERT_TRUE(r.ok()) << Dump(r);
  Config changed = *r.config;
  changed.providers[0].strip_v1_path_prefix = false;
  EXPECT_FALSE(changed == *r.config);
}

}  // namespace
}  // namespace rebound
