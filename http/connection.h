// One accepted HTTP/1.1 connection on its loop: reads and parses requests,
// hands each to the Handler, writes the answer back, and enforces the
// server's timeouts. Internal to http::Server.
#ifndef REBOUND_HTTP_CONNECTION_H_
#define REBOUND_HTTP_CONNECTION_H_

#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "http/request_parser.h"
#include "http/server.h"
#include "http/transport.h"
#include "upstream/event_loop.h"

namespace rebound::http {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `options`, `handler` and `stats` must outlive the connection.
  // `on_closed` runs from a posted task once the connection is closed.
  Connection(EventLoop* loop, std::unique_ptr<Transport> transport, const ServerOptions* options,
             const Handler* handler, ServerStats* stats,
             std::function<void(Connection*)> on_closed);
  ~Connection();

  void Start();
  // Closes now if no request is in progress (after reading what the client
  // has sent already), else after its answer.
  void Drain();
  // Closes at once; a request in progress sees its exchange gone.
  void Close();

 private:
  class ExchangeImpl;
  enum class TimerKind { kNone, kRequest, kIdle, kWrite, kLinger };

  void OnEvents(uint32_t events);
  void ReadSome();
  // Parses buffered bytes and dispatches complete requests, one at a time.
  void ProcessInput();
  void RefuseRequest(int status, std::string_view reject, std::string_view message);
  // Called by the exchange when its answer is queued whole.
  void AnswerQueued();
  void Flush();
  // Ends a connection whose answer is written: shuts the sending side, then
  // reads and drops what the client still sends until it closes or the
  // linger time ends. Closing with unread input would reset the connection
  // and could destroy the answer (a 413 or 431) before the client read it.
  void Linger();
  void DiscardInput();
  void UpdateInterest();
  void UpdateTimer();
  void OnTimer();
  size_t pending_output() const { return out_.size() - out_offset_; }
  TimerKind WantedTimer(MonoTime* deadline) const;

  EventLoop* loop_;
  std::unique_ptr<Transport> transport_;
  const ServerOptions* options_;
  const Handler* handler_;
  ServerStats* stats_;
  std::function<void(Connection*)> on_closed_;

  RequestParser parser_;
  std::string in_;
  size_t in_offset_ = 0;
  std::string out_;
  size_t out_offset_ = 0;
  std::shared_ptr<ExchangeImpl> exchange_;  // the request being answered
  bool processing_ = false;  // ProcessInput is on the stack
  bool peer_closed_ = false;  // read EOF
  bool close_after_write_ = false;
  bool draining_ = false;
  bool closed_ = false;
  bool lingering_ = false;
  uint32_t interest_ = 0;

  MonoTime request_started_ = 0;  // accept, or a request's first byte
  MonoTime idle_since_ = 0;
  MonoTime write_progress_ = 0;  // last time the client took bytes
  EventLoop::TimerId timer_ = 0;
  MonoTime timer_deadline_ = 0;
  MonoTime linger_until_ = 0;
};

}  // namespace rebound::http

#endif  // REBOUND_HTTP_CONNECTION_H_
