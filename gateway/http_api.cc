#include "gateway/http_api.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codec/json_scan.h"
#include "translate/json.h"

namespace rebound {
namespace {

using translate::Api;

bool IsAnthropic(Api api) { return api == Api::kAnthropicMessages; }

// Anthropic's error type for an HTTP status (its API reference, "Errors").
std::string_view AnthropicType(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402:
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    default: return status < 500 ? "invalid_request_error" : "api_error";
  }
}

// OpenAI's error type and code for an error of rebound's own.
std::pair<std::string_view, std::string_view> OpenAiTypeAndCode(v1::ErrorReason reason) {
  switch (reason) {
    case v1::ERROR_REASON_INVALID_REQUEST: return {"invalid_request_error", ""};
    case v1::ERROR_REASON_UNKNOWN_MODEL: return {"invalid_request_error", "model_not_found"};
    case v1::ERROR_REASON_UNAUTHENTICATED: return {"invalid_request_error", "invalid_api_key"};
    case v1::ERROR_REASON_OVERLOADED: return {"rate_limit_error", "gateway_overloaded"};
    case v1::ERROR_REASON_SHUTTING_DOWN: return {"server_error", "shutting_down"};
    case v1::ERROR_REASON_DEADLINE: return {"timeout", "deadline_exceeded"};
    case v1::ERROR_REASON_STREAM_INTERRUPTED: return {"stream_interrupted", "stream_interrupted"};
    case v1::ERROR_REASON_RESPONSE_TOO_LARGE: return {"server_error", "response_too_large"};
    case v1::ERROR_REASON_RETRY_EXHAUSTED: return {"retry_exhausted", "retry_exhausted"};
    case v1::ERROR_REASON_CALLER_TOO_SLOW: return {"server_error", "caller_too_slow"};
    default: return {"upstream_error", "upstream_error"};
  }
}

int StatusForCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE: return 400;
    case grpc::StatusCode::UNAUTHENTICATED: return 401;
    case grpc::StatusCode::PERMISSION_DENIED: return 403;
    case grpc::StatusCode::NOT_FOUND: return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED: return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return 429;
    case grpc::StatusCode::CANCELLED: return 499;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return 504;
    case grpc::StatusCode::UNAVAILABLE: return 503;
    default: return 502;
  }
}

// A parsed JSON object member (for embedding provider and retry JSON), or
// null when `text` is not a JSON object.
translate::Value ParsedObject(std::string_view text, translate::Allocator& a) {
  rapidjson::Document doc(&a);
  if (text.empty() || !translate::ParseBounded(text, &doc) || !doc.IsObject()) {
    return translate::Value();
  }
  translate::Value out;
  out.CopyFrom(doc, a);
  return out;
}

std::string ErrorJson(Api api, int status, std::string_view type, std::string_view code,
                      std::string_view message, std::string_view param,
                      const v1::ErrorDetail* detail) {
  translate::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  translate::Value error(rapidjson::kObjectType);
  translate::Value exhausted;
  if (detail != nullptr && !detail->retry_exhausted_json().empty()) {
    // {"error": {"message", "type": "retry_exhausted", "attempts", ...}}
    translate::Value parsed = ParsedObject(detail->retry_exhausted_json(), a);
    if (const translate::Value* inner = translate::Find(parsed, "error");
        inner != nullptr && inner->IsObject()) {
      exhausted.CopyFrom(*inner, a);
    }
  }
  if (IsAnthropic(api)) {
    translate::Add(doc, "type", translate::Str("error", a), a);
    translate::Add(error, "type", translate::Str(AnthropicType(status), a), a);
    translate::Add(error, "message", translate::Str(message, a), a);
    translate::Add(doc, "error", error, a);
    if (exhausted.IsObject()) translate::Add(doc, "retry_exhausted", exhausted, a);
  } else if (exhausted.IsObject()) {
    // plano's object is OpenAI's error shape already; the code says what
    // the last provider answered.
    error.Swap(exhausted);
    if (!error.HasMember("code")) translate::Add(error, "code", translate::Str(code, a), a);
    if (!error.HasMember("param")) translate::Add(error, "param", translate::Value(), a);
    translate::Add(doc, "error", error, a);
  } else {
    translate::Add(error, "message", translate::Str(message, a), a);
    translate::Add(error, "type", translate::Str(type, a), a);
    translate::Add(error, "param", param.empty() ? translate::Value() : translate::Str(param, a),
                   a);
    translate::Add(error, "code", code.empty() ? translate::Value() : translate::Str(code, a), a);
    translate::Add(doc, "error", error, a);
  }
  if (detail != nullptr) {
    // What the last provider said, when it said it in JSON.
    translate::Value upstream = ParsedObject(detail->upstream_body(), a);
    if (upstream.IsObject()) translate::Add(doc, "upstream_error", upstream, a);
    if (!detail->request_id().empty()) {
      translate::Add(doc, "request_id", translate::Str(detail->request_id(), a), a);
    }
  }
  return translate::Write(doc);
}

void AddPushback(int64_t pushback_ms, HttpHeaders* headers) {
  if (pushback_ms <= 0) return;
  headers->emplace_back("Retry-After", std::to_string((pushback_ms + 999) / 1000));
  headers->emplace_back("retry-after-ms", std::to_string(pushback_ms));
}

}  // namespace

std::variant<BodyFacts, HttpAnswer> ReadBodyFacts(std::string_view body, Api api) {
  BodyFacts facts;
  std::string problem;
  std::string_view param;
  absl::Status scanned = json::ForEachMember(body, [&](const json::Member& m) {
    if (m.key == "model") {
      absl::StatusOr<std::string> name =
          m.value.empty() || m.value[0] != '"' ? absl::InvalidArgumentError("")
                                               : json::DecodeString(m.value);
      if (!name.ok()) {
        problem = "`model` must be a string naming a configured model";
        param = "model";
        return false;
      }
      facts.model = *std::move(name);
    } else if (m.key == "stream") {
      if (m.value != "true" && m.value != "false") {
        problem = "`stream` must be true or false";
        param = "stream";
        return false;
      }
      facts.stream = m.value == "true";
    }
    return true;
  });
  if (!problem.empty()) {
    return ErrorAnswer(api, 400, "invalid_request_error", "", problem, param);
  }
  if (!scanned.ok()) {
    return ErrorAnswer(api, 400, "invalid_request_error", "",
                       absl::StrCat("the request body must be a JSON object: ",
                                    std::string(scanned.message())));
  }
  return facts;
}

std::variant<const ModelProvider*, HttpAnswer> ResolveModel(const Config& config,
                                                            const std::optional<std::string>& model,
                                                            Api api) {
  auto not_found = [&](std::string message) {
    return ErrorAnswer(api, 404, "invalid_request_error", "model_not_found", message, "model");
  };
  if (!model) {
    if (const ModelProvider* d = config.Default()) return d;
    return ErrorAnswer(api, 400, "invalid_request_error", "",
                       "the body names no model and no provider is marked default: true",
                       "model");
  }
  if (const ModelProvider* p = config.Find(*model)) return p;
  std::vector<const ModelProvider*> serving;
  for (const ModelProvider& p : config.providers) {
    if (p.bare_model == *model) serving.push_back(&p);
  }
  if (serving.size() == 1) return serving[0];
  if (serving.empty()) {
    return not_found(absl::StrCat("model ", json::EncodeString(*model),
                                  " is not configured; use a configured model id (GET /v1/models)"));
  }
  std::vector<std::string> ids;
  for (const ModelProvider* p : serving) ids.push_back(p->model_id);
  return ErrorAnswer(api, 400, "invalid_request_error", "model_ambiguous",
                     absl::StrCat("model ", json::EncodeString(*model),
                                  " is served by several providers (", absl::StrJoin(ids, ", "),
                                  "); name one by its model id"),
                     "model");
}

HttpAnswer ErrorAnswer(Api api, int status, std::string_view type, std::string_view code,
                       std::string_view message, std::string_view param) {
  HttpAnswer answer;
  answer.status = status;
  answer.body = ErrorJson(api, status, IsAnthropic(api) ? AnthropicType(status) : type, code,
                          message, param, nullptr);
  return answer;
}

int HttpStatusFor(grpc::StatusCode code, const v1::ErrorDetail& detail) {
  int upstream = detail.upstream_http_status();
  switch (detail.reason()) {
    case v1::ERROR_REASON_UPSTREAM_ERROR:
      return upstream >= 400 ? upstream : 502;
    case v1::ERROR_REASON_RETRY_EXHAUSTED:
      return upstream >= 400 ? upstream : StatusForCode(code);
    case v1::ERROR_REASON_INVALID_REQUEST: return 400;
    case v1::ERROR_REASON_UNKNOWN_MODEL: return 404;
    case v1::ERROR_REASON_UNAUTHENTICATED: return 401;
    case v1::ERROR_REASON_OVERLOADED: return 429;
    case v1::ERROR_REASON_SHUTTING_DOWN: return 503;
    case v1::ERROR_REASON_DEADLINE: return 504;
    case v1::ERROR_REASON_STREAM_INTERRUPTED:
    case v1::ERROR_REASON_RESPONSE_TOO_LARGE: return 502;
    default: return StatusForCode(code);
  }
}

HttpAnswer CallErrorAnswer(Api api, grpc::StatusCode code, std::string_view message,
                           const v1::ErrorDetail& detail) {
  HttpAnswer answer;
  answer.status = HttpStatusFor(code, detail);
  AddPushback(detail.retry_pushback_ms(), &answer.headers);
  if (detail.reason() == v1::ERROR_REASON_UPSTREAM_ERROR && detail.upstream_http_status() >= 400 &&
      !detail.upstream_body().empty() && !detail.upstream_body_truncated()) {
    // The provider's own answer to this request (a 400 about the prompt,
    // a 401 about its key, ...), already in the caller's API.
    answer.body = detail.upstream_body();
    return answer;
  }
  auto [type, code_name] = OpenAiTypeAndCode(detail.reason());
  answer.body = ErrorJson(api, answer.status, type, code_name, message, "", &detail);
  return answer;
}

std::string StreamErrorEvent(Api api, std::string_view message, const v1::ErrorDetail& detail) {
  if (api == Api::kOther) return "";
  auto [type, code] = OpenAiTypeAndCode(detail.reason());
  int status = HttpStatusFor(grpc::StatusCode::UNAVAILABLE, detail);
  std::string json = ErrorJson(api, status, type, code, message, "", nullptr);
  return IsAnthropic(api) ? absl::StrCat("event: error\ndata: ", json, "\n\n")
                          : absl::StrCat("data: ", json, "\n\n");
}

std::string ModelListBody(const Config& config) {
  std::string out = R"({"object":"list","data":[)";
  bool first = true;
  for (const ModelProvider& p : config.providers) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, R"({"id":)", json::EncodeString(p.model_id),
                    R"(,"object":"model","created":0,"owned_by":)", json::EncodeString(p.provider),
                    "}");
  }
  out += "]}";
  return out;
}

std::string PresentedCredential(const HttpHeaders& headers) {
  std::string_view authorization = FindHeader(headers, "authorization");
  if (!authorization.empty()) return std::string(authorization);
  std::string_view key = FindHeader(headers, "x-api-key");
  if (!key.empty()) return absl::StrCat("Bearer ", std::string(key));
  return "";
}

}  // namespace rebound
