// The pieces call tests share: a scripted Upstream that plays the provider,
// a recording CallOutput that plays the gRPC side, and a fixture that runs a
// Call on them with a manual clock. No processes, sockets or sleeping.
#ifndef REBOUND_TESTS_UNIT_CALL_FIXTURE_H_
#define REBOUND_TESTS_UNIT_CALL_FIXTURE_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "blocks/block_table.h"
#include "gateway/call.h"
#include "gateway/metrics.h"
#include "gateway/request_validation.h"
#include "gmock/gmock.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "retry/latency_tracker.h"
#include "tests/unit/config_test_util.h"
#include "tests/unit/manual_time.h"
#include "upstream/upstream.h"

namespace rebound {

using testing::ManualTime;

// Plays the provider: records every transfer the Call starts and lets the
// test answer it. Holds Upstream's contract: no callback from inside Start,
// none after Cancel returned true.
class ScriptedUpstream final : public Upstream {
 public:
  struct Transfer {
    UpstreamRequest request;
    TransferHandler* handler = nullptr;
    AttemptCap cap;
    absl::Duration started_at;  // ManualTime::elapsed() at Start
    bool cancelled = false;
    bool done = false;
    bool paused = false;
    int pauses = 0;
    int resumes = 0;
    bool live() const { return !cancelled && !done; }
  };

  explicit ScriptedUpstream(const ManualTime* time) : time_(time) {}

  TransferId Start(UpstreamRequest request, TransferHandler* handler, AttemptCap cap) override {
    transfers_.push_back({std::move(request), handler, cap, time_->elapsed()});
    return transfers_.size();
  }
  bool Cancel(TransferId id) override {
    Transfer& t = at(id);
    if (!t.live()) return false;
    t.cancelled = true;
    return true;
  }
  void Pause(TransferId id) override {
    if (!at(id).live()) return;
    at(id).paused = true;
    ++at(id).pauses;
  }
  void Resume(TransferId id) override {
    if (!at(id).live()) return;
    at(id).paused = false;
    ++at(id).resumes;
  }

  size_t started() const { return transfers_.size(); }
  size_t live() const {
    size_t n = 0;
    for (const Transfer& t : transfers_) n += t.live();
    return n;
  }
  // The transfer the provider's side below acts on: the latest, unless
  // Use() chose another (hedge races run two at once).
  Transfer& last() { return use_ ? transfers_.at(*use_) : transfers_.back(); }
  Transfer& transfer(size_t i) { return transfers_.at(i); }
  void Use(size_t i) { use_ = i; }
  void UseLatest() { use_.reset(); }

  // The provider's side of the latest (or the chosen) transfer.
  void Headers(int status, HttpHeaders headers = {}) {
    ASSERT_TRUE(last().live());
    last().handler->OnHeaders(status, std::move(headers));
  }
  // False when the Call aborted the transfer.
  bool Body(std::string_view chunk) {
    EXPECT_TRUE(last().live());
    EXPECT_FALSE(last().paused) << "a paused transfer delivers no body";
    return last().handler->OnBody(chunk);
  }
  void Done(TransferResult result = {}) {
    ASSERT_TRUE(last().live());
    last().done = true;
    last().handler->OnDone(result);
  }
  void Answer(int status, std::string_view body, HttpHeaders headers = {}) {
    headers.emplace_back("content-type", "application/json");
    Headers(status, std::move(headers));
    if (!last().live()) return;
    if (!body.empty() && !Body(body)) {
      TransferResult aborted;
      aborted.kind = TransferResult::Kind::kAborted;
      Done(aborted);
      return;
    }
    Done();
  }
  void Fail(TransferResult::Kind kind, std::string error_type) {
    TransferResult r;
    r.kind = kind;
    r.error = error_type;
    r.error_type = std::move(error_type);
    Done(r);
  }
  void TimeOut(TimeoutKind kind, int64_t ms) {
    TransferResult r;
    r.kind = TransferResult::Kind::kTimeout;
    r.timeout_kind = kind;
    r.timeout_ms = ms;
    Done(r);
  }

 private:
  Transfer& at(TransferId id) { return transfers_.at(id - 1); }

  const ManualTime* time_;
  std::optional<size_t> use_;
  // A deque: the Call starts the next transfer from inside OnDone, and
  // references to earlier ones must stay valid.
  std::deque<Transfer> transfers_;
};

// Plays the gRPC reactor.
class RecordingOutput final : public CallOutput {
 public:
  bool Write(v1::StreamEvent event) override {
    EXPECT_EQ(ends, 0) << "a write after the end";
    events.push_back(std::move(event));
    return accept_writes;
  }
  void End(const grpc::Status& s, v1::CompletionResponse r, int64_t pushback) override {
    ++ends;
    status = s;
    response = std::move(r);
    pushback_ms = pushback;
  }
  void EndSlowCaller(const grpc::Status& s) override {
    ++ends;
    status = s;
    slow_caller = true;
  }

  // The ErrorDetail packed into the status (error_status.h).
  v1::ErrorDetail detail() const {
    google::rpc::Status rpc;
    v1::ErrorDetail detail;
    EXPECT_TRUE(rpc.ParseFromString(status.error_details()));
    EXPECT_GT(rpc.details_size(), 0);
    if (rpc.details_size() > 0) {
      EXPECT_TRUE(rpc.details(0).UnpackTo(&detail));
    }
    return detail;
  }
  std::vector<std::string> DataEvents() const {
    std::vector<std::string> out;
    for (const v1::StreamEvent& e : events) {
      if (e.has_data()) out.push_back(e.data().data());
    }
    return out;
  }
  int Count(v1::StreamEvent::EventCase kind) const {
    int n = 0;
    for (const v1::StreamEvent& e : events) n += e.event_case() == kind;
    return n;
  }

  bool accept_writes = true;
  int ends = 0;
  bool slow_caller = false;
  grpc::Status status;
  v1::CompletionResponse response;
  int64_t pushback_ms = 0;
  std::vector<v1::StreamEvent> events;
};

// Two models of two providers; `policy` is gpt-4o's retry_policy (flow YAML),
// none when empty.
std::string TwoModels(const std::string& policy, const std::string& gpt_extra = "") {
  return absl::StrCat(
      "model_providers:\n"
      "  - model: openai/gpt-4o\n"
      "    base_url: http://127.0.0.1:9\n"
      "    access_key: $OPENAI_API_KEY\n"
      "    default: true\n",
      gpt_extra, policy.empty() ? "" : absl::StrCat("    retry_policy: ", policy, "\n"),
      "  - model: mistral/mistral-large\n"
      "    base_url: http://127.0.0.2:9\n"
      "    access_key: $MISTRAL_API_KEY\n");
}

constexpr std::string_view kOkBody = R"({"id":"x","choices":[{"message":{"content":"hi"}}]})";

class CallTest : public ::testing::Test {
 protected:
  // A test may leave its call running; cancelling it releases the Call,
  // which keeps itself alive while a transfer can call back.
  void TearDown() override {
    if (call_) call_->Cancel();
    EXPECT_EQ(upstream_.live(), 0u) << "every transfer ended or was cancelled";
  }

  void Configure(const std::string& yaml) {
    LoadResult loaded = testing::Load(yaml);
    ASSERT_TRUE(loaded.ok()) << yaml << (loaded.diagnostics.empty()
                                             ? ""
                                             : loaded.diagnostics[0].ToString());
    config_ = loaded.config;
  }

  // Starts a call for `model` with `deadline` from now (none by default).
  void StartCall(bool streaming, absl::Duration deadline = absl::InfiniteDuration(),
                 std::string path = "") {
    v1::CompletionRequest request;
    request.set_model("openai/gpt-4o");
    request.set_path(path);
    request.set_body(R"({"model":"openai/gpt-4o","messages":[]})");
    if (streaming) request.set_body(R"({"model":"openai/gpt-4o","stream":true,"messages":[]})");
    absl::Time end = deadline == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                          : time_.Now() + deadline;
    call_ = MakeCall(request, streaming, end);
    call_->Start();
  }

  // A Call of `request` on the scripted upstream and the manual clock.
  std::shared_ptr<Call> MakeCall(const v1::CompletionRequest& request, bool streaming,
                                 absl::Time deadline) {
    auto checked = ValidateRequest(request, *config_, 1 << 20, "rb-test");
    EXPECT_TRUE(std::holds_alternative<ValidatedRequest>(checked));
    CallEnv env;
    env.timers = &time_;
    env.clock = &time_;
    env.upstream = &upstream_;
    env.metrics = &metrics_;
    env.blocks = &blocks_;
    env.latency = &latency_;
    env.stream_pause_timeout = kPauseTimeout;
    env.max_response_bytes = kMaxResponseBytes;
    env.hedge_budget = hedge_budget_;
    return std::make_shared<Call>(env, config_, std::get<ValidatedRequest>(std::move(checked)),
                                  streaming, deadline, &output_);
  }

  // One SSE event of a chat stream.
  static std::string Chunk(const std::string& content) {
    return absl::StrCat(R"(data: {"choices":[{"delta":{"content":")", content, R"("}}]})",
                        "\n\n");
  }
  void StreamHeaders() { upstream_.Headers(200, {{"content-type", "text/event-stream"}}); }

  static constexpr absl::Duration kPauseTimeout = absl::Seconds(7);
  static constexpr int64_t kMaxResponseBytes = 64 << 10;

  ManualTime time_;
  ScriptedUpstream upstream_{&time_};
  Metrics metrics_;
  BlockTable blocks_;
  LatencyTracker latency_;
  RecordingOutput output_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<RetryBudget> hedge_budget_;  // null: hedges are not budgeted
  std::shared_ptr<Call> call_;
};

}  // namespace rebound

#endif  // REBOUND_TESTS_UNIT_CALL_FIXTURE_H_
