// The front door's pure decisions: reading a body's model and stream flag,
// resolving the model, the HTTP status of a failed call and every error body
// rebound writes, in the caller's API's shape.
#include "gateway/http_api.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/config_test_util.h"
#include "translate/json.h"

namespace rebound {
namespace {

using ::testing::HasSubstr;
using translate::Api;

// Two providers serve "shared"; one of them is the default.
constexpr std::string_view kYaml = R"(
model_providers:
  - model: openai/gpt-4o
    base_url: http://127.0.0.1:1
    access_key: $OPENAI_API_KEY
    default: true
  - model: anthropic/claude-sonnet
    base_url: http://127.0.0.1:1
    access_key: $ANTHROPIC_API_KEY
  - model: openai/shared
    base_url: http://127.0.0.1:1
    access_key: $OPENAI_API_KEY
  - model: mistral/shared
    base_url: http://127.0.0.1:1
    access_key: $MISTRAL_API_KEY
)";

const Config& TestConfig() {
  static const Config* config = [] {
    LoadResult loaded = testing::Load(kYaml);
    EXPECT_TRUE(loaded.ok());
    return new Config(*loaded.config);
  }();
  return *config;
}

// The body parsed; a test fails when it is not JSON.
struct Json {
  explicit Json(std::string_view text) {
    EXPECT_TRUE(translate::ParseBounded(text, &doc)) << text;
  }
  std::string_view Str(std::initializer_list<const char*> path) const {
    const translate::Value* v = &doc;
    for (const char* key : path) {
      v = v->IsObject() ? translate::Find(*v, key) : nullptr;
      if (v == nullptr) return "<missing>";
    }
    return v->IsString() ? translate::View(*v) : std::string_view("<not a string>");
  }
  bool Has(std::initializer_list<const char*> path) const { return Str(path) != "<missing>"; }
  translate::Document doc;
};

TEST(ReadBodyFactsTest, ReadsModelAndStream) {
  auto facts = ReadBodyFacts(R"({"messages":[],"model":"gpt-4o","stream":true})", Api::kOpenAiChat);
  ASSERT_TRUE(std::holds_alternative<BodyFacts>(facts));
  EXPECT_EQ(std::get<BodyFacts>(facts).model, "gpt-4o");
  EXPECT_TRUE(std::get<BodyFacts>(facts).stream);

  auto bare = ReadBodyFacts(R"({"messages":[]})", Api::kOpenAiChat);
  ASSERT_TRUE(std::holds_alternative<BodyFacts>(bare));
  EXPECT_FALSE(std::get<BodyFacts>(bare).model.has_value());
  EXPECT_FALSE(std::get<BodyFacts>(bare).stream);
}

TEST(ReadBodyFactsTest, DecodesEscapesInTheModelName) {
  auto facts = ReadBodyFacts(R"({"model":"openai\/gpt-4o"})", Api::kOpenAiChat);
  ASSERT_TRUE(std::holds_alternative<BodyFacts>(facts));
  EXPECT_EQ(std::get<BodyFacts>(facts).model, "openai/gpt-4o");
}

TEST(ReadBodyFactsTest, RefusesWhatIsNotUsable) {
  struct Case {
    std::string body;
    std::string_view mentions;
    std::string_view param;
  };
  for (const Case& c : {Case{R"({"model":5})", "`model` must be a string", "model"},
                        Case{R"({"model":null})", "`model` must be a string", "model"},
                        Case{R"({"model":"a","stream":"yes"})", "`stream` must be", "stream"},
                        Case{R"([1,2])", "JSON object", ""},
                        Case{R"({"model":"a")", "JSON object", ""},
                        Case{"", "JSON object", ""},
                        Case{"not json", "JSON object", ""}}) {
    auto facts = ReadBodyFacts(c.body, Api::kOpenAiChat);
    ASSERT_TRUE(std::holds_alternative<HttpAnswer>(facts)) << c.body;
    const HttpAnswer& answer = std::get<HttpAnswer>(facts);
    EXPECT_EQ(answer.status, 400) << c.body;
    Json json(answer.body);
    EXPECT_EQ(json.Str({"error", "type"}), "invalid_request_error");
    EXPECT_THAT(std::string(json.Str({"error", "message"})), HasSubstr(c.mentions)) << c.body;
    if (!c.param.empty()) {
      EXPECT_EQ(json.Str({"error", "param"}), c.param);
    }
  }
}

TEST(ReadBodyFactsTest, AnthropicShapeForMessages) {
  auto facts = ReadBodyFacts(R"({"model":[]})", Api::kAnthropicMessages);
  ASSERT_TRUE(std::holds_alternative<HttpAnswer>(facts));
  Json json(std::get<HttpAnswer>(facts).body);
  EXPECT_EQ(json.Str({"type"}), "error");
  EXPECT_EQ(json.Str({"error", "type"}), "invalid_request_error");
}

const ModelProvider* Resolved(std::variant<const ModelProvider*, HttpAnswer> r) {
  if (auto* answer = std::get_if<HttpAnswer>(&r)) {
    ADD_FAILURE() << "answered " << answer->status << " " << answer->body;
    return nullptr;
  }
  return std::get<const ModelProvider*>(r);
}

TEST(ResolveModelTest, ModelIdBareNameAndDefault) {
  const Config& config = TestConfig();
  const ModelProvider* by_id =
      Resolved(ResolveModel(config, "anthropic/claude-sonnet", Api::kOpenAiChat));
  ASSERT_NE(by_id, nullptr);
  EXPECT_EQ(by_id->model_id, "anthropic/claude-sonnet");
  const ModelProvider* bare = Resolved(ResolveModel(config, "claude-sonnet", Api::kOpenAiChat));
  ASSERT_NE(bare, nullptr);
  EXPECT_EQ(bare->model_id, "anthropic/claude-sonnet");
  const ModelProvider* fallback = Resolved(ResolveModel(config, std::nullopt, Api::kOpenAiChat));
  ASSERT_NE(fallback, nullptr);
  EXPECT_EQ(fallback->model_id, "openai/gpt-4o");
}

TEST(ResolveModelTest, UnknownModelIs404InEachShape) {
  auto openai = ResolveModel(TestConfig(), "gpt-5", Api::kOpenAiChat);
  ASSERT_TRUE(std::holds_alternative<HttpAnswer>(openai));
  EXPECT_EQ(std::get<HttpAnswer>(openai).status, 404);
  Json o(std::get<HttpAnswer>(openai).body);
  EXPECT_EQ(o.Str({"error", "code"}), "model_not_found");
  EXPECT_EQ(o.Str({"error", "param"}), "model");
  EXPECT_THAT(std::string(o.Str({"error", "message"})), HasSubstr("\"gpt-5\""));

  auto anthropic = ResolveModel(TestConfig(), "gpt-5", Api::kAnthropicMessages);
  ASSERT_TRUE(std::holds_alternative<HttpAnswer>(anthropic));
  EXPECT_EQ(std::get<HttpAnswer>(anthropic).status, 404);
  Json a(std::get<HttpAnswer>(anthropic).body);
  EXPECT_EQ(a.Str({"type"}), "error");
  EXPECT_EQ(a.Str({"error", "type"}), "not_found_error");
}

TEST(ResolveModelTest, AmbiguousBareNameNamesTheCandidates) {
  auto r = ResolveModel(TestConfig(), "shared", Api::kOpenAiChat);
  ASSERT_TRUE(std::holds_alternative<HttpAnswer>(r));
  EXPECT_EQ(std::get<HttpAnswer>(r).status, 400);
  Json json(std::get<HttpAnswer>(r).body);
  EXPECT_EQ(json.Str({"error", "code"}), "model_ambiguous");
  EXPECT_THAT(std::string(json.Str({"error", "message"})),
              AllOf(HasSubstr("openai/shared"), HasSubstr("mistral/shared")));
}

TEST(ResolveModelTest, NoModelAndNoDefaultIs400) {
  LoadResult loaded = testing::Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: http://127.0.0.1:1
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(loaded.ok());
  auto r = ResolveModel(*loaded.config, std::nullopt, Api::kOpenAiChat);
  ASSERT_TRUE(std::holds_alternative<HttpAnswer>(r));
  EXPECT_EQ(std::get<HttpAnswer>(r).status, 400);
}

v1::ErrorDetail Detail(v1::ErrorReason reason, int upstream_status = 0) {
  v1::ErrorDetail d;
  d.set_reason(reason);
  d.set_upstream_http_status(upstream_status);
  return d;
}

TEST(HttpStatusForTest, ProviderStatusWhenTheProviderAnsweredElseTheGateways) {
  using grpc::StatusCode;
  EXPECT_EQ(HttpStatusFor(StatusCode::INVALID_ARGUMENT, Detail(v1::ERROR_REASON_UPSTREAM_ERROR, 422)),
            422);
  EXPECT_EQ(HttpStatusFor(StatusCode::UNAVAILABLE, Detail(v1::ERROR_REASON_UPSTREAM_ERROR, 0)), 502);
  EXPECT_EQ(
      HttpStatusFor(StatusCode::RESOURCE_EXHAUSTED, Detail(v1::ERROR_REASON_RETRY_EXHAUSTED, 429)),
      429);
  EXPECT_EQ(HttpStatusFor(StatusCode::DEADLINE_EXCEEDED, Detail(v1::ERROR_REASON_RETRY_EXHAUSTED)),
            504);
  EXPECT_EQ(HttpStatusFor(StatusCode::UNAVAILABLE, Detail(v1::ERROR_REASON_RETRY_EXHAUSTED)), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::RESOURCE_EXHAUSTED, Detail(v1::ERROR_REASON_OVERLOADED)), 429);
  EXPECT_EQ(HttpStatusFor(StatusCode::UNAVAILABLE, Detail(v1::ERROR_REASON_SHUTTING_DOWN)), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::DEADLINE_EXCEEDED, Detail(v1::ERROR_REASON_DEADLINE)), 504);
  EXPECT_EQ(HttpStatusFor(StatusCode::UNAUTHENTICATED, Detail(v1::ERROR_REASON_UNAUTHENTICATED)),
            401);
  EXPECT_EQ(HttpStatusFor(StatusCode::NOT_FOUND, Detail(v1::ERROR_REASON_UNKNOWN_MODEL)), 404);
  EXPECT_EQ(
      HttpStatusFor(StatusCode::RESOURCE_EXHAUSTED, Detail(v1::ERROR_REASON_RESPONSE_TOO_LARGE)),
      502);
}

TEST(CallErrorAnswerTest, PassesTheProvidersOwnErrorThrough) {
  v1::ErrorDetail d = Detail(v1::ERROR_REASON_UPSTREAM_ERROR, 400);
  d.set_upstream_body(R"({"error":{"message":"bad prompt","type":"invalid_request_error"}})");
  HttpAnswer answer = CallErrorAnswer(Api::kOpenAiChat, grpc::StatusCode::INVALID_ARGUMENT,
                                      "upstream said 400", d);
  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.body, d.upstream_body());
  EXPECT_TRUE(answer.headers.empty());
}

TEST(CallErrorAnswerTest, TruncatedProviderBodyIsWrappedNotPassedThrough) {
  v1::ErrorDetail d = Detail(v1::ERROR_REASON_UPSTREAM_ERROR, 400);
  d.set_upstream_body(R"({"error":{"message":"cut)");
  d.set_upstream_body_truncated(true);
  HttpAnswer answer =
      CallErrorAnswer(Api::kOpenAiChat, grpc::StatusCode::INVALID_ARGUMENT, "upstream said 400", d);
  EXPECT_EQ(answer.status, 400);
  Json json(answer.body);
  EXPECT_EQ(json.Str({"error", "message"}), "upstream said 400");
}

v1::ErrorDetail Exhausted() {
  v1::ErrorDetail d = Detail(v1::ERROR_REASON_RETRY_EXHAUSTED, 429);
  d.set_retry_exhausted_json(
      R"({"error":{"message":"all 2 attempts failed","type":"retry_exhausted",)"
      R"("attempts":[{"model":"openai/gpt-4o","status":429}]}})");
  d.set_retry_pushback_ms(1500);
  d.set_request_id("req-7");
  d.set_upstream_body(R"({"error":{"message":"slow down"}})");
  return d;
}

TEST(CallErrorAnswerTest, ExhaustionInOpenAiShapeCarriesAttemptsAndPushback) {
  HttpAnswer answer = CallErrorAnswer(Api::kOpenAiChat, grpc::StatusCode::RESOURCE_EXHAUSTED,
                                      "all 2 attempts failed", Exhausted());
  EXPECT_EQ(answer.status, 429);
  EXPECT_EQ(FindHeader(answer.headers, "retry-after"), "2");  // 1.5 s rounded up
  EXPECT_EQ(FindHeader(answer.headers, "retry-after-ms"), "1500");
  Json json(answer.body);
  EXPECT_EQ(json.Str({"error", "type"}), "retry_exhausted");
  EXPECT_EQ(json.Str({"error", "code"}), "retry_exhausted");
  EXPECT_EQ(json.Str({"error", "message"}), "all 2 attempts failed");
  const translate::Value* attempts = translate::Find(*translate::Find(json.doc, "error"), "attempts");
  ASSERT_NE(attempts, nullptr);
  ASSERT_TRUE(attempts->IsArray());
  EXPECT_EQ(attempts->Size(), 1u);
  EXPECT_EQ(json.Str({"upstream_error", "error", "message"}), "slow down");
  EXPECT_EQ(json.Str({"request_id"}), "req-7");
}

TEST(CallErrorAnswerTest, ExhaustionInAnthropicShape) {
  HttpAnswer answer = CallErrorAnswer(Api::kAnthropicMessages,
                                      grpc::StatusCode::RESOURCE_EXHAUSTED,
                                      "all 2 attempts failed", Exhausted());
  EXPECT_EQ(answer.status, 429);
  Json json(answer.body);
  EXPECT_EQ(json.Str({"type"}), "error");
  EXPECT_EQ(json.Str({"error", "type"}), "rate_limit_error");
  EXPECT_EQ(json.Str({"error", "message"}), "all 2 attempts failed");
  EXPECT_EQ(json.Str({"retry_exhausted", "type"}), "retry_exhausted");
}

TEST(CallErrorAnswerTest, NoPushbackNoRetryAfter) {
  HttpAnswer answer = CallErrorAnswer(Api::kOpenAiChat, grpc::StatusCode::DEADLINE_EXCEEDED,
                                      "deadline", Detail(v1::ERROR_REASON_DEADLINE));
  EXPECT_EQ(answer.status, 504);
  EXPECT_EQ(FindHeader(answer.headers, "retry-after"), "");
  EXPECT_EQ(Json(answer.body).Str({"error", "code"}), "deadline_exceeded");
}

TEST(StreamErrorEventTest, EachApiEndsItsStreamTheWayItsSdkRaises) {
  v1::ErrorDetail d = Detail(v1::ERROR_REASON_STREAM_INTERRUPTED);
  std::string messages = StreamErrorEvent(Api::kAnthropicMessages, "provider went away", d);
  ASSERT_THAT(messages, ::testing::StartsWith("event: error\ndata: "));
  ASSERT_THAT(messages, ::testing::EndsWith("\n\n"));
  Json m(std::string_view(messages).substr(19, messages.size() - 21));
  EXPECT_EQ(m.Str({"type"}), "error");
  EXPECT_EQ(m.Str({"error", "type"}), "api_error");
  EXPECT_EQ(m.Str({"error", "message"}), "provider went away");

  std::string chat = StreamErrorEvent(Api::kOpenAiChat, "provider went away", d);
  ASSERT_THAT(chat, ::testing::StartsWith("data: "));
  Json c(std::string_view(chat).substr(6, chat.size() - 8));
  EXPECT_EQ(c.Str({"error", "type"}), "stream_interrupted");
  EXPECT_EQ(c.Str({"error", "message"}), "provider went away");

  EXPECT_EQ(StreamErrorEvent(Api::kOther, "x", d), "");
}

TEST(ModelListBodyTest, ListsEveryConfiguredModel) {
  Json json(ModelListBody(TestConfig()));
  EXPECT_EQ(json.Str({"object"}), "list");
  const translate::Value* data = translate::Find(json.doc, "data");
  ASSERT_NE(data, nullptr);
  ASSERT_TRUE(data->IsArray());
  ASSERT_EQ(data->Size(), 4u);
  EXPECT_EQ(translate::StringOr((*data)[1], "id", ""), "anthropic/claude-sonnet");
  EXPECT_EQ(translate::StringOr((*data)[1], "owned_by", ""), "anthropic");
  EXPECT_EQ(translate::StringOr((*data)[1], "object", ""), "model");
}

TEST(PresentedCredentialTest, BearerOrApiKey) {
  EXPECT_EQ(PresentedCredential({{"Authorization", "Bearer t1"}}), "Bearer t1");
  EXPECT_EQ(PresentedCredential({{"x-api-key", "t2"}}), "Bearer t2");
  EXPECT_EQ(PresentedCredential({{"Authorization", "Bearer t1"}, {"x-api-key", "t2"}}),
            "Bearer t1");
  EXPECT_EQ(PresentedCredential({{"Content-Type", "application/json"}}), "");
}

}  // namespace
}  // namespace rebound
