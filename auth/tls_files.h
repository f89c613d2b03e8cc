// gRPC server credentials from the configured certificate files.
#ifndef REBOUND_AUTH_TLS_FILES_H_
#define REBOUND_AUTH_TLS_FILES_H_

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

// Every provider's tls_ca_file is readable and holds a PEM certificate;
// otherwise an error naming the provider and the file. Checked where a
// config comes into force (start, reload, pushed policy), so that a typo
// fails there and not as a TLS error on the first call.
absl::Status CheckProviderCaFiles(const Config& config);

}  // namespace rebound

#endif  // REBOUND_AUTH_TLS_FILES_H_
