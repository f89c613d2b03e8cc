// Failover across APIs in the attempt loop (TRANSLATION.md): the Call
// translates the request for a target of the other API, translates its
// answer back (JSON, event stream, error body), records which translation
// ran, and skips a candidate the request cannot be translated for. Driven
// by the scripted upstream and manual clock of tests/unit/call_fixture.h;
// the translators' own mappings are tested in translate_*_test.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/unit/call_fixture.h"

namespace rebound {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// An OpenAI primary, an Anthropic fallback, then a third model of the
// OpenAI API; `policy` is the primary's retry_policy (flow YAML).
// `third`: whether the third model is configured.
std::string ThreeModels(const std::string& policy, const std::string& claude_extra = "",
                        bool third = true) {
  return absl::StrCat(
      "model_providers:\n"
      "  - model: openai/gpt-4o\n"
      "    base_url: http://127.0.0.1:9\n"
      "    access_key: $OPENAI_API_KEY\n"
      "    default: true\n"
      "    retry_policy: ",
      policy,
      "\n"
      "  - model: anthropic/claude-sonnet\n"
      "    base_url: http://127.0.0.3:9\n"
      "    access_key: $ANTHROPIC_API_KEY\n"
      "    provider_interface: anthropic\n"
      "    default_max_tokens: 512\n",
      claude_extra,
      third ? "  - model: mistral/mistral-large\n"
              "    base_url: http://127.0.0.2:9\n"
              "    access_key: $MISTRAL_API_KEY\n"
            : "");
}

constexpr char kFailover[] =
    "{fallback_models: [anthropic/claude-sonnet, mistral/mistral-large], default_max_attempts: 3}";

constexpr char kOpenAiBody[] =
    R"({"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"seed":7})";
constexpr char kOpenAiStreamBody[] =
    R"({"model":"openai/gpt-4o","stream":true,"stream_options":{"include_usage":true},)"
    R"("messages":[{"role":"user","content":"hi"}]})";

constexpr char kAnthropicAnswer[] =
    R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet",)"
    R"("content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn",)"
    R"("usage":{"input_tokens":3,"output_tokens":2,"cache_read_input_tokens":1}})";

// One Anthropic stream event, framed.
std::string Event(const std::string& type, const std::string& data) {
  return absl::StrCat("event: ", type, "\ndata: ", data, "\n\n");
}
const std::string kMessageStart = Event(
    "message_start",
    R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
    R"("model":"claude-sonnet","content":[],"usage":{"input_tokens":3,"output_tokens":1}}})");
const std::string kTextStart = Event(
    "content_block_start",
    R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
std::string TextDelta(const std::string& text) {
  return Event("content_block_delta",
               absl::StrCat(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")",
                            text, R"("}})"));
}
const std::string kStreamEnd =
    Event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
    Event("message_delta",
          R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}})") +
    Event("message_stop", R"({"type":"message_stop"})");

rapidjson::Document Json(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

std::string HeaderValue(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return "<absent>";
}

class CallTranslationTest : public CallTest {
 protected:
  void StartWith(std::string body, bool streaming, std::string path = "",
                 std::string model = "openai/gpt-4o", HttpHeaders headers = {}) {
    v1::CompletionRequest request;
    request.set_model(model);
    request.set_path(path);
    request.set_body(std::move(body));
    for (const auto& [name, value] : headers) {
      v1::Header* h = request.add_headers();
      h->set_name(name);
      h->set_value(value);
    }
    call_ = MakeCall(request, streaming, absl::InfiniteFuture());
    call_->Start();
  }
  void Answer429() { upstream_.Answer(429, R"({"error":{"message":"slow down"}})"); }
  void SseHeaders() { upstream_.Headers(200, {{"content-type", "text/event-stream"}}); }
};

TEST_F(CallTranslationTest, AUnaryFailoverToAnthropicIsTranslatedBothWays) {
  Configure(ThreeModels(kFailover));
  StartWith(kOpenAiBody, /*streaming=*/false);
  Answer429();
  ASSERT_EQ(upstream_.started(), 2u);
  const UpstreamRequest& sent = upstream_.last().request;
  EXPECT_EQ(sent.url, "http://127.0.0.3:9/v1/messages");
  rapidjson::Document body = Json(sent.body);
  EXPECT_STREQ(body["model"].GetString(), "claude-sonnet");
  EXPECT_EQ(body["max_tokens"].GetInt64(), 512) << "the target's default_max_tokens";
  EXPECT_FALSE(body.HasMember("seed"));
  EXPECT_EQ(HeaderValue(sent.headers, "anthropic-version"), "2023-06-01");
  EXPECT_EQ(HeaderValue(sent.headers, "authorization"), "<absent>");

  upstream_.Answer(200, kAnthropicAnswer);
  ASSERT_EQ(output_.ends, 1);
  ASSERT_TRUE(output_.status.ok()) << output_.status.error_message();
  rapidjson::Document answer = Json(output_.response.body());
  EXPECT_STREQ(answer["object"].GetString(), "chat.completion");
  EXPECT_STREQ(answer["model"].GetString(), "claude-sonnet");
  EXPECT_STREQ(answer["choices"][0]["message"]["content"].GetString(), "Hello");
  EXPECT_STREQ(answer["choices"][0]["finish_reason"].GetString(), "stop");
  EXPECT_EQ(answer["usage"]["prompt_tokens"].GetInt64(), 4) << "input plus cache reads";
  EXPECT_EQ(output_.response.served_model(), "anthropic/claude-sonnet");
  ASSERT_EQ(output_.response.attempts_size(), 2);
  EXPECT_EQ(output_.response.attempts(0).translation(), "");
  EXPECT_EQ(output_.response.attempts(1).translation(), "openai->anthropic");
  EXPECT_THAT(output_.response.attempts(1).dropped_fields(), ElementsAre("seed"));
}

TEST_F(CallTranslationTest, AStreamFromAnthropicReachesTheCallerAsChatChunksOneByOne) {
  Configure(ThreeModels(kFailover));
  StartWith(kOpenAiStreamBody, /*streaming=*/true);
  Answer429();
  SseHeaders();
  ASSERT_TRUE(upstream_.Body(kMessageStart));
  ASSERT_EQ(output_.DataEvents().size(), 1u) << "the first chunk as soon as message_start came";
  ASSERT_TRUE(upstream_.Body(kTextStart));
  ASSERT_TRUE(upstream_.Body(TextDelta("Hel")));
  ASSERT_EQ(output_.DataEvents().size(), 2u);
  EXPECT_STREQ(Json(output_.DataEvents()[1])["choices"][0]["delta"]["content"].GetString(), "Hel");
  ASSERT_TRUE(upstream_.Body(TextDelta("lo")));
  ASSERT_TRUE(upstream_.Body(kStreamEnd));
  upstream_.Done();
  ASSERT_EQ(output_.ends, 1);
  ASSERT_TRUE(output_.status.ok()) << output_.status.error_message();
  std::vector<std::string> data = output_.DataEvents();
  // role, "Hel", "lo", finish, usage, [DONE].
  ASSERT_EQ(data.size(), 6u);
  EXPECT_STREQ(Json(data[3])["choices"][0]["finish_reason"].GetString(), "stop");
  EXPECT_EQ(Json(data[4])["usage"]["completion_tokens"].GetInt64(), 2);
  EXPECT_EQ(data[5], "[DONE]");
  for (const v1::StreamEvent& e : output_.events) {
    if (e.has_data()) {
      EXPECT_EQ(e.data().event(), "") << "chat chunks carry no event type";
    }
  }
  const v1::StreamEnd& end = output_.events.back().end();
  EXPECT_EQ(end.served_model(), "anthropic/claude-sonnet");
  rapidjson::Document usage = Json(end.usage());
  EXPECT_EQ(usage["prompt_tokens"].GetInt64(), 3) << "the usage in the caller's API";
  EXPECT_EQ(usage["completion_tokens"].GetInt64(), 2);
  EXPECT_EQ(end.attempts(1).translation(), "openai->anthropic");
}

TEST_F(CallTranslationTest, AUnaryCallOfAStreamGetsTheTranslatedStreamAsItsBody) {
  Configure(ThreeModels(kFailover));
  StartWith(kOpenAiStreamBody, /*streaming=*/false);
  Answer429();
  SseHeaders();
  ASSERT_TRUE(upstream_.Body(kMessageStart + kTextStart + TextDelta("Hi") + kStreamEnd));
  upstream_.Done();
  ASSERT_EQ(output_.ends, 1);
  ASSERT_TRUE(output_.status.ok()) << output_.status.error_message();
  const std::string& body = output_.response.body();
  EXPECT_THAT(body, Not(HasSubstr("event:"))) << body;
  EXPECT_THAT(body, HasSubstr(R"("delta":{"content":"Hi"})")) << body;
  EXPECT_TRUE(absl::EndsWith(body, "data: [DONE]\n\n")) << body;
}

TEST_F(CallTranslationTest, AnAnthropicStreamCutMidwayIsResetAndTheThirdModelServes) {
  Configure(ThreeModels(kFailover));
  StartWith(kOpenAiStreamBody, /*streaming=*/true);
  Answer429();
  SseHeaders();
  ASSERT_TRUE(upstream_.Body(kMessageStart + kTextStart + TextDelta("par")));
  upstream_.Fail(TransferResult::Kind::kTransportError, "connection_reset");
  ASSERT_EQ(upstream_.started(), 3u);
  ASSERT_EQ(output_.Count(v1::StreamEvent::kReset), 1);
  EXPECT_EQ(upstream_.last().request.url, "http://127.0.0.2:9/v1/chat/completions");
  EXPECT_EQ(upstream_.last().request.body, R"({"model":"mistral-large","stream":true,)"
                                           R"("stream_options":{"include_usage":true},)"
                                           R"("messages":[{"role":"user","content":"hi"}]})")
      << "the same API again: byte for byte but the model";
  SseHeaders();
  ASSERT_TRUE(upstream_.Body(Chunk("whole")));
  ASSERT_TRUE(upstream_.Body("data: [DONE]\n\n"));
  upstream_.Done();
  ASSERT_EQ(output_.ends, 1);
  ASSERT_TRUE(output_.status.ok()) << output_.status.error_message();
  const v1::StreamEnd& end = output_.events.back().end();
  EXPECT_EQ(end.served_model(), "mistral/mistral-large");
  ASSERT_EQ(end.attempts_size(), 3);
  EXPECT_EQ(end.attempts(1).error_type(), "stream_interrupted");
  EXPECT_EQ(end.attempts(1).translation(), "openai->anthropic");
  EXPECT_EQ(end.attempts(2).translation(), "");
}

TEST_F(CallTranslationTest, AnUntranslatableRequestSkipsTheOtherApiCandidateWithTheField) {
  Configure(ThreeModels(kFailover));
  StartWith(R"({"model":"openai/gpt-4o","n":2,"messages":[{"role":"user","content":"hi"}]})",
            /*streaming=*/false);
  Answer429();
  ASSERT_EQ(upstream_.started(), 2u);
  EXPECT_EQ(upstream_.last().request.url, "http://127.0.0.2:9/v1/chat/completions");
  upstream_.Answer(200, kOkBody);
  ASSERT_TRUE(output_.status.ok());
  ASSERT_EQ(output_.response.skipped_size(), 1);
  EXPECT_EQ(output_.response.skipped(0).model(), "anthropic/claude-sonnet");
  EXPECT_EQ(output_.response.skipped(0).reason(), "not_translatable: n");
}

TEST_F(CallTranslationTest, TheExhaustionJsonNamesTheSkippedCandidate) {
  Configure(ThreeModels("{fallback_models: [anthropic/claude-sonnet]}", "", /*third=*/false));
  StartWith(R"({"model":"openai/gpt-4o","n":2,"messages":[{"role":"user","content":"hi"}]})",
            /*streaming=*/false);
  Answer429();
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(upstream_.started(), 1u);
  v1::ErrorDetail detail = output_.detail();
  EXPECT_THAT(detail.retry_exhausted_json(),
              HasSubstr(R"("skipped":[{"model":"anthropic/claude-sonnet",)"
                        R"("reason":"not_translatable: n"}])"));
  ASSERT_EQ(detail.skipped_size(), 1);
}

TEST_F(CallTranslationTest, CrossInterfaceSkipKeepsTheFailoverWithinTheApi) {
  Configure(ThreeModels(
      "{fallback_models: [anthropic/claude-sonnet, mistral/mistral-large], cross_interface: skip}"));
  StartWith(kOpenAiBody, /*streaming=*/false);
  Answer429();
  ASSERT_EQ(upstream_.started(), 2u);
  EXPECT_EQ(upstream_.last().request.url, "http://127.0.0.2:9/v1/chat/completions");
  upstream_.Answer(200, kOkBody);
  ASSERT_EQ(output_.response.skipped_size(), 1);
  EXPECT_EQ(output_.response.skipped(0).reason(), "cross_interface: skip");
}

TEST_F(CallTranslationTest, AnErrorOfTheOtherApiReachesTheCallerInItsOwnShapeWithTheRawBody) {
  Configure(ThreeModels("{fallback_models: [anthropic/claude-sonnet], on_status_codes: "
                        "[{codes: [429], strategy: different_provider, max_attempts: 3}]}"));
  StartWith(kOpenAiBody, /*streaming=*/false);
  Answer429();
  const std::string raw =
      R"({"type":"error","error":{"type":"invalid_request_error","message":"bad image"}})";
  upstream_.Answer(400, raw);
  ASSERT_EQ(output_.ends, 1);
  v1::ErrorDetail detail = output_.detail();
  EXPECT_EQ(detail.upstream_http_status(), 400);
  rapidjson::Document body = Json(detail.upstream_body());
  EXPECT_STREQ(body["error"]["message"].GetString(), "bad image");
  EXPECT_STREQ(body["error"]["type"].GetString(), "invalid_request_error");
  EXPECT_FALSE(body.HasMember("type")) << "OpenAI's error shape has no top-level type";
  EXPECT_EQ(detail.upstream_body_raw(), raw);
  ASSERT_EQ(detail.attempts_size(), 2);
  EXPECT_EQ(detail.attempts(1).translation(), "openai->anthropic");
}

TEST_F(CallTranslationTest, AnAnswerThatIsNotOfTheTargetsApiIsRetriedElsewhere) {
  Configure(ThreeModels(kFailover));
  StartWith(kOpenAiBody, /*streaming=*/false);
  Answer429();
  upstream_.Answer(200, R"({"unexpected":true})");
  ASSERT_EQ(upstream_.started(), 3u);
  upstream_.Answer(200, kOkBody);
  ASSERT_TRUE(output_.status.ok());
  EXPECT_EQ(output_.response.attempts(1).error_type(), "untranslatable_answer");
  EXPECT_EQ(output_.response.body(), kOkBody);
}

TEST_F(CallTranslationTest, TheCallersCredentialNeverReachesTheOtherVendor) {
  Configure(ThreeModels(kFailover, "    passthrough_auth: true\n"));
  StartWith(kOpenAiBody, /*streaming=*/false, "", "openai/gpt-4o",
            {{"authorization", "Bearer sk-caller"}, {"openai-organization", "org-1"}});
  Answer429();
  const UpstreamRequest& sent = upstream_.last().request;
  EXPECT_EQ(HeaderValue(sent.headers, "authorization"), "<absent>");
  EXPECT_EQ(HeaderValue(sent.headers, "openai-organization"), "<absent>");
  EXPECT_NE(HeaderValue(sent.headers, "x-api-key"), "<absent>") << "the target's own key";
}

TEST_F(CallTranslationTest, APassthroughTargetWithoutAKeyIsSkippedForAnotherVendorsCaller) {
  Configure(absl::StrCat(
      "model_providers:\n"
      "  - model: openai/gpt-4o\n"
      "    base_url: http://127.0.0.1:9\n"
      "    access_key: $OPENAI_API_KEY\n"
      "    retry_policy: ", kFailover, "\n"
      "  - model: anthropic/claude-sonnet\n"
      "    base_url: http://127.0.0.3:9\n"
      "    provider_interface: anthropic\n"
      "    passthrough_auth: true\n"
      "  - model: mistral/mistral-large\n"
      "    base_url: http://127.0.0.2:9\n"
      "    access_key: $MISTRAL_API_KEY\n"));
  StartWith(kOpenAiBody, /*streaming=*/false);
  Answer429();
  EXPECT_EQ(upstream_.last().request.url, "http://127.0.0.2:9/v1/chat/completions");
  upstream_.Answer(200, kOkBody);
  ASSERT_EQ(output_.response.skipped_size(), 1);
  EXPECT_THAT(output_.response.skipped(0).reason(), HasSubstr("no_credential: anthropic"));
}

TEST_F(CallTranslationTest, AnAnthropicCallerIsServedByAnOpenAiFallback) {
  Configure(
      "model_providers:\n"
      "  - model: anthropic/claude-sonnet\n"
      "    base_url: http://127.0.0.3:9\n"
      "    access_key: $ANTHROPIC_API_KEY\n"
      "    provider_interface: anthropic\n"
      "    retry_policy: {fallback_models: [openai/gpt-4o]}\n"
      "  - model: openai/gpt-4o\n"
      "    base_url: http://127.0.0.1:9\n"
      "    access_key: $OPENAI_API_KEY\n");
  StartWith(R"({"model":"anthropic/claude-sonnet","max_tokens":100,"system":"be brief",)"
            R"("messages":[{"role":"user","content":"hi"}],"top_k":5})",
            /*streaming=*/false, "/v1/messages", "anthropic/claude-sonnet",
            {{"anthropic-version", "2023-06-01"}, {"anthropic-beta", "x"}});
  upstream_.Answer(529, R"({"type":"error","error":{"type":"overloaded_error","message":"o"}})");
  ASSERT_EQ(upstream_.started(), 2u);
  const UpstreamRequest& sent = upstream_.last().request;
  EXPECT_EQ(sent.url, "http://127.0.0.1:9/v1/chat/completions");
  rapidjson::Document body = Json(sent.body);
  EXPECT_STREQ(body["messages"][0]["role"].GetString(), "system");
  EXPECT_EQ(HeaderValue(sent.headers, "anthropic-version"), "<absent>");
  EXPECT_EQ(HeaderValue(sent.headers, "anthropic-beta"), "<absent>");
  upstream_.Answer(200, R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,)"
                        R"("message":{"role":"assistant","content":"Hi"},"finish_reason":"length"}],)"
                        R"("usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}})");
  ASSERT_TRUE(output_.status.ok()) << output_.status.error_message();
  rapidjson::Document answer = Json(output_.response.body());
  EXPECT_STREQ(answer["type"].GetString(), "message");
  EXPECT_STREQ(answer["content"][0]["text"].GetString(), "Hi");
  EXPECT_STREQ(answer["stop_reason"].GetString(), "max_tokens");
  EXPECT_EQ(output_.response.attempts(1).translation(), "anthropic->openai");
  EXPECT_THAT(output_.response.attempts(1).dropped_fields(), ElementsAre("top_k"));
}

TEST_F(CallTranslationTest, AnotherPathNeverCrossesApis) {
  Configure(ThreeModels(kFailover));
  StartWith(R"({"model":"openai/gpt-4o","input":"hi"})", /*streaming=*/false, "/v1/embeddings");
  Answer429();
  EXPECT_EQ(upstream_.last().request.url, "http://127.0.0.2:9/v1/embeddings");
  upstream_.Answer(200, R"({"data":[]})");
  ASSERT_EQ(output_.response.skipped_size(), 1);
  EXPECT_EQ(output_.response.skipped(0).reason(), "other_api: /v1/embeddings is not translated");
}

TEST_F(CallTranslationTest, ThePrimaryOfTheOtherApiIsTranslatedOrRefusedWithTheField) {
  Configure(ThreeModels(kFailover));
  StartWith(R"({"model":"anthropic/claude-sonnet","messages":[{"role":"user","content":"hi"}]})",
            /*streaming=*/false, "", "anthropic/claude-sonnet");
  EXPECT_EQ(upstream_.last().request.url, "http://127.0.0.3:9/v1/messages");
  upstream_.Answer(200, kAnthropicAnswer);
  ASSERT_TRUE(output_.status.ok());
  EXPECT_THAT(output_.response.body(), HasSubstr(R"("object":"chat.completion")"));

  output_ = RecordingOutput();
  StartWith(R"({"model":"anthropic/claude-sonnet","n":3,"messages":[]})", false, "",
            "anthropic/claude-sonnet");
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(output_.status.error_message(), HasSubstr("not_translatable: n"));
  EXPECT_THAT(output_.status.error_message(), HasSubstr("anthropic/claude-sonnet"));
}

}  // namespace
}  // namespace rebound
