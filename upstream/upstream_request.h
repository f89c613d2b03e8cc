// Builds the HTTP request one attempt sends to one provider (RETRY.md
// section 8): URL, headers with the target's own credentials, and the body
// with only its top-level "model" value changed. Pure.
#ifndef REBOUND_UPSTREAM_UPSTREAM_REQUEST_H_
#define REBOUND_UPSTREAM_UPSTREAM_REQUEST_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/http_types.h"
#include "policy/config.h"

namespace rebound {

struct UpstreamRequest {
  std::string url;
  HttpHeaders headers;  // final, credentials included: never log them
  std::string body;
  Timeouts timeouts;
  std::string pool_key;  // connection-limit bucket: the provider
  std::string ca_file;   // PEM roots to verify the provider's TLS certificate; empty: the system's
};

// What the caller sent, validated once per call (CheckCallerRequest) and
// reused for every attempt.
struct CallerRequest {
  std::string path;  // "/v1/chat/completions" when the caller gave none
  std::string_view body;
  HttpHeaders headers;
  std::string request_id;
};

inline constexpr std::string_view kDefaultPath = "/v1/chat/completions";
inline constexpr std::string_view kAnthropicVersion = "2023-06-01";

// INVALID_ARGUMENT with a message that says what is wrong when the path or a
// header could smuggle something (CR/LF, a scheme, a bad header name).
absl::Status CheckCallerRequest(const CallerRequest& request);


// The request for `target`. Errors only when the body is not a JSON object.
absl::StatusOr<UpstreamRequest> BuildUpstreamRequest(const ModelProvider& target,
                                                     const CallerRequest& request);

// The request for `target` when the caller speaks another API: `body` is the
// request translated into the target's API (translate/request.h), sent to
// `path`, that API's path. The caller's credentials and its vendor's own
// headers (anthropic-*, openai-*) stay behind: passthrough_auth never sends
// one vendor's caller key to another vendor, so only the target's
// access_key authenticates.
UpstreamRequest BuildTranslatedUpstreamRequest(const ModelProvider& target,
                                               const CallerRequest& request,
                                               std::string_view path, std::string body);

}  // namespace rebound

#endif  // REBOUND_UPSTREAM_UPSTREAM_REQUEST_H_
