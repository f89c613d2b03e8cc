// A small synchronous client for the operator RPCs of rebound.v1.ControlPlane
// (PushPolicy, GetState, ClearBlock); the replicas' Sync stream is the
// server's business, not this client's.
//
// It adds to the generated stub what every operator tool needs: the bearer
// token on every call, a deadline, and an answer to "did the control plane
// answer at all?" so that a tool can tell "unreachable" from "refused".
//
// Thread safety: immutable after construction; calls may run concurrently
// from any threads and block only the calling thread.
#ifndef REBOUND_CLIENT_CONTROLPLANE_CLIENT_H_
#define REBOUND_CLIENT_CONTROLPLANE_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "client/gateway_client.h"
#include "rebound/v1/controlplane.grpc.pb.h"
#include "rebound/v1/controlplane.pb.h"

namespace rebound::client {

// The outcome of one RPC: `response` is meaningful only when status is OK.
template <typename Response>
struct RpcResult {
  grpc::Status status;
  Response response;
  // True when the call failed without the control plane answering: nothing
  // listens at the address, the TLS handshake failed, or the deadline
  // passed before a connection was made. A status the control plane sent
  // (UNAUTHENTICATED, INVALID_ARGUMENT, ...) is never `unreachable`.
  bool unreachable = false;

  bool ok() const { return status.ok(); }
};

class ControlPlaneClient {
 public:
  // Connects lazily to `target` ("host:port" or a gRPC target URI) with the
  // TLS settings, token and deadline (`default_deadline`) of `options`.
  // Fails only when the CA file cannot be read.
  static absl::StatusOr<std::unique_ptr<ControlPlaneClient>> Create(const std::string& target,
                                                                    const ClientOptions& options);

  // Uses an existing channel (tests pass an in-process one); `target` is
  // only what messages call it. The TLS fields of `options` are ignored.
  ControlPlaneClient(std::shared_ptr<grpc::ChannelInterface> channel, std::string target,
                     ClientOptions options);

  ControlPlaneClient(const ControlPlaneClient&) = delete;
  ControlPlaneClient& operator=(const ControlPlaneClient&) = delete;

  RpcResult<rebound::v1::PushPolicyResponse> PushPolicy(const std::string& yaml,
                                                        bool dry_run) const;
  RpcResult<rebound::v1::GetStateResponse> GetState() const;
  RpcResult<rebound::v1::ClearBlockResponse> ClearBlock(rebound::v1::BlockScope scope,
                                                        const std::string& name) const;

  // The address as given, for messages.
  const std::string& target() const { return target_; }
  // Whether calls carry a bearer token (the token itself is never exposed).
  bool has_token() const { return !options_.bearer_token.empty(); }
  // `text` with every occurrence of the token (8 bytes or longer) replaced
  // by "<token>": for messages that come from the server, which must not
  // echo it to a terminal or a log.
  std::string Redact(std::string text) const;

 private:
  template <typename Request, typename Response, typename Method>
  RpcResult<Response> Call(const Request& request, Method method) const;

  std::shared_ptr<grpc::ChannelInterface> channel_;
  std::unique_ptr<rebound::v1::ControlPlane::Stub> stub_;
  std::string target_;
  ClientOptions options_;
};

// A block's key as operators write it: "model:openai/gpt-4o",
// "provider:openai" (the name as is: sanitize it before printing).
std::string FormatBlockKey(rebound::v1::BlockScope scope, std::string_view name);

}  // namespace rebound::client

#endif  // REBOUND_CLIENT_CONTROLPLANE_CLIENT_H_
