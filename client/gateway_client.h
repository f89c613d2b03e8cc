// A small synchronous client for the rebound.v1.Gateway service.
//
// It hides the three things every caller otherwise re-implements: building an
// authenticated channel, applying a deadline, and turning a failed call's
// `grpc-status-details-bin` / `grpc-retry-pushback-ms` trailers back into
// typed values (ErrorDetail, pushback). The rebound CLI is built on it.
//
// Thread safety: a GatewayClient is immutable after construction and may be
// shared by any number of threads; each call blocks the calling thread only.
#ifndef REBOUND_CLIENT_GATEWAY_CLIENT_H_
#define REBOUND_CLIENT_GATEWAY_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/v1/gateway.grpc.pb.h"
#include "rebound/v1/gateway.pb.h"

namespace rebound::client {

struct ClientOptions {
  // Use TLS. Implied when `root_ca_file` is set; without a CA file the
  // system's default roots verify the server.
  bool use_tls = false;
  // PEM file with the roots that verify the server certificate.
  std::string root_ca_file;
  // PEM client certificate (chain) and key presented to servers that
  // require one (mTLS); both or neither. Implies TLS.
  std::string client_cert_file;
  std::string client_key_file;
  // Sent as `authorization: Bearer <token>` on every call when non-empty.
  // Never logged or included in any error text.
  std::string bearer_token;
  // Deadline of a call whose timeout argument is absl::ZeroDuration().
  absl::Duration default_deadline = absl::Seconds(30);
};

// The outcome of one RPC. Exactly one of `response` (status OK) or
// `error_detail` (status non-OK, when the gateway attached one) is meaningful.
struct CallResult {
  grpc::Status status;
  // Complete: the response. StreamComplete: served_model, served_provider,
  // attempts and request_id copied from the StreamEnd event (the body was
  // delivered through the callback), so callers summarise both alike.
  rebound::v1::CompletionResponse response;
  // Decoded from the status details; absent for errors that did not come
  // from the gateway (unreachable server, transport failure, ...).
  std::optional<rebound::v1::ErrorDetail> error_detail;
  // The `grpc-retry-pushback-ms` trailer when present: do not retry before.
  std::optional<int64_t> pushback_ms;

  bool ok() const { return status.ok(); }
};

// A channel to `target` ("host:port" or any gRPC target URI) with the TLS
// settings of `options` and receive limits sized for rebound's messages.
// Connects lazily, as gRPC does. Fails only when the CA file cannot be read.
// Shared by GatewayClient and ControlPlaneClient.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClientChannel(const std::string& target,
                                                                   const ClientOptions& options);

// Sets the deadline of one call (`timeout`: ZeroDuration() = the default
// deadline of `options`, InfiniteDuration() = none) and, when `options` has
// a token, the `authorization: Bearer` metadata.
void PrepareClientContext(const ClientOptions& options, absl::Duration timeout,
                          grpc::ClientContext* context);

// Reads a bearer token from `path`: surrounding whitespace (the usual
// trailing newline) is dropped; the rest must be one non-empty line of
// printable ASCII, at most 64 KiB. Errors say what is wrong with the file,
// never what is in it.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

class GatewayClient {
 public:
  // Connects (lazily, as gRPC does) to `target` ("host:port" or any gRPC
  // target URI). Fails only when the CA file cannot be read.
  static absl::StatusOr<std::unique_ptr<GatewayClient>> Create(const std::string& target,
                                                               const ClientOptions& options);

  // Uses an existing channel (tests pass an in-process channel). The TLS
  // fields of `options` are ignored; the token and deadline apply.
  GatewayClient(std::shared_ptr<grpc::ChannelInterface> channel, ClientOptions options);

  GatewayClient(const GatewayClient&) = delete;
  GatewayClient& operator=(const GatewayClient&) = delete;

  // One buffered call. `timeout`: ZeroDuration() = the default deadline,
  // InfiniteDuration() = no deadline. Blocks until the call ends.
  CallResult Complete(const rebound::v1::CompletionRequest& request,
                      absl::Duration timeout = absl::ZeroDuration()) const;

  // A streaming call. `on_event` runs on the calling thread once per event,
  // as soon as it arrives and before the next one is read, so a caller can
  // print tokens live. Blocks until the stream ends.
  CallResult StreamComplete(
      const rebound::v1::CompletionRequest& request, absl::Duration timeout,
      const std::function<void(const rebound::v1::StreamEvent&)>& on_event) const;

  // The gateway's configured models (Gateway.ListModels).
  grpc::Status ListModels(absl::Duration timeout, rebound::v1::ListModelsResponse* out) const;

 private:
  std::shared_ptr<grpc::ChannelInterface> channel_;
  std::unique_ptr<rebound::v1::Gateway::Stub> stub_;
  ClientOptions options_;
};

// The ErrorDetail carried by a gateway error: the first `Any` of the
// google.rpc.Status in `status.error_details()` that holds one. nullopt when
// the status is OK, has no details, or they do not parse.
std::optional<rebound::v1::ErrorDetail> DecodeErrorDetail(const grpc::Status& status);

// "RESOURCE_EXHAUSTED", "UNAVAILABLE", ... ("CODE_<n>" for unknown values).
std::string_view StatusCodeName(grpc::StatusCode code);

// One attempt as a single line, the same in every summary:
// "attempt 1  openai/gpt-4o  http_429  ttfb 3.1ms  total 3.4ms  waited 0ms",
// with the provider's error class after the label ("http_429
// (quota_exhausted)"), "  hedge" for a hedge, and "  translated
// openai->anthropic" at the end when the request was.
std::string FormatAttempt(const rebound::v1::AttemptRecord& attempt);
// "skipped anthropic/claude  not_translatable: n"
std::string FormatSkipped(const rebound::v1::SkippedCandidate& skipped);

// The upstream body and other provider-supplied text made safe to print:
// at most `max_bytes` (never splitting a UTF-8 sequence), invalid UTF-8 and
// control characters other than newline and tab escaped as \xNN so a hostile
// body cannot drive the terminal, and a note saying how much was cut.
std::string SanitizeForDisplay(std::string_view text, size_t max_bytes);

// How much of an upstream body DescribeError shows.
inline constexpr size_t kMaxDisplayedBodyBytes = 4096;

// A multi-line human summary of a failed call: code name and message, then,
// from `detail` when given, the reason, request id, upstream HTTP status,
// upstream body (at most 4 KiB; says so when cut), the retry_exhausted JSON, one line per
// attempt, and the pushback. Ends with a newline.
std::string DescribeError(const grpc::Status& status, const rebound::v1::ErrorDetail* detail);

}  // namespace rebound::client

#endif  // REBOUND_CLIENT_GATEWAY_CLIENT_H_
