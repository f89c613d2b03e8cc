#include "controlplane/auth.h"

namespace rebound::controlplane {

bool Authenticator::Check(std::string_view header) const {
  if (!tokens_) return true;
  return tokens_->Accepts(header);
}

bool Authenticator::Check(const grpc::ServerContextBase& context) const {
  if (!tokens_) return true;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return false;
  return Check(std::string_view(it->second.data(), it->second.size()));
}

}  // namespace rebound::controlplane
