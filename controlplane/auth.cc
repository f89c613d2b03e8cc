#include "controlplane/auth.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rebound::controlplane {

std::string_view ToString(Role role) { return role == Role::kReplica ? "replica" : "operator"; }

std::string_view ToString(Rpc rpc) {
  switch (rpc) {
    case Rpc::kSync: return "Sync";
    case Rpc::kPushPolicy: return "PushPolicy";
    case Rpc::kGetState: return "GetState";
    case Rpc::kClearBlock: return "ClearBlock";
  }
  return "unknown";
}

Role RoleFor(Rpc rpc) { return rpc == Rpc::kSync ? Role::kReplica : Role::kOperator; }

Authenticator::Authenticator(BearerTokens replica_tokens, BearerTokens operator_tokens)
    : replica_tokens_(std::move(replica_tokens)), operator_tokens_(std::move(operator_tokens)) {}

Authenticator::Result Authenticator::Check(std::string_view header, Role role) const {
  if (!replica_tokens_) return Result::kAllowed;
  // Both lists every time (each compares in constant time, without an early
  // exit), so the response time does not tell a replica token from another.
  const bool replica = replica_tokens_->Accepts(header);
  const bool operator_token = operator_tokens_->Accepts(header);
  const bool wanted = role == Role::kReplica ? replica : operator_token;
  const bool other = role == Role::kReplica ? operator_token : replica;
  if (wanted) return Result::kAllowed;
  return other ? Result::kWrongRole : Result::kUnauthenticated;
}

Authenticator::Result Authenticator::Check(const grpc::ServerContextBase& context,
                                           Role role) const {
  if (!replica_tokens_) return Result::kAllowed;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  // An empty header is refused by BearerTokens like a missing one.
  std::string_view header;
  if (it != metadata.end()) header = std::string_view(it->second.data(), it->second.size());
  return Check(header, role);
}

absl::Status CheckTokenListsDisjoint(const std::vector<std::string>& replica_tokens,
                                     const std::vector<std::string>& operator_tokens,
                                     std::string_view replica_source,
                                     std::string_view operator_source) {
  for (size_t i = 0; i < replica_tokens.size(); ++i) {
    for (size_t j = 0; j < operator_tokens.size(); ++j) {
      if (!ConstantTimeEquals(replica_tokens[i], operator_tokens[j])) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          "the replica and operator token files share a token (token ", i + 1, " of ",
          absl::string_view(replica_source.data(), replica_source.size()), " is token ", j + 1,
          " of ", absl::string_view(operator_source.data(), operator_source.size()),
          "): a replica's token must not work as an operator's, so give each role its own "
          "tokens"));
    }
  }
  return absl::OkStatus();
}

}  // namespace rebound::controlplane
