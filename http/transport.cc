#include "http/transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"

namespace rebound::http {
namespace {

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd) : Transport(fd) {}
  ~PlainTransport() override { close(fd_); }

  Io Read(char* buffer, size_t size) override {
    while (true) {
      ssize_t n = recv(fd_, buffer, size, 0);
      if (n > 0) return {Status::kOk, static_cast<size_t>(n)};
      if (n == 0) return {Status::kClosed, 0};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::kWouldBlock, 0};
      return {Status::kError, 0};
    }
  }

  Io Write(std::string_view data) override {
    while (true) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) return {Status::kOk, static_cast<size_t>(n)};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::kWouldBlock, 0};
      return {Status::kError, 0};
    }
  }
};

class TlsTransport final : public Transport {
 public:
  TlsTransport(int fd, SSL* ssl) : Transport(fd), ssl_(ssl) {}
  ~TlsTransport() override {
    SSL_free(ssl_);
    close(fd_);
  }

  Io Read(char* buffer, size_t size) override {
    read_wants_writable_ = false;
    int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    if (n > 0) return {Status::kOk, static_cast<size_t>(n)};
    return Failed(n, &read_wants_writable_, /*want=*/SSL_ERROR_WANT_WRITE);
  }

  Io Write(std::string_view data) override {
    write_wants_readable_ = false;
    if (data.empty()) return {Status::kOk, 0};
    int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
    if (n > 0) return {Status::kOk, static_cast<size_t>(n)};
    return Failed(n, &write_wants_readable_, /*want=*/SSL_ERROR_WANT_READ);
  }

  bool read_wants_writable() const override { return read_wants_writable_; }
  bool write_wants_readable() const override { return write_wants_readable_; }
  bool has_buffered_input() const override { return SSL_pending(ssl_) > 0; }
  void ShutdownWrite() override {
    SSL_shutdown(ssl_);  // queues close_notify; no wait for the peer's
    ERR_clear_error();
    Transport::ShutdownWrite();
  }

 private:
  // `flag` is set when OpenSSL needs the other direction (`want`).
  Io Failed(int n, bool* flag, int want) {
    int error = SSL_get_error(ssl_, n);
    ERR_clear_error();
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      *flag = error == want;
      return {Status::kWouldBlock, 0};
    }
    if (error == SSL_ERROR_ZERO_RETURN) return {Status::kClosed, 0};
    return {Status::kError, 0};
  }

  SSL* ssl_;
  bool read_wants_writable_ = false;
  bool write_wants_readable_ = false;
};

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

}  // namespace

std::unique_ptr<Transport> MakePlainTransport(int fd) {
  return std::make_unique<PlainTransport>(fd);
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsFiles& files) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("cannot create a TLS context: " + SslErrors());
  std::shared_ptr<TlsContext> out(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("server.tls.cert_file ", files.cert_file, ": ", SslErrors()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("server.tls.key_file ", files.key_file, ": ", SslErrors()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("server.tls.key_file ", files.key_file, " does not match cert_file"));
  }
  if (!files.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, files.client_ca_file.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("server.tls.client_ca_file ", files.client_ca_file, ": ", SslErrors()));
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  // HTTP/1.1 only: an ALPN client asking for h2 falls back to it.
  SSL_CTX_set_alpn_select_cb(
      ctx,
      [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
         unsigned int inlen, void*) -> int {
        static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) !=
            OPENSSL_NPN_NEGOTIATED) {
          return SSL_TLSEXT_ERR_NOACK;
        }
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
      },
      nullptr);
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

std::unique_ptr<Transport> TlsContext::Wrap(int fd) const {
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    if (ssl != nullptr) SSL_free(ssl);
    close(fd);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsTransport>(fd, ssl);
}

}  // namespace rebound::http
