#include "retry/status_mapping.h"

#include "absl/status/status.h"

namespace rebound {

absl::StatusCode GrpcCodeForHttpStatus(int http_status) {
  if (http_status >= 200 && http_status <= 299) return absl::StatusCode::kOk;
  switch (http_status) {
    case 400:
    case 413:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 402:
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 408:
      return absl::StatusCode::kDeadlineExceeded;
    case 409:
      return absl::StatusCode::kAborted;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 499:
      return absl::StatusCode::kCancelled;
    default:
      break;
  }
  if (http_status >= 500 && http_status <= 599) return absl::StatusCode::kUnavailable;
  if (http_status >= 400 && http_status <= 499) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kUnknown;
}

bool IsRetriableStatus(int http_status) {
  switch (http_status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
    case 529:
      return true;
    default:
      return false;
  }
}

}  // namespace rebound
