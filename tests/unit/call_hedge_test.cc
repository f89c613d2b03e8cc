// The Call's side of hedging and of provider error classes, on the scripted
// upstream and the manual clock: when a hedge starts, who wins, that the
// loser is cancelled and recorded, that a streaming caller sees one attempt,
// that a racer's failure leaves the other running, the hedge budget, and
// the error class in records and metrics.
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "prometheus/text_serializer.h"
#include "retry/retry_budget.h"
#include "tests/unit/call_fixture.h"

namespace rebound {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kGpt[] = "http://127.0.0.1:9/v1/chat/completions";
constexpr char kMistral[] = "http://127.0.0.2:9/v1/chat/completions";

class CallHedgeTest : public CallTest {
 protected:
  std::string MetricsText() {
    return prometheus::TextSerializer().Serialize(metrics_.registry()->Collect());
  }
  bool HasHedgeMetric(std::string_view result, int count) {
    return absl::StrContains(MetricsText(),
                             absl::StrCat("rebound_hedges_total{model=\"openai/gpt-4o\",result=\"",
                                          std::string(result), "\"} ", count));
  }
  static std::string Outcomes(const google::protobuf::RepeatedPtrField<v1::AttemptRecord>& r) {
    std::string out;
    for (const v1::AttemptRecord& a : r) {
      absl::StrAppend(&out, out.empty() ? "" : " ", a.model(), ":",
                      v1::AttemptOutcome_Name(a.outcome()), a.hedge() ? ":hedge" : "");
    }
    return out;
  }
};

TEST_F(CallHedgeTest, AHedgeStartsAfterExactlyAfterMs) {
  Configure(TwoModels("{hedge: {after_ms: 300}}"));
  StartCall(/*streaming=*/false);
  time_.Advance(absl::Milliseconds(299));
  EXPECT_EQ(upstream_.started(), 1u);
  time_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(upstream_.started(), 2u);
  EXPECT_EQ(upstream_.transfer(1).request.url, kMistral);
  EXPECT_EQ(upstream_.transfer(1).started_at, absl::Milliseconds(300));
  EXPECT_TRUE(HasHedgeMetric("started", 1)) << MetricsText();
}

TEST_F(CallHedgeTest, TheHedgeWinsAndTheStalledAttemptIsCancelled) {
  Configure(TwoModels("{hedge: {after_ms: 300}}"));
  StartCall(false);
  time_.Advance(absl::Milliseconds(300));
  time_.Advance(absl::Milliseconds(50));
  upstream_.Use(1);
  upstream_.Answer(200, kOkBody);
  ASSERT_EQ(output_.ends, 1);
  EXPECT_TRUE(output_.status.ok());
  EXPECT_EQ(output_.response.served_model(), "mistral/mistral-large");
  EXPECT_EQ(Outcomes(output_.response.attempts()),
            "openai/gpt-4o:ATTEMPT_OUTCOME_HEDGE_LOST "
            "mistral/mistral-large:ATTEMPT_OUTCOME_SUCCESS:hedge");
  EXPECT_EQ(output_.response.attempts(0).error_type(), "hedge_lost");
  EXPECT_DOUBLE_EQ(output_.response.attempts(0).duration_ms(), 350);
  // Cancelled from the loop, not inside the winner's callback.
  EXPECT_FALSE(upstream_.transfer(0).cancelled);
  time_.Advance(absl::ZeroDuration());
  EXPECT_TRUE(upstream_.transfer(0).cancelled);
  EXPECT_TRUE(HasHedgeMetric("won", 1)) << MetricsText();
}

TEST_F(CallHedgeTest, TheOriginalWinsAndTheHedgeIsCancelled) {
  Configure(TwoModels("{hedge: {after_ms: 300}}"));
  StartCall(false);
  time_.Advance(absl::Milliseconds(300));
  upstream_.Use(0);
  upstream_.Answer(200, kOkBody);
  EXPECT_EQ(output_.response.served_model(), "openai/gpt-4o");
  EXPECT_EQ(Outcomes(output_.response.attempts()),
            "mistral/mistral-large:ATTEMPT_OUTCOME_HEDGE_LOST:hedge "
            "openai/gpt-4o:ATTEMPT_OUTCOME_SUCCESS");
  time_.Advance(absl::ZeroDuration());
  EXPECT_TRUE(upstream_.transfer(1).cancelled);
  EXPECT_TRUE(HasHedgeMetric("lost", 1)) << MetricsText();
}

TEST_F(CallHedgeTest, AFirstByteInTimeMeansNoHedge) {
  Configure(TwoModels("{hedge: {after_ms: 300}}"));
  StartCall(false);
  time_.Advance(absl::Milliseconds(200));
  upstream_.Headers(200, {{"content-type", "application/json"}});
  ASSERT_TRUE(upstream_.Body(kOkBody.substr(0, 5)));
  time_.Advance(absl::Seconds(5));
  EXPECT_EQ(upstream_.started(), 1u);
  EXPECT_EQ(time_.pending_timers(), 0u) << "the hedge timer went with the first byte";
  ASSERT_TRUE(upstream_.Body(kOkBody.substr(5)));
  upstream_.Done();
  EXPECT_EQ(output_.response.body(), kOkBody);
}

TEST_F(CallHedgeTest, AnErrorStatusIsNoAnswer) {
  Configure(TwoModels("{hedge: {after_ms: 300}, default_max_attempts: 3}"));
  StartCall(false);
  time_.Advance(absl::Milliseconds(300));
  // The hedge fails at once; the original runs on and answers.
  upstream_.Use(1);
  upstream_.Answer(503, R"({"error":{"message":"busy","type":"server_error"}})");
  EXPECT_EQ(output_.ends, 0);
  EXPECT_TRUE(upstream_.transfer(0).live());
  upstream_.Use(0);
  upstream_.Answer(200, kOkBody);
  EXPECT_EQ(output_.response.served_model(), "openai/gpt-4o");
  EXPECT_EQ(Outcomes(output_.response.attempts()),
            "mistral/mistral-large:ATTEMPT_OUTCOME_HTTP_ERROR:hedge "
            "openai/gpt-4o:ATTEMPT_OUTCOME_SUCCESS");
  EXPECT_EQ(output_.response.attempts(0).error_class(), "overloaded") << "a 503 says so";
  EXPECT_TRUE(HasHedgeMetric("failed", 1)) << MetricsText();
}

TEST_F(CallHedgeTest, BothRacersFailingIsOneExhaustion) {
  Configure(TwoModels("{hedge: {after_ms: 300}, default_max_attempts: 3}"));
  StartCall(false);
  time_.Advance(absl::Milliseconds(300));
  upstream_.Use(1);
  upstream_.Answer(503, "{}");
  upstream_.Use(0);
  upstream_.Answer(503, "{}");
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  v1::ErrorDetail detail = output_.detail();
  EXPECT_EQ(detail.attempts_size(), 2);
  EXPECT_THAT(detail.retry_exhausted_json(), HasSubstr(R"("hedge":true)"));
}

TEST_F(CallHedgeTest, TheHedgeBudgetRefuses) {
  hedge_budget_ = std::make_shared<RetryBudget>(RetryBudgetSettings{true, 0, 0, 10});
  Configure(TwoModels("{hedge: {after_ms: 300}}"));
  StartCall(false);
  time_.Advance(absl::Seconds(2));
  EXPECT_EQ(upstream_.started(), 1u);
  EXPECT_TRUE(HasHedgeMetric("refused", 1)) << MetricsText();
  upstream_.Answer(200, kOkBody);
  EXPECT_TRUE(output_.status.ok());
}

TEST_F(CallHedgeTest, AStreamingCallerSeesOnlyTheWinnersEvents) {
  Configure(TwoModels("{hedge: {after_ms: 300}}"));
  StartCall(/*streaming=*/true);
  StreamHeaders();  // the original: headers, then silence
  time_.Advance(absl::Milliseconds(300));
  ASSERT_EQ(upstream_.started(), 2u);
  upstream_.Use(1);
  StreamHeaders();
  ASSERT_TRUE(upstream_.Body(Chunk("B1")));
  // The original's late event is refused and never forwarded.
  upstream_.Use(0);
  EXPECT_FALSE(upstream_.Body(Chunk("A1")));
  upstream_.Use(1);
  ASSERT_TRUE(upstream_.Body(Chunk("B2") + "data: [DONE]\n\n"));
  upstream_.Done();
  time_.Advance(absl::ZeroDuration());
  ASSERT_EQ(output_.ends, 1);
  EXPECT_TRUE(output_.status.ok()) << output_.status.error_message();
  EXPECT_THAT(output_.DataEvents(), ElementsAre(HasSubstr("B1"), HasSubstr("B2"), "[DONE]"));
  EXPECT_EQ(output_.Count(v1::StreamEvent::kReset), 0);
  ASSERT_EQ(output_.Count(v1::StreamEvent::kAttemptStarted), 1);
  EXPECT_EQ(output_.events[0].attempt_started().model(), "mistral/mistral-large");
}

TEST_F(CallHedgeTest, AnthropicsPreambleIsNoAnswer) {
  Configure(TwoModels("{hedge: {after_ms: 300}}"));
  StartCall(true);
  StreamHeaders();
  ASSERT_TRUE(upstream_.Body("event: message_start\ndata: {}\n\nevent: ping\ndata: {}\n\n"));
  EXPECT_TRUE(output_.events.empty()) << "held while a hedge may still win";
  time_.Advance(absl::Milliseconds(300));
  EXPECT_EQ(upstream_.started(), 2u) << "message_start is not a first token";
}

TEST_F(CallHedgeTest, CancellingTheCallCancelsBothRacers) {
  Configure(TwoModels("{hedge: {after_ms: 300}}"));
  StartCall(false);
  time_.Advance(absl::Milliseconds(300));
  ASSERT_EQ(upstream_.live(), 2u);
  call_->Cancel();
  EXPECT_EQ(upstream_.live(), 0u);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::CANCELLED);
}

// ---------------------------------------------------------------------------
// Provider error classes

TEST_F(CallHedgeTest, AContextOverflowIsClassifiedAndRouted) {
  Configure(TwoModels(
      "{on_errors: [{errors: [context_length_exceeded], strategy: different_provider}]}"));
  StartCall(false);
  upstream_.Answer(400, R"({"error":{"message":"This model's maximum context length is 8192 tokens.",)"
                        R"("type":"invalid_request_error","param":"messages",)"
                        R"("code":"context_length_exceeded"}})");
  ASSERT_EQ(upstream_.started(), 2u) << "a 400 is final unless its class is routed";
  EXPECT_EQ(upstream_.last().request.url, kMistral);
  upstream_.Answer(200, kOkBody);
  ASSERT_EQ(output_.response.attempts_size(), 2);
  EXPECT_EQ(output_.response.attempts(0).error_class(), "context_length_exceeded");
  EXPECT_EQ(output_.response.attempts(1).error_class(), "");
  EXPECT_THAT(MetricsText(), HasSubstr("rebound_provider_errors_total{class=\"context_length_exceeded\","
                                       "model=\"openai/gpt-4o\"} 1"));
}

TEST_F(CallHedgeTest, AUnaryRefusalFailsOverOnlyWhenRouted) {
  constexpr char kRefusal[] =
      R"({"id":"x","choices":[{"message":{"content":""},"finish_reason":"content_filter"}]})";
  Configure(TwoModels("{on_errors: [{errors: [content_filter], strategy: different_provider}]}"));
  StartCall(false);
  upstream_.Answer(200, kRefusal);
  ASSERT_EQ(upstream_.started(), 2u);
  upstream_.Answer(200, kOkBody);
  EXPECT_EQ(output_.response.served_model(), "mistral/mistral-large");
  EXPECT_EQ(output_.response.attempts(0).error_class(), "content_filter");
  EXPECT_EQ(output_.response.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_SUCCESS);

  output_ = RecordingOutput();
  Configure(TwoModels("{}"));
  StartCall(false);
  upstream_.Answer(200, kRefusal);
  EXPECT_EQ(output_.response.body(), kRefusal) << "without a rule a refusal is an answer";
  EXPECT_EQ(output_.response.attempts(0).error_class(), "") << "and is not even parsed";
}

}  // namespace
}  // namespace rebound
