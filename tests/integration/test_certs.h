// A throwaway PKI for TLS tests, made at test time with the `openssl` CLI:
// a CA with a server certificate (SAN IP:127.0.0.1 and DNS:localhost) and a
// client certificate, and a second, unrelated CA with its own server and
// client certificates for the negative cases. Nothing is checked in, so no
// key ever expires in the repository.
#ifndef REBOUND_TESTS_INTEGRATION_TEST_CERTS_H_
#define REBOUND_TESTS_INTEGRATION_TEST_CERTS_H_

#include <string>

#include "absl/status/statusor.h"

namespace rebound::testing {

// One CA and what it signed; every member is a PEM file path.
struct TestCa {
  std::string cert;         // the CA certificate (the roots to trust)
  std::string server_cert;  // CN=localhost, SAN IP:127.0.0.1, DNS:localhost, serverAuth
  std::string server_key;
  std::string client_cert;  // CN=<name> client, clientAuth
  std::string client_key;
};

struct TestPki {
  std::string dir;
  TestCa ca;     // "rebound test CA"
  TestCa other;  // "unrelated test CA": trusted by nobody
};

// Generates both CAs under `dir` (created if missing; P-256 keys, valid for
// two days). Fails with openssl's stderr when a command fails.
absl::StatusOr<TestPki> MakeTestPki(const std::string& dir);

// One PKI per test binary, made on first use under ProcessTempDir()/tls-pki.
// On failure it reports a gtest failure and returns a PKI with empty paths.
const TestPki& SharedTestPki();

// The whole file, or "" when it cannot be read.
std::string ReadWholeFile(const std::string& path);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_INTEGRATION_TEST_CERTS_H_
