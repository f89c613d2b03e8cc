// rebound's HTTP/1.1 server, built on its own EventLoops: every loop accepts
// on its own SO_REUSEPORT listener and serves the connections it accepted,
// so a request, the Call it starts and the answer written back all run on
// one thread with no hand-off. Keep-alive, pipelining (answered in order),
// chunked request bodies, Expect: 100-continue, TLS. Bounded everywhere:
// connections, header and body sizes (RequestParser), the time a request may
// take to arrive (slowloris), idle keep-alive connections, and a client that
// stops reading its answer.
#ifndef REBOUND_HTTP_SERVER_H_
#define REBOUND_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/http_types.h"
#include "http/request_parser.h"
#include "http/transport.h"
#include "upstream/event_loop.h"

namespace rebound::http {

// The answer to one request. Every method runs on the loop thread of the
// request's connection. Once the client is gone every method is a no-op
// (and OnGone has run).
class Exchange {
 public:
  virtual ~Exchange() = default;
  // A whole answer.
  virtual void Respond(int status, HttpHeaders headers, std::string body) = 0;
  // A streamed answer: the head now, then chunks, then EndStream. `abort`:
  // close the connection without the terminating chunk, so that the client
  // sees an incomplete body.
  virtual void StartStream(int status, HttpHeaders headers) = 0;
  // False once more than the connection's high-water mark is queued: stop
  // producing until the OnWritable callback runs.
  virtual bool WriteChunk(std::string_view data) = 0;
  virtual void EndStream(bool abort = false) = 0;
  // Runs once after WriteChunk returned false and the queue drained to half.
  virtual void SetOnWritable(absl::AnyInvocable<void()> fn) = 0;
  // Runs once if the connection closes before the answer was written.
  virtual void SetOnGone(absl::AnyInvocable<void()> fn) = 0;
  // The loop the connection runs on.
  virtual EventLoop* loop() const = 0;
};

// Called on the connection's loop thread for each complete request, in
// order; the next request of the connection waits until this one is
// answered.
using Handler = std::function<void(Request request, std::shared_ptr<Exchange> exchange)>;

// Counts for the metrics; every field may be read from any thread.
struct ServerStats {
  std::atomic<int64_t> open_connections{0};
  // Callback for each refused connection or request: "too_many_connections",
  // "bad_request", "headers_too_large", "body_too_large", "request_timeout",
  // "write_timeout", "client_gone". Any thread.
  std::function<void(std::string_view reason)> on_reject;
};

struct ServerOptions {
  std::string address;                 // host:port, port 0 picks one
  std::shared_ptr<const TlsContext> tls;  // null: plain HTTP
  int max_connections = 10000;
  ParserLimits limits;
  // From a connection's first byte (or its accept) to a request's last.
  absl::Duration request_timeout = absl::Seconds(30);
  // A keep-alive connection with no request in progress.
  absl::Duration idle_timeout = absl::Seconds(60);
  // A whole answer queued (the handler is done with it) and no byte of it
  // taken by the client for this long. While the handler is still writing,
  // its own bounds apply.
  absl::Duration write_timeout = absl::Seconds(30);
  // Queued answer bytes past which WriteChunk returns false.
  size_t high_water_bytes = 256 << 10;
};

class Server {
 public:
  // `loops` must outlive the server and run (their threads started).
  Server(ServerOptions options, std::vector<EventLoop*> loops, Handler handler);
  ~Server();

  // Binds a listener per loop and starts accepting.
  absl::Status Start();
  int port() const { return port_; }
  const ServerStats& stats() const { return *stats_; }
  ServerStats* mutable_stats() { return stats_.get(); }

  // Stops accepting; idle keep-alive connections close, busy ones close
  // after their answer (sent with Connection: close). Any thread.
  void StartDraining();
  // Closes every listener and connection; waits for the loops to do it.
  void Stop();

 private:
  struct LoopState;
  void Accept(LoopState* state);

  ServerOptions options_;
  std::vector<EventLoop*> loops_;
  Handler handler_;
  std::shared_ptr<ServerStats> stats_ = std::make_shared<ServerStats>();
  std::vector<std::unique_ptr<LoopState>> states_;
  int port_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace rebound::http

#endif  // REBOUND_HTTP_SERVER_H_
