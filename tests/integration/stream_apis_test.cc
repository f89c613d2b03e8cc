// Stream completeness is judged per API (RETRY.md 3.5), end to end with real
// processes: chat completions end with [DONE] or a finish_reason, messages
// with message_stop, responses with response.completed; their error events
// are failed attempts; any other path is complete at a clean end. A unary
// Complete with "stream": true is judged the same way. (Issue 10 items 3, 4.)
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"

namespace rebound::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StreamApisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto primary = FakeProvider::Start({}, "primary");
    ASSERT_TRUE(primary.ok()) << primary.status();
    primary_ = *std::move(primary);
    auto secondary = FakeProvider::Start({}, "secondary");
    ASSERT_TRUE(secondary.ok()) << secondary.status();
    secondary_ = *std::move(secondary);
    // Any failure of the primary fails over to the secondary, once.
    auto gateway = GatewayProcess::Start(absl::StrCat(
        ServerSection(), "model_providers:\n",
        ProviderEntry("openai/gpt-4o", primary_->base_url(), "key-primary",
                      "    default: true\n    retry_policy: {}\n"),
        ProviderEntry("mistral/mistral-large", secondary_->base_url(), "key-secondary")));
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
  }

  struct Streamed {
    client::CallResult result;
    std::vector<std::string> kinds;  // "started", "data", "reset", "end" in order
    std::string last_usage;
  };

  Streamed Stream(const std::string& path) {
    // The Messages API requires max_tokens; the other paths take the chat body.
    v1::CompletionRequest request = path == "/v1/messages"
                                        ? MessagesRequest("openai/gpt-4o", /*stream=*/true)
                                        : ChatRequest("openai/gpt-4o", /*stream=*/true);
    request.set_path(path);
    Streamed out;
    out.result = gateway_->client().StreamComplete(
        request, absl::Seconds(10), [&out](const v1::StreamEvent& e) {
          if (e.has_attempt_started()) out.kinds.push_back("started");
          if (e.has_data()) out.kinds.push_back("data");
          if (e.has_reset()) out.kinds.push_back("reset");
          if (e.has_end()) {
            out.kinds.push_back("end");
            out.last_usage = e.end().usage();
          }
        });
    return out;
  }

  std::unique_ptr<FakeProvider> primary_;
  std::unique_ptr<FakeProvider> secondary_;
  std::unique_ptr<GatewayProcess> gateway_;
};

// The Responses API never sends [DONE]: its complete stream used to be reset
// and regenerated on the fallback, which then failed the same way.
TEST_F(StreamApisTest, AResponsesStreamIsCompleteAtResponseCompleted) {
  ASSERT_TRUE(primary_->SetScript({"tokens=3"}));
  Streamed s = Stream("/v1/responses");
  ASSERT_TRUE(s.result.ok()) << s.result.status.error_message();
  // response.created, three deltas, response.completed.
  EXPECT_THAT(s.kinds, ElementsAre("started", "data", "data", "data", "data", "data", "end"));
  EXPECT_EQ(secondary_->RequestCount(), 0);
  EXPECT_EQ(s.result.response.served_model(), "openai/gpt-4o");
  EXPECT_THAT(s.last_usage, HasSubstr(R"("output_tokens":3)"));
}

TEST_F(StreamApisTest, AResponsesStreamWithoutResponseCompletedIsNotOk) {
  ASSERT_TRUE(primary_->SetScript({"tokens=2;no_done"}));
  ASSERT_TRUE(secondary_->SetScript({"tokens=2;no_done"}));
  Streamed s = Stream("/v1/responses");
  EXPECT_FALSE(s.result.ok());
  EXPECT_EQ(s.result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(secondary_->RequestCount(), 1);
}

TEST_F(StreamApisTest, AResponseFailedEventIsAFailedAttemptAndFailsOver) {
  ASSERT_TRUE(primary_->SetScript({"tokens=3;error_event_at=3"}));
  ASSERT_TRUE(secondary_->SetScript({"tokens=1"}));
  Streamed s = Stream("/v1/responses");
  ASSERT_TRUE(s.result.ok()) << s.result.status.error_message();
  // Two events of the primary reached the caller, then the reset; the
  // failure event itself is never forwarded.
  EXPECT_THAT(s.kinds, ElementsAre("started", "data", "data", "reset", "started", "data", "data",
                                   "data", "end"));
  ASSERT_EQ(s.result.response.attempts_size(), 2);
  EXPECT_EQ(s.result.response.attempts(0).error_type(), "stream_interrupted");
  EXPECT_EQ(s.result.response.served_model(), "mistral/mistral-large");
}

TEST_F(StreamApisTest, AMessagesErrorEventBeforeAnyEventFailsOverWithoutAReset) {
  ASSERT_TRUE(primary_->SetScript({"error_event_at=1"}));
  Streamed s = Stream("/v1/messages");
  ASSERT_TRUE(s.result.ok()) << s.result.status.error_message();
  EXPECT_EQ(std::count(s.kinds.begin(), s.kinds.end(), "reset"), 0);
  ASSERT_EQ(s.result.response.attempts_size(), 2);
  EXPECT_EQ(s.result.response.attempts(0).error_type(), "stream_error_event");
}

TEST_F(StreamApisTest, AnErrorEventWithNoAttemptLeftCarriesTheProvidersError) {
  ASSERT_TRUE(primary_->SetScript({"error_event_at=1"}));
  ASSERT_TRUE(secondary_->SetScript({"error_event_at=1"}));
  Streamed s = Stream("/v1/chat/completions");
  EXPECT_EQ(s.result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(s.result.error_detail.has_value());
  EXPECT_THAT(s.result.error_detail->upstream_body(), HasSubstr("fake failure"));
}

// Paths rebound has no completeness rule for: a clean end is complete.
TEST_F(StreamApisTest, AnotherPathsStreamIsCompleteAtACleanEnd) {
  ASSERT_TRUE(primary_->SetScript({"tokens=2;no_done"}));
  Streamed s = Stream("/v1/custom/stream");
  ASSERT_TRUE(s.result.ok()) << s.result.status.error_message();
  EXPECT_EQ(secondary_->RequestCount(), 0);
}

TEST_F(StreamApisTest, AnotherPathsStreamCutMidTransferIsStillAFailure) {
  ASSERT_TRUE(primary_->SetScript({"tokens=5;cut_after_events=2"}));
  ASSERT_TRUE(secondary_->SetScript({"tokens=5;cut_after_events=2"}));
  Streamed s = Stream("/v1/custom/stream");
  EXPECT_FALSE(s.result.ok());
}

// Complete with "stream": true used to return a cut stream as OK.
TEST_F(StreamApisTest, UnaryCompleteRejectsAStreamWithoutItsTerminalMarker) {
  ASSERT_TRUE(primary_->SetScript({"tokens=3;no_done"}));
  ASSERT_TRUE(secondary_->SetScript({"tokens=3;no_done"}));
  client::CallResult result =
      gateway_->client().Complete(ChatRequest("openai/gpt-4o", /*stream=*/true));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << result.status.error_message();
  ASSERT_TRUE(result.error_detail.has_value());
  ASSERT_EQ(result.error_detail->attempts_size(), 2);
  EXPECT_EQ(result.error_detail->attempts(0).error_type(), "stream_incomplete");
  EXPECT_EQ(result.error_detail->attempts(1).error_type(), "stream_incomplete");
}

TEST_F(StreamApisTest, UnaryCompleteFailsOverFromACutStreamAndReturnsTheWholeStream) {
  ASSERT_TRUE(primary_->SetScript({"tokens=3;no_done"}));
  ASSERT_TRUE(secondary_->SetScript({"tokens=3"}));
  client::CallResult result =
      gateway_->client().Complete(ChatRequest("openai/gpt-4o", /*stream=*/true));
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), "mistral/mistral-large");
  EXPECT_TRUE(absl::EndsWith(result.response.body(), "data: [DONE]\n\n"))
      << result.response.body();
}

}  // namespace
}  // namespace rebound::testing
