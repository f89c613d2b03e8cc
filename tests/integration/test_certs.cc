#include "tests/integration/test_certs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/test_harness.h"

namespace rebound::testing {
namespace {

// Extensions for each kind of certificate; `openssl req` also needs a
// (here empty) distinguished_name section.
constexpr char kOpensslConfig[] = R"([req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
)";

std::string OpensslPath() {
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':')) {
    std::string candidate = absl::StrCat(dir, "/openssl");
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "/usr/bin/openssl";
}

absl::Status Openssl(std::vector<std::string> args) {
  SubprocessOptions options;
  options.binary = OpensslPath();
  options.args = std::move(args);
  options.name = "openssl";
  auto process = Subprocess::Start(std::move(options));
  if (!process.ok()) return process.status();
  int code = (*process)->Wait(absl::Seconds(30));
  if (code != 0) {
    return absl::InternalError(
        absl::StrCat("openssl exited with ", code, ": ", (*process)->Stderr()));
  }
  return absl::OkStatus();
}

absl::Status NewKey(const std::string& path) {
  return Openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                  path});
}

// A certificate for `key` with subject CN=`cn` and the extensions of
// `section`, signed by `ca` (self-signed when `ca` is null).
absl::Status NewCert(const std::string& config, const std::string& key, const std::string& cn,
                     const std::string& section, const std::string& out, const TestCa* ca,
                     const std::string& ca_key, int serial) {
  if (ca == nullptr) {
    return Openssl({"req", "-x509", "-new", "-key", key, "-subj", absl::StrCat("/CN=", cn),
                    "-days", "2", "-config", config, "-extensions", section, "-set_serial",
                    absl::StrCat(serial), "-out", out});
  }
  std::string csr = absl::StrCat(out, ".csr");
  if (absl::Status s = Openssl({"req", "-new", "-key", key, "-subj", absl::StrCat("/CN=", cn),
                                "-config", config, "-out", csr});
      !s.ok()) {
    return s;
  }
  return Openssl({"x509", "-req", "-in", csr, "-CA", ca->cert, "-CAkey", ca_key, "-days", "2",
                  "-set_serial", absl::StrCat(serial), "-extfile", config, "-extensions",
                  section, "-out", out});
}

absl::StatusOr<TestCa> MakeCa(const std::string& dir, const std::string& config,
                              const std::string& name, int serial_base) {
  TestCa ca;
  std::string prefix = absl::StrCat(dir, "/", name);
  std::string ca_key = absl::StrCat(prefix, "-ca.key");
  ca.cert = absl::StrCat(prefix, "-ca.pem");
  ca.server_cert = absl::StrCat(prefix, "-server.pem");
  ca.server_key = absl::StrCat(prefix, "-server.key");
  ca.client_cert = absl::StrCat(prefix, "-client.pem");
  ca.client_key = absl::StrCat(prefix, "-client.key");
  for (const std::string* key : {&ca_key, &ca.server_key, &ca.client_key}) {
    if (absl::Status s = NewKey(*key); !s.ok()) return s;
  }
  if (absl::Status s = NewCert(config, ca_key, absl::StrCat("rebound ", name, " CA"), "ca",
                               ca.cert, nullptr, "", serial_base);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = NewCert(config, ca.server_key, "localhost", "server", ca.server_cert, &ca,
                               ca_key, serial_base + 1);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = NewCert(config, ca.client_key, absl::StrCat(name, " client"), "client",
                               ca.client_cert, &ca, ca_key, serial_base + 2);
      !s.ok()) {
    return s;
  }
  return ca;
}

}  // namespace

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir) {
  mkdir(dir.c_str(), 0700);
  std::string config = absl::StrCat(dir, "/openssl.cnf");
  {
    std::ofstream out(config);
    out << kOpensslConfig;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", config));
  }
  TestPki pki;
  pki.dir = dir;
  absl::StatusOr<TestCa> ca = MakeCa(dir, config, "test", 1000);
  if (!ca.ok()) return ca.status();
  pki.ca = *std::move(ca);
  absl::StatusOr<TestCa> other = MakeCa(dir, config, "unrelated", 2000);
  if (!other.ok()) return other.status();
  pki.other = *std::move(other);
  return pki;
}

const TestPki& SharedTestPki() {
  static const TestPki* pki = [] {
    absl::StatusOr<TestPki> made = MakeTestPki(ProcessTempDir() + "/tls-pki");
    if (!made.ok()) {
      ADD_FAILURE() << made.status();
      return new TestPki();
    }
    return new TestPki(*std::move(made));
  }();
  return *pki;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace rebound::testing
