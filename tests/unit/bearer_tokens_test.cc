#include "auth/bearer_tokens.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseTokenListTest, OneTokenPerLineTrimmedWithBlankLinesAndCommentsIgnored) {
  auto tokens = ParseTokenList("# gateway callers\n  alpha-1 \n\n\tbeta-2\r\n# old: gamma\n",
                               "tokens.txt");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_THAT(*tokens, ElementsAre("alpha-1", "beta-2"));
}

TEST(ParseTokenListTest, ASingleTokenWithoutNewlineIsAccepted) {
  auto tokens = ParseTokenList("only", "f");
  ASSERT_TRUE(tokens.ok());
  EXPECT_THAT(*tokens, ElementsAre("only"));
}

TEST(ParseTokenListTest, NoTokenAtAllIsAnErrorNamingTheSource) {
  for (const char* text : {"", "\n\n", "   \n", "# only a comment\n"}) {
    auto tokens = ParseTokenList(text, "/etc/rebound/tokens");
    ASSERT_FALSE(tokens.ok()) << text;
    EXPECT_THAT(tokens.status().message(), HasSubstr("/etc/rebound/tokens holds no token"));
  }
}

TEST(ParseTokenListTest, ATokenWithSpacesOrControlCharactersIsAnErrorThatDoesNotEchoIt) {
  for (const char* text : {"good\nsecret with space\n", "good\nsecret\x01x\n", "good\nsecr\xc3\xa9t\n"}) {
    auto tokens = ParseTokenList(text, "f");
    ASSERT_FALSE(tokens.ok()) << text;
    EXPECT_THAT(tokens.status().message(), HasSubstr("f:2: a token must be printable ASCII"));
    EXPECT_THAT(tokens.status().message(), Not(HasSubstr("secr")));
  }
}

TEST(ReadTokenListFileTest, ReadsTheFileAndNamesItInErrors) {
  std::string path = ::testing::TempDir() + "/bearer_tokens_test_tokens";
  { std::ofstream(path) << "t1\nt2\n"; }
  auto tokens = ReadTokenListFile(path);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_THAT(*tokens, ElementsAre("t1", "t2"));

  auto missing = ReadTokenListFile(path + ".missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr(path + ".missing"));
  EXPECT_FALSE(ReadTokenListFile("").ok());
}

TEST(ReadTokenListFileTest, AFileAboveTheLimitIsRefused) {
  std::string path = ::testing::TempDir() + "/bearer_tokens_test_big";
  { std::ofstream(path) << std::string(kMaxTokenFileBytes + 1, 'a'); }
  auto tokens = ReadTokenListFile(path);
  ASSERT_FALSE(tokens.ok());
  EXPECT_THAT(tokens.status().message(), HasSubstr("larger than"));
  EXPECT_THAT(tokens.status().message(), Not(HasSubstr("aaaa")));
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  // Zero padding must not make a prefix equal.
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("ab\0", 3), "ab"));
}

TEST(BearerTokensTest, AcceptsEveryListedTokenWithACaseInsensitiveScheme) {
  BearerTokens tokens({"alpha-1", "beta-2"});
  EXPECT_TRUE(tokens.Accepts("Bearer alpha-1"));
  EXPECT_TRUE(tokens.Accepts("Bearer beta-2"));
  EXPECT_TRUE(tokens.Accepts("bearer beta-2"));
  EXPECT_TRUE(tokens.Accepts("BEARER alpha-1"));
  EXPECT_EQ(tokens.size(), 2u);
}

TEST(BearerTokensTest, SaysWhyACredentialIsRefused) {
  BearerTokens tokens({"alpha-1"});
  EXPECT_EQ(tokens.Check(""), BearerTokens::Result::kMissing);
  EXPECT_EQ(tokens.Check("alpha-1"), BearerTokens::Result::kNotBearer);
  EXPECT_EQ(tokens.Check("Basic alpha-1"), BearerTokens::Result::kNotBearer);
  EXPECT_EQ(tokens.Check("Bearer"), BearerTokens::Result::kNotBearer);
  EXPECT_EQ(tokens.Check("Bearer "), BearerTokens::Result::kRejected);
  EXPECT_EQ(tokens.Check("Bearer alpha-2"), BearerTokens::Result::kRejected);
  EXPECT_EQ(tokens.Check("Bearer alpha-1 "), BearerTokens::Result::kRejected);
  EXPECT_EQ(tokens.Check("Bearer  alpha-1"), BearerTokens::Result::kRejected);
  EXPECT_EQ(tokens.Check("Bearer alpha-"), BearerTokens::Result::kRejected);
  EXPECT_EQ(tokens.Check("Bearer alpha-1"), BearerTokens::Result::kAccepted);
}

TEST(BearerTokensTest, AnEmptySetAcceptsNothing) {
  BearerTokens tokens({});
  EXPECT_FALSE(tokens.Accepts("Bearer "));
  EXPECT_FALSE(tokens.Accepts("Bearer x"));
}

}  // namespace
}  // namespace rebound
