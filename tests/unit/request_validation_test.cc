#include "gateway/request_validation.h"

#include <string>
#include <variant>

#include "gateway/error_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/config_test_util.h"

namespace rebound {
namespace {

using ::testing::HasSubstr;

class RequestValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LoadResult loaded = testing::Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: http://127.0.0.1:9
    access_key: $OPENAI_API_KEY
    default: true
  - model: mistral/mistral-large
    base_url: http://127.0.0.2:9
    access_key: $MISTRAL_API_KEY
)");
    ASSERT_TRUE(loaded.ok());
    config_ = loaded.config;
  }

  std::variant<ValidatedRequest, RequestRejection> Validate(const v1::CompletionRequest& r,
                                                            int64_t max_body = 1000) {
    return ValidateRequest(r, *config_, max_body, "rb-generated");
  }
  static v1::CompletionRequest Request(std::string model) {
    v1::CompletionRequest r;
    r.set_model(std::move(model));
    r.set_body("{}");
    return r;
  }

  std::shared_ptr<const Config> config_;
};

TEST_F(RequestValidationTest, AValidRequestKeepsWhatTheCallNeeds) {
  v1::CompletionRequest r = Request("");
  r.set_path("/v1/messages");
  v1::Header* h = r.add_headers();
  h->set_name("x-trace");
  h->set_value("7");
  r.mutable_retry()->add_allowed_models("mistral/mistral-large");
  r.mutable_retry()->set_max_attempts(2);
  auto checked = Validate(r);
  ASSERT_TRUE(std::holds_alternative<ValidatedRequest>(checked));
  const ValidatedRequest& v = std::get<ValidatedRequest>(checked);
  EXPECT_EQ(v.primary->model_id, "openai/gpt-4o") << "the default model";
  EXPECT_EQ(v.path, "/v1/messages");
  EXPECT_EQ(v.body, "{}");
  ASSERT_EQ(v.headers.size(), 1u);
  EXPECT_EQ(v.headers[0].first, "x-trace");
  EXPECT_EQ(v.request_id, "rb-generated");
  ASSERT_EQ(v.narrowing.allowed_models.size(), 1u);
  EXPECT_EQ(v.narrowing.allowed_models[0]->model_id, "mistral/mistral-large");
  EXPECT_EQ(v.narrowing.max_attempts, 2);
}

TEST_F(RequestValidationTest, TheCallersRequestIdAndDefaultPathAreKept) {
  v1::CompletionRequest r = Request("mistral/mistral-large");
  r.set_request_id("caller-1");
  auto checked = Validate(r);
  ASSERT_TRUE(std::holds_alternative<ValidatedRequest>(checked));
  EXPECT_EQ(std::get<ValidatedRequest>(checked).request_id, "caller-1");
  EXPECT_EQ(std::get<ValidatedRequest>(checked).path, "/v1/chat/completions");
}

TEST_F(RequestValidationTest, EachFailureHasItsReasonAndOutcome) {
  struct Case {
    v1::CompletionRequest request;
    v1::ErrorReason reason;
    std::string_view outcome;
    std::string message_part;
    std::string label;
  };
  v1::CompletionRequest big = Request("openai/gpt-4o");
  big.set_body(std::string(1001, ' '));
  v1::CompletionRequest unknown = Request("openai/nope");
  v1::CompletionRequest bad_allowed = Request("openai/gpt-4o");
  bad_allowed.mutable_retry()->add_allowed_models("openai/nope");
  v1::CompletionRequest bad_path = Request("openai/gpt-4o");
  bad_path.set_path("http://elsewhere/");
  v1::CompletionRequest bad_header = Request("openai/gpt-4o");
  bad_header.add_headers()->set_name("bad name");
  v1::CompletionRequest crlf_id = Request("openai/gpt-4o");
  crlf_id.set_request_id("a\r\nx-injected: 1");
  v1::CompletionRequest long_id = Request("openai/gpt-4o");
  long_id.set_request_id(std::string(300, 'a'));
  v1::CompletionRequest spaced_id = Request("openai/gpt-4o");
  spaced_id.set_request_id("a b");
  const Case cases[] = {
      {big, v1::ERROR_REASON_INVALID_REQUEST, "invalid_request", "1001 bytes; the limit is 1000",
       "openai/gpt-4o"},
      {unknown, v1::ERROR_REASON_UNKNOWN_MODEL, "unknown_model", "model is not configured",
       "unknown"},
      {bad_allowed, v1::ERROR_REASON_INVALID_REQUEST, "invalid_request", "retry.allowed_models",
       "openai/gpt-4o"},
      {bad_path, v1::ERROR_REASON_INVALID_REQUEST, "invalid_request", "path", "openai/gpt-4o"},
      {bad_header, v1::ERROR_REASON_INVALID_REQUEST, "invalid_request", "header",
       "openai/gpt-4o"},
      {crlf_id, v1::ERROR_REASON_INVALID_REQUEST, "invalid_request", "request_id",
       "openai/gpt-4o"},
      {long_id, v1::ERROR_REASON_INVALID_REQUEST, "invalid_request", "request_id",
       "openai/gpt-4o"},
      {spaced_id, v1::ERROR_REASON_INVALID_REQUEST, "invalid_request", "request_id",
       "openai/gpt-4o"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message_part);
    auto checked = Validate(c.request);
    ASSERT_TRUE(std::holds_alternative<RequestRejection>(checked));
    const RequestRejection& r = std::get<RequestRejection>(checked);
    EXPECT_EQ(r.code, grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(r.reason, c.reason);
    EXPECT_EQ(RequestOutcome(r.reason), c.outcome);
    EXPECT_THAT(r.message, HasSubstr(c.message_part));
    EXPECT_EQ(r.model_label, c.label);
    if (c.request.request_id().empty()) {
      EXPECT_EQ(r.request_id, "rb-generated");
    }
  }
}

TEST_F(RequestValidationTest, NoModelAndNoDefaultSaysSo) {
  LoadResult loaded = testing::Load(R"(
model_providers:
  - model: openai/gpt-4o
    base_url: http://127.0.0.1:9
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(loaded.ok());
  auto checked = ValidateRequest(Request(""), *loaded.config, 1000, "rb-1");
  ASSERT_TRUE(std::holds_alternative<RequestRejection>(checked));
  EXPECT_THAT(std::get<RequestRejection>(checked).message, HasSubstr("no provider is marked default"));
}

TEST(RequestIdTest, IdsAreTimeThenSerial) {
  EXPECT_EQ(NewRequestId(absl::FromUnixNanos(0x1234), 0x1000005), "rb-1234-5");
}

}  // namespace
}  // namespace rebound
