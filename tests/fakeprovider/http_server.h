// A small HTTP/1.1 server on Linux epoll: one event loop per thread, each
// with its own SO_REUSEPORT listening socket, non-blocking sockets,
// keep-alive and pipelining, and timers (a min-heap feeding epoll_wait's
// timeout) instead of sleeping threads. Handlers answer with a ResponsePlan
// that the loop executes, so delays, stalls and resets cost no thread.
#ifndef REBOUND_TESTS_FAKEPROVIDER_HTTP_SERVER_H_
#define REBOUND_TESTS_FAKEPROVIDER_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "tests/fakeprovider/http_request.h"
#include "tests/fakeprovider/response_plan.h"

namespace rebound::fake {

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;

  // Fills `plan` (empty on entry) with the answer to `request`. Runs on a
  // loop thread, concurrently on several with threads > 1, so it must be
  // thread-safe and must not block. `request` views are valid only during
  // the call. An empty plan finishes the exchange with nothing sent.
  virtual void Handle(const HttpRequest& request, ResponsePlan& plan) = 0;
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // numeric IPv4 or IPv6 address
  int port = 0;                    // 0 picks a free port
  int threads = 1;
  ParseLimits limits;
};

class EventLoop;

class HttpServer {
 public:
  // `handler` must outlive the server.
  HttpServer(ServerOptions options, HttpHandler* handler);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (one socket per loop); connections queue from here on.
  absl::Status Listen();
  // The bound port; valid after Listen().
  int port() const { return port_; }

  // Starts one thread per loop.
  void Start();
  // Wakes every loop, joins the threads and closes every socket. Idempotent.
  void Stop();

 private:
  ServerOptions options_;
  HttpHandler* handler_;
  int port_ = 0;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_HTTP_SERVER_H_
