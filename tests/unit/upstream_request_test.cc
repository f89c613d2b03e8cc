#include "upstream/upstream_request.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

using ::testing::Contains;
using ::testing::Not;
using ::testing::Pair;

ModelProvider OpenAi() {
  ModelProvider p;
  p.model_id = "openai/gpt-4o";
  p.provider = "openai";
  p.bare_model = "gpt-4o";
  p.base_url = "http://127.0.0.1:9000";
  p.access_key = "key-openai";
  return p;
}

ModelProvider Anthropic() {
  ModelProvider p;
  p.model_id = "anthropic/claude";
  p.provider = "anthropic";
  p.bare_model = "claude";
  p.base_url = "https://api.anthropic.example";
  p.access_key = "key-anthropic";
  p.interface = ProviderInterface::kAnthropic;
  return p;
}

CallerRequest Caller(std::string_view body = R"({"model":"x","messages":[]})") {
  CallerRequest r;
  r.path = "/v1/chat/completions";
  r.body = body;
  r.request_id = "req-1";
  r.headers = {{"Authorization", "Bearer caller"}, {"X-Api-Key", "caller"},
               {"Cookie", "session=1"},           {"Connection", "close"},
               {"Accept-Encoding", "gzip"},       {"X-Request-Id", "spoofed"},
               {"X-Trace", "t-1"}};
  return r;
}

TEST(UpstreamRequestTest, OpenAiGetsBearerKeyAndNoCallerCredentials) {
  absl::StatusOr<UpstreamRequest> r = BuildUpstreamRequest(OpenAi(), Caller());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->url, "http://127.0.0.1:9000/v1/chat/completions");
  EXPECT_EQ(r->body, R"({"model":"gpt-4o","messages":[]})");
  EXPECT_EQ(r->pool_key, "openai");
  EXPECT_THAT(r->headers, Contains(Pair("Authorization", "Bearer key-openai")));
  EXPECT_THAT(r->headers, Contains(Pair("X-Trace", "t-1")));
  EXPECT_THAT(r->headers, Contains(Pair("x-request-id", "req-1")));
  for (const auto& [name, value] : r->headers) {
    EXPECT_NE(value, "caller") << name;
    EXPECT_NE(value, "Bearer caller") << name;
    EXPECT_FALSE(EqualsIgnoreCase(name, "cookie"));
    EXPECT_FALSE(EqualsIgnoreCase(name, "connection"));
    EXPECT_FALSE(EqualsIgnoreCase(name, "accept-encoding"));
    EXPECT_NE(value, "spoofed");
  }
}

TEST(UpstreamRequestTest, AnthropicGetsApiKeyAndVersionButNoAuthorization) {
  absl::StatusOr<UpstreamRequest> r = BuildUpstreamRequest(Anthropic(), Caller());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->headers, Contains(Pair("x-api-key", "key-anthropic")));
  EXPECT_THAT(r->headers, Contains(Pair("anthropic-version", "2023-06-01")));
  for (const auto& [name, value] : r->headers) {
    EXPECT_FALSE(EqualsIgnoreCase(name, "authorization"));
  }
}

TEST(UpstreamRequestTest, CallerAnthropicVersionIsKept) {
  CallerRequest caller = Caller();
  caller.headers.push_back({"anthropic-version", "2024-01-01"});
  absl::StatusOr<UpstreamRequest> r = BuildUpstreamRequest(Anthropic(), caller);
  ASSERT_TRUE(r.ok());
  int versions = 0;
  for (const auto& [name, value] : r->headers) {
    if (EqualsIgnoreCase(name, "anthropic-version")) {
      ++versions;
      EXPECT_EQ(value, "2024-01-01");
    }
  }
  EXPECT_EQ(versions, 1);
}

TEST(UpstreamRequestTest, PassthroughAuthForwardsCallerCredentialsAndSkipsTheKey) {
  ModelProvider p = OpenAi();
  p.passthrough_auth = true;
  absl::StatusOr<UpstreamRequest> r = BuildUpstreamRequest(p, Caller());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->headers, Contains(Pair("Authorization", "Bearer caller")));
  EXPECT_THAT(r->headers, Not(Contains(Pair("Authorization", "Bearer key-openai"))));
}

TEST(UpstreamRequestTest, PassthroughAuthFallsBackToTheKeyWhenTheCallerSentNone) {
  ModelProvider p = OpenAi();
  p.passthrough_auth = true;
  CallerRequest caller = Caller();
  caller.headers.clear();
  absl::StatusOr<UpstreamRequest> r = BuildUpstreamRequest(p, caller);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->headers, Contains(Pair("Authorization", "Bearer key-openai")));
}

TEST(UpstreamRequestTest, ProviderHeadersOverrideCallerHeadersOfTheSameName) {
  ModelProvider p = OpenAi();
  p.headers = {{"X-Trace", "provider"}, {"OpenAI-Organization", "org-1"}};
  absl::StatusOr<UpstreamRequest> r = BuildUpstreamRequest(p, Caller());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->headers, Contains(Pair("X-Trace", "provider")));
  EXPECT_THAT(r->headers, Not(Contains(Pair("X-Trace", "t-1"))));
  EXPECT_THAT(r->headers, Contains(Pair("OpenAI-Organization", "org-1")));
}

TEST(UpstreamRequestTest, BodyThatIsNotAJsonObjectIsRejected) {
  absl::StatusOr<UpstreamRequest> r = BuildUpstreamRequest(OpenAi(), Caller("[1,2]"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(UpstreamRequestTest, CheckRejectsPathsAndHeadersThatCouldSmuggle) {
  auto check = [](auto mutate) {
    CallerRequest r = Caller();
    mutate(r);
    return CheckCallerRequest(r).code();
  };
  EXPECT_EQ(check([](CallerRequest&) {}), absl::StatusCode::kOk);
  EXPECT_EQ(check([](CallerRequest& r) { r.path = "v1/chat"; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.path = "//evil.example/x"; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.path = "/v1/../admin"; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.path = "/v1/chat completions"; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.path = "/v1/x\r\nHost: evil"; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.headers = {{"X-A", "v\r\nX-B: w"}}; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.headers = {{"Bad Name", "v"}}; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.headers = {{"", "v"}}; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.request_id = "has space"; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.request_id = std::string(300, 'a'); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](CallerRequest& r) { r.path = "/v1/messages?beta=true"; }),
            absl::StatusCode::kOk);
}

// Google's OpenAI-compatible endpoint is .../v1beta/openai/chat/completions:
// the gemini default drops the caller's /v1 (policy/provider_defaults.h).
TEST(UpstreamRequestTest, StripV1DropsTheCallersLeadingV1Only) {
  ModelProvider p = OpenAi();
  p.base_url = "https://generativelanguage.googleapis.com/v1beta/openai";
  p.strip_v1_path_prefix = true;
  absl::StatusOr<UpstreamRequest> r = BuildUpstreamRequest(p, Caller());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->url, "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions");

  CallerRequest other = Caller();
  other.path = "/v1beta/models";  // not a /v1 segment
  r = BuildUpstreamRequest(p, other);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->url, "https://generativelanguage.googleapis.com/v1beta/openai/v1beta/models");
}

TEST(UpstreamRequestTest, WithoutStripV1ThePathIsAppendedAsSent) {
  ModelProvider p = OpenAi();
  p.base_url = "https://generativelanguage.googleapis.com/v1beta/openai";
  absl::StatusOr<UpstreamRequest> r = BuildUpstreamRequest(p, Caller());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->url,
            "https://generativelanguage.googleapis.com/v1beta/openai/v1/chat/completions");
}

}  // namespace
}  // namespace rebound
