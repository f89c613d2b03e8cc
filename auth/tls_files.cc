#include "auth/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>


#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace rebound {
namespace {


absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* what) {
  absl::StatusOr<std::string> text = ReadFile(path, kMaxPemFileBytes);
  if (absl::IsOutOfRange(text.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", path, " is ", text.status().message()));
  }
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("cannot read ", what, " file ", path));
  return text;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioDeleter> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM text, or null.
std::unique_ptr<X509, X509Deleter> FirstCertificate(const std::string& pem) {
  auto bio = MemoryBio(pem);
  std::unique_ptr<X509, X509Deleter> cert(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();  // OpenSSL's error queue is per thread; leave it clean
  return cert;
}

// gRPC (1.51) finds a bad certificate, a bad key or a key that does not
// match the certificate only when the listener is built, logs "Invalid
// private key" on its own, and reports nothing better than a port it could
// not bind. Checking here gives the operator one message naming the file.
absl::Status CheckServerPair(const std::string& cert_pem, const std::string& key_pem,
                             const TlsFiles& tls) {
  std::unique_ptr<X509, X509Deleter> cert = FirstCertificate(cert_pem);
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS certificate file ", tls.cert_file, " holds no PEM certificate"));
  }
  auto bio = MemoryBio(key_pem);
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TLS key file ", tls.key_file, " holds no PEM private key (or it is encrypted)"));
  }
  bool match = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!match) {
    return absl::InvalidArgumentError(absl::StrCat("TLS key file ", tls.key_file,
                                                   " does not match the certificate in ",
                                                   tls.cert_file));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& tls) {
  if (tls.cert_file.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadPemFile(tls.cert_file, "TLS certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile(tls.key_file, "TLS key");
  if (!key.ok()) return key.status();
  if (absl::Status s = CheckServerPair(*cert, *key, tls); !s.ok()) return s;
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile(tls.client_ca_file, "client CA");
    if (!ca.ok()) return ca.status();
    if (!FirstCertificate(*ca)) {
      return absl::InvalidArgumentError(
          absl::StrCat("client CA file ", tls.client_ca_file, " holds no PEM certificate"));
    }
    options.pem_root_certs = *std::move(ca);
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::Status CheckProviderCaFiles(const Config& config) {
  for (const ModelProvider& p : config.providers) {
    if (p.tls_ca_file.empty()) continue;
    absl::StatusOr<std::string> pem = ReadPemFile(p.tls_ca_file, "tls_ca_file");
    if (!pem.ok()) {
      return absl::Status(pem.status().code(),
                          absl::StrCat(p.model_id, ": ", pem.status().message()));
    }
    if (FirstCertificate(*pem) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(p.model_id, ": tls_ca_file ", p.tls_ca_file,
                                                     " holds no PEM certificate"));
    }
  }
  return absl::OkStatus();
}

}  // namespace rebound
