// The fake provider's strict request validation: the rules the real OpenAI
// Chat Completions and Anthropic Messages APIs enforce before they answer,
// so that a gateway which translates or rewrites a request learns from the
// fake, not from production, that a vendor would refuse it. Pure: text in,
// the vendor's own 400 body out, no I/O.
#ifndef REBOUND_TESTS_FAKEPROVIDER_STRICT_API_H_
#define REBOUND_TESTS_FAKEPROVIDER_STRICT_API_H_

#include <optional>
#include <string>
#include <string_view>

namespace rebound::fake {

// Whose rules a request target falls under. Only the two request shapes the
// gateway translates between are validated; every other path (embeddings,
// Responses, files, ...) is answered as before, unchecked.
enum class StrictApi { kNone, kOpenAiChat, kAnthropicMessages };

// kAnthropicMessages for paths ending in "/messages" (as ApiForTarget),
// kOpenAiChat for paths ending in "/chat/completions", kNone otherwise; the
// query is ignored.
StrictApi StrictApiForTarget(std::string_view target);

// The body the vendor answers with HTTP 400 when `body` breaks one of its
// rules, naming the first offending field; nullopt when the request is
// valid or `api` is kNone. Never fails on hostile input (not JSON, wrong
// types, deep nesting): that is itself a 400.
//   Anthropic: {"type":"error","error":{"type":"invalid_request_error",
//               "message":"messages.1.role: ..."}}
//   OpenAI:    {"error":{"message":"...","type":"invalid_request_error",
//               "param":"messages.[1].role","code":null}}
std::optional<std::string> StrictRequestError(StrictApi api, std::string_view body);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_STRICT_API_H_
