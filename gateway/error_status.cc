#include "gateway/error_status.h"

#include "google/rpc/status.pb.h"

namespace rebound {

void ShrinkErrorDetail(v1::ErrorDetail* detail, size_t max_bytes) {
  while (detail->ByteSizeLong() > max_bytes) {
    size_t excess = detail->ByteSizeLong() - max_bytes;
    std::string* body = detail->mutable_upstream_body();
    if (!body->empty()) {
      body->resize(body->size() > excess ? body->size() - excess : 0);
      detail->set_upstream_body_truncated(true);
    } else if (detail->upstream_headers_size() > 0) {
      detail->clear_upstream_headers();
    } else if (detail->attempts_size() > 1) {
      detail->mutable_attempts()->DeleteSubrange(0, 1);
    } else {
      return;  // only fixed-size fields left
    }
  }
}

grpc::Status MakeErrorStatus(grpc::StatusCode code, const std::string& message,
                             const v1::ErrorDetail& detail) {
  google::rpc::Status status;
  status.set_code(code);
  status.set_message(message);
  v1::ErrorDetail shrunk = detail;
  ShrinkErrorDetail(&shrunk);
  status.add_details()->PackFrom(shrunk);
  return grpc::Status(code, message, status.SerializeAsString());
}


std::string_view RequestOutcome(v1::ErrorReason reason) {
  switch (reason) {
    case v1::ERROR_REASON_UPSTREAM_ERROR: return "upstream_error";
    case v1::ERROR_REASON_RETRY_EXHAUSTED: return "exhausted";
    case v1::ERROR_REASON_INVALID_REQUEST: return "invalid_request";
    case v1::ERROR_REASON_UNKNOWN_MODEL: return "unknown_model";
    case v1::ERROR_REASON_OVERLOADED: return "overloaded";
    case v1::ERROR_REASON_STREAM_INTERRUPTED: return "stream_interrupted";
    case v1::ERROR_REASON_DEADLINE: return "deadline";
    case v1::ERROR_REASON_RESPONSE_TOO_LARGE: return "response_too_large";
    default: break;
  }
  return "error";
}

v1::ErrorDetail ErrorDetailOf(const grpc::Status& status) {
  v1::ErrorDetail detail;
  google::rpc::Status rich;
  if (status.error_details().empty() || !rich.ParseFromString(status.error_details())) {
    return detail;
  }
  for (const google::protobuf::Any& any : rich.details()) {
    if (any.Is<v1::ErrorDetail>() && any.UnpackTo(&detail)) break;
  }
  return detail;
}

}  // namespace rebound
