// Caller authentication of rebound.v1.Gateway (server.auth_token_file): the
// decision for one call from its `authorization` metadata. Health and
// reflection never pass through here, so probes work without a token.
//
// The caller's gRPC metadata is never forwarded upstream (only the request's
// `headers` field is), so the gateway token cannot reach a provider; a
// passthrough_auth provider key travels in CompletionRequest.headers.
#ifndef REBOUND_GATEWAY_CALLER_AUTH_H_
#define REBOUND_GATEWAY_CALLER_AUTH_H_

#include <optional>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "auth/bearer_tokens.h"

namespace rebound {

// nullopt when the call carries `authorization: Bearer <one of tokens>`;
// otherwise the UNAUTHENTICATED status to end it with (an ErrorDetail with
// reason UNAUTHENTICATED and a message saying what was wrong, never what
// was presented).
std::optional<grpc::Status> CheckCaller(const BearerTokens& tokens,
                                        const grpc::ServerContextBase& context);

}  // namespace rebound

#endif  // REBOUND_GATEWAY_CALLER_AUTH_H_
