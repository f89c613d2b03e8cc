// Every check a Gateway request passes before a Call exists: the body's
// size, the model, retry.allowed_models, the path and headers. Pure: no I/O,
// no clock; GatewayService rejects what fails here without starting a Call.
#ifndef REBOUND_GATEWAY_REQUEST_VALIDATION_H_
#define REBOUND_GATEWAY_REQUEST_VALIDATION_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <grpcpp/support/status.h>

#include "common/http_types.h"
#include "policy/config.h"
#include "rebound/v1/gateway.pb.h"
#include "retry/retry_state.h"

namespace rebound {

// A request that passed, in the form a Call runs it.
struct ValidatedRequest {
  const ModelProvider* primary = nullptr;  // never null
  NarrowingOptions narrowing;              // every allowed model is configured
  std::string path;                        // kDefaultPath when the caller gave none
  std::string body;
  HttpHeaders headers;
  std::string request_id;  // never empty
};

// Why a request is refused, as the caller and the metrics see it.
struct RequestRejection {
  grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
  v1::ErrorReason reason = v1::ERROR_REASON_INVALID_REQUEST;
  std::string message;
  std::string model_label = "unknown";  // the model's id when it is configured
  std::string request_id;
};

// `request_id` is used when the caller sent none (see NewRequestId); it is
// not read otherwise.
std::variant<ValidatedRequest, RequestRejection> ValidateRequest(
    const v1::CompletionRequest& request, const Config& config, int64_t max_body_bytes,
    std::string request_id);

// "rb-<unix nanos, hex>-<serial, hex>": unique within a process and sortable
// by time across the fleet's logs.
std::string NewRequestId(absl::Time now, uint64_t serial);

}  // namespace rebound

#endif  // REBOUND_GATEWAY_REQUEST_VALIDATION_H_
