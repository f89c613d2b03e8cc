#include "gateway/call.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "codec/redact.h"
#include "common/log.h"
#include "common/utf8.h"
#include "gateway/error_status.h"
#include "translate/answer.h"
#include "translate/provider_error.h"

namespace rebound {
namespace {

// The error detail travels in gRPC trailers, which clients cap at 8-16 KiB.
constexpr size_t kMaxDetailBodyBytes = 4096;
// Error bodies are kept this much longer than what the detail carries, and
// cut after redaction: a key echoed across the cut must be redacted whole,
// not leak its first bytes.
constexpr size_t kRedactionMarginBytes = 1024;
constexpr size_t kKeptErrorBodyBytes = kMaxDetailBodyBytes + kRedactionMarginBytes;

// A redacted error body cut to the detail's size (upstream_body is bytes,
// so a cut inside a UTF-8 character is harmless).
std::string ForDetail(const std::string& redacted) {
  return redacted.substr(0, kMaxDetailBodyBytes);
}
// When a provider's connection limit refused the call: come back after
// about one typical LLM answer has freed a connection (the same pushback as
// the gateway's own in-flight limit).
constexpr int64_t kOverloadPushbackMs = 100;


// How long before the caller's deadline rebound ends the call itself, so
// that its answer (DEADLINE_EXCEEDED with the full ErrorDetail) reaches the
// caller before the caller's own gRPC library gives up: a tenth of the time
// the caller allowed, at most 100 ms (a loopback or LAN round trip plus
// scheduling delays on a loaded machine).
absl::Duration DeadlineMargin(absl::Duration allowed) {
  return std::clamp(allowed / 10, absl::ZeroDuration(), absl::Milliseconds(100));
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

std::string_view StatusClass(int status) {
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 400 && status < 500) return "4xx";
  if (status >= 500 && status < 600) return "5xx";
  return status == 0 ? "none" : "other";
}

// Response headers worth returning to the caller: everything but hop-by-hop
// fields and cookies.
bool IsReturnedHeader(std::string_view name) {
  for (std::string_view dropped : {"connection", "keep-alive", "transfer-encoding", "set-cookie",
                                   "content-length", "trailer", "upgrade"}) {
    if (EqualsIgnoreCase(name, dropped)) return false;
  }
  return true;
}

// The few upstream headers an error detail carries (it must stay small).
bool IsDetailHeader(std::string_view name) {
  for (std::string_view kept : {"retry-after", "retry-after-ms", "content-type", "x-request-id",
                                "request-id"}) {
    if (EqualsIgnoreCase(name, kept)) return true;
  }
  return StartsWithIgnoreCase(name, "x-ratelimit-") ||
         StartsWithIgnoreCase(name, "anthropic-ratelimit-");
}

// proto3 `string` fields must hold UTF-8 or the caller's parser rejects the
// whole message; an upstream's header, SSE event name or id may not be.
std::string Utf8Safe(std::string text) { return ToValidUtf8(std::move(text)); }

void CopyHeaders(const HttpHeaders& from, bool (*keep)(std::string_view),
                 google::protobuf::RepeatedPtrField<v1::Header>* to) {
  for (const auto& [name, value] : from) {
    if (!keep(name)) continue;
    v1::Header* h = to->Add();
    h->set_name(Utf8Safe(name));
    h->set_value(Utf8Safe(value));
  }
}

// The first `max` bytes of an error body for a log line, cut on a UTF-8
// boundary. Error bodies are provider messages, never request bodies; the
// caller redacts them first (providers echo keys).
// The SSE text of one event as the caller's API frames it.
void AppendSse(std::string_view event, std::string_view data, std::string* out) {
  if (!event.empty()) absl::StrAppend(out, "event: ", absl::string_view(event.data(), event.size()), "\n");
  absl::StrAppend(out, "data: ", absl::string_view(data.data(), data.size()), "\n\n");
}

std::string SafePreview(std::string_view body, size_t max) {
  if (body.size() <= max) return std::string(body);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;
  return std::string(body.substr(0, cut)) + "...";
}

// Whether `events` hold the start of an answer, for a hedge race: any event
// but the preamble Anthropic sends before the first token is generated.
bool HasAnswerEvent(const std::vector<SseEvent>& events) {
  for (const SseEvent& e : events) {
    if (e.event != "message_start" && e.event != "content_block_start" && e.event != "ping") {
      return true;
    }
  }
  return false;
}

}  // namespace

// The state of one attempt; the handler of its own transfer.
struct Call::Attempt : TransferHandler {
  // Why the Call stopped reading the response (OnBody returned false).
  enum class Abort { kNone, kTooLarge, kSseFraming, kStreamFailure, kUntranslatable };

  explicit Attempt(Call* c) : call(c) {}
  void OnHeaders(int http_status, HttpHeaders headers) override {
    call->OnHeaders(*this, http_status, std::move(headers));
  }
  bool OnBody(std::string_view chunk) override { return call->OnBody(*this, chunk); }
  // Nothing may touch the attempt after the Call's OnDone: it may be gone.
  void OnDone(const TransferResult& result) override { call->OnDone(*this, result); }

  Call* const call;
  Upstream::TransferId transfer = 0;
  // The Call itself while the upstream may still call this attempt back
  // (from Launch until OnDone, or until a Cancel removed the transfer): the
  // reactor drops its reference on a gRPC thread as soon as the caller is
  // answered, and the loop must never be left with a dangling handler.
  std::shared_ptr<Call> owner;
  bool hedge = false;     // started as a hedge of another attempt
  bool answered = false;  // its first answer byte (or answer event) came
  // Where the call's upstream time counts from: sent_at, or for the winner
  // of a race the earlier racer's sent_at (the overhead metric excludes it).
  MonoTime counted_from = 0;

  const ModelProvider* target = nullptr;
  // The API the upstream answers in; when it is not the caller's, the
  // request went translated and the answer is translated back.
  translate::Api answer_api = translate::Api::kOther;
  bool translated = false;
  std::vector<std::string> dropped_fields;
  bool include_usage = false;
  std::unique_ptr<translate::StreamTranslator> translator;  // translated event streams
  std::string translated_body;  // unary callers of a translated event stream
  absl::Duration waited = absl::ZeroDuration();
  AttemptCap cap;
  MonoTime sent_at = 0;
  MonoTime first_byte_at = 0;
  int http_status = 0;
  HttpHeaders headers;
  std::string body;  // buffered answers and error bodies
  bool body_truncated = false;
  // A 2xx event stream: parsed and judged for completeness; its events are
  // forwarded to streaming callers, and buffered whole for unary ones.
  bool sse = false;
  std::optional<SseParser> parser;
  std::optional<StreamTracker> tracker;
  std::vector<SseEvent> pending_events;
  Abort abort = Abort::kNone;
  bool started_sent = false;
  int events_forwarded = 0;  // sent to a streaming caller
};

Call::Call(CallEnv env, std::shared_ptr<const Config> config, ValidatedRequest request,
           bool streaming, absl::Time deadline, CallOutput* output)
    : env_(env),
      config_(std::move(config)),
      streaming_(streaming),
      output_(output),
      model_label_(request.primary->model_id),
      deadline_(deadline) {
  started_ = env_.clock->Mono();
  absl::Time now = env_.clock->Now();
  end_by_ = deadline_ == absl::InfiniteFuture()
                ? deadline_
                : deadline_ - DeadlineMargin(std::max(deadline_ - now, absl::ZeroDuration()));
  body_ = std::move(request.body);
  caller_.path = std::move(request.path);
  caller_.body = body_;
  caller_.request_id = std::move(request.request_id);
  caller_.headers = std::move(request.headers);
  bridge_.emplace(&caller_, request.primary);

  RetryState::Options retry_options;
  retry_options.narrowing = std::move(request.narrowing);
  retry_options.global_blocks = env_.blocks;
  retry_options.latency = env_.latency;
  retry_options.deadline = end_by_;
  retry_options.retry_budget = env_.retry_budgets.get();
  retry_options.hedge_budget = env_.hedge_budget.get();
  retry_options.candidate_filter = [this](const ModelProvider& target) {
    std::string reason = bridge_->SkipReason(target);
    if (absl::StartsWith(reason, "not_translatable")) {
      env_.metrics->RecordTranslation(translate::ToString(bridge_->caller_api()),
                                      translate::ToString(bridge_->AnswerApi(target)),
                                      "not_translatable");
    }
    return reason;
  };
  retry_.emplace(config_.get(), request.primary, std::move(retry_options));
}

Call::~Call() = default;

void Call::Start() {
  if (output_ == nullptr) return;  // cancelled before it started
  Execute(retry_->Begin(env_.clock->Now()));
}

void Call::Cancel() {
  if (output_ == nullptr) return;
  // True: the upstream will not call back (upstream/upstream.h), so the
  // Call no longer needs to keep itself alive for it.
  for (Attempt* a : {attempt_.get(), racer_.get(), loser_.get()}) {
    if (a != nullptr && a->transfer != 0 && env_.upstream->Cancel(a->transfer)) a->owner.reset();
    if (a != nullptr) a->transfer = 0;
  }
  for (Timers::TimerId* timer : {&wait_timer_, &pause_timer_, &hedge_timer_, &loser_timer_}) {
    if (*timer != 0) env_.timers->CancelTimer(*timer);
    *timer = 0;
  }
  EndCall(grpc::Status(grpc::StatusCode::CANCELLED, "the caller cancelled or its deadline passed"),
          {}, 0, "cancelled");
}

void Call::ResumeUpstream() {
  if (!paused_ || attempt_ == nullptr || attempt_->transfer == 0) return;
  paused_ = false;
  if (pause_timer_ != 0) env_.timers->CancelTimer(pause_timer_);
  pause_timer_ = 0;
  env_.upstream->Resume(attempt_->transfer);
}

void Call::OnPauseTimeout() {
  pause_timer_ = 0;
  if (!paused_ || output_ == nullptr) return;
  // The caller left its queue full for the whole bound: release the
  // upstream transfer (and its connection slot) rather than hold it for a
  // caller that may never read again.
  if (attempt_->transfer != 0 && env_.upstream->Cancel(attempt_->transfer)) attempt_->owner.reset();
  attempt_->transfer = 0;
  paused_ = false;
  upstream_time_ += absl::Nanoseconds(env_.clock->Mono() - attempt_->counted_from);
  const int64_t ms = absl::ToInt64Milliseconds(env_.stream_pause_timeout);
  env_.metrics->RecordStreamPauseTimeout(model_label_);
  LogInfo("caller_too_slow", {{"request_id", caller_.request_id},
                              {"model", attempt_ ? attempt_->target->model_id : model_label_},
                              {"paused_ms", std::to_string(ms)}});
  v1::ErrorDetail detail;
  detail.set_reason(v1::ERROR_REASON_CALLER_TOO_SLOW);
  detail.set_request_id(caller_.request_id);
  FillAttemptRecords(detail.mutable_attempts());
  EndCall(MakeErrorStatus(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("the caller read none of the stream for ", ms,
                                       " ms (server.stream_pause_timeout_ms); the upstream "
                                       "transfer was released"),
                          detail),
          {}, 0, "caller_too_slow", /*slow_caller=*/true);
}

std::string Call::Redacted(std::string_view text) const {
  static const std::vector<std::string> kNone;
  std::vector<std::string> secrets = env_.secrets ? *env_.secrets : kNone;
  // The caller's own credentials (passthrough_auth) must not reach a log
  // line either.
  for (const auto& [name, value] : caller_.headers) {
    if (!IsCredentialHeader(name)) continue;
    secrets.push_back(value);
    std::string_view v = value;
    if (size_t space = v.find(' '); space != std::string_view::npos) {
      secrets.emplace_back(v.substr(space + 1));
    }
  }
  return Redact(text, secrets);
}

void Call::Execute(const Decision& decision) {
  if (output_ == nullptr) return;
  // Each refusal in this decision is one retry not sent to that provider.
  for (const ModelProvider* refused : retry_->budget_denials()) {
    env_.metrics->RecordRetryBudgetSkip(refused->provider);
  }
  switch (decision.kind) {
    case Decision::Kind::kAttempt: {
      if (!env_.stream_resets && streaming_ && attempt_ != nullptr &&
          attempt_->events_forwarded > 0) {
        const AttemptResult& last = retry_->attempts().back();
        FinishWithError(grpc::StatusCode::UNAVAILABLE, v1::ERROR_REASON_STREAM_INTERRUPTED,
                        absl::StrCat("upstream ", last.target->model_id,
                                     ": the stream failed after ", attempt_->events_forwarded,
                                     " events reached the caller (", last.error_type,
                                     "); this API cannot reset a stream, so no other "
                                     "model was tried"),
                        &last);
        return;
      }
      if (!retry_->attempts().empty()) {
        const AttemptResult& last = retry_->attempts().back();
        env_.metrics->RecordRetry(model_label_, last.target->model_id, decision.target->model_id,
                                  absl::ToDoubleSeconds(decision.wait),
                                  decision.block_wait > decision.backoff ? "retry_after"
                                                                         : "backoff");
        ResetStreamIfNeeded(decision);
      } else if (decision.wait > absl::ZeroDuration()) {
        env_.metrics->RecordWait(absl::ToDoubleSeconds(decision.wait), "retry_after");
      }
      // The first attempt of a call is routine: logged at debug level only.
      LogLevel level = retry_->attempts().empty() ? LogLevel::kDebug : LogLevel::kInfo;
      if (LogEnabled(level)) {
        Log(level, "decision", {{"request_id", caller_.request_id},
                             {"action", "attempt"},
                             {"target", decision.target->model_id},
                             {"attempt", std::to_string(retry_->attempts().size() + 1)},
                             {"wait_ms", std::to_string(absl::ToInt64Milliseconds(decision.wait))}});
      }
      if (decision.wait <= absl::ZeroDuration()) {
        StartAttempt(decision, absl::ZeroDuration());
        return;
      }
      std::weak_ptr<Call> weak = weak_from_this();
      absl::Duration wait = decision.wait;
      upstream_time_ += wait;
      wait_timer_ = env_.timers->AddTimerAfter(wait, [weak, decision, wait] {
        if (auto self = weak.lock()) {
          self->wait_timer_ = 0;
          self->StartAttempt(decision, wait);
        }
      });
      return;
    }
    case Decision::Kind::kDeliver:
      Deliver();
      return;
    case Decision::Kind::kExhausted: {
      env_.metrics->RecordExhausted(model_label_, ToString(decision.end_reason));
      LogInfo("decision", {{"request_id", caller_.request_id},
                           {"action", "exhausted"},
                           {"reason", ToString(decision.end_reason)},
                           {"attempts", std::to_string(retry_->attempts().size())},
                           {"pushback_ms",
                            std::to_string(absl::ToInt64Milliseconds(decision.pushback))}});
      const AttemptResult* last =
          retry_->attempts().empty() ? nullptr : &retry_->attempts().back();
      bool stream_cut = last != nullptr && last->kind == AttemptResult::Kind::kStreamInterrupted;
      bool deadline_cut = last != nullptr && last->kind == AttemptResult::Kind::kTimeout &&
                          last->timeout_kind == TimeoutKind::kDeadline;
      FinishWithError(static_cast<grpc::StatusCode>(decision.code),
                      deadline_cut ? v1::ERROR_REASON_DEADLINE
                      : stream_cut ? v1::ERROR_REASON_STREAM_INTERRUPTED
                                   : v1::ERROR_REASON_RETRY_EXHAUSTED,
                      decision.message, last, &decision);
      return;
    }
  }
}

void Call::ResetStreamIfNeeded(const Decision& decision) {
  // The caller saw events of the attempt that just failed: tell it to
  // discard them before the next attempt streams from its beginning.
  if (!streaming_ || attempt_ == nullptr || attempt_->events_forwarded == 0) return;
  v1::StreamEvent reset;
  reset.mutable_reset()->set_next_attempt(static_cast<uint32_t>(retry_->attempts().size() + 1));
  reset.mutable_reset()->set_reason(absl::StrCat(retry_->attempts().back().error_type, "; next: ",
                                                 decision.target->model_id));
  output_->Write(std::move(reset));
}

void Call::LogAttempt(const AttemptResult& r, const Attempt* a) const {
  // A first attempt that succeeded is routine: debug level. Failures and
  // retries are what operators read, at info.
  bool routine = r.kind == AttemptResult::Kind::kSuccess && retry_->attempts().size() == 1 &&
                 r.error_type.empty();
  LogLevel level = routine ? LogLevel::kDebug : LogLevel::kInfo;
  if (!LogEnabled(level)) return;
  Log(level, "attempt", {{"request_id", caller_.request_id},
                      {"attempt", std::to_string(retry_->attempts().size())},
                      {"model", r.target->model_id},
                      {"outcome", OutcomeLabel(r.kind)},
                      {"http_status", std::to_string(r.http_status)},
                      {"error_type", r.error_type},
                      {"error_class", ToString(r.provider_error)},
                      {"hedge", r.hedge ? "true" : "false"},
                      {"ttfb_ms", std::to_string(absl::ToInt64Milliseconds(r.ttfb))},
                      {"duration_ms", std::to_string(absl::ToInt64Milliseconds(r.duration))},
                      {"error_preview",
                       r.kind == AttemptResult::Kind::kHttpError && a != nullptr
                           ? SafePreview(Redacted(a->body), 160)
                           : std::string()}});
}

void Call::StartAttempt(const Decision& decision, absl::Duration waited) {
  if (output_ == nullptr) return;
  std::unique_ptr<Attempt> a = Launch(decision.target, waited, decision.attempt_end,
                                      decision.attempt_end_kind, /*hedge=*/false);
  if (a == nullptr) return;
  attempt_ = std::move(a);
  ArmHedgeTimer();
}

std::unique_ptr<Call::Attempt> Call::Launch(const ModelProvider* target, absl::Duration waited,
                                            absl::Time attempt_end, TimeoutKind attempt_end_kind,
                                            bool hedge) {
  absl::StatusOr<ApiBridge::Outgoing> built = bridge_->Build(*target);
  if (!built.ok()) {
    // A hedge is an extra: without it the attempt it hedges runs on.
    if (!hedge) {
      FinishWithError(grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST,
                      std::string(built.status().message()), nullptr);
    }
    return nullptr;
  }
  auto a = std::make_unique<Attempt>(this);
  a->hedge = hedge;
  a->target = target;
  a->answer_api = bridge_->AnswerApi(*target);
  a->translated = bridge_->Translates(*target);
  a->dropped_fields = std::move(built->dropped_fields);
  a->include_usage = built->include_usage;
  a->waited = waited;
  a->sent_at = env_.clock->Mono();
  a->counted_from = a->sent_at;
  if (attempt_end != absl::InfiniteFuture()) {
    // The attempt may run until the call must end (deadline or
    // max_retry_duration_ms), whatever the provider's own timeouts say.
    absl::Duration left = std::max(attempt_end - env_.clock->Now(), absl::ZeroDuration());
    a->cap = AttemptCap{left, attempt_end_kind,
                        absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))};
  }
  a->owner = shared_from_this();
  a->transfer = env_.upstream->Start(std::move(built->request), a.get(), a->cap);
  return a;
}

void Call::ArmHedgeTimer() {
  if (hedge_timer_ != 0) env_.timers->CancelTimer(hedge_timer_);
  hedge_timer_ = 0;
  std::optional<absl::Duration> delay = retry_->HedgeDelay();
  if (!delay || attempt_ == nullptr || attempt_->answered || racer_ != nullptr) return;
  // Measured from the attempt's start: a survivor of a race re-arms late.
  absl::Duration left = std::max(
      *delay - absl::Nanoseconds(env_.clock->Mono() - attempt_->sent_at), absl::ZeroDuration());
  std::weak_ptr<Call> weak = weak_from_this();
  hedge_timer_ = env_.timers->AddTimerAfter(left, [weak] {
    if (auto self = weak.lock()) {
      self->hedge_timer_ = 0;
      self->OnHedgeTimer();
    }
  });
}

void Call::OnHedgeTimer() {
  if (output_ == nullptr || attempt_ == nullptr || attempt_->transfer == 0 || attempt_->answered ||
      racer_ != nullptr) {
    return;
  }
  RetryState::HedgeDecision h = retry_->Hedge(*attempt_->target, env_.clock->Now());
  if (h.target == nullptr) {
    if (h.refused_by_budget) {
      env_.metrics->RecordHedge(model_label_, "refused");
      LogInfo("hedge", {{"request_id", caller_.request_id},
                        {"action", "refused"},
                        {"reason", "server.hedge_budget"},
                        {"model", attempt_->target->model_id}});
    }
    return;
  }
  std::unique_ptr<Attempt> a = Launch(h.target, absl::ZeroDuration(), h.attempt_end,
                                      h.attempt_end_kind, /*hedge=*/true);
  if (a == nullptr) return;
  env_.metrics->RecordHedge(model_label_, "started");
  LogInfo("hedge", {{"request_id", caller_.request_id},
                    {"action", "started"},
                    {"model", attempt_->target->model_id},
                    {"target", h.target->model_id},
                    {"after_ms", std::to_string(absl::ToInt64Milliseconds(
                                     absl::Nanoseconds(a->sent_at - attempt_->sent_at)))}});
  racer_ = std::move(a);
}

void Call::OnFirstAnswer(Attempt& a) {
  a.answered = true;
  if (hedge_timer_ != 0) env_.timers->CancelTimer(hedge_timer_);
  hedge_timer_ = 0;
  if (racer_ == nullptr) return;
  // The race is decided: `a` is the call's attempt from now on.
  const bool original_won = &a == attempt_.get();
  std::unique_ptr<Attempt> winner = std::move(original_won ? attempt_ : racer_);
  std::unique_ptr<Attempt> loser = std::move(original_won ? racer_ : attempt_);
  winner->counted_from = std::min(winner->counted_from, loser->counted_from);
  // Recorded now, so that the caller's attempt records show it whenever the
  // answer ends.
  AttemptResult r;
  r.kind = AttemptResult::Kind::kHedgeLost;
  r.target = loser->target;
  r.hedge = loser->hedge;
  r.http_status = loser->http_status;
  r.wait_before = loser->waited;
  r.duration = absl::Nanoseconds(env_.clock->Mono() - loser->sent_at);
  env_.metrics->RecordAttempt(r.target->model_id, r.target->provider, OutcomeLabel(r.kind),
                              StatusClass(r.http_status), 0, absl::ToDoubleSeconds(r.duration));
  retry_->OnRacerDone(r, env_.clock->Now());
  LogAttempt(retry_->attempts().back(), loser.get());
  env_.metrics->RecordHedge(model_label_, winner->hedge ? "won" : "lost");
  // loser_ is empty: an earlier loser's cancellation is a 0 ms timer, due
  // before the hedge of any later attempt (after_ms >= 1) can start a race.
  loser_ = std::move(loser);
  attempt_ = std::move(winner);
  // This runs inside a libcurl callback, where a transfer must not be
  // removed: the loser is cancelled from the loop, and until then it stops
  // at its next callback (OnBody answers false).
  std::weak_ptr<Call> weak = weak_from_this();
  loser_timer_ = env_.timers->AddTimerAfter(absl::ZeroDuration(), [weak] {
    if (auto self = weak.lock()) {
      self->loser_timer_ = 0;
      self->CancelLoser();
    }
  });
}

void Call::CancelLoser() {
  if (loser_ == nullptr) return;
  // Either way the upstream will not call the loser back (upstream.h):
  // Cancel removed the transfer, or its OnDone already ran.
  if (loser_->transfer != 0) env_.upstream->Cancel(loser_->transfer);
  loser_->transfer = 0;
  FinishLoser();
}

void Call::FinishLoser() {
  if (loser_ == nullptr) return;
  std::unique_ptr<Attempt> loser = std::move(loser_);
  // Released last: the loser's reference may be the Call's last one.
  std::shared_ptr<Call> keep = std::move(loser->owner);
  loser.reset();
}

void Call::OnRacerFailed(Attempt& a, const TransferResult& transfer) {
  AttemptResult r = Classify(a, transfer);
  retry_->OnRacerDone(r, env_.clock->Now());
  if (a.hedge) env_.metrics->RecordHedge(model_label_, "failed");
  LogAttempt(retry_->attempts().back(), &a);
  // The other runs on alone; `a` is destroyed here, inside its own OnDone.
  std::unique_ptr<Attempt> survivor = std::move(&a == attempt_.get() ? racer_ : attempt_);
  survivor->counted_from = std::min(survivor->counted_from, a.counted_from);
  racer_.reset();
  attempt_ = std::move(survivor);
  ArmHedgeTimer();  // max_hedges permitting, the survivor may be hedged too
}

void Call::OnHeaders(Attempt& a, int http_status, HttpHeaders headers) {
  if (&a == loser_.get()) return;
  a.http_status = http_status;
  a.headers = std::move(headers);
  if (http_status >= 200 && http_status < 300 &&
      ContainsIgnoreCase(FindHeader(a.headers, "content-type"), "text/event-stream")) {
    a.sse = true;
    a.parser.emplace();
    // Completeness is judged on the upstream's own API (TRANSLATION.md).
    a.tracker.emplace(DialectForPath(a.translated ? translate::PathOf(a.answer_api)
                                                  : std::string_view(caller_.path)));
    if (a.translated) {
      translate::StreamOptions options;
      options.served_model = a.target->bare_model;
      options.created_unix_seconds = absl::ToUnixSeconds(env_.clock->Now());
      options.include_usage = a.include_usage;
      a.translator =
          translate::StreamTranslator::Create(a.answer_api, bridge_->caller_api(), options);
    }
  }
}

bool Call::OnBody(Attempt& a, std::string_view chunk) {
  if (&a == loser_.get()) return false;  // it lost a race: stop reading
  if (a.first_byte_at == 0) a.first_byte_at = env_.clock->Mono();
  if (a.http_status < 200 || a.http_status >= 300) {
    // An error body: only its start goes into the error detail.
    if (a.body.size() < kKeptErrorBodyBytes) {
      size_t room = kKeptErrorBodyBytes - a.body.size();
      a.body.append(chunk.substr(0, room));
      if (chunk.size() > room) a.body_truncated = true;
    } else {
      a.body_truncated = true;
    }
    return true;
  }
  if (!a.sse && !a.answered) OnFirstAnswer(a);
  if (!a.sse || !streaming_) {
    // The caller gets this answer in one piece: buffer it, within bounds.
    if (static_cast<int64_t>(a.body.size() + chunk.size()) > env_.max_response_bytes) {
      a.abort = Attempt::Abort::kTooLarge;
      return false;
    }
    a.body.append(chunk);
    if (!a.sse) return true;
  }
  if (absl::Status s = a.parser->Feed(chunk, &a.pending_events); !s.ok()) {
    a.abort = Attempt::Abort::kSseFraming;
    return false;
  }
  if (!a.answered) {
    if (HasAnswerEvent(a.pending_events)) {
      OnFirstAnswer(a);
    } else if (racer_ != nullptr || hedge_timer_ != 0) {
      // Held until it answers: a hedge may still win, and the caller must
      // see one attempt's events only.
      return true;
    }
  }
  return HandleEvents();
}

bool Call::HandleEvents() {
  Attempt& a = *attempt_;
  for (SseEvent& event : a.pending_events) {
    switch (a.tracker->Observe(event)) {
      case EventVerdict::kDropMalformed:
        env_.metrics->RecordMalformedEvent(a.target->model_id);
        continue;
      case EventVerdict::kFailure:
        // The provider says the answer failed: nothing after it counts.
        a.abort = Attempt::Abort::kStreamFailure;
        a.pending_events.clear();
        return false;
      case EventVerdict::kForward:
        break;
    }
    if (!a.translator) {
      if (streaming_) Emit(std::move(event.event), std::move(event.data), std::move(event.id));
      continue;  // a unary caller's body holds the stream as it came
    }
    translated_events_.clear();
    if (!a.translator->Translate(event.event, event.data, &translated_events_).ok()) {
      a.abort = Attempt::Abort::kUntranslatable;
      a.pending_events.clear();
      return false;
    }
    for (translate::CallerEvent& e : translated_events_) {
      Emit(std::move(e.event), std::move(e.data), std::string());
    }
  }
  a.pending_events.clear();
  return true;
}

void Call::Emit(std::string event, std::string data, std::string id) {
  Attempt& a = *attempt_;
  if (!streaming_) {
    AppendSse(event, data, &a.translated_body);
    return;
  }
  if (output_ == nullptr) return;
  if (!a.started_sent) {
    a.started_sent = true;
    v1::StreamEvent started;
    v1::AttemptStarted* s = started.mutable_attempt_started();
    s->set_attempt(static_cast<uint32_t>(retry_->attempts().size() + 1));
    s->set_model(a.target->model_id);
    s->set_provider(a.target->provider);
    s->set_http_status(a.http_status);
    CopyHeaders(a.headers, IsReturnedHeader, s->mutable_headers());
    output_->Write(std::move(started));
  }
  v1::StreamEvent out;
  v1::SseEvent* sse = out.mutable_data();
  sse->set_event(Utf8Safe(std::move(event)));
  sse->set_data(std::move(data));
  sse->set_id(Utf8Safe(std::move(id)));
  ++a.events_forwarded;
  events_sent_ = true;
  if (!output_->Write(std::move(out)) && !paused_ && a.transfer != 0) {
    paused_ = true;
    env_.upstream->Pause(a.transfer);
    std::weak_ptr<Call> weak = weak_from_this();
    pause_timer_ = env_.timers->AddTimerAfter(env_.stream_pause_timeout, [weak] {
      if (auto self = weak.lock()) self->OnPauseTimeout();
    });
  }
}

bool Call::TranslateAnswerBody() {
  Attempt& a = *attempt_;
  translate::AnswerOptions options;
  options.served_model = a.target->bare_model;
  options.created_unix_seconds = absl::ToUnixSeconds(env_.clock->Now());
  absl::StatusOr<std::string> answer =
      translate::TranslateAnswer(a.body, a.answer_api, bridge_->caller_api(), options);
  if (!answer.ok()) return false;
  a.body = *std::move(answer);
  return true;
}

void Call::FinishTranslatedStream() {
  Attempt& a = *attempt_;
  if (!a.translator) return;
  translated_events_.clear();
  a.translator->Finish(&translated_events_);
  for (translate::CallerEvent& e : translated_events_) {
    Emit(std::move(e.event), std::move(e.data), std::string());
  }
}

AttemptResult Call::Classify(Attempt& a, const TransferResult& transfer) {
  AttemptResult r;
  r.target = a.target;
  r.hedge = a.hedge;
  r.http_status = a.http_status;
  r.headers = a.headers;
  r.wait_before = a.waited;
  MonoTime now = env_.clock->Mono();
  r.duration = absl::Nanoseconds(now - a.sent_at);
  if (a.first_byte_at != 0) r.ttfb = absl::Nanoseconds(a.first_byte_at - a.sent_at);

  // RETRY.md 3.5: once the caller has some of the answer, any failure is an
  // interrupted stream; before that, an ordinary retriable failure. A unary
  // caller never has part of the answer, so an event stream that breaks is
  // judged exactly as a streaming call's that breaks before its first event.
  const bool after_events = a.events_forwarded > 0;
  auto broken = [&](std::string_view before_events_type) {
    r.kind = after_events ? AttemptResult::Kind::kStreamInterrupted
                          : AttemptResult::Kind::kTransportError;
    r.error_type = after_events ? "stream_interrupted" : std::string(before_events_type);
  };
  using Kind = TransferResult::Kind;
  switch (transfer.kind) {
    case Kind::kCompleted:
      if (a.http_status < 200 || a.http_status >= 300) {
        r.kind = AttemptResult::Kind::kHttpError;
        r.error_type = absl::StrCat("http_", a.http_status);
      } else if (a.sse && (!a.tracker->Complete() || a.parser->HasPartialEvent())) {
        broken("stream_incomplete");
      } else if (a.translated && !a.sse && !TranslateAnswerBody()) {
        // Not an answer of the upstream's API: another model may give one.
        r.kind = AttemptResult::Kind::kTransportError;
        r.error_type = "untranslatable_answer";
      } else {
        r.kind = AttemptResult::Kind::kSuccess;
      }
      break;
    case Kind::kTimeout:
      r.timeout_kind = transfer.timeout_kind;
      r.timeout_ms = transfer.timeout_ms;
      if (transfer.timeout_kind == TimeoutKind::kDeadline ||
          transfer.timeout_kind == TimeoutKind::kRetryBudget || !after_events) {
        // A cut by the deadline or the retry budget ends the call whatever
        // was sent: it stays a timeout of its kind.
        r.kind = AttemptResult::Kind::kTimeout;
        r.error_type = absl::StrCat("timeout_", transfer.timeout_ms, "ms");
      } else {
        broken("");
      }
      break;
    case Kind::kTransportError:
      broken(transfer.error_type);
      break;
    case Kind::kAborted:
      switch (a.abort) {
        case Attempt::Abort::kTooLarge:
          r.kind = AttemptResult::Kind::kResponseTooLarge;
          r.error_type = "response_too_large";
          break;
        case Attempt::Abort::kStreamFailure:
          broken("stream_error_event");
          break;
        case Attempt::Abort::kUntranslatable:
          broken("untranslatable_stream_event");
          break;
        case Attempt::Abort::kSseFraming:
        case Attempt::Abort::kNone:
          broken("sse_framing_error");
          break;
      }
      break;
    case Kind::kOverloaded:
      r.kind = AttemptResult::Kind::kOverloaded;
      r.error_type = transfer.error_type;
      break;
  }
  // What the provider said went wrong. A 2xx is read for a content-filter
  // refusal only when the policy routes refusals: the happy path never
  // parses an answer for it.
  if (r.kind == AttemptResult::Kind::kHttpError) {
    r.provider_error = ClassifyErrorAnswer(a.http_status, a.body);
  } else if (a.tracker && a.tracker->failed()) {
    r.provider_error = ClassifyStreamError(a.tracker->failure());
  } else if (r.kind == AttemptResult::Kind::kSuccess && !a.sse && retry_->policy() != nullptr &&
             retry_->policy()->RuleForError(ProviderErrorClass::kContentFilter) != nullptr) {
    r.provider_error = ClassifyRefusal(a.body);
  }
  if (r.provider_error != ProviderErrorClass::kNone) {
    env_.metrics->RecordProviderError(a.target->model_id, ToString(r.provider_error));
  }
  if (transfer.unprocessed_resends > 0) {
    env_.metrics->RecordUnprocessedResends(a.target->provider, transfer.unprocessed_resends);
  }
  if (a.translated) {
    const std::string from(translate::ToString(bridge_->caller_api()));
    const std::string to(translate::ToString(a.answer_api));
    r.translation = absl::StrCat(from, "->", to);
    r.dropped_fields = a.dropped_fields;
    std::string_view result = r.kind == AttemptResult::Kind::kSuccess ? "translated"
                              : absl::StartsWith(r.error_type, "untranslatable")
                                  ? "untranslatable_answer"
                                  : "upstream_failed";
    env_.metrics->RecordTranslation(from, to, result);
  }
  env_.metrics->RecordAttempt(a.target->model_id, a.target->provider, OutcomeLabel(r.kind),
                              StatusClass(a.http_status), absl::ToDoubleSeconds(r.ttfb),
                              absl::ToDoubleSeconds(r.duration));
  return r;
}

void Call::OnDone(Attempt& a, const TransferResult& result) {
  // Released when this returns: answering the caller below may drop the
  // reactor's reference on another thread at any moment.
  std::shared_ptr<Call> self = std::move(a.owner);
  a.transfer = 0;
  if (&a == loser_.get()) {
    FinishLoser();
    return;
  }
  if (output_ == nullptr) return;
  if (racer_ != nullptr) {
    // Neither racer has answered. A failure leaves the other to run on; a
    // complete 2xx without a first answer (an empty body) wins.
    const bool complete_2xx =
        result.kind == TransferResult::Kind::kCompleted && a.http_status >= 200 && a.http_status < 300;
    if (!complete_2xx) {
      OnRacerFailed(a, result);
      return;
    }
    OnFirstAnswer(a);
  }
  if (hedge_timer_ != 0) env_.timers->CancelTimer(hedge_timer_);
  hedge_timer_ = 0;
  if (a.sse) HandleEvents();  // what was held, or nothing; keeps the invariant
  paused_ = false;
  if (pause_timer_ != 0) env_.timers->CancelTimer(pause_timer_);
  pause_timer_ = 0;
  if (output_ == nullptr) return;
  upstream_time_ += absl::Nanoseconds(env_.clock->Mono() - a.counted_from);
  AttemptResult r = Classify(a, result);
  Decision decision = retry_->OnAttemptDone(r, env_.clock->Now());
  if (decision.kind == Decision::Kind::kAttempt) {
    LogAttempt(retry_->attempts().back(), attempt_.get());  // before attempt_ is replaced
    Execute(decision);
  } else {
    Execute(decision);  // the answer first, the log line after it
    LogAttempt(retry_->attempts().back(), attempt_.get());
  }
}

void Call::FillAttemptRecords(google::protobuf::RepeatedPtrField<v1::AttemptRecord>* out) const {
  if (!retry_) return;
  uint32_t n = 0;
  for (const AttemptResult& r : retry_->attempts()) {
    v1::AttemptRecord* rec = out->Add();
    rec->set_attempt(++n);
    rec->set_model(r.target->model_id);
    rec->set_provider(r.target->provider);
    rec->set_outcome(ProtoOutcome(r.kind));
    rec->set_http_status(r.http_status);
    rec->set_error_type(r.error_type);
    rec->set_wait_before_ms(Ms(r.wait_before));
    rec->set_ttfb_ms(Ms(r.ttfb));
    rec->set_duration_ms(Ms(r.duration));
    rec->set_translation(r.translation);
    rec->set_error_class(std::string(ToString(r.provider_error)));
    rec->set_hedge(r.hedge);
    for (const std::string& field : r.dropped_fields) rec->add_dropped_fields(field);
  }
}

void Call::FillSkipped(google::protobuf::RepeatedPtrField<v1::SkippedCandidate>* out) const {
  if (!retry_) return;
  for (const SkippedCandidate& s : retry_->skipped()) {
    v1::SkippedCandidate* c = out->Add();
    c->set_model(s.model->model_id);
    c->set_provider(s.model->provider);
    c->set_reason(Utf8Safe(s.reason));
  }
}

void Call::FillErrorBody(std::string_view raw, int http_status, v1::ErrorDetail* detail) const {
  // Redacted before it is translated or cut: both may move a key's bytes.
  std::string body = Redacted(raw);
  detail->set_upstream_body_truncated((attempt_ != nullptr && attempt_->body_truncated) ||
                                      body.size() > kMaxDetailBodyBytes);
  if (attempt_ == nullptr || !attempt_->translated) {
    detail->set_upstream_body(ForDetail(body));
    return;
  }
  // A cut body is no longer the upstream's JSON: translated, its start
  // becomes the message of a generic error in the caller's API.
  detail->set_upstream_body(ForDetail(translate::TranslateErrorBody(
      body, http_status, attempt_->answer_api, bridge_->caller_api())));
  detail->set_upstream_body_raw(ForDetail(body));
}

void Call::Deliver() {
  const AttemptResult& last = retry_->attempts().back();
  Attempt& a = *attempt_;
  if (last.kind != AttemptResult::Kind::kSuccess) {
    // The code follows the outcome (retry/attempt.h); the reason and the
    // message say more.
    auto code = static_cast<grpc::StatusCode>(GrpcCodeForFailure(last));
    v1::ErrorReason reason = v1::ERROR_REASON_UPSTREAM_ERROR;
    std::string message;
    int64_t pushback_ms = 0;
    const std::string& model = last.target->model_id;
    switch (last.kind) {
      case AttemptResult::Kind::kHttpError:
        message = absl::StrCat("upstream ", model, " answered HTTP ", last.http_status);
        break;
      case AttemptResult::Kind::kTimeout:
        if (last.timeout_kind == TimeoutKind::kDeadline) {
          reason = v1::ERROR_REASON_DEADLINE;
          message = absl::StrCat("the caller's deadline ended the attempt at ", model, " after ",
                                 last.timeout_ms, " ms");
        } else {
          message = absl::StrCat("upstream ", model, ": ",
                                 std::string(ToString(last.timeout_kind)), " timeout after ",
                                 last.timeout_ms, " ms");
        }
        break;
      case AttemptResult::Kind::kStreamInterrupted:
        reason = v1::ERROR_REASON_STREAM_INTERRUPTED;
        message = absl::StrCat("upstream ", model, ": the stream was interrupted after ",
                               a.events_forwarded, " events (", last.error_type,
                               "); discard the partial answer");
        break;
      case AttemptResult::Kind::kResponseTooLarge:
        reason = v1::ERROR_REASON_RESPONSE_TOO_LARGE;
        message = absl::StrCat("upstream ", model, " answered with more than ",
                               env_.max_response_bytes,
                               " bytes (server.max_response_bytes); the answer is not retried");
        break;
      case AttemptResult::Kind::kOverloaded:
        reason = v1::ERROR_REASON_OVERLOADED;
        message = absl::StrCat("gateway connection limit for provider ", last.target->provider,
                               " reached");
        pushback_ms = kOverloadPushbackMs;
        break;
      default:
        message = absl::StrCat("upstream ", model, ": ", last.error_type);
        break;
    }
    FinishWithError(code, reason, std::move(message), &last, nullptr, pushback_ms);
    return;
  }

  FinishTranslatedStream();
  if (streaming_) {
    if (!a.started_sent && output_ != nullptr) {
      // A stream without events (or a non-SSE answer): announce the attempt,
      // then hand over the body, if any, as one data event.
      a.started_sent = true;
      v1::StreamEvent started;
      v1::AttemptStarted* s = started.mutable_attempt_started();
      s->set_attempt(static_cast<uint32_t>(retry_->attempts().size()));
      s->set_model(a.target->model_id);
      s->set_provider(a.target->provider);
      s->set_http_status(a.http_status);
      CopyHeaders(a.headers, IsReturnedHeader, s->mutable_headers());
      output_->Write(std::move(started));
      if (!a.sse && !a.body.empty()) {
        v1::StreamEvent data;
        data.mutable_data()->set_data(std::move(a.body));
        output_->Write(std::move(data));
      }
    }
    v1::StreamEvent end;
    v1::StreamEnd* e = end.mutable_end();
    e->set_served_model(a.target->model_id);
    e->set_served_provider(a.target->provider);
    if (a.tracker) {
      e->set_usage(a.translated ? translate::TranslateUsage(a.tracker->usage_json(), a.answer_api,
                                                            bridge_->caller_api())
                                : a.tracker->usage_json());
    }
    FillAttemptRecords(e->mutable_attempts());
    FillSkipped(e->mutable_skipped());
    e->set_request_id(caller_.request_id);
    output_->Write(std::move(end));
    FinishOk({});
    return;
  }
  v1::CompletionResponse response;
  response.set_http_status(a.http_status);
  CopyHeaders(a.headers, IsReturnedHeader, response.mutable_headers());
  // A translated event stream reaches a unary caller as the caller's API
  // would have streamed it.
  response.set_body(a.translator ? std::move(a.translated_body) : std::move(a.body));
  response.set_served_model(a.target->model_id);
  response.set_served_provider(a.target->provider);
  FillAttemptRecords(response.mutable_attempts());
  FillSkipped(response.mutable_skipped());
  response.set_request_id(caller_.request_id);
  FinishOk(std::move(response));
}

void Call::FinishOk(v1::CompletionResponse response) {
  EndCall(grpc::Status::OK, std::move(response), 0, "ok");
}

void Call::FinishWithError(grpc::StatusCode code, v1::ErrorReason reason, std::string message,
                           const AttemptResult* last, const Decision* exhausted,
                           int64_t pushback_ms) {
  v1::ErrorDetail detail;
  detail.set_reason(reason);
  detail.set_request_id(caller_.request_id);
  detail.set_retry_pushback_ms(pushback_ms);
  if (exhausted != nullptr) {
    detail.set_retry_exhausted_json(exhausted->exhausted_json);
    detail.set_retry_pushback_ms(absl::ToInt64Milliseconds(exhausted->pushback));
  }
  if (last != nullptr) {
    detail.set_upstream_http_status(last->http_status);
    CopyHeaders(last->headers, IsDetailHeader, detail.mutable_upstream_headers());
    for (v1::Header& h : *detail.mutable_upstream_headers()) h.set_value(Redacted(h.value()));
    if (attempt_ && attempt_->http_status == last->http_status && !attempt_->sse) {
      FillErrorBody(attempt_->body, last->http_status, &detail);
    } else if (attempt_ && attempt_->tracker && attempt_->tracker->failed()) {
      // The provider's error event is the error body of a failed stream
      // (a server error, as far as the error type goes).
      FillErrorBody(attempt_->tracker->failure(), 500, &detail);
    }
  }
  FillAttemptRecords(detail.mutable_attempts());
  FillSkipped(detail.mutable_skipped());
  int64_t pushback = detail.retry_pushback_ms();
  EndCall(MakeErrorStatus(code, message, detail), {}, pushback, RequestOutcome(reason));
}

void Call::EndCall(const grpc::Status& status, v1::CompletionResponse response,
                   int64_t pushback_ms, std::string_view outcome, bool slow_caller) {
  if (output_ == nullptr) return;
  // The output may drop the last reference to this Call when it ends.
  std::shared_ptr<Call> keep = weak_from_this().lock();
  CallOutput* output = output_;
  output_ = nullptr;
  absl::Duration total = absl::Nanoseconds(env_.clock->Mono() - started_);
  // The caller's answer first; bookkeeping after it is off the latency path.
  if (slow_caller) {
    output->EndSlowCaller(status);
  } else {
    output->End(status, std::move(response), pushback_ms);
  }
  env_.metrics->RecordRequest(model_label_, outcome, env_.api);
  env_.metrics->RecordOverhead(absl::ToDoubleSeconds(std::max(total - upstream_time_,
                                                              absl::ZeroDuration())));
}

}  // namespace rebound
