// One Gateway call: the attempt loop that executes RetryState's decisions.
//
// A Call lives on one thread, its upstream's (in production an EventLoop's):
// every method below runs there. It talks to the gRPC side only through
// CallOutput, to the provider only through an Upstream, and reads time only
// from its Clock and Timers, so tests/unit/call_test.cc drives it with a
// scripted upstream and a manual clock. The decisions themselves (which
// target, how long to wait, when to give up) are RetryState's.
#ifndef REBOUND_GATEWAY_CALL_H_
#define REBOUND_GATEWAY_CALL_H_

#include <memory>
#include <optional>
#include <string>

#include <grpcpp/support/status.h>

#include "blocks/block_table.h"
#include "codec/sse.h"
#include "common/clock.h"
#include "common/timers.h"
#include "gateway/api_bridge.h"
#include "gateway/metrics.h"
#include "gateway/request_validation.h"
#include "policy/config.h"
#include "rebound/v1/gateway.pb.h"
#include "retry/latency_tracker.h"
#include "retry/retry_budgets.h"
#include "retry/retry_state.h"
#include "translate/stream.h"
#include "upstream/upstream.h"
#include "upstream/upstream_request.h"

namespace rebound {

// The gRPC side of a call (a unary or a server-streaming reactor).
// Thread safety: called from the call's loop thread only.
class CallOutput {
 public:
  virtual ~CallOutput() = default;
  // Streaming calls: queues one event for the caller. Returns false when the
  // caller is slower than the upstream; the Call then pauses the upstream
  // until ResumeUpstream() is posted back to it.
  virtual bool Write(v1::StreamEvent event) = 0;
  // Ends the call exactly once (End or EndSlowCaller). `response` is used by
  // unary calls on OK. `pushback_ms` > 0 adds the grpc-retry-pushback-ms
  // trailer. A streaming caller that has not read the queued events by
  // server.stream_pause_timeout_ms later has its stream cancelled.
  virtual void End(const grpc::Status& status, v1::CompletionResponse response,
                   int64_t pushback_ms) = 0;
  // End for a streaming call whose caller stopped reading: events not yet
  // handed to gRPC are dropped, so the status follows the one being written.
  virtual void EndSlowCaller(const grpc::Status& status) { End(status, {}, 0); }
};

// What a Call needs from the process. Every pointer must outlive the Call.
struct CallEnv {
  Timers* timers = nullptr;  // backoff waits and the pause limit
  const Clock* clock = RealClock();
  Upstream* upstream = nullptr;
  Metrics* metrics = nullptr;
  BlockTable* blocks = nullptr;       // process-wide Retry-After and latency blocks
  LatencyTracker* latency = nullptr;  // process-wide slow-answer counters
  int64_t max_response_bytes = 64 << 20;
  absl::Duration stream_pause_timeout = absl::Seconds(30);
  // Every configured credential (codec/redact.h), taken out of upstream
  // error bodies and headers before they reach the caller or a log line.
  std::shared_ptr<const std::vector<std::string>> secrets;
  // Per-provider retry budgets of the config the call runs with; null when
  // server.retry_budget is disabled. Shared: a reload swaps in a new set
  // while calls keep theirs.
  std::shared_ptr<RetryBudgets> retry_budgets;
  // The process's hedge budget (server.hedge_budget); null when disabled.
  std::shared_ptr<RetryBudget> hedge_budget;
  // Which front end the call came through, for rebound_requests_total.
  std::string_view api = "grpc";
  // The caller understands StreamReset (gRPC). Plain SSE (the HTTP front
  // door) cannot take back events: there, a stream that fails after events
  // reached the caller ends the call instead of failing over.
  bool stream_resets = true;
};

// Hedging (retry_policy.hedge): while the attempt a decision started has
// not answered for hedge.after_ms, a second attempt (the hedge) may run
// beside it. The first of the two to answer (a 2xx body byte; for an event
// stream its first event past Anthropic's message_start / content_block_start
// / ping preamble) wins and becomes the call's attempt; the other is
// cancelled. Until then neither forwards anything, so a streaming caller
// only ever sees the winner's events. A racer that fails is recorded and the
// other runs on alone.
class Call : public std::enable_shared_from_this<Call> {
 public:
  // `request` passed ValidateRequest against `config`. `deadline` is the
  // caller's gRPC deadline (InfiniteFuture when none).
  Call(CallEnv env, std::shared_ptr<const Config> config, ValidatedRequest request,
       bool streaming, absl::Time deadline, CallOutput* output);
  ~Call();

  // Starts the first attempt (or waits first, as RetryState decides).
  void Start();
  // The caller cancelled or its deadline passed.
  void Cancel();
  // The caller's queue drained after Write() returned false.
  void ResumeUpstream();


 private:
  // One upstream attempt; it is the handler of its own transfer.
  struct Attempt;

  // The transfer callbacks of `a` (the attempt, the hedge racing it, or a
  // race's loser being cancelled).
  void OnHeaders(Attempt& a, int http_status, HttpHeaders headers);
  bool OnBody(Attempt& a, std::string_view chunk);
  void OnDone(Attempt& a, const TransferResult& result);

  void Execute(const Decision& decision);
  void ResetStreamIfNeeded(const Decision& decision);
  void LogAttempt(const AttemptResult& result, const Attempt* a) const;
  void StartAttempt(const Decision& decision, absl::Duration waited);
  // A new attempt at `target`, its transfer started; null (after ending the
  // call) when the request cannot be built for the target.
  std::unique_ptr<Attempt> Launch(const ModelProvider* target, absl::Duration waited,
                                  absl::Time attempt_end, TimeoutKind attempt_end_kind, bool hedge);
  // Hedging: the timer, its firing, the first answer of a racer, and the
  // loser's cancellation (outside libcurl's callbacks, which must not remove
  // a transfer).
  void ArmHedgeTimer();
  void OnHedgeTimer();
  void OnFirstAnswer(Attempt& a);
  void CancelLoser();
  void FinishLoser();
  // `a` (one of two racers) failed before answering; the other runs on.
  void OnRacerFailed(Attempt& a, const TransferResult& transfer);
  // Runs the pending events of an event-stream answer through the tracker
  // and, for streaming calls, forwards them. False when the provider
  // reported a failure in the stream (the transfer is then aborted).
  bool HandleEvents();
  // One event for the caller: forwarded to a streaming caller (announcing
  // the attempt first), appended to the translated body of a unary one.
  void Emit(std::string event, std::string data, std::string id);
  // Translates a 2xx JSON answer of another API in place; false when it is
  // not an answer of that API.
  bool TranslateAnswerBody();
  // At the clean end of a translated stream: what the caller's API still
  // needs (translate/stream.h Finish).
  void FinishTranslatedStream();
  void OnPauseTimeout();
  // `text` without any credential rebound knows of (codec/redact.h).
  std::string Redacted(std::string_view text) const;
  AttemptResult Classify(Attempt& a, const TransferResult& transfer);
  void Deliver();
  // `exhausted`: the retry engine's verdict (JSON, pushback), or null; then
  // `pushback_ms` (> 0) tells the caller when to come back.
  void FinishWithError(grpc::StatusCode code, v1::ErrorReason reason, std::string message,
                       const AttemptResult* last, const Decision* exhausted = nullptr,
                       int64_t pushback_ms = 0);
  void FinishOk(v1::CompletionResponse response);
  // `slow_caller`: ends through CallOutput::EndSlowCaller.
  void EndCall(const grpc::Status& status, v1::CompletionResponse response, int64_t pushback_ms,
               std::string_view outcome, bool slow_caller = false);
  void FillAttemptRecords(google::protobuf::RepeatedPtrField<v1::AttemptRecord>* out) const;
  void FillSkipped(google::protobuf::RepeatedPtrField<v1::SkippedCandidate>* out) const;
  // The upstream body of the error detail, in the caller's API when the
  // attempt was translated (the raw body then goes to upstream_body_raw).
  void FillErrorBody(std::string_view raw, int http_status, v1::ErrorDetail* detail) const;

  CallEnv env_;
  std::shared_ptr<const Config> config_;
  bool streaming_;
  CallOutput* output_;  // null once the call has ended
  std::string model_label_;
  absl::Time deadline_;  // the caller's
  // When rebound ends the call itself: the deadline less a margin, so that
  // the caller gets the full error detail instead of a bare
  // DEADLINE_EXCEEDED from its own gRPC library.
  absl::Time end_by_;
  CallerRequest caller_;
  std::string body_;  // owned copy: the call may outlive the gRPC request
  std::optional<ApiBridge> bridge_;  // always set; reads caller_
  std::vector<translate::CallerEvent> translated_events_;  // reused per upstream event
  std::optional<RetryState> retry_;  // always set; optional for in-place construction

  // The attempt whose answer counts (before a race is decided: the one the
  // decision started), the hedge racing it, and a race's loser until its
  // transfer is cancelled.
  std::unique_ptr<Attempt> attempt_;
  std::unique_ptr<Attempt> racer_;
  std::unique_ptr<Attempt> loser_;
  Timers::TimerId wait_timer_ = 0;
  Timers::TimerId hedge_timer_ = 0;
  Timers::TimerId loser_timer_ = 0;
  Timers::TimerId pause_timer_ = 0;  // armed exactly while paused_
  bool events_sent_ = false;  // some event of some attempt reached the caller
  bool paused_ = false;

  MonoTime started_ = 0;
  absl::Duration upstream_time_ = absl::ZeroDuration();  // excluded from overhead
};

}  // namespace rebound

#endif  // REBOUND_GATEWAY_CALL_H_
