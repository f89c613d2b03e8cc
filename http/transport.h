// The byte stream of one accepted connection: the socket itself, or TLS over
// it (OpenSSL, with the gRPC listener's certificate settings). Non-blocking;
// owns the socket and closes it.
#ifndef REBOUND_HTTP_TRANSPORT_H_
#define REBOUND_HTTP_TRANSPORT_H_

#include <sys/socket.h>

#include <cstddef>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "policy/config.h"

namespace rebound::http {

class Transport {
 public:
  enum class Status { kOk, kWouldBlock, kClosed, kError };
  struct Io {
    Status status = Status::kOk;
    size_t bytes = 0;
  };

  virtual ~Transport() = default;
  virtual Io Read(char* buffer, size_t size) = 0;
  virtual Io Write(std::string_view data) = 0;
  // TLS: the last Read could not go on until the socket is writable (a
  // handshake step), or the last Write until it is readable.
  virtual bool read_wants_writable() const { return false; }
  virtual bool write_wants_readable() const { return false; }
  // TLS may hold decrypted bytes that epoll cannot see.
  virtual bool has_buffered_input() const { return false; }
  // Ends the sending direction (TLS: close_notify first); reading goes on.
  virtual void ShutdownWrite() { shutdown(fd_, SHUT_WR); }
  int fd() const { return fd_; }

 protected:
  explicit Transport(int fd) : fd_(fd) {}
  int fd_;
};

// A plain TCP transport over `fd`.
std::unique_ptr<Transport> MakePlainTransport(int fd);

// The server side of TLS: one certificate and key, and client certificates
// required when client_ca_file is set. Immutable once built; shared by every
// loop's listener.
class TlsContext {
 public:
  // Errors name the file that is missing or wrong.
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(const TlsFiles& files);
  ~TlsContext();
  std::unique_ptr<Transport> Wrap(int fd) const;

 private:
  explicit TlsContext(void* ctx) : ctx_(ctx) {}
  void* ctx_;  // SSL_CTX, kept out of this header
};

}  // namespace rebound::http

#endif  // REBOUND_HTTP_TRANSPORT_H_
