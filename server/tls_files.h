// gRPC server credentials from the configured certificate files.
#ifndef REBOUND_SERVER_TLS_FILES_H_
#define REBOUND_SERVER_TLS_FILES_H_

#include <memory>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "policy/config.h"

namespace rebound {

// Insecure credentials when no certificate is configured; TLS (with client
// certificates required when client_ca_file is set) otherwise. An
// unreadable file, one without a PEM certificate or key, or a key that does
// not match the certificate is an error naming the file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& tls);

}  // namespace rebound

#endif  // REBOUND_SERVER_TLS_FILES_H_
