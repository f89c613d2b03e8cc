// The class (policy/provider_error_class.h) of what a provider answered:
// a failed answer's HTTP status and error body, an in-stream error event,
// or a 2xx answer that is a content-filter refusal. Pure: text in, a class
// out. A body may be any bytes (cut at a size limit, not JSON, not UTF-8);
// it is parsed at most once, bounded (translate/json.h: at most 128
// levels), and anything that is not valid JSON says nothing.
//
// The shape is read from the body's structure, never from the API the
// request used: an OpenAI-compatible provider may serve Anthropic models,
// and a proxy may answer in either shape.
//   OpenAI     {"error":{"message","type","code","param"}}; `code` may be
//              null or a string, Azure adds "status" (a number) and
//              "innererror":{"code":"ResponsibleAIPolicyViolation",...}.
//   Anthropic  {"type":"error","error":{"type","message"},"request_id"};
//              the error may carry "details":{"error_code"}.
//   Responses  (OpenAI /v1/responses streams) {"type":"response.failed",
//              "response":{"error":{"code","message"}}} and
//              {"type":"error","code","message"}.
// An `error` that is a string is the message (some OpenAI-compatible
// servers send {"error":"..."}). A member that is absent or not a string
// (a null or numeric code) says nothing.
//
// What a body says. Codes are compared exactly, ASCII case ignored: the
// OpenAI `code` and `type`, the Anthropic error `type` and
// `details.error_code`, Azure's `innererror.code`. Messages are searched
// for substrings, ASCII case ignored. Every code rule is tried before any
// message rule, each list top to bottom, the first match wins:
//   class                    codes                          message contains
//   context_length_exceeded  context_length_exceeded        "maximum context length",
//                                                           "context_length_exceeded",
//                                                           "context window",
//                                                           "prompt is too long",
//                                                           "exceed context limit"
//   content_filter           content_filter,                "content filtering",
//                            content_policy_violation,      "content management policy"
//                            invalid_prompt,
//                            ResponsibleAIPolicyViolation
//   quota_exhausted          insufficient_quota,            "credit balance is too low",
//                            billing_hard_limit_reached,    "exceeded your current quota",
//                            billing_error,                 "reached your specified api
//                            enforced_spend_limit_reached    usage limits"
//   rate_limited             rate_limit_exceeded,
//                            rate_limit_error, requests,
//                            tokens
//   overloaded               overloaded_error,              "overloaded"
//                            engine_overloaded_error,
//                            server_is_overloaded
//   authentication           authentication_error,
//                            permission_error,
//                            invalid_api_key
//   not_found                not_found_error,
//                            model_not_found
// Those are the specific classes. Two more are generic: their codes say no
// more than a status does, so they count only when nothing above matched
// and no status decides:
//   server_error             server_error, api_error
//   invalid_request          invalid_request_error, request_too_large
// OpenAI's string_above_max_length (one string longer than 10,485,760
// characters) is deliberately not context_length_exceeded: no model with a
// larger window accepts that request either, so it stays invalid_request.
//
// What a status says (ClassifyErrorAnswer):
//   401, 403         authentication
//   402              quota_exhausted
//   404              not_found
//   429              rate_limited
//   503, 529         overloaded
//   other 4xx        invalid_request (413 included)
//   500 and above    server_error
//   below 400        nothing (kNone): 1xx, 2xx and 3xx are not errors
#ifndef REBOUND_TRANSLATE_PROVIDER_ERROR_H_
#define REBOUND_TRANSLATE_PROVIDER_ERROR_H_

#include <string_view>

#include "policy/provider_error_class.h"

namespace rebound {

// The class of a non-2xx provider answer. The body wins where it says more
// than the status: a specific class from the body (a 400 saying context
// length, a 429 saying insufficient_quota, a 429 saying engine overloaded)
// beats the status's class. Otherwise the status decides (a 401 whose body
// is OpenAI's invalid_request_error is authentication; a 503 with
// Anthropic's api_error is overloaded); a body that is not JSON, cut short
// or of no known shape falls back to the status. Given a status below 400
// (the caller's mistake, or a provider that answers errors with 200), the
// body's class, generic included, else kNone. Never kNone for a status of
// 400 and above.
ProviderErrorClass ClassifyErrorAnswer(int http_status, std::string_view body);

// The class of an in-stream error event's data: Anthropic's `event: error`
// data {"type":"error","error":{...}}, OpenAI's chunk {"error":{...}}, or
// the Responses API's `response.failed` / `error`. There is no status, so
// generic codes count as they are; a stream error without a recognisable
// class (not JSON, no known shape, no known code or message) is
// kServerError: the provider failed mid-answer. Never kNone.
ProviderErrorClass ClassifyStreamError(std::string_view data);

// kContentFilter when a 2xx unary JSON answer is a content-filter refusal:
// an OpenAI chat completion with any choices[i].finish_reason
// "content_filter" (what OpenAI and Azure send when the filter cut the
// answer), or an Anthropic message whose stop_reason is "refusal"; else
// kNone (also for a body that is not JSON). Both are looked for whatever
// API was called. It parses the whole body, which may be large: the caller
// decides when it is worth asking (a policy that names content_filter).
ProviderErrorClass ClassifyRefusal(std::string_view body);

}  // namespace rebound

#endif  // REBOUND_TRANSLATE_PROVIDER_ERROR_H_
