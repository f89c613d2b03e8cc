#include "tests/fakeprovider/event_loop.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/fakeprovider/response_plan.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

constexpr size_t kReadChunk = 64 << 10;
constexpr int kMaxEvents = 256;
constexpr int64_t kAcceptRetryMs = 100;
// Output buffers larger than this are released once sent, so one big echo
// does not pin memory for the rest of a keep-alive connection.
constexpr size_t kKeepOutputCapacity = 1 << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t RealtimeUs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

struct EventLoop::Connection {
  int fd = -1;
  uint64_t serial = 0;
  std::string in;
  size_t in_off = 0;
  std::string out;
  size_t out_off = 0;
  HttpRequest request;  // reused: its header vector keeps its capacity
  ResponsePlan plan;    // reused likewise
  size_t step = 0;
  uint32_t interest = 0;
  bool busy = false;     // a plan is being executed
  bool waiting = false;  // a plan timer is armed
  bool stalled = false;
  bool keep_alive = true;
  bool close_when_flushed = false;
  bool peer_eof = false;
  bool continue_sent = false;
  bool closed = false;
};

EventLoop::EventLoop(int listen_fd, HttpHandler* handler, const ParseLimits& limits)
    : listen_fd_(listen_fd),
      handler_(handler),
      limits_(limits),
      read_buffer_(new char[kReadChunk]) {}

EventLoop::~EventLoop() {
  for (auto& conn : conns_) {
    if (conn) ::close(conn->fd);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

absl::Status EventLoop::Init() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::InternalError(absl::StrCat("epoll_create1: ", strerror(errno)));
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &wake_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl(wake): ", strerror(errno)));
  }
  ev.data.ptr = &listen_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl(listen): ", strerror(errno)));
  }
  return absl::OkStatus();
}

void EventLoop::Stop() {
  stop_.store(true, std::memory_order_relaxed);
  uint64_t one = 1;
  // Best effort: a full eventfd counter still leaves it readable.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::Run() {
  epoll_event events[kMaxEvents];
  while (!stop_.load(std::memory_order_relaxed)) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, NextTimeoutMs());
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "rebound-fakeprovider: epoll_wait: %s\n", strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &wake_fd_) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
      } else if (tag == &listen_fd_) {
        Accept();
      } else {
        auto* conn = static_cast<Connection*>(tag);
        if (!conn->closed) OnConnectionEvent(*conn, events[i].events);
      }
    }
    RunDueTimers();
    closed_.clear();
  }
}

int EventLoop::NextTimeoutMs() const {
  if (timers_.empty()) return -1;
  int64_t remaining_ns = timers_.top().deadline_ns - MonotonicNs();
  if (remaining_ns <= 0) return 0;
  // Round up: waking a little late is fine, waking early would spin.
  int64_t ms = (remaining_ns + 999'999) / 1'000'000;
  return ms > 1'000'000 ? 1'000'000 : static_cast<int>(ms);
}

void EventLoop::ArmTimer(int fd, uint64_t serial, int64_t delay_ms) {
  timers_.push({MonotonicNs() + delay_ms * 1'000'000, fd, serial});
}

void EventLoop::RunDueTimers() {
  int64_t now = MonotonicNs();
  while (!timers_.empty() && timers_.top().deadline_ns <= now) {
    Timer t = timers_.top();
    timers_.pop();
    if (t.fd < 0) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = &listen_fd_;
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
      continue;
    }
    if (static_cast<size_t>(t.fd) >= conns_.size()) continue;
    Connection* conn = conns_[t.fd].get();
    // The connection may have closed (and its fd been reused) meanwhile.
    if (conn == nullptr || conn->serial != t.serial || !conn->waiting) continue;
    conn->waiting = false;
    Advance(*conn);
  }
}

void EventLoop::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The listening socket stays readable, so retrying at once would
        // spin; pause accepting and let existing connections finish.
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        ArmTimer(-1, 0, kAcceptRetryMs);
      }
      return;
    }
    // Small SSE events must leave as they are produced, not after Nagle's
    // delay.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (static_cast<size_t>(fd) >= conns_.size()) conns_.resize(fd + 1);
    auto conn = std::make_unique<Connection>();
    conn->fd = fd;
    conn->serial = next_serial_++;
    conn->interest = EPOLLIN;
    epoll_event ev{};
    ev.events = conn->interest;
    ev.data.ptr = conn.get();
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    conns_[fd] = std::move(conn);
  }
}

void EventLoop::OnConnectionEvent(Connection& conn, uint32_t events) {
  if (events & EPOLLERR) {
    CloseConnection(conn, /*reset=*/false);
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP)) {
    if ((events & EPOLLHUP) && conn.peer_eof) {
      // Both directions are gone; nothing more can be sent or received.
      CloseConnection(conn, /*reset=*/false);
      return;
    }
    ReadInput(conn);
    if (conn.closed) return;
  }
  if (events & EPOLLOUT) {
    Flush(conn);
    if (conn.closed) return;
  }
  if (conn.peer_eof && conn.busy && (conn.stalled || conn.waiting)) {
    // The client left while we were deliberately silent: nobody is left to
    // receive the rest (this is how a stall ends).
    CloseConnection(conn, /*reset=*/false);
    return;
  }
  if (!conn.busy) Advance(conn);
}

size_t EventLoop::MaxBufferedInput() const {
  return limits_.max_header_bytes + limits_.max_body_bytes + kReadChunk;
}

void EventLoop::ReadInput(Connection& conn) {
  for (;;) {
    if (conn.in.size() - conn.in_off >= MaxBufferedInput()) break;
    ssize_t n = ::recv(conn.fd, read_buffer_.get(), kReadChunk, 0);
    if (n > 0) {
      if (conn.in_off == conn.in.size()) {
        conn.in.clear();
        conn.in_off = 0;
      } else if (conn.in_off > (64 << 10) && conn.in_off * 2 > conn.in.size()) {
        conn.in.erase(0, conn.in_off);
        conn.in_off = 0;
      }
      conn.in.append(read_buffer_.get(), static_cast<size_t>(n));
      if (static_cast<size_t>(n) < kReadChunk) break;
      continue;
    }
    if (n == 0) {
      conn.peer_eof = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    CloseConnection(conn, /*reset=*/false);
    return;
  }
  UpdateInterest(conn);
}

void EventLoop::Advance(Connection& conn) {
  while (!conn.closed) {
    if (conn.busy) {
      if (conn.waiting || conn.stalled) return;
      RunSteps(conn);
      if (conn.busy || conn.closed) return;
      continue;
    }
    if (conn.close_when_flushed) return;

    std::string_view buffer(conn.in.data() + conn.in_off, conn.in.size() - conn.in_off);
    if (buffer.empty()) {
      if (conn.peer_eof) {
        conn.close_when_flushed = true;
        Flush(conn);
      }
      return;
    }
    ParseResult r = ParseRequest(buffer, limits_, conn.request);
    if (r.status == ParseStatus::kIncomplete) {
      if (conn.peer_eof) {
        conn.close_when_flushed = true;  // the rest will never come
        Flush(conn);
      } else if (r.expects_continue && !conn.continue_sent) {
        conn.continue_sent = true;
        conn.out.append(kContinue);
        Flush(conn);
      }
      return;
    }
    if (r.status == ParseStatus::kError) {
      conn.out.append(SimpleResponse(r.error_status, "text/plain",
                                     absl::StrCat(ToAbsl(r.error_message), "\n"), /*close=*/true));
      conn.in.clear();
      conn.in_off = 0;
      conn.close_when_flushed = true;
      Flush(conn);
      return;
    }
    conn.request.received_unix_us = RealtimeUs();
    conn.plan.Clear();
    handler_->Handle(conn.request, conn.plan);
    conn.in_off += r.consumed;  // the request's views die here
    conn.continue_sent = false;
    conn.keep_alive = conn.request.keep_alive && !conn.plan.close_after();
    conn.busy = true;
    conn.step = 0;
  }
}

void EventLoop::RunSteps(Connection& conn) {
  std::vector<ResponseStep>& steps = conn.plan.mutable_steps();
  while (conn.step < steps.size()) {
    ResponseStep& step = steps[conn.step++];
    switch (step.kind) {
      case ResponseStep::Kind::kWrite:
        if (conn.out_off == conn.out.size()) {
          // Common case: take the handler's buffer instead of copying it.
          conn.out.swap(step.data);
          conn.out_off = 0;
        } else {
          conn.out.append(step.data);
        }
        break;
      case ResponseStep::Kind::kWait:
        Flush(conn);
        if (conn.closed) return;
        conn.waiting = true;
        ArmTimer(conn.fd, conn.serial, step.wait_ms);
        return;
      case ResponseStep::Kind::kStall:
        conn.stalled = true;
        // A peer that already left will never close on us: end it now.
        if (conn.peer_eof) conn.close_when_flushed = true;
        Flush(conn);
        return;
      case ResponseStep::Kind::kClose:
        conn.busy = false;
        conn.close_when_flushed = true;
        Flush(conn);
        return;
      case ResponseStep::Kind::kReset: CloseConnection(conn, /*reset=*/true); return;
    }
  }
  conn.busy = false;
  // With a half-closed peer, Advance() still answers what was pipelined.
  if (!conn.keep_alive) conn.close_when_flushed = true;
  Flush(conn);
}

void EventLoop::Flush(Connection& conn) {
  while (conn.out_off < conn.out.size()) {
    ssize_t n = ::send(conn.fd, conn.out.data() + conn.out_off, conn.out.size() - conn.out_off,
                       MSG_NOSIGNAL);
    if (n > 0) {
      conn.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    CloseConnection(conn, /*reset=*/false);  // EPIPE, ECONNRESET: client gone
    return;
  }
  if (conn.out_off == conn.out.size()) {
    if (conn.out.capacity() > kKeepOutputCapacity) {
      std::string().swap(conn.out);
    } else {
      conn.out.clear();
    }
    conn.out_off = 0;
    if (conn.close_when_flushed) {
      CloseConnection(conn, /*reset=*/false);
      return;
    }
  }
  UpdateInterest(conn);
}

void EventLoop::UpdateInterest(Connection& conn) {
  if (conn.closed) return;
  uint32_t want = 0;
  // After EOF the socket stays readable forever; keep listening only while
  // there is a peer to hear from and room to buffer what it sends.
  if (!conn.peer_eof && conn.in.size() - conn.in_off < MaxBufferedInput()) want |= EPOLLIN;
  if (conn.out_off < conn.out.size()) want |= EPOLLOUT;
  if (want == conn.interest) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = &conn;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.fd, &ev) == 0) conn.interest = want;
}

void EventLoop::CloseConnection(Connection& conn, bool reset) {
  if (conn.closed) return;
  if (reset) {
    linger lg{1, 0};  // close() then sends RST instead of FIN
    setsockopt(conn.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  ::close(conn.fd);  // also removes it from the epoll set
  conn.closed = true;
  closed_.push_back(std::move(conns_[conn.fd]));
}

}  // namespace rebound::fake
