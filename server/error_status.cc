#include "server/error_status.h"

#include "google/rpc/status.pb.h"

namespace rebound {

grpc::Status MakeErrorStatus(grpc::StatusCode code, const std::string& message,
                             const v1::ErrorDetail& detail) {
  google::rpc::Status status;
  status.set_code(code);
  status.set_message(message);
  status.add_details()->PackFrom(detail);
  return grpc::Status(code, message, status.SerializeAsString());
}

}  // namespace rebound
