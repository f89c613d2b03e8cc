#include "tests/fakeprovider/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tests/fakeprovider/event_loop.h"

namespace rebound::fake {
namespace {

constexpr int kBacklog = 4096;

// A non-blocking listening socket on host:port with SO_REUSEPORT, so that
// every loop gets its own accept queue on the same port.
absl::StatusOr<int> ListenOn(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* info = nullptr;
  std::string port_text = absl::StrCat(port);
  if (int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &info); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad listen address '", host, "': ", gai_strerror(rc)));
  }
  int fd = socket(info->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(info);
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  int rc = bind(fd, info->ai_addr, info->ai_addrlen);
  freeaddrinfo(info);
  if (rc != 0 || listen(fd, kBacklog) != 0) {
    std::string error = strerror(errno);
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("listen on ", host, ":", port, ": ", error));
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, HttpHandler* handler)
    : options_(std::move(options)), handler_(handler) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Listen() {
  int threads = options_.threads < 1 ? 1 : options_.threads;
  port_ = options_.port;
  for (int i = 0; i < threads; ++i) {
    // The first socket picks the port (when 0); the others join it.
    absl::StatusOr<int> fd = ListenOn(options_.host, port_);
    if (!fd.ok()) return fd.status();
    if (i == 0) port_ = BoundPort(*fd);
    auto loop = std::make_unique<EventLoop>(*fd, handler_, options_.limits);
    if (absl::Status s = loop->Init(); !s.ok()) return s;
    loops_.push_back(std::move(loop));
  }
  return absl::OkStatus();
}

void HttpServer::Start() {
  for (auto& loop : loops_) {
    threads_.emplace_back([l = loop.get()] { l->Run(); });
  }
}

void HttpServer::Stop() {
  for (auto& loop : loops_) loop->Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  loops_.clear();
}

}  // namespace rebound::fake
