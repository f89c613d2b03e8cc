#include "gateway/caller_auth.h"

#include <string_view>

#include "gateway/error_status.h"

namespace rebound {

std::optional<grpc::Status> CheckCaller(const BearerTokens& tokens,
                                        const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  std::string_view presented =
      it == metadata.end() ? std::string_view() : std::string_view(it->second.data(),
                                                                   it->second.size());
  const char* message = nullptr;
  switch (tokens.Check(presented)) {
    case BearerTokens::Result::kAccepted:
      return std::nullopt;
    case BearerTokens::Result::kMissing:
      message = "this gateway requires a caller token: send `authorization: Bearer <token>` "
                "call metadata";
      break;
    case BearerTokens::Result::kNotBearer:
      message = "the authorization metadata must use the Bearer scheme: "
                "`authorization: Bearer <token>`";
      break;
    case BearerTokens::Result::kRejected:
      message = "the bearer token is not accepted by this gateway";
      break;
  }
  v1::ErrorDetail detail;
  detail.set_reason(v1::ERROR_REASON_UNAUTHENTICATED);
  return MakeErrorStatus(grpc::StatusCode::UNAUTHENTICATED, message, detail);
}

}  // namespace rebound
