#include "client/controlplane_client.h"

#include <grpcpp/client_context.h>

#include <utility>

#include "absl/strings/str_replace.h"

namespace rebound::client {

using rebound::v1::BlockScope;
using rebound::v1::ClearBlockRequest;
using rebound::v1::ClearBlockResponse;
using rebound::v1::GetStateRequest;
using rebound::v1::GetStateResponse;
using rebound::v1::PushPolicyRequest;
using rebound::v1::PushPolicyResponse;

absl::StatusOr<std::unique_ptr<ControlPlaneClient>> ControlPlaneClient::Create(
    const std::string& target, const ClientOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateClientChannel(target, options);
  if (!channel.ok()) return channel.status();
  return std::make_unique<ControlPlaneClient>(*std::move(channel), target, options);
}

ControlPlaneClient::ControlPlaneClient(std::shared_ptr<grpc::ChannelInterface> channel,
                                       std::string target, ClientOptions options)
    : channel_(std::move(channel)),
      stub_(rebound::v1::ControlPlane::NewStub(channel_)),
      target_(std::move(target)),
      options_(std::move(options)) {}

template <typename Request, typename Response, typename Method>
RpcResult<Response> ControlPlaneClient::Call(const Request& request, Method method) const {
  grpc::ClientContext context;
  PrepareClientContext(options_, absl::ZeroDuration(), &context);
  RpcResult<Response> result;
  result.status = (stub_.get()->*method)(&context, request, &result.response);
  const grpc::StatusCode code = result.status.error_code();
  // gRPC reports "nothing listens there" and "TLS handshake failed" as
  // UNAVAILABLE, and an address that swallows packets as DEADLINE_EXCEEDED;
  // a DEADLINE_EXCEEDED on a connected channel is a slow answer instead.
  result.unreachable = code == grpc::StatusCode::UNAVAILABLE ||
                       (code == grpc::StatusCode::DEADLINE_EXCEEDED &&
                        channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY);
  return result;
}

RpcResult<PushPolicyResponse> ControlPlaneClient::PushPolicy(const std::string& yaml,
                                                             bool dry_run) const {
  PushPolicyRequest request;
  request.set_yaml(yaml);
  request.set_dry_run(dry_run);
  return Call<PushPolicyRequest, PushPolicyResponse>(request,
                                                     &rebound::v1::ControlPlane::Stub::PushPolicy);
}

RpcResult<GetStateResponse> ControlPlaneClient::GetState() const {
  return Call<GetStateRequest, GetStateResponse>(GetStateRequest(),
                                                 &rebound::v1::ControlPlane::Stub::GetState);
}

RpcResult<ClearBlockResponse> ControlPlaneClient::ClearBlock(BlockScope scope,
                                                             const std::string& name) const {
  ClearBlockRequest request;
  request.set_scope(scope);
  request.set_name(name);
  return Call<ClearBlockRequest, ClearBlockResponse>(request,
                                                     &rebound::v1::ControlPlane::Stub::ClearBlock);
}

std::string ControlPlaneClient::Redact(std::string text) const {
  // A token shorter than this would garble ordinary words of the message
  // (and is too weak to be worth hiding from one's own terminal).
  constexpr size_t kMinRedactedTokenBytes = 8;
  if (options_.bearer_token.size() < kMinRedactedTokenBytes) return text;
  return absl::StrReplaceAll(text, {{options_.bearer_token, "<token>"}});
}

std::string FormatBlockKey(BlockScope scope, std::string_view name) {
  std::string_view prefix = "unknown:";
  if (scope == rebound::v1::BLOCK_SCOPE_MODEL) prefix = "model:";
  if (scope == rebound::v1::BLOCK_SCOPE_PROVIDER) prefix = "provider:";
  return std::string(prefix).append(name);
}

}  // namespace rebound::client
