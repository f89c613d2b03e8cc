// Bearer-token authentication of every control-plane RPC (ARCHITECTURE.md,
// "Security"): `authorization: Bearer <token>` metadata, the tokens read
// from files (auth/bearer_tokens.h: one per line, so a token can be
// rotated by listing the old and the new one for a while).
//
// Two roles, two token files (issue 10 item 8). Every replica holds its
// token on disk, so a replica token opens Sync only: were it enough to push
// a policy, one compromised replica could rewrite the policy of the whole
// fleet. Operators (the `rebound` CLI) hold operator tokens, which open
// PushPolicy, GetState and ClearBlock and not Sync. A token listed in both
// files would undo the split, so the control plane refuses to start then.
#ifndef REBOUND_CONTROLPLANE_AUTH_H_
#define REBOUND_CONTROLPLANE_AUTH_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "auth/bearer_tokens.h"

namespace rebound::controlplane {

enum class Role { kReplica, kOperator };
std::string_view ToString(Role role);

enum class Rpc { kSync, kPushPolicy, kGetState, kClearBlock };
// The method name, for metrics and logs.
std::string_view ToString(Rpc rpc);
// The role an RPC needs: Sync a replica's, everything else an operator's.
Role RoleFor(Rpc rpc);

// The control plane's token check per role. Immutable after construction,
// so any gRPC thread may call Check; main builds one and the service keeps it.
class Authenticator {
 public:
  enum class Result {
    kAllowed,
    kUnauthenticated,  // no token, not Bearer, or a token of neither list
    kWrongRole,        // a valid token of the other role
  };

  // Authentication off (--insecure-no-auth, local experiments).
  static Authenticator Insecure() { return Authenticator(); }
  Authenticator(BearerTokens replica_tokens, BearerTokens operator_tokens);

  // Checks the call's `authorization` metadata ("Bearer <token>", the scheme
  // case-insensitive per RFC 6750) for `role`. Both lists are compared in
  // full every time, so the time does not tell which list held the token.
  Result Check(const grpc::ServerContextBase& context, Role role) const;
  Result Check(std::string_view authorization_header, Role role) const;

 private:
  Authenticator() = default;

  std::optional<BearerTokens> replica_tokens_;  // both set, or both empty
  std::optional<BearerTokens> operator_tokens_;
};

// OK when no token is in both lists. Otherwise an error naming the two
// sources and the positions of the first shared token (never the token).
absl::Status CheckTokenListsDisjoint(const std::vector<std::string>& replica_tokens,
                                     const std::vector<std::string>& operator_tokens,
                                     std::string_view replica_source,
                                     std::string_view operator_source);

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_AUTH_H_
