#include "gateway/gateway_service.h"

#include <deque>
#include <string>
#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "codec/redact.h"
#include "gateway/call.h"
#include "gateway/caller_auth.h"
#include "gateway/error_status.h"
#include "gateway/request_validation.h"

namespace rebound {
namespace {

// A streaming caller may fall this far behind its upstream before the
// upstream is paused.
constexpr size_t kMaxQueuedStreamBytes = 256 << 10;

}  // namespace

class GatewayService::UnaryReactor final : public grpc::ServerUnaryReactor, public CallOutput {
 public:
  UnaryReactor(GatewayService* service, grpc::CallbackServerContext* context,
               v1::CompletionResponse* response)
      : service_(service), context_(context), response_(response) {}

  void Bind(std::shared_ptr<Call> call, EventLoop* loop) {
    call_ = std::move(call);
    loop_ = loop;
  }

  // CallOutput (on the call's loop thread):
  bool Write(v1::StreamEvent) override { return true; }
  void End(const grpc::Status& status, v1::CompletionResponse response,
           int64_t pushback_ms) override {
    if (status.ok()) *response_ = std::move(response);
    if (pushback_ms > 0) {
      context_->AddTrailingMetadata("grpc-retry-pushback-ms", std::to_string(pushback_ms));
    }
    Finish(status);
  }

  // gRPC reactions. Both only post a task or free memory, so gRPC may run
  // them on the thread that completed the call instead of handing OnDone to
  // its executor: that hand-off cost a thread wake-up per call.
  bool InternalInlineable() override { return true; }
  void OnCancel() override {
    if (call_) loop_->Post([call = call_] { call->Cancel(); });
  }
  void OnDone() override {
    service_->core_->CallEnded();
    // The Call may go on this thread: the loop holds its own reference
    // whenever it runs Call code (a posted task, a timer, a live transfer).
    call_.reset();
    delete this;
  }

 private:
  GatewayService* service_;
  grpc::CallbackServerContext* context_;
  v1::CompletionResponse* response_;
  std::shared_ptr<Call> call_;
  EventLoop* loop_ = nullptr;
};

class GatewayService::StreamReactor final : public grpc::ServerWriteReactor<v1::StreamEvent>,
                                            public CallOutput {
 public:
  StreamReactor(GatewayService* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context) {}

  // `linger`: how long a caller that reads nothing may hold a finished
  // call's stream (server.stream_pause_timeout_ms).
  void Bind(std::shared_ptr<Call> call, EventLoop* loop, absl::Duration linger) {
    call_ = std::move(call);
    loop_ = loop;
    linger_ = linger;
  }

  bool Write(v1::StreamEvent event) override {
    const v1::StreamEvent* to_start = nullptr;
    bool below_limit;
    {
      absl::MutexLock lock(&mu_);
      if (broken_) return true;  // the caller is gone; OnCancel follows
      queued_bytes_ += event.ByteSizeLong();
      queue_.push_back(std::move(event));
      if (!writing_) {
        writing_ = true;
        to_start = &queue_.front();
      }
      below_limit = queued_bytes_ < kMaxQueuedStreamBytes;
      if (!below_limit) wants_resume_ = true;
    }
    if (to_start != nullptr) StartWrite(to_start);
    return below_limit;
  }

  void End(const grpc::Status& status, v1::CompletionResponse, int64_t pushback_ms) override {
    if (pushback_ms > 0) {
      context_->AddTrailingMetadata("grpc-retry-pushback-ms", std::to_string(pushback_ms));
    }
    FinishAfterQueue(status, /*drop_queued=*/false);
  }

  void EndSlowCaller(const grpc::Status& status) override {
    FinishAfterQueue(status, /*drop_queued=*/true);
  }

  void OnWriteDone(bool ok) override {
    const v1::StreamEvent* next = nullptr;
    std::optional<grpc::Status> finish;
    bool resume = false;
    {
      absl::MutexLock lock(&mu_);
      queued_bytes_ -= queue_.front().ByteSizeLong();
      queue_.pop_front();
      if (!ok) {
        broken_ = true;
        queue_.clear();
        queued_bytes_ = 0;
      }
      if (!queue_.empty()) {
        next = &queue_.front();
      } else {
        writing_ = false;
        finish = std::move(final_status_);
        final_status_.reset();
      }
      if (wants_resume_ && queued_bytes_ < kMaxQueuedStreamBytes / 2) {
        wants_resume_ = false;
        resume = true;
      }
    }
    if (next != nullptr) StartWrite(next);
    if (finish) Finish(*finish);
    if (resume && call_) loop_->Post([call = call_] { call->ResumeUpstream(); });
  }

  void OnCancel() override {
    if (call_) loop_->Post([call = call_] { call->Cancel(); });
  }
  void OnDone() override {
    canceller_->Disarm();
    service_->core_->CallEnded();
    call_.reset();  // see UnaryReactor::OnDone
    delete this;
  }

 private:
  // Cancels the RPC from a loop timer unless it is done by then: OnDone
  // disarms it under the same lock, so the context is never used after it.
  class Canceller {
   public:
    explicit Canceller(grpc::CallbackServerContext* context) : context_(context) {}
    void Cancel() {
      absl::MutexLock lock(&mu_);
      if (context_ != nullptr) context_->TryCancel();
    }
    void Disarm() {
      absl::MutexLock lock(&mu_);
      context_ = nullptr;
    }

   private:
    absl::Mutex mu_;
    grpc::CallbackServerContext* context_ ABSL_GUARDED_BY(mu_);
  };

  // On the call's loop thread. Finishes now when no write is in flight;
  // else after the queue is written (`drop_queued`: after the event gRPC is
  // writing; the rest is dropped), from OnWriteDone. Either way, a caller that
  // reads nothing for linger_ more has its stream cancelled, so that it holds
  // neither a gRPC stream nor an in-flight slot.
  void FinishAfterQueue(const grpc::Status& status, bool drop_queued) {
    // Copied first: once final_status_ is published, OnWriteDone on a gRPC
    // thread may finish the call and delete this reactor at any moment.
    EventLoop* const loop = loop_;
    const std::shared_ptr<Canceller> canceller = canceller_;
    const absl::Duration linger = linger_;
    {
      absl::MutexLock lock(&mu_);
      if (writing_) {
        while (drop_queued && queue_.size() > 1) {
          queued_bytes_ -= queue_.back().ByteSizeLong();
          queue_.pop_back();
        }
        final_status_ = status;
      }
      if (final_status_) {
        // `this` must not be used past the lock from here.
        loop->AddTimerAfter(linger, [canceller] { canceller->Cancel(); });
        return;
      }
    }
    Finish(status);
  }

  GatewayService* service_;
  grpc::CallbackServerContext* context_;
  // TryCancel runs under the Canceller's lock, which OnDone takes too: safe
  // because gRPC never runs OnDone inline from TryCancel (reactions of the
  // callback API are never inlined into an API call).
  std::shared_ptr<Canceller> canceller_ = std::make_shared<Canceller>(context_);
  absl::Duration linger_ = absl::Seconds(30);
  std::shared_ptr<Call> call_;
  EventLoop* loop_ = nullptr;

  absl::Mutex mu_;
  std::deque<v1::StreamEvent> queue_ ABSL_GUARDED_BY(mu_);  // front() is being written
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool wants_resume_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> final_status_ ABSL_GUARDED_BY(mu_);
};

template <typename Reactor>
void GatewayService::Dispatch(Reactor* reactor, grpc::CallbackServerContext* context,
                              const v1::CompletionRequest& request, bool streaming) {
  CallSettings settings = core_->Settings();
  Metrics* metrics = core_->metrics();
  // Counted first (OnDone uncounts every reactor), refused after the
  // caller check.
  std::optional<Refusal> refusal = core_->Admit(*settings.config);
  // First, so an unauthenticated caller learns nothing else and causes no
  // upstream work.
  if (settings.caller_tokens) {
    if (std::optional<grpc::Status> refused = CheckCaller(*settings.caller_tokens, *context)) {
      metrics->RecordUnauthenticated(streaming ? "StreamComplete" : "Complete");
      metrics->RecordRequest("unknown", "unauthenticated", "grpc");
      reactor->End(*std::move(refused), {}, 0);
      return;
    }
  }
  if (refusal) {
    v1::ErrorDetail detail;
    detail.set_reason(refusal->reason);
    detail.set_retry_pushback_ms(refusal->pushback_ms);
    metrics->RecordRequest("unknown", RequestOutcome(refusal->reason), "grpc");
    reactor->End(MakeErrorStatus(refusal->code, refusal->message, detail), {},
                 refusal->pushback_ms);
    return;
  }
  std::variant<ValidatedRequest, RequestRejection> checked =
      ValidateRequest(request, *settings.config, settings.config->server.max_body_bytes,
                      request.request_id().empty() ? core_->NewRequestId() : std::string());
  if (auto* rejected = std::get_if<RequestRejection>(&checked)) {
    v1::ErrorDetail detail;
    detail.set_reason(rejected->reason);
    detail.set_request_id(rejected->request_id);
    metrics->RecordRequest(rejected->model_label, RequestOutcome(rejected->reason), "grpc");
    reactor->End(MakeErrorStatus(rejected->code, rejected->message, detail), {}, 0);
    return;
  }
  UpstreamWorker& worker = core_->NextWorker();
  CallEnv env = core_->MakeEnv(settings, worker, "grpc");
  absl::Time deadline = context->deadline() == std::chrono::system_clock::time_point::max()
                            ? absl::InfiniteFuture()
                            : absl::FromChrono(context->deadline());
  auto call = std::make_shared<Call>(env, std::move(settings.config),
                                     std::get<ValidatedRequest>(std::move(checked)), streaming,
                                     deadline, reactor);
  if constexpr (std::is_same_v<Reactor, StreamReactor>) {
    reactor->Bind(call, &worker.loop, env.stream_pause_timeout);
  } else {
    reactor->Bind(call, &worker.loop);
  }
  worker.loop.Post([call = std::move(call)] { call->Start(); });
}

grpc::ServerUnaryReactor* GatewayService::Complete(grpc::CallbackServerContext* context,
                                                   const v1::CompletionRequest* request,
                                                   v1::CompletionResponse* response) {
  auto* reactor = new UnaryReactor(this, context, response);
  Dispatch(reactor, context, *request, /*streaming=*/false);
  return reactor;
}

grpc::ServerWriteReactor<v1::StreamEvent>* GatewayService::StreamComplete(
    grpc::CallbackServerContext* context, const v1::CompletionRequest* request) {
  auto* reactor = new StreamReactor(this, context);
  Dispatch(reactor, context, *request, /*streaming=*/true);
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::ListModels(grpc::CallbackServerContext* context,
                                                     const v1::ListModelsRequest*,
                                                     v1::ListModelsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallSettings settings = core_->Settings();
  const std::shared_ptr<const Config>& config = settings.config;
  if (settings.caller_tokens) {
    if (std::optional<grpc::Status> refused = CheckCaller(*settings.caller_tokens, *context)) {
      core_->metrics()->RecordUnauthenticated("ListModels");
      reactor->Finish(*std::move(refused));
      return reactor;
    }
  }
  for (const ModelProvider& p : config->providers) {
    v1::ModelInfo* m = response->add_models();
    m->set_model_id(p.model_id);
    m->set_provider(p.provider);
    m->set_interface(std::string(ToString(p.interface)));
    m->set_is_default(p.is_default);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace rebound
