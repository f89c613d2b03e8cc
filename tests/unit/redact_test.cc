// Redact (issue 10 item 7): configured credentials and key-looking tokens
// never leave rebound in an error body, a header or a log line.
#include "codec/redact.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/config.h"

namespace rebound {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RedactTest, ConfiguredSecretsAreReplacedWherever) {
  EXPECT_EQ(Redact(R"({"error":{"message":"Incorrect API key provided: key-primary-123."}})",
                   {"key-primary-123"}),
            R"({"error":{"message":"Incorrect API key provided: [redacted]."}})");
  EXPECT_EQ(Redact("a=key-primary-123&b=key-primary-123", {"key-primary-123"}),
            "a=[redacted]&b=[redacted]");
}

TEST(RedactTest, ALongerSecretContainingAnotherIsReplacedWhole) {
  EXPECT_EQ(Redact("x secret-long-value y", {"secret", "secret-long-value"}), "x [redacted] y");
}

TEST(RedactTest, VeryShortSecretsAreIgnoredRatherThanRedactingWords) {
  EXPECT_EQ(Redact("abc", {"abc"}), "abc");
  EXPECT_EQ(Redact("abcd", {"abcd"}), "[redacted]");
}

TEST(RedactTest, KeyLookingTokensAreReplacedWhoeverTheyBelongTo) {
  EXPECT_EQ(Redact("Incorrect API key provided: sk-proj-abcdefghijklmnop1234.", {}),
            "Incorrect API key provided: [redacted].");
  EXPECT_EQ(Redact("key sk-ant-api03-AAAAAAAAAAAAAAAAAAAA_BBBB end", {}), "key [redacted] end");
  EXPECT_EQ(Redact("AIzaSyA0123456789012345678901234567890x", {}), "[redacted]");
  // Too short to be a key, or part of a longer word: left alone.
  EXPECT_EQ(Redact("sk-short and task-abcdefghijklmnopqrstu", {}),
            "sk-short and task-abcdefghijklmnopqrstu");
}

TEST(RedactTest, BearerCredentialsAreReplaced) {
  EXPECT_EQ(Redact("Authorization: Bearer abc.def-123456", {}), "Authorization: Bearer [redacted]");
  EXPECT_THAT(Redact(R"({"header":"bearer   tok_0123456789"})", {}),
              Not(HasSubstr("tok_0123456789")));
  EXPECT_EQ(Redact("a Bearer token is required", {}), "a Bearer token is required");
}

TEST(RedactTest, ConfiguredSecretsAreKeysAndCredentialHeaders) {
  Config config;
  ModelProvider a;
  a.access_key = "key-a-0001";
  a.headers = {{"api-key", "azure-key-0002"},
               {"Authorization", "Bearer tok-0003"},
               {"anthropic-version", "2023-06-01"},  // no secret: never redacted
               {"content-type", "application/json"}};
  ModelProvider b;
  b.access_key = "key-a-0001";  // the same key twice is listed once
  ModelProvider c;              // passthrough_auth: no key
  config.providers = {a, b, c};
  EXPECT_THAT(ConfiguredSecrets(config),
              ::testing::UnorderedElementsAre("key-a-0001", "azure-key-0002", "Bearer tok-0003",
                                              "tok-0003"));
}

}  // namespace
}  // namespace rebound
