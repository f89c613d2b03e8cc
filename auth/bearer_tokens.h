// Bearer tokens read from a file and checked in constant time: the caller
// authentication of both the Gateway (server.auth_token_file) and the
// control plane (--token-file). Pure: no gRPC, no threads.
#ifndef REBOUND_AUTH_BEARER_TOKENS_H_
#define REBOUND_AUTH_BEARER_TOKENS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound {

// A token file larger than this is refused (a wrong path such as a device or
// a log file must not be read whole).
inline constexpr size_t kMaxTokenFileBytes = 64 << 10;

// Compares in time that depends only on the lengths, so a caller cannot
// find a token byte by byte from response times.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Parses the text of a token file: one token per line; surrounding
// whitespace is trimmed, blank lines and lines starting with '#' are
// ignored. A token must be printable ASCII without spaces (what fits in
// `authorization: Bearer <token>`). No token at all is an error, so a
// misconfigured server refuses to start instead of running open. Errors name
// `source` and the line, never a token.
absl::StatusOr<std::vector<std::string>> ParseTokenList(std::string_view text,
                                                        std::string_view source);

// Reads and parses `path` (ParseTokenList). Errors name the file.
absl::StatusOr<std::vector<std::string>> ReadTokenListFile(const std::string& path);

// The accepted tokens. Immutable; safe to share between threads.
class BearerTokens {
 public:
  explicit BearerTokens(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

  // Why a credential was refused, for the caller's error message (never
  // containing the credential itself).
  enum class Result { kAccepted, kMissing, kNotBearer, kRejected };

  // Checks one `authorization` value, "Bearer <token>" (the scheme is
  // case-insensitive, RFC 6750). Compares against every token, without
  // stopping at a match, so the time does not tell which one matched.
  Result Check(std::string_view authorization) const;
  bool Accepts(std::string_view authorization) const {
    return Check(authorization) == Result::kAccepted;
  }

  size_t size() const { return tokens_.size(); }

 private:
  std::vector<std::string> tokens_;
};

}  // namespace rebound

#endif  // REBOUND_AUTH_BEARER_TOKENS_H_
