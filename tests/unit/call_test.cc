// Call, the attempt loop, driven without processes, sockets or sleeping: a
// scripted Upstream plays the provider, a manual clock plays time, and a
// recording CallOutput plays the gRPC side (tests/unit/call_fixture.h).
// Every time below is exact.
#include "gateway/call.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/call_fixture.h"

namespace rebound {
namespace {

using ::testing::HasSubstr;

TEST_F(CallTest, ASuccessEndsTheCallOnceWithTheAnswer) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(/*streaming=*/false);
  ASSERT_EQ(upstream_.started(), 1u);
  EXPECT_EQ(upstream_.last().request.url, "http://127.0.0.1:9/v1/chat/completions");
  EXPECT_EQ(output_.ends, 0);
  upstream_.Answer(200, kOkBody);
  EXPECT_EQ(output_.ends, 1);
  EXPECT_TRUE(output_.status.ok());
  EXPECT_EQ(output_.response.body(), kOkBody);
  EXPECT_EQ(output_.response.served_model(), "openai/gpt-4o");
  EXPECT_EQ(output_.response.request_id(), "rb-test");
  ASSERT_EQ(output_.response.attempts_size(), 1);
  EXPECT_EQ(output_.response.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_SUCCESS);
  EXPECT_EQ(time_.pending_timers(), 0u);
  call_->Cancel();  // a late cancel changes nothing
  EXPECT_EQ(output_.ends, 1);
  EXPECT_TRUE(output_.status.ok());
}

TEST_F(CallTest, TheProvidersTimeoutsTravelWithEveryAttempt) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}",
                      "    timeouts: {connect_ms: 111, first_byte_ms: 222, idle_ms: 333, "
                      "total_ms: 444}\n"));
  StartCall(false);
  ASSERT_EQ(upstream_.started(), 1u);
  const Timeouts& t = upstream_.last().request.timeouts;
  EXPECT_EQ(t.connect_ms, 111);
  EXPECT_EQ(t.first_byte_ms, 222);
  EXPECT_EQ(t.idle_ms, 333);
  EXPECT_EQ(t.total_ms, 444);
  EXPECT_EQ(upstream_.last().cap.after, absl::InfiniteDuration()) << "no deadline, no budget";
}

// Each timeout kind the upstream reports is a retriable failure of the
// timeout class (on_timeout), recorded with the value that fired.
TEST_F(CallTest, EachTimeoutKindIsRetriedUnderOnTimeout) {
  for (auto [kind, name] : {std::pair{TimeoutKind::kConnect, "connect"},
                            std::pair{TimeoutKind::kFirstByte, "first_byte"},
                            std::pair{TimeoutKind::kIdle, "idle"},
                            std::pair{TimeoutKind::kTotal, "total"}}) {
    SCOPED_TRACE(name);
    upstream_ = ScriptedUpstream(&time_);
    output_ = RecordingOutput();
    Configure(TwoModels("{on_timeout: {strategy: same_model, max_attempts: 2}}"));
    StartCall(false);
    upstream_.TimeOut(kind, 250);
    ASSERT_EQ(upstream_.started(), 2u) << "retried at once: no backoff configured";
    EXPECT_EQ(time_.pending_timers(), 0u) << "no wait before the retry";
    EXPECT_EQ(output_.ends, 0);
    upstream_.TimeOut(kind, 250);
    ASSERT_EQ(output_.ends, 1);
    EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_THAT(output_.status.error_message(), HasSubstr("class timeout allows 2 attempts"));
    v1::ErrorDetail detail = output_.detail();
    EXPECT_EQ(detail.reason(), v1::ERROR_REASON_RETRY_EXHAUSTED);
    ASSERT_EQ(detail.attempts_size(), 2);
    EXPECT_EQ(detail.attempts(0).error_type(), "timeout_250ms");
    EXPECT_EQ(detail.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_TIMEOUT);
  }
}

TEST_F(CallTest, BackoffWaitsExactlyTheConfiguredDelays) {
  Configure(TwoModels(
      "{on_status_codes: [{codes: [503], strategy: same_model, max_attempts: 3}], "
      "backoff: {apply_to: same_model, base_ms: 200, max_ms: 2000, jitter: false}}"));
  StartCall(false);
  upstream_.Answer(503, "{}");
  EXPECT_EQ(time_.NextTimerIn(), absl::Milliseconds(200));
  time_.Advance(absl::Milliseconds(199));
  EXPECT_EQ(upstream_.started(), 1u);
  time_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(upstream_.started(), 2u);
  EXPECT_EQ(upstream_.last().started_at, absl::Milliseconds(200));
  upstream_.Answer(503, "{}");
  time_.Advance(absl::Milliseconds(399));
  EXPECT_EQ(upstream_.started(), 2u);
  time_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(upstream_.started(), 3u);
  EXPECT_EQ(upstream_.last().started_at, absl::Milliseconds(600));
  upstream_.Answer(200, kOkBody);
  ASSERT_EQ(output_.ends, 1);
  ASSERT_TRUE(output_.status.ok());
  ASSERT_EQ(output_.response.attempts_size(), 3);
  EXPECT_EQ(output_.response.attempts(1).wait_before_ms(), 200);
  EXPECT_EQ(output_.response.attempts(2).wait_before_ms(), 400);
}

TEST_F(CallTest, RetryAfterIsWaitedForExactly) {
  Configure(TwoModels(
      "{on_status_codes: [{codes: [429], strategy: same_model, max_attempts: 2}], "
      "retry_after_handling: {apply_to: request}}"));
  StartCall(false);
  upstream_.Answer(429, "{}", {{"retry-after", "3"}});
  time_.Advance(absl::Milliseconds(2999));
  EXPECT_EQ(upstream_.started(), 1u);
  time_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(upstream_.started(), 2u);
  upstream_.Answer(200, kOkBody);
  ASSERT_EQ(output_.ends, 1);
  EXPECT_TRUE(output_.status.ok());
}

TEST_F(CallTest, TheCallersDeadlineCapsTheAttemptAndEndsTheCallWithItsDetail) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(false, /*deadline=*/absl::Seconds(2));
  ASSERT_EQ(upstream_.started(), 1u);
  // The call ends itself a margin before the deadline: a tenth of it, at
  // most 100 ms.
  const AttemptCap& cap = upstream_.last().cap;
  EXPECT_EQ(cap.after, absl::Milliseconds(1900));
  EXPECT_EQ(cap.kind, TimeoutKind::kDeadline);
  EXPECT_EQ(cap.ms, 1900);
  time_.Advance(absl::Milliseconds(1900));
  upstream_.TimeOut(TimeoutKind::kDeadline, cap.ms);
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(upstream_.started(), 1u) << "no attempt after the deadline";
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  v1::ErrorDetail detail = output_.detail();
  EXPECT_EQ(detail.reason(), v1::ERROR_REASON_DEADLINE);
  ASSERT_EQ(detail.attempts_size(), 1);
  EXPECT_EQ(detail.attempts(0).error_type(), "timeout_1900ms");
}

TEST_F(CallTest, MaxRetryDurationCapsTheAttemptInFlight) {
  Configure(TwoModels(
      "{on_timeout: {strategy: same_model, max_attempts: 3}, max_retry_duration_ms: 1000}"));
  StartCall(false);
  EXPECT_EQ(upstream_.last().cap.after, absl::InfiniteDuration())
      << "the budget starts at the first failure";
  time_.Advance(absl::Milliseconds(500));
  upstream_.TimeOut(TimeoutKind::kFirstByte, 500);
  ASSERT_EQ(upstream_.started(), 2u);
  const AttemptCap& cap = upstream_.last().cap;
  EXPECT_EQ(cap.after, absl::Milliseconds(1000));
  EXPECT_EQ(cap.kind, TimeoutKind::kRetryBudget);
  time_.Advance(absl::Milliseconds(1000));
  upstream_.TimeOut(TimeoutKind::kRetryBudget, cap.ms);
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(upstream_.started(), 2u);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  v1::ErrorDetail detail = output_.detail();
  EXPECT_EQ(detail.reason(), v1::ERROR_REASON_RETRY_EXHAUSTED);
  EXPECT_THAT(detail.retry_exhausted_json(), HasSubstr(R"("exhausted_reason":"retry_budget")"));
}

TEST_F(CallTest, ABackoffThatWouldPassTheDeadlineIsNotWaited) {
  Configure(TwoModels(
      "{on_status_codes: [{codes: [503], strategy: same_model, max_attempts: 3}], "
      "backoff: {apply_to: same_model, base_ms: 5000, max_ms: 10000, jitter: false}}"));
  StartCall(false, /*deadline=*/absl::Seconds(2));
  upstream_.Answer(503, "{}");
  ASSERT_EQ(output_.ends, 1) << "ends at once instead of waiting past the deadline";
  EXPECT_EQ(time_.elapsed(), absl::ZeroDuration());
  EXPECT_EQ(time_.pending_timers(), 0u);
  EXPECT_EQ(upstream_.started(), 1u);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(output_.detail().attempts(0).http_status(), 503);
}

TEST_F(CallTest, TheProvidersConnectionLimitEndsWithAPushback) {
  Configure(TwoModels(""));
  StartCall(false);
  TransferResult overloaded;
  overloaded.kind = TransferResult::Kind::kOverloaded;
  overloaded.error_type = "provider_overloaded";
  upstream_.Done(overloaded);
  ASSERT_EQ(output_.ends, 1) << "no policy: one attempt";
  EXPECT_EQ(upstream_.started(), 1u);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(output_.detail().reason(), v1::ERROR_REASON_OVERLOADED);
  EXPECT_EQ(output_.pushback_ms, 100);
}

TEST_F(CallTest, AStreamCutAfterEventsIsResetAndTheFallbackStreamsFromItsStart) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(/*streaming=*/true);
  StreamHeaders();
  ASSERT_TRUE(upstream_.Body(Chunk("a")));
  ASSERT_TRUE(upstream_.Body(Chunk("b")));
  upstream_.Fail(TransferResult::Kind::kTransportError, "connection_reset");
  ASSERT_EQ(upstream_.started(), 2u);
  EXPECT_EQ(upstream_.last().request.url, "http://127.0.0.2:9/v1/chat/completions");
  ASSERT_EQ(output_.Count(v1::StreamEvent::kReset), 1);
  StreamHeaders();
  ASSERT_TRUE(upstream_.Body(Chunk("c")));
  ASSERT_TRUE(upstream_.Body("data: [DONE]\n\n"));
  upstream_.Done();
  ASSERT_EQ(output_.ends, 1);
  EXPECT_TRUE(output_.status.ok()) << output_.status.error_message();
  // started, a, b, reset, started, c, [DONE], end.
  ASSERT_EQ(output_.events.size(), 8u);
  EXPECT_TRUE(output_.events[0].has_attempt_started());
  EXPECT_TRUE(output_.events[3].has_reset());
  EXPECT_EQ(output_.events[3].reset().next_attempt(), 2u);
  EXPECT_TRUE(output_.events[4].has_attempt_started());
  EXPECT_EQ(output_.events[4].attempt_started().model(), "mistral/mistral-large");
  EXPECT_TRUE(output_.events[7].has_end());
  EXPECT_EQ(output_.events[7].end().served_model(), "mistral/mistral-large");
}

TEST_F(CallTest, AStreamWithoutItsTerminalEventIsNotDeliveredAsComplete) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(/*streaming=*/false);  // a unary call of a "stream": true body
  StreamHeaders();
  ASSERT_TRUE(upstream_.Body(Chunk("a")));
  upstream_.Done();  // a clean end, but no [DONE] and no finish_reason
  ASSERT_EQ(upstream_.started(), 2u) << "judged incomplete and failed over";
  EXPECT_EQ(output_.ends, 0);
  StreamHeaders();
  ASSERT_TRUE(upstream_.Body(Chunk("b")));
  ASSERT_TRUE(upstream_.Body("data: [DONE]\n\n"));
  upstream_.Done();
  ASSERT_EQ(output_.ends, 1);
  ASSERT_TRUE(output_.status.ok());
  EXPECT_EQ(output_.response.body(), Chunk("b") + "data: [DONE]\n\n");
}

TEST_F(CallTest, AStreamCutWithoutAFallbackEndsInterrupted) {
  Configure(TwoModels("{default_max_attempts: 1}"));
  StartCall(true);
  StreamHeaders();
  ASSERT_TRUE(upstream_.Body(Chunk("a")));
  upstream_.Fail(TransferResult::Kind::kTransportError, "connection_reset");
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(upstream_.started(), 1u) << "the stream class allows one attempt";
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(output_.detail().reason(), v1::ERROR_REASON_STREAM_INTERRUPTED);
}

TEST_F(CallTest, BackpressurePausesTheUpstreamUntilTheCallerDrains) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(true);
  StreamHeaders();
  output_.accept_writes = false;  // the caller's queue is full
  ASSERT_TRUE(upstream_.Body(Chunk("a")));
  EXPECT_TRUE(upstream_.last().paused);
  EXPECT_EQ(upstream_.last().pauses, 1);
  EXPECT_EQ(time_.NextTimerIn(), kPauseTimeout);
  output_.accept_writes = true;
  time_.Advance(kPauseTimeout - absl::Milliseconds(1));
  call_->ResumeUpstream();
  EXPECT_FALSE(upstream_.last().paused);
  EXPECT_EQ(upstream_.last().resumes, 1);
  EXPECT_EQ(time_.pending_timers(), 0u) << "the pause limit is disarmed on resume";
  time_.Advance(absl::Hours(1));
  EXPECT_EQ(output_.ends, 0);
  ASSERT_TRUE(upstream_.Body("data: [DONE]\n\n"));
  upstream_.Done();
  ASSERT_EQ(output_.ends, 1);
  EXPECT_TRUE(output_.status.ok());
}

TEST_F(CallTest, ACallerThatReadsNothingForThePauseLimitIsEndedAndTheUpstreamReleased) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(true);
  StreamHeaders();
  output_.accept_writes = false;
  ASSERT_TRUE(upstream_.Body(Chunk("a")));
  time_.Advance(kPauseTimeout - absl::Nanoseconds(1));
  EXPECT_EQ(output_.ends, 0);
  EXPECT_TRUE(upstream_.last().live());
  time_.Advance(absl::Nanoseconds(1));
  ASSERT_EQ(output_.ends, 1);
  EXPECT_TRUE(output_.slow_caller);
  EXPECT_TRUE(upstream_.last().cancelled) << "transfer and slot released";
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(output_.detail().reason(), v1::ERROR_REASON_CALLER_TOO_SLOW);
  EXPECT_EQ(upstream_.started(), 1u) << "not a provider failure: no retry";
}

TEST_F(CallTest, CancelBeforeStartEndsOnceAndSendsNothing) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  v1::CompletionRequest request;
  request.set_model("openai/gpt-4o");
  request.set_body("{}");
  std::shared_ptr<Call> call = MakeCall(request, false, absl::InfiniteFuture());
  call->Cancel();
  call->Start();
  EXPECT_EQ(upstream_.started(), 0u);
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(CallTest, CancelDuringABackoffWaitStopsTheRetry) {
  Configure(TwoModels(
      "{on_status_codes: [{codes: [503], strategy: same_model, max_attempts: 3}], "
      "backoff: {apply_to: same_model, base_ms: 200, max_ms: 2000, jitter: false}}"));
  StartCall(false);
  upstream_.Answer(503, "{}");
  ASSERT_EQ(time_.pending_timers(), 1u);
  time_.Advance(absl::Milliseconds(100));
  call_->Cancel();
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(time_.pending_timers(), 0u);
  time_.Advance(absl::Seconds(10));
  EXPECT_EQ(upstream_.started(), 1u);
}

TEST_F(CallTest, CancelMidAttemptCancelsTheTransfer) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(false);
  call_->Cancel();
  EXPECT_TRUE(upstream_.last().cancelled);
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::CANCELLED);
  call_->Cancel();
  EXPECT_EQ(output_.ends, 1);
  EXPECT_EQ(upstream_.started(), 1u);
}

TEST_F(CallTest, CancelMidStreamCancelsTheTransferAndWritesNothingMore) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(true);
  StreamHeaders();
  ASSERT_TRUE(upstream_.Body(Chunk("a")));
  size_t events = output_.events.size();
  call_->Cancel();
  EXPECT_TRUE(upstream_.last().cancelled);
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(output_.events.size(), events);
  EXPECT_EQ(upstream_.started(), 1u);
}

TEST_F(CallTest, CancelWhilePausedDisarmsThePauseLimit) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(true);
  StreamHeaders();
  output_.accept_writes = false;
  ASSERT_TRUE(upstream_.Body(Chunk("a")));
  ASSERT_EQ(time_.pending_timers(), 1u);
  call_->Cancel();
  EXPECT_EQ(time_.pending_timers(), 0u);
  time_.Advance(kPauseTimeout * 2);
  ASSERT_EQ(output_.ends, 1);
  EXPECT_FALSE(output_.slow_caller);
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(CallTest, AnAnswerOverTheResponseLimitIsFinal) {
  Configure(TwoModels("{fallback_models: [mistral/mistral-large]}"));
  StartCall(false);
  // The body goes over kMaxResponseBytes in its second chunk.
  upstream_.Headers(200, {{"content-type", "application/json"}});
  std::string half(kMaxResponseBytes / 2, 'x');
  ASSERT_TRUE(upstream_.Body(half));
  EXPECT_FALSE(upstream_.Body(half + "y")) << "the transfer is aborted";
  TransferResult aborted;
  aborted.kind = TransferResult::Kind::kAborted;
  upstream_.Done(aborted);
  ASSERT_EQ(output_.ends, 1);
  EXPECT_EQ(upstream_.started(), 1u) << "never retried, not even on the fallback";
  EXPECT_EQ(output_.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(output_.detail().reason(), v1::ERROR_REASON_RESPONSE_TOO_LARGE);
}

}  // namespace
}  // namespace rebound
