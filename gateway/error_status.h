// Packs an ErrorDetail into a grpc::Status the standard way: the
// grpc-status-details-bin trailer carries a google.rpc.Status whose
// details[0] is the ErrorDetail.
#ifndef REBOUND_GATEWAY_ERROR_STATUS_H_
#define REBOUND_GATEWAY_ERROR_STATUS_H_

#include <string>
#include <string_view>

#include <grpcpp/support/status.h>

#include "rebound/v1/gateway.pb.h"

namespace rebound {

// gRPC clients reject trailers above 8 KiB by default (and then lose the
// real status), so a detail is kept under this size.
inline constexpr size_t kMaxErrorDetailBytes = 6 << 10;

// Shrinks `detail` to at most `max_bytes` serialized: the upstream body is
// cut first (upstream_body_truncated set), then upstream headers dropped,
// then the oldest attempt records. The status, reason and JSON stay.
void ShrinkErrorDetail(v1::ErrorDetail* detail, size_t max_bytes = kMaxErrorDetailBytes);

// The outcome label of rebound_requests_total for a call that ended with
// `reason`: "upstream_error", "exhausted", "invalid_request", ...
std::string_view RequestOutcome(v1::ErrorReason reason);

// Packs `detail` (shrunk to kMaxErrorDetailBytes) into the status.
grpc::Status MakeErrorStatus(grpc::StatusCode code, const std::string& message,
                             const v1::ErrorDetail& detail);

// The ErrorDetail MakeErrorStatus packed into `status` (an empty one when
// there is none): for the HTTP front door, which answers in JSON.
v1::ErrorDetail ErrorDetailOf(const grpc::Status& status);

}  // namespace rebound

#endif  // REBOUND_GATEWAY_ERROR_STATUS_H_
