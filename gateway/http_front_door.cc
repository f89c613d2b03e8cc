#include "gateway/http_front_door.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/call.h"
#include "gateway/error_status.h"
#include "gateway/request_validation.h"

namespace rebound {
namespace {

using translate::Api;

constexpr std::string_view kJson = "application/json";

bool UsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

void Answer(http::Exchange& exchange, HttpAnswer answer, std::string_view request_id = "") {
  answer.headers.emplace_back("Content-Type", std::string(kJson));
  if (!request_id.empty()) answer.headers.emplace_back("x-request-id", std::string(request_id));
  exchange.Respond(answer.status, std::move(answer.headers), std::move(answer.body));
}

// One event in SSE framing: a multi-line data field becomes several data:
// lines, as the SSE format defines.
void AppendSseEvent(const v1::SseEvent& e, std::string* out) {
  if (!e.event().empty()) absl::StrAppend(out, "event: ", e.event(), "\n");
  std::string_view data = e.data();
  while (true) {
    size_t nl = data.find('\n');
    out->append("data: ").append(data.substr(0, nl)).append("\n");
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
  if (!e.id().empty()) absl::StrAppend(out, "id: ", e.id(), "\n");
  out->push_back('\n');
}

// The Call's output for one HTTP request: events become SSE chunks, the end
// becomes the HTTP answer. Lives until the Call ends it (it keeps itself),
// all on the connection's loop thread, like the Call.
class HttpCallOutput final : public CallOutput,
                             public std::enable_shared_from_this<HttpCallOutput> {
 public:
  HttpCallOutput(GatewayCore* core, std::shared_ptr<http::Exchange> exchange, Api api,
                 std::string request_id)
      : core_(core), exchange_(std::move(exchange)), api_(api), request_id_(std::move(request_id)) {}

  // Starts `call` with this as its output.
  void Run(std::shared_ptr<Call> call) {
    self_ = shared_from_this();
    call_ = call;
    std::weak_ptr<HttpCallOutput> weak = weak_from_this();
    // Both posted by the connection, never from inside the Call.
    exchange_->SetOnGone([weak] {
      if (auto self = weak.lock(); self && self->call_) self->call_->Cancel();
    });
    exchange_->SetOnWritable([weak, loop = exchange_->loop()] {
      loop->Post([weak] {
        if (auto self = weak.lock(); self && self->call_) self->call_->ResumeUpstream();
      });
    });
    call->Start();
  }

  bool Write(v1::StreamEvent event) override {
    switch (event.event_case()) {
      case v1::StreamEvent::kAttemptStarted: {
        const v1::AttemptStarted& s = event.attempt_started();
        served_model_ = s.model();
        attempts_ = s.attempt();
        if (head_sent_) return true;
        head_sent_ = true;
        HttpHeaders headers = {{"Content-Type", "text/event-stream"},
                               {"Cache-Control", "no-cache"}};
        AddCallHeaders(&headers);
        exchange_->StartStream(s.http_status() >= 200 && s.http_status() < 300 ? s.http_status()
                                                                                : 200,
                               std::move(headers));
        return true;
      }
      case v1::StreamEvent::kData: {
        std::string sse;
        AppendSseEvent(event.data(), &sse);
        return exchange_->WriteChunk(sse);
      }
      default:
        // StreamEnd: its facts are in the headers already; a reset cannot
        // happen (CallEnv::stream_resets is false).
        return true;
    }
  }

  void End(const grpc::Status& status, v1::CompletionResponse response,
           int64_t /*pushback_ms: in the detail*/) override {
    if (status.ok() && head_sent_) {
      exchange_->EndStream();
    } else if (status.ok()) {
      served_model_ = response.served_model();
      attempts_ = response.attempts_size();
      HttpHeaders headers;
      bool has_type = false;
      for (const v1::Header& h : response.headers()) {
        if (EqualsIgnoreCase(h.name(), "x-request-id")) continue;
        has_type = has_type || EqualsIgnoreCase(h.name(), "content-type");
        headers.emplace_back(h.name(), h.value());
      }
      if (!has_type) headers.emplace_back("Content-Type", std::string(kJson));
      AddCallHeaders(&headers);
      exchange_->Respond(response.http_status(), std::move(headers),
                         std::move(*response.mutable_body()));
    } else {
      v1::ErrorDetail detail = ErrorDetailOf(status);
      if (head_sent_) {
        // Plain SSE cannot take events back: the API's own error event, and
        // never the clean end marker.
        std::string event = StreamErrorEvent(api_, status.error_message(), detail);
        if (!event.empty()) exchange_->WriteChunk(event);
        exchange_->EndStream(/*abort=*/event.empty());
      } else {
        attempts_ = detail.attempts_size();
        HttpAnswer answer = CallErrorAnswer(api_, status.error_code(), status.error_message(), detail);
        answer.headers.emplace_back("Content-Type", std::string(kJson));
        AddCallHeaders(&answer.headers);
        exchange_->Respond(answer.status, std::move(answer.headers), std::move(answer.body));
      }
    }
    Release();
  }

  void EndSlowCaller(const grpc::Status&) override {
    // The client read nothing for server.stream_pause_timeout_ms: cut it off.
    exchange_->EndStream(/*abort=*/true);
    Release();
  }

 private:
  void AddCallHeaders(HttpHeaders* headers) const {
    headers->emplace_back("x-request-id", request_id_);
    if (!served_model_.empty()) headers->emplace_back("x-rebound-served-model", served_model_);
    headers->emplace_back("x-rebound-attempts", std::to_string(attempts_));
  }

  void Release() {
    core_->CallEnded();
    exchange_->SetOnGone(nullptr);
    exchange_->SetOnWritable(nullptr);
    exchange_.reset();
    call_.reset();
    self_.reset();  // may delete this: last
  }

  GatewayCore* core_;
  std::shared_ptr<http::Exchange> exchange_;
  Api api_;
  std::string request_id_;
  std::shared_ptr<Call> call_;
  std::shared_ptr<HttpCallOutput> self_;  // from Run until End
  std::string served_model_;
  uint32_t attempts_ = 0;
  bool head_sent_ = false;
};

}  // namespace

void HttpFrontDoor::Handle(http::Request request, std::shared_ptr<http::Exchange> exchange) {
  const std::string path(request.path());
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  if (path == "/healthz") {
    if (!get) {
      Answer(*exchange, ErrorAnswer(Api::kOther, 405, "invalid_request_error", "method_not_allowed",
                                    "use GET /healthz"));
      return;
    }
    bool serving = !core_->draining();
    Answer(*exchange, HttpAnswer{serving ? 200 : 503, {},
                                 serving ? R"({"status":"SERVING"})" : R"({"status":"NOT_SERVING"})"});
    return;
  }
  if (!absl::StartsWith(path, "/v1/")) {
    Answer(*exchange, ErrorAnswer(Api::kOther, 404, "invalid_request_error", "not_found",
                                  absl::StrCat("no route for ", request.method, " ", path,
                                               "; rebound serves POST /v1/chat/completions, POST "
                                               "/v1/messages, other POST /v1/ paths and GET "
                                               "/v1/models")));
    return;
  }
  const Api api = translate::ApiOfPath(path);
  CallSettings settings = core_->Settings();
  if (settings.caller_tokens) {
    const char* message = nullptr;
    switch (settings.caller_tokens->Check(PresentedCredential(request.headers))) {
      case BearerTokens::Result::kAccepted:
        break;
      case BearerTokens::Result::kMissing:
        message = "this gateway requires a caller token: send `Authorization: Bearer <token>` "
                  "or `x-api-key: <token>`";
        break;
      case BearerTokens::Result::kNotBearer:
        message = "the Authorization header must use the Bearer scheme";
        break;
      case BearerTokens::Result::kRejected:
        message = "the caller token is not accepted by this gateway";
        break;
    }
    if (message != nullptr) {
      core_->metrics()->RecordUnauthenticated("http");
      if (post) core_->metrics()->RecordRequest("unknown", "unauthenticated", "http");
      Answer(*exchange, ErrorAnswer(api, 401, "invalid_request_error", "invalid_api_key", message));
      return;
    }
  }
  if (path == "/v1/models") {
    if (!get) {
      Answer(*exchange, ErrorAnswer(api, 405, "invalid_request_error", "method_not_allowed",
                                    "use GET /v1/models"));
      return;
    }
    Answer(*exchange, HttpAnswer{200, {}, ModelListBody(*settings.config)});
    return;
  }
  if (!post) {
    Answer(*exchange, ErrorAnswer(api, 405, "invalid_request_error", "method_not_allowed",
                                  absl::StrCat("use POST ", path)));
    return;
  }
  StartCall(std::move(request), std::move(exchange), api, std::move(settings));
}

void HttpFrontDoor::StartCall(http::Request request, std::shared_ptr<http::Exchange> exchange,
                              Api api, CallSettings settings) {
  Metrics* metrics = core_->metrics();
  std::string_view sent_id = FindHeader(request.headers, "x-request-id");
  std::string request_id =
      UsableRequestId(sent_id) ? std::string(sent_id) : core_->NewRequestId();
  // Counted first; every way out below uncounts it (CallEnded).
  if (std::optional<Refusal> refusal = core_->Admit(*settings.config)) {
    metrics->RecordRequest("unknown", RequestOutcome(refusal->reason), "http");
    v1::ErrorDetail detail;
    detail.set_reason(refusal->reason);
    detail.set_retry_pushback_ms(refusal->pushback_ms);
    detail.set_request_id(request_id);
    Answer(*exchange, CallErrorAnswer(api, refusal->code, refusal->message, detail), request_id);
    core_->CallEnded();
    return;
  }
  auto refuse = [&](HttpAnswer answer, std::string_view model, std::string_view outcome) {
    metrics->RecordRequest(model, outcome, "http");
    Answer(*exchange, std::move(answer), request_id);
    core_->CallEnded();
  };
  std::variant<BodyFacts, HttpAnswer> facts = ReadBodyFacts(request.body, api);
  if (auto* bad = std::get_if<HttpAnswer>(&facts)) {
    refuse(std::move(*bad), "unknown", "invalid_request");
    return;
  }
  const BodyFacts& body = std::get<BodyFacts>(facts);
  std::variant<const ModelProvider*, HttpAnswer> model =
      ResolveModel(*settings.config, body.model, api);
  if (auto* bad = std::get_if<HttpAnswer>(&model)) {
    refuse(std::move(*bad), "unknown", bad->status == 404 ? "unknown_model" : "invalid_request");
    return;
  }
  v1::CompletionRequest call_request;
  call_request.set_model(std::get<const ModelProvider*>(model)->model_id);
  call_request.set_path(request.target);
  call_request.set_request_id(request_id);
  *call_request.mutable_body() = std::move(request.body);
  for (auto& [name, value] : request.headers) {
    // The caller's token is rebound's, never the provider's.
    if (settings.caller_tokens && IsCredentialHeader(name)) continue;
    if (EqualsIgnoreCase(name, "x-request-id")) continue;
    v1::Header* h = call_request.add_headers();
    h->set_name(std::move(name));
    h->set_value(std::move(value));
  }
  std::variant<ValidatedRequest, RequestRejection> checked = ValidateRequest(
      call_request, *settings.config, settings.config->server.max_body_bytes, request_id);
  if (auto* rejected = std::get_if<RequestRejection>(&checked)) {
    v1::ErrorDetail detail;
    detail.set_reason(rejected->reason);
    detail.set_request_id(request_id);
    refuse(CallErrorAnswer(api, rejected->code, rejected->message, detail), rejected->model_label,
           RequestOutcome(rejected->reason));
    return;
  }
  UpstreamWorker* worker = core_->WorkerOn(exchange->loop());
  CallEnv env = core_->MakeEnv(settings, *worker, "http");
  env.stream_resets = false;
  auto output = std::make_shared<HttpCallOutput>(core_, exchange, api, request_id);
  auto call = std::make_shared<Call>(env, std::move(settings.config),
                                     std::get<ValidatedRequest>(std::move(checked)), body.stream,
                                     absl::InfiniteFuture(), output.get());
  output->Run(std::move(call));
}

}  // namespace rebound
