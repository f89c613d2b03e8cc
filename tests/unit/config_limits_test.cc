// The loader's size limits (policy/limits.h): every list a file can make
// long, the number of diagnostics, and the YAML node budget that stops alias
// amplification. Each limit is tested at its value (loads) and one past it
// (a clear error), and hostile input must be rejected after a bounded amount
// of work, measured as LoadResult::nodes_visited rather than wall time.
#include <string>
#include <string_view>

#include "policy/config.h"
#include "policy/config_loader.h"
#include "policy/limits.h"
#include "tests/unit/config_test_util.h"

namespace rebound {
namespace {

using ::rebound::testing::Dump;
using ::rebound::testing::Error;
using ::rebound::testing::Load;
using ::rebound::testing::Warning;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::SizeIs;

// One flow-style provider entry, openai/m<i>.
std::string Provider(size_t i, std::string_view extra = "") {
  return "  - {model: openai/m" + std::to_string(i) +
         ", base_url: https://api.openai.com, access_key: k" + std::string(extra) + "}\n";
}

std::string Providers(size_t n, std::string_view extra = "") {
  std::string out = "model_providers:\n";
  for (size_t i = 0; i < n; ++i) out += Provider(i, extra);
  return out;
}

// testing::WithPolicy with no other provider; same_model keeps the
// "no target" warning out of the way. Policy line k is file line 5 + k.
std::string WithPolicy(std::string_view policy) {
  return testing::WithPolicy("default_strategy: same_model\n" + std::string(policy), "");
}
constexpr int L(int policy_line) { return 6 + policy_line; }  // after default_strategy
std::string P(std::string_view suffix) {
  return "model_providers[0].retry_policy." + std::string(suffix);
}

// "[a, a, ..., a]" with n entries.
std::string FlowList(size_t n, std::string_view item) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    out += item;
  }
  return out + "]";
}

// ---------------------------------------------------------------------------
// Lists

TEST(ConfigLimitsTest, ModelProvidersBeyondTheLimitAreAnError) {
  LoadResult at = Load(Providers(limits::kMaxModelProviders));
  ASSERT_TRUE(at.ok()) << Dump(at);
  EXPECT_THAT(at.config->providers, SizeIs(limits::kMaxModelProviders));

  LoadResult over = Load(Providers(limits::kMaxModelProviders + 1));
  EXPECT_FALSE(over.ok());
  EXPECT_THAT(over.diagnostics,
              ElementsAre(Error(1, "model_providers",
                                "has 1001 entries; at most 1000 model providers are allowed")))
      << Dump(over);
}

TEST(ConfigLimitsTest, StatusCodeRulesBeyondTheLimitAreAnError) {
  auto rules = [](size_t n) {
    std::string out = "on_status_codes:\n";
    for (size_t i = 0; i < n; ++i) out += "  - codes: [" + std::to_string(300 + i) + "]\n";
    return out;
  };
  LoadResult at = Load(WithPolicy(rules(limits::kMaxStatusCodeRules)));
  ASSERT_TRUE(at.ok()) << Dump(at);
  EXPECT_THAT(at.config->providers[0].retry_policy->on_status_codes,
              SizeIs(limits::kMaxStatusCodeRules));

  LoadResult over = Load(WithPolicy(rules(limits::kMaxStatusCodeRules + 1)));
  EXPECT_FALSE(over.ok());
  EXPECT_THAT(over.diagnostics,
              ElementsAre(Error(L(1), P("on_status_codes"),
                                "has 65 entries; at most 64 on_status_codes rules are allowed")))
      << Dump(over);
}

TEST(ConfigLimitsTest, CodesOfOneRuleBeyondTheLimitAreAnError) {
  auto rule = [](size_t n) { return "on_status_codes:\n  - codes: " + FlowList(n, "503") + "\n"; };
  LoadResult at = Load(WithPolicy(rule(limits::kMaxCodeEntriesPerRule)));
  ASSERT_TRUE(at.ok()) << Dump(at);

  LoadResult over = Load(WithPolicy(rule(limits::kMaxCodeEntriesPerRule + 1)));
  EXPECT_FALSE(over.ok());
  EXPECT_THAT(over.diagnostics,
              ElementsAre(Error(L(2), P("on_status_codes[0].codes"),
                                "has 301 entries; at most 300 status codes or ranges are "
                                "allowed")))
      << Dump(over);
}

TEST(ConfigLimitsTest, RangesExpandingPastThePolicyLimitAreAnError) {
  // Three catch-all ranges are 900 codes; a fourth passes 1,000.
  std::string three = "on_status_codes:\n";
  for (int i = 0; i < 3; ++i) three += "  - codes: [\"300-599\"]\n";
  LoadResult at = Load(WithPolicy(three));
  ASSERT_TRUE(at.ok()) << Dump(at);

  LoadResult over = Load(WithPolicy(three + "  - codes: [429, \"300-599\"]\n"));
  EXPECT_FALSE(over.ok());
  EXPECT_THAT(over.diagnostics,
              Contains(Error(L(5), P("on_status_codes[3].codes[1]"),
                             "expands this policy's status codes to 1201; at most 1000 are "
                             "allowed (a range counts each of its codes)")))
      << Dump(over);
  for (const Diagnostic& d : over.diagnostics) {
    if (d.key != P("on_status_codes[3].codes[0]")) continue;
    EXPECT_EQ(d.severity, Diagnostic::Severity::kWarning) << "429 still fits: " << d.ToString();
  }
}

TEST(ConfigLimitsTest, FallbackModelsBeyondTheLimitAreAnError) {
  auto file = [](size_t n) {
    std::string fallbacks = "retry_policy: {default_strategy: same_provider, fallback_models: [";
    for (size_t i = 1; i <= n; ++i) {
      fallbacks += (i > 1 ? ", openai/m" : "openai/m") + std::to_string(i);
    }
    std::string out = "model_providers:\n" + Provider(0, ", " + fallbacks + "]}");
    for (size_t i = 1; i <= n; ++i) out += Provider(i);
    return out;
  };
  LoadResult at = Load(file(limits::kMaxFallbackModels));
  ASSERT_TRUE(at.ok()) << Dump(at);
  EXPECT_THAT(at.config->providers[0].retry_policy->fallback_models,
              SizeIs(limits::kMaxFallbackModels));

  LoadResult over = Load(file(limits::kMaxFallbackModels + 1));
  EXPECT_FALSE(over.ok());
  EXPECT_THAT(over.diagnostics,
              ElementsAre(Error(2, "model_providers[0].retry_policy.fallback_models",
                                "has 65 entries; at most 64 fallback models are allowed")))
      << Dump(over);
}

TEST(ConfigLimitsTest, HeadersBeyondTheLimitAreAnError) {
  auto file = [](size_t n) {
    std::string headers = ", headers: {";
    for (size_t i = 0; i < n; ++i) headers += (i > 0 ? ", X-H" : "X-H") + std::to_string(i) + ": v";
    return "model_providers:\n" + Provider(0, headers + "}");
  };
  LoadResult at = Load(file(limits::kMaxHeadersPerProvider));
  ASSERT_TRUE(at.ok()) << Dump(at);
  EXPECT_THAT(at.config->providers[0].headers, SizeIs(limits::kMaxHeadersPerProvider));

  LoadResult over = Load(file(limits::kMaxHeadersPerProvider + 1));
  EXPECT_FALSE(over.ok());
  EXPECT_THAT(over.diagnostics,
              ElementsAre(Error(2, "model_providers[0].headers",
                                "has 65 entries; at most 64 headers are allowed")))
      << Dump(over);
}

TEST(ConfigLimitsTest, ControlPlaneAddressesBeyondTheLimitAreAnError) {
  auto file = [](size_t n) {
    return "control_plane:\n  addresses: " + FlowList(n, "cp:7500") + "\n";
  };
  LoadResult at = Load(file(limits::kMaxControlPlaneAddresses));
  EXPECT_FALSE(HasErrors(at.diagnostics)) << Dump(at);

  LoadResult over = Load(file(limits::kMaxControlPlaneAddresses + 1));
  EXPECT_FALSE(over.ok());
  EXPECT_THAT(over.diagnostics,
              Contains(Error(2, "control_plane.addresses",
                             "has 65 entries; at most 64 control-plane addresses are allowed")))
      << Dump(over);
}

// ---------------------------------------------------------------------------
// Diagnostics

TEST(ConfigLimitsTest, DiagnosticsStopAtTheLimitWithOneSummaryOfTheRest) {
  LoadResult r = Load(Providers(300, ", bogus: 1"));  // an error per provider
  EXPECT_FALSE(r.ok());
  ASSERT_THAT(r.diagnostics, SizeIs(limits::kMaxDiagnostics + 1)) << Dump(r);
  EXPECT_THAT(r.diagnostics.front(), Error(2, "model_providers[0].bogus", "unknown key"));
  EXPECT_THAT(r.diagnostics[limits::kMaxDiagnostics - 1],
              Error(201, "model_providers[199].bogus", "unknown key"));
  EXPECT_THAT(r.diagnostics.back(),
              Error(0, "", "100 more errors were not reported: a load reports at most 200"));
}

TEST(ConfigLimitsTest, ErrorsPastTheDiagnosticLimitStillFailTheLoad) {
  // 250 warnings (plano's `name` is ignored), then one error nobody sees.
  std::string text = Providers(250, ", name: x") + Provider(250, ", bogus: 1");
  LoadResult r = Load(text);
  EXPECT_FALSE(r.ok());
  ASSERT_THAT(r.diagnostics, SizeIs(limits::kMaxDiagnostics + 1)) << Dump(r);
  EXPECT_THAT(r.diagnostics.back(),
              Error(0, "", "1 more error and 50 more warnings were not reported"));
}

TEST(ConfigLimitsTest, WarningsPastTheDiagnosticLimitStillLoad) {
  LoadResult r = Load(Providers(250, ", name: x"));
  ASSERT_TRUE(r.ok()) << Dump(r);
  ASSERT_THAT(r.diagnostics, SizeIs(limits::kMaxDiagnostics + 1));
  EXPECT_THAT(r.diagnostics.back(), Warning(0, "", "50 more warnings were not reported"));
}

// ---------------------------------------------------------------------------
// The node budget

// 100 providers share one policy of 64 aliased rules of 100 codes: a few
// kilobytes that name 640,000 status codes (and as many "already listed"
// warnings) once walked. The loader must refuse it without walking it.
std::string RuleAmplification() {
  std::string text =
      "model_providers:\n"
      "  - model: openai/m0\n"
      "    base_url: https://api.openai.com\n"
      "    access_key: k\n"
      "    retry_policy: &rp\n"
      "      default_strategy: same_model\n"
      "      on_status_codes:\n"
      "        - &rule {codes: " +
      FlowList(100, "503") + "}\n";
  for (int i = 1; i < 64; ++i) text += "        - *rule\n";
  for (int i = 1; i < 100; ++i) {
    text += "  - {model: openai/m" + std::to_string(i) +
            ", base_url: https://api.openai.com, access_key: k, retry_policy: *rp}\n";
  }
  return text;
}

TEST(ConfigLimitsTest, AliasAmplificationIsRejectedBeforeItIsWalked) {
  LoadResult r = Load(RuleAmplification());
  EXPECT_FALSE(r.ok());
  ASSERT_THAT(r.diagnostics, SizeIs(1)) << Dump(r);
  const Diagnostic& d = r.diagnostics[0];
  EXPECT_EQ(d.severity, Diagnostic::Severity::kError);
  EXPECT_THAT(d.message, HasSubstr("more than 200000 YAML nodes with aliases expanded"));
  EXPECT_THAT(d.message, HasSubstr("anchored at line 5"));
  // The document was not read, so the key is empty like any top-level
  // problem's (controlplane/policy_check.cc relies on it); the message says
  // where.
  EXPECT_EQ(d.key, "");
  EXPECT_THAT(d.message, MatchesRegex(R"(.* at model_providers\[[0-9]+\]\.retry_policy;.*)"));
  EXPECT_LE(r.nodes_visited, limits::kMaxYamlNodes) << "the load walked the expansion";
}

TEST(ConfigLimitsTest, BillionLaughsIsRejectedBeforeItIsWalked) {
  // Nine levels of ten: 10^9 strings, under a section the loader ignores.
  std::string text = "tracing:\n  l0: &l0 " + FlowList(10, "lol") + "\n";
  for (int level = 1; level < 9; ++level) {
    std::string prev = "*l" + std::to_string(level - 1);
    text += "  l" + std::to_string(level) + ": &l" + std::to_string(level) + " " +
            FlowList(10, prev) + "\n";
  }
  text += Providers(1);
  LoadResult r = Load(text);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, ElementsAre(Error(7, "",
                                               "more than 200000 YAML nodes with aliases "
                                               "expanded, the limit, at tracing.l5[0]")))
      << Dump(r);
  EXPECT_LE(r.nodes_visited, limits::kMaxYamlNodes);
}

TEST(ConfigLimitsTest, HugeFlatListIsRejectedWithoutBuildingIt) {
  // 300,000 nodes and no alias: yaml-cpp alone would take ~140 MB for it.
  LoadResult r = Load("tracing: " + FlowList(300'000, "1") + "\n" + Providers(1));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(1, "", "more than 200000 YAML nodes with aliases expanded, the "
                                       "limit, at tracing[199997]")))
      << Dump(r);
  EXPECT_LE(r.nodes_visited, limits::kMaxYamlNodes + 1) << "parsing went on past the limit";
}

TEST(ConfigLimitsTest, AliasInsideItsOwnAnchorIsAnError) {
  // yaml-cpp builds a cycle from it, which a walk would never finish.
  LoadResult r = Load("tracing: &a [1, *a]\n" + Providers(1));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              ElementsAre(Error(1, "", "the alias at tracing[1] refers to a node that contains "
                                       "it")))
      << Dump(r);
}

// A plano file typically shares one policy among its models with an anchor:
// every provider of the largest allowed file may do so.
TEST(ConfigLimitsTest, SharedRetryPolicyAnchorWorksForEveryProvider) {
  std::string text =
      "model_providers:\n"
      "  - model: openai/m0\n"
      "    base_url: https://api.openai.com\n"
      "    access_key: k\n"
      "    retry_policy: &common\n"
      "      default_strategy: same_provider\n"
      "      default_max_attempts: 3\n"
      "      on_status_codes:\n"
      "        - {codes: [429], strategy: same_provider, max_attempts: 2}\n"
      "        - {codes: [\"500-504\", 529], strategy: same_model, max_attempts: 3}\n"
      "      on_timeout: {strategy: same_provider, max_attempts: 2}\n"
      "      on_high_latency: {threshold_ms: 5000, min_triggers: 3, trigger_window_seconds: 60}\n"
      "      backoff: {apply_to: same_provider, base_ms: 100, max_ms: 5000}\n"
      "      retry_after_handling: {scope: model, apply_to: global}\n"
      "      max_retry_duration_ms: 30000\n";
  for (size_t i = 1; i < limits::kMaxModelProviders; ++i) {
    text += "  - {model: openai/m" + std::to_string(i) +
            ", base_url: https://api.openai.com, access_key: k, retry_policy: *common}\n";
  }
  LoadResult r = Load(text);
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, ::testing::IsEmpty()) << Dump(r);
  const Config& c = *r.config;
  ASSERT_THAT(c.providers, SizeIs(limits::kMaxModelProviders));
  EXPECT_EQ(c.providers[0].retry_policy->on_status_codes[1].codes.size(), 6u);
  EXPECT_EQ(c.providers.back().retry_policy, c.providers[0].retry_policy);
}

// The limits leave room for the largest realistic file: every provider
// with its own full policy, headers and timeouts, nothing shared.
TEST(ConfigLimitsTest, LargestRealisticConfigLoads) {
  std::string text = "model_providers:\n";
  for (size_t i = 0; i < limits::kMaxModelProviders; ++i) {
    std::string n = std::to_string(i);
    std::string next = std::to_string((i + 1) % limits::kMaxModelProviders);
    text +=
        "  - model: openai/m" + n +
        "\n"
        "    base_url: https://api.openai.com\n"
        "    access_key: $OPENAI_API_KEY\n"
        "    headers: {OpenAI-Organization: org-" + n + ", X-Team: search}\n"
        "    timeouts: {connect_ms: 5000, first_byte_ms: 60000, idle_ms: 30000, total_ms: 120000}\n"
        "    retry_policy:\n"
        "      fallback_models: [openai/m" + next + "]\n"
        "      default_strategy: same_provider\n"
        "      default_max_attempts: 2\n"
        "      on_status_codes:\n"
        "        - {codes: [429], strategy: same_provider, max_attempts: 2}\n"
        "        - {codes: [\"500-504\", 529], strategy: same_model, max_attempts: 3}\n"
        "      on_timeout: {strategy: same_provider, max_attempts: 2}\n"
        "      on_high_latency: {threshold_ms: 5000, measure: ttfb, min_triggers: 3,\n"
        "                        trigger_window_seconds: 60, block_duration_seconds: 300,\n"
        "                        scope: model, apply_to: global}\n"
        "      backoff: {apply_to: same_provider, base_ms: 100, max_ms: 5000, jitter: true}\n"
        "      retry_after_handling: {scope: model, apply_to: global,\n"
        "                             max_retry_after_seconds: 300}\n"
        "      max_retry_duration_ms: 30000\n";
  }
  LoadResult r = Load(text);
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.diagnostics, ::testing::IsEmpty()) << Dump(r);
  EXPECT_THAT(r.config->providers, SizeIs(limits::kMaxModelProviders));
}

}  // namespace
}  // namespace rebound
