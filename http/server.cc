#include "http/server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "http/connection.h"

namespace rebound::http {
namespace {

constexpr int kMaxAcceptsPerEvent = 64;

// A listening socket on `address` (host:port, [v6]:port) with SO_REUSEPORT,
// so every loop can bind its own on one port.
absl::StatusOr<int> Listen(const std::string& address, int port_override) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("http_listen ", address, ": expected host:port"));
  }
  std::string host = address.substr(0, colon);
  std::string port = port_override > 0 ? std::to_string(port_override) : address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("http_listen ", address, ": ", gai_strerror(rc)));
  }
  std::string error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
      freeaddrinfo(found);
      return fd;
    }
    error = strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", address, ": ", error));
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace

// What one loop serves. Touched only on that loop's thread once started.
struct Server::LoopState {
  EventLoop* loop = nullptr;
  int listen_fd = -1;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections;

  void CloseListener() {
    if (listen_fd < 0) return;
    loop->UnwatchFd(listen_fd);
    close(listen_fd);
    listen_fd = -1;
  }
};

Server::Server(ServerOptions options, std::vector<EventLoop*> loops, Handler handler)
    : options_(std::move(options)), loops_(std::move(loops)), handler_(std::move(handler)) {}

Server::~Server() { Stop(); }

absl::Status Server::Start() {
  for (EventLoop* loop : loops_) {
    absl::StatusOr<int> fd = Listen(options_.address, port_);
    if (!fd.ok()) {
      for (auto& state : states_) close(state->listen_fd);
      states_.clear();
      return fd.status();
    }
    if (port_ == 0) port_ = BoundPort(*fd);
    auto state = std::make_unique<LoopState>();
    state->loop = loop;
    state->listen_fd = *fd;
    states_.push_back(std::move(state));
  }
  for (auto& state : states_) {
    LoopState* s = state.get();
    s->loop->Post([this, s] {
      if (s->listen_fd < 0) return;
      s->loop->WatchFd(s->listen_fd, EPOLLIN, [this, s](uint32_t) { Accept(s); });
    });
  }
  return absl::OkStatus();
}

void Server::Accept(LoopState* state) {
  for (int i = 0; i < kMaxAcceptsPerEvent && state->listen_fd >= 0; ++i) {
    int fd = accept4(state->listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error (EMFILE, ECONNABORTED)
    if (stats_->open_connections.load(std::memory_order_relaxed) >= options_.max_connections ||
        draining_.load()) {
      if (stats_->on_reject) stats_->on_reject("too_many_connections");
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::unique_ptr<Transport> transport =
        options_.tls ? options_.tls->Wrap(fd) : MakePlainTransport(fd);
    if (!transport) continue;
    auto connection = std::make_shared<Connection>(
        state->loop, std::move(transport), &options_, &handler_, stats_.get(),
        [state](Connection* c) { state->connections.erase(c); });
    state->connections.emplace(connection.get(), connection);
    connection->Start();
  }
}

void Server::StartDraining() {
  if (draining_.exchange(true)) return;
  for (auto& state : states_) {
    LoopState* s = state.get();
    s->loop->Post([s] {
      s->CloseListener();
      // Drain may close (and erase) the connection: iterate over a copy.
      std::vector<std::shared_ptr<Connection>> open;
      for (auto& [ptr, c] : s->connections) open.push_back(c);
      for (auto& c : open) c->Drain();
    });
  }
}

void Server::Stop() {
  if (stopped_.exchange(true) || states_.empty()) return;
  absl::BlockingCounter done(static_cast<int>(states_.size()));
  for (auto& state : states_) {
    LoopState* s = state.get();
    s->loop->Post([s, &done] {
      s->CloseListener();
      std::vector<std::shared_ptr<Connection>> open;
      for (auto& [ptr, c] : s->connections) open.push_back(c);
      for (auto& c : open) c->Close();
      s->connections.clear();
      done.DecrementCount();
    });
  }
  done.Wait();
}

}  // namespace rebound::http
