// Bearer-token authentication of every control-plane RPC (ARCHITECTURE.md,
// "Security"): `authorization: Bearer <token>` metadata, the tokens read
// from a file (server/bearer_tokens.h: one per line, so a token can be
// rotated by listing the old and the new one for a while).
#ifndef REBOUND_CONTROLPLANE_AUTH_H_
#define REBOUND_CONTROLPLANE_AUTH_H_

#include <optional>
#include <string_view>

#include <grpcpp/server_context.h>

#include "server/bearer_tokens.h"

namespace rebound::controlplane {

class Authenticator {
 public:
  // nullopt: authentication is off (--insecure-no-auth, local experiments).
  explicit Authenticator(std::optional<BearerTokens> tokens) : tokens_(std::move(tokens)) {}

  // True when the call carries `authorization: Bearer <one of the tokens>`
  // (the scheme is case-insensitive, per RFC 6750) or authentication is off.
  bool Check(const grpc::ServerContextBase& context) const;
  bool Check(std::string_view authorization_header) const;

 private:
  std::optional<BearerTokens> tokens_;
};

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_AUTH_H_
