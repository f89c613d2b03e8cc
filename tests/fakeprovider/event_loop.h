// One epoll event loop serving HTTP connections accepted from one listening
// socket. Everything a connection does after its request arrived (writes,
// waits, stalls, resets) is driven from here: waits are entries in a
// min-heap of deadlines that sets epoll_wait's timeout.
#ifndef REBOUND_TESTS_FAKEPROVIDER_EVENT_LOOP_H_
#define REBOUND_TESTS_FAKEPROVIDER_EVENT_LOOP_H_

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <vector>

#include "absl/status/status.h"
#include "tests/fakeprovider/http_request.h"
#include "tests/fakeprovider/http_server.h"

namespace rebound::fake {

class EventLoop {
 public:
  // Takes ownership of `listen_fd` (non-blocking, listening).
  EventLoop(int listen_fd, HttpHandler* handler, const ParseLimits& limits);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  absl::Status Init();
  // Runs until Stop(); closes every connection on return.
  void Run();
  // Thread-safe; Run() returns promptly.
  void Stop();

 private:
  struct Connection;
  struct Timer {
    int64_t deadline_ns;
    int fd;           // -1: resume accepting
    uint64_t serial;  // guards against a reused fd number
    bool operator>(const Timer& other) const { return deadline_ns > other.deadline_ns; }
  };

  void Accept();
  void OnConnectionEvent(Connection& conn, uint32_t events);
  void ReadInput(Connection& conn);
  // Runs the current plan and parses the next pipelined request, until the
  // connection waits for something (bytes, a timer, the peer) or closes.
  void Advance(Connection& conn);
  void RunSteps(Connection& conn);
  void Flush(Connection& conn);
  void UpdateInterest(Connection& conn);
  void CloseConnection(Connection& conn, bool reset);
  void ArmTimer(int fd, uint64_t serial, int64_t delay_ms);
  void RunDueTimers();
  int NextTimeoutMs() const;
  size_t MaxBufferedInput() const;

  int listen_fd_;
  HttpHandler* handler_;
  ParseLimits limits_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  uint64_t next_serial_ = 1;
  // Indexed by fd; a slot is empty when that fd is not one of our connections.
  std::vector<std::unique_ptr<Connection>> conns_;
  // Connections closed during this iteration: epoll events already fetched
  // may still point at them, so they are freed only after the batch.
  std::vector<std::unique_ptr<Connection>> closed_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::unique_ptr<char[]> read_buffer_;
};

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_EVENT_LOOP_H_
