// The pure half of the HTTP front door: what a request's path and body
// mean (which API, which model, streaming or not) and every answer rebound
// itself writes (errors in the caller's API's shape, the model list, the
// error event that ends a failed stream). No I/O; unit-tested in
// tests/unit/http_api_test.cc.
#ifndef REBOUND_GATEWAY_HTTP_API_H_
#define REBOUND_GATEWAY_HTTP_API_H_

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <grpcpp/support/status.h>

#include "common/http_types.h"
#include "policy/config.h"
#include "rebound/v1/gateway.pb.h"
#include "translate/api.h"

namespace rebound {

// An answer rebound writes itself.
struct HttpAnswer {
  int status = 200;
  HttpHeaders headers;  // besides Content-Type, which is always JSON
  std::string body;
};

// What the front door reads from a request body before the Call parses it.
struct BodyFacts {
  std::optional<std::string> model;  // absent: the default provider
  bool stream = false;               // "stream": true
};

// The body must be a JSON object whose `model`, when present, is a string
// and whose `stream`, when present, is a boolean; else a 400 answer in
// `api`'s shape saying what is wrong.
std::variant<BodyFacts, HttpAnswer> ReadBodyFacts(std::string_view body, translate::Api api);

// The configured provider `model` names: a model id ("openai/gpt-4o"), or a
// bare model name ("gpt-4o") that exactly one provider serves; absent: the
// `default: true` provider. Otherwise 404 (unknown) or 400 (ambiguous) in
// `api`'s shape.
std::variant<const ModelProvider*, HttpAnswer> ResolveModel(const Config& config,
                                                            const std::optional<std::string>& model,
                                                            translate::Api api);

// An error of rebound's own in `api`'s shape (Anthropic for messages,
// OpenAI's for everything else). `type` and `code` (may be empty): OpenAI's;
// Anthropic's error type follows from `status`.
HttpAnswer ErrorAnswer(translate::Api api, int status, std::string_view type,
                       std::string_view code, std::string_view message,
                       std::string_view param = "");

// The HTTP status for a call that ended with `code` and `detail`: the
// provider's own status when the error is the provider's answer, else the
// gateway's (400, 401, 404, 429 overload, 502, 503 draining, 504 deadline).
int HttpStatusFor(grpc::StatusCode code, const v1::ErrorDetail& detail);

// The answer to a call that ended with `code`, `message` and `detail`: a
// passed-through provider error as the provider sent it (already in the
// caller's API); anything else in `api`'s error shape, carrying rebound's
// retry_exhausted object when the retries were exhausted. Retry-After and
// retry-after-ms headers when the detail has a pushback.
HttpAnswer CallErrorAnswer(translate::Api api, grpc::StatusCode code, std::string_view message,
                           const v1::ErrorDetail& detail);

// The SSE text that ends a stream which failed after events reached the
// caller: Messages `event: error`, Chat a `data: {"error": ...}` chunk (both
// raised by the vendors' SDKs). Empty for other APIs, whose stream is cut.
std::string StreamErrorEvent(translate::Api api, std::string_view message,
                             const v1::ErrorDetail& detail);

// GET /v1/models: the configured models in OpenAI's list shape.
std::string ModelListBody(const Config& config);

// The caller token presented in `Authorization: Bearer ...` (as is, for
// BearerTokens::Check) or `x-api-key`, or empty.
std::string PresentedCredential(const HttpHeaders& headers);

}  // namespace rebound

#endif  // REBOUND_GATEWAY_HTTP_API_H_
