// Packs an ErrorDetail into a grpc::Status the standard way: the
// grpc-status-details-bin trailer carries a google.rpc.Status whose
// details[0] is the ErrorDetail.
#ifndef REBOUND_SERVER_ERROR_STATUS_H_
#define REBOUND_SERVER_ERROR_STATUS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "rebound/v1/gateway.pb.h"

namespace rebound {

grpc::Status MakeErrorStatus(grpc::StatusCode code, const std::string& message,
                             const v1::ErrorDetail& detail);

}  // namespace rebound

#endif  // REBOUND_SERVER_ERROR_STATUS_H_
