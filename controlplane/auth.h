// Bearer-token authentication of every control-plane RPC (ARCHITECTURE.md,
// "Security"): `authorization: Bearer <token>` metadata, the token read from
// a file by both sides.
#ifndef REBOUND_CONTROLPLANE_AUTH_H_
#define REBOUND_CONTROLPLANE_AUTH_H_

#include <optional>
#include <string>
#include <string_view>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"

namespace rebound::controlplane {

// Reads a token file: surrounding whitespace (the trailing newline editors
// add) is trimmed. A missing, unreadable or empty file is an error, so a
// misconfigured control plane refuses to start instead of running open.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Compares in time that depends only on the lengths, so a caller cannot
// find the token byte by byte from response times.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

class Authenticator {
 public:
  // nullopt: authentication is off (--insecure-no-auth, local experiments).
  explicit Authenticator(std::optional<std::string> token) : token_(std::move(token)) {}

  // True when the call carries `authorization: Bearer <token>` (the scheme
  // is case-insensitive, per RFC 6750) or authentication is off.
  bool Check(const grpc::ServerContextBase& context) const;
  bool Check(std::string_view authorization_header) const;

 private:
  std::optional<std::string> token_;
};

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_AUTH_H_
