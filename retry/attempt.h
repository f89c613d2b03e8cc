// The vocabulary of one attempt: what it did (AttemptResult) and every name
// an outcome has (metric and log label, default error_type, the proto enum,
// the gRPC code a final failure maps to). One place, so that the retry
// engine, the Call, logs and metrics never disagree.
#ifndef REBOUND_RETRY_ATTEMPT_H_
#define REBOUND_RETRY_ATTEMPT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/http_types.h"
#include "policy/config.h"
#include "rebound/v1/gateway.pb.h"

namespace rebound {

// What one attempt did, as the attempt loop observed it.
struct AttemptResult {
  enum class Kind {
    kSuccess,            // complete 2xx
    kHttpError,          // non-2xx status
    kTimeout,            // timeout_kind says which
    kTransportError,     // refused, reset, DNS, TLS, stream ended before any event
    kStreamInterrupted,  // cut, stalled or unterminated after events reached the caller
    kOverloaded,         // the gateway's own per-provider connection limit
    kResponseTooLarge,   // a 2xx answer over server.max_response_bytes: final
    kHedgeLost,          // cancelled: the other attempt of a hedge race answered first
  };
  Kind kind = Kind::kSuccess;
  // The Decision's target. Required.
  const ModelProvider* target = nullptr;
  int http_status = 0;
  HttpHeaders headers;
  TimeoutKind timeout_kind = TimeoutKind::kNone;
  int64_t timeout_ms = 0;
  // "http_429", "timeout_1000ms", "stream_interrupted", "connection_refused".
  // Filled in by RetryState when empty on a failure; on a slow success
  // RetryState sets "high_latency_<measured>ms_threshold_<threshold>ms" in
  // its record (the kind stays kSuccess).
  std::string error_type;
  absl::Duration ttfb = absl::ZeroDuration();  // zero when no body byte came
  absl::Duration duration = absl::ZeroDuration();
  absl::Duration wait_before = absl::ZeroDuration();
  // "openai->anthropic" when the request was translated for the target's
  // API; empty when it went as the caller sent it.
  std::string translation;
  std::vector<std::string> dropped_fields;  // left out by the translation
  // What the provider's error body (or in-stream error event, or a unary
  // answer's content-filter refusal) said; kNone when nothing.
  ProviderErrorClass provider_error = ProviderErrorClass::kNone;
  bool hedge = false;  // started as a hedge (retry_policy.hedge)
};

// The bounded label of `kind` for metrics and log lines: "success",
// "http_error", "timeout", "transport_error", "stream_interrupted",
// "overloaded", "response_too_large", "hedge_lost".
std::string_view OutcomeLabel(AttemptResult::Kind kind);

// The outcome as the caller's AttemptRecord carries it. The gateway's own
// connection limit (kOverloaded) is a transport error to the caller.
v1::AttemptOutcome ProtoOutcome(AttemptResult::Kind kind);

// The error_type of a failure that came without one: "http_429",
// "timeout_1000ms", "stream_interrupted", ...; empty for a success.
std::string DefaultErrorType(const AttemptResult& result);

// The gRPC code a call ends with when `result` is its last failure.
absl::StatusCode GrpcCodeForFailure(const AttemptResult& result);

}  // namespace rebound

#endif  // REBOUND_RETRY_ATTEMPT_H_
