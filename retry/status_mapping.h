// How an upstream HTTP status becomes the gRPC status of a failed call
// (ARCHITECTURE.md "The data plane", RETRY.md sections 3.1 and 7).
#ifndef REBOUND_RETRY_STATUS_MAPPING_H_
#define REBOUND_RETRY_STATUS_MAPPING_H_

#include "absl/status/status.h"

namespace rebound {

// The gRPC status code for an upstream HTTP status. absl::StatusCode numbers
// equal gRPC's, so the result converts to grpc::StatusCode by value.
//
//   HTTP status             gRPC code            why
//   200-299                 OK
//   400, 413, 422           INVALID_ARGUMENT     the request itself is wrong
//   401                     UNAUTHENTICATED      bad or missing key
//   402, 403                PERMISSION_DENIED    no right to use it (402: billing)
//   404                     NOT_FOUND            unknown model or path
//   408                     DEADLINE_EXCEEDED    the provider timed the request out
//   409                     ABORTED              conflict; retrying later may work
//   429                     RESOURCE_EXHAUSTED   rate limited or out of quota
//   499                     CANCELLED            client closed request (nginx)
//   500-599 (incl. 529)     UNAVAILABLE          provider failure or overload
//   other 400-499           FAILED_PRECONDITION  final, the request cannot succeed as is
//   anything else           UNKNOWN              1xx, 3xx, < 100, > 599
//
// Gateway-side timeouts (no HTTP status) are DEADLINE_EXCEEDED; that is the
// caller's to apply, not a case of this table.
absl::StatusCode GrpcCodeForHttpStatus(int http_status);

// True for the statuses retried without any configuration (RETRY.md 3.1):
// 408, 429, 500, 502, 503, 504, 529. A policy's on_status_codes add to them.
bool IsRetriableStatus(int http_status);

}  // namespace rebound

#endif  // REBOUND_RETRY_STATUS_MAPPING_H_
