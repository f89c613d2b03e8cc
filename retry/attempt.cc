#include "retry/attempt.h"

#include "absl/strings/str_cat.h"
#include "retry/status_mapping.h"

namespace rebound {

std::string_view OutcomeLabel(AttemptResult::Kind kind) {
  switch (kind) {
    case AttemptResult::Kind::kSuccess: return "success";
    case AttemptResult::Kind::kHttpError: return "http_error";
    case AttemptResult::Kind::kTimeout: return "timeout";
    case AttemptResult::Kind::kTransportError: return "transport_error";
    case AttemptResult::Kind::kStreamInterrupted: return "stream_interrupted";
    case AttemptResult::Kind::kOverloaded: return "overloaded";
    case AttemptResult::Kind::kResponseTooLarge: return "response_too_large";
    case AttemptResult::Kind::kHedgeLost: return "hedge_lost";
  }
  return "unknown";
}

v1::AttemptOutcome ProtoOutcome(AttemptResult::Kind kind) {
  switch (kind) {
    case AttemptResult::Kind::kSuccess: return v1::ATTEMPT_OUTCOME_SUCCESS;
    case AttemptResult::Kind::kHttpError: return v1::ATTEMPT_OUTCOME_HTTP_ERROR;
    case AttemptResult::Kind::kTimeout: return v1::ATTEMPT_OUTCOME_TIMEOUT;
    case AttemptResult::Kind::kTransportError:
    case AttemptResult::Kind::kOverloaded: return v1::ATTEMPT_OUTCOME_TRANSPORT_ERROR;
    case AttemptResult::Kind::kStreamInterrupted: return v1::ATTEMPT_OUTCOME_STREAM_INTERRUPTED;
    case AttemptResult::Kind::kResponseTooLarge: return v1::ATTEMPT_OUTCOME_RESPONSE_TOO_LARGE;
    case AttemptResult::Kind::kHedgeLost: return v1::ATTEMPT_OUTCOME_HEDGE_LOST;
  }
  return v1::ATTEMPT_OUTCOME_UNSPECIFIED;
}

std::string DefaultErrorType(const AttemptResult& r) {
  switch (r.kind) {
    case AttemptResult::Kind::kHttpError: return absl::StrCat("http_", r.http_status);
    case AttemptResult::Kind::kTimeout: return absl::StrCat("timeout_", r.timeout_ms, "ms");
    case AttemptResult::Kind::kStreamInterrupted: return "stream_interrupted";
    case AttemptResult::Kind::kOverloaded: return "overloaded";
    case AttemptResult::Kind::kTransportError: return "transport_error";
    case AttemptResult::Kind::kResponseTooLarge: return "response_too_large";
    case AttemptResult::Kind::kHedgeLost: return "hedge_lost";
    case AttemptResult::Kind::kSuccess: return "";
  }
  return "";
}

absl::StatusCode GrpcCodeForFailure(const AttemptResult& r) {
  switch (r.kind) {
    case AttemptResult::Kind::kHttpError: return GrpcCodeForHttpStatus(r.http_status);
    case AttemptResult::Kind::kTimeout: return absl::StatusCode::kDeadlineExceeded;
    case AttemptResult::Kind::kOverloaded:
    case AttemptResult::Kind::kResponseTooLarge: return absl::StatusCode::kResourceExhausted;
    case AttemptResult::Kind::kTransportError:
    case AttemptResult::Kind::kStreamInterrupted:
    case AttemptResult::Kind::kHedgeLost:
    case AttemptResult::Kind::kSuccess: break;
  }
  return absl::StatusCode::kUnavailable;
}

}  // namespace rebound
