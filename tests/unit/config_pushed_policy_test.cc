// $VAR expansion in a policy pushed by the control plane (issue 10 item 8):
// whoever can push must not be able to read a replica's environment, so a
// pushed policy expands variables only in access_key and only the names the
// replica's own control_plane.allowed_env lists. A local file is unchanged.
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
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Loads `yaml` as a pushed policy with `allowed` as the replica's list.
LoadResult LoadPushed(std::string_view yaml, std::vector<std::string> allowed) {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  LoadOptions options;
  options.pushed_policy = true;
  options.allowed_env = std::move(allowed);
  return LoadConfigFromString(yaml, "test.yaml", MapEnv(DefaultEnv()), options);
}

// No diagnostic carries a value from the environment.
void ExpectNoEnvValues(const LoadResult& r) {
  for (const Diagnostic& d : r.diagnostics) {
    for (const auto& [name, value] : DefaultEnv()) {
      if (!value.empty()) {
        EXPECT_THAT(d.message, Not(HasSubstr(value))) << d.ToString();
      }
    }
  }
}

TEST(PushedPolicyEnvTest, AnAllowListedAccessKeyVariableIsExpanded) {
  LoadResult r = LoadPushed(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
  - model: anthropic/claude-3-5-sonnet
    base_url: https://api.anthropic.com
    access_key: ${ANTHROPIC_API_KEY}
  - model: mistral/mistral-large
    base_url: https://api.mistral.ai
    access_key: a-literal-key
)", {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"});
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].access_key, "sk-openai-test");
  EXPECT_EQ(r.config->providers[1].access_key, "sk-ant-test");
  EXPECT_EQ(r.config->providers[2].access_key, "a-literal-key");
}

TEST(PushedPolicyEnvTest, AnAccessKeyVariableNotOnTheListIsAnError) {
  LoadResult r = LoadPushed(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
  - model: anthropic/claude-3-5-sonnet
    base_url: https://api.anthropic.com
    access_key: ${ANTHROPIC_API_KEY}
)", {"OPENAI_API_KEY"});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, Contains(Error(7, "model_providers[1].access_key",
                                            "ANTHROPIC_API_KEY")));
  EXPECT_THAT(r.diagnostics, Contains(Error(7, "model_providers[1].access_key",
                                            "control_plane.allowed_env")));
  // One error for the key, not a second "resolves empty" one.
  EXPECT_EQ(r.diagnostics.size(), 1u) << Dump(r);
  ExpectNoEnvValues(r);
}

TEST(PushedPolicyEnvTest, WithoutAListNothingIsExpanded) {
  LoadResult r = LoadPushed(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)", {});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics,
              Contains(Error(4, "model_providers[0].access_key", "OPENAI_API_KEY")));
  ExpectNoEnvValues(r);
}

TEST(PushedPolicyEnvTest, AVariableInBaseUrlIsAnErrorEvenWhenAllowListed) {
  LoadResult r = LoadPushed(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://collector.example/${OPENAI_API_KEY}
    access_key: literal
  - model: anthropic/claude-3-5-sonnet
    base_url: $ANTHROPIC_API_KEY
    access_key: literal
)", {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, Contains(Error(3, "model_providers[0].base_url", "OPENAI_API_KEY")));
  EXPECT_THAT(r.diagnostics, Contains(Error(3, "model_providers[0].base_url", "access_key")));
  EXPECT_THAT(r.diagnostics,
              Contains(Error(6, "model_providers[1].base_url", "ANTHROPIC_API_KEY")));
  ExpectNoEnvValues(r);
}

TEST(PushedPolicyEnvTest, AVariableInAHeaderValueIsAnError) {
  // A local file sends it as written, with a warning; a pushed policy is
  // refused, so that an operator who expected expansion learns it at once.
  LoadResult r = LoadPushed(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: literal
    headers: {OpenAI-Organization: $ORG_ID}
)", {"ORG_ID"});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, Contains(Error(5, "model_providers[0].headers.OpenAI-Organization",
                                            "only in access_key")));
  // Header values are never echoed, names in them included: they may be
  // part of a credential.
  for (const Diagnostic& d : r.diagnostics) EXPECT_THAT(d.message, Not(HasSubstr("ORG_ID")));
}

TEST(PushedPolicyEnvTest, ALocalFileKeepsExpandingEverywhere) {
  LoadResult r = Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: https://${API_HOST}
    access_key: $OPENAI_API_KEY
)", {{"API_HOST", "api.openai.com"}, {"OPENAI_API_KEY", "sk-1"}});
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->providers[0].base_url, "https://api.openai.com");
  EXPECT_EQ(r.config->providers[0].access_key, "sk-1");
}

TEST(AllowedEnvTest, TheListIsReadFromControlPlaneAndRoundTrips) {
  LoadResult r = Load(R"(
control_plane:
  addresses: [cp:7500]
  allowed_env: [OPENAI_API_KEY, _PRIVATE_2]
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_THAT(r.config->control_plane.allowed_env, ElementsAre("OPENAI_API_KEY", "_PRIVATE_2"));
  LoadResult again = Load(ToYaml(*r.config));
  ASSERT_TRUE(again.ok()) << Dump(again) << ToYaml(*r.config);
  EXPECT_EQ(*again.config, *r.config);
}

TEST(AllowedEnvTest, EntriesMustBeVariableNames) {
  LoadResult r = Load(R"(
control_plane:
  allowed_env: [OPENAI_API_KEY, "$OPENAI_API_KEY", 9LIVES, "", [x]]
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.diagnostics, Contains(Error(2, "control_plane.allowed_env[1]", "variable name")));
  EXPECT_THAT(r.diagnostics, Contains(Error(2, "control_plane.allowed_env[2]", "variable name")));
  EXPECT_THAT(r.diagnostics, Contains(Error(2, "control_plane.allowed_env[3]", "variable name")));
  EXPECT_THAT(r.diagnostics, Contains(Error(2, "control_plane.allowed_env[4]", "")));
}

}  // namespace
}  // namespace rebound
