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

}  // namespace rebound
