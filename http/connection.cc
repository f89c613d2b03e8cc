#include "http/connection.h"

#include <sys/epoll.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "http/response.h"

namespace rebound::http {
namespace {

constexpr size_t kReadChunk = 16 << 10;
// Reads per readiness event, so one busy client cannot hold the loop.
constexpr int kMaxReadsPerEvent = 4;
// Bytes read ahead (the next pipelined request) while a request is being
// answered; past it the connection stops reading until the answer is out.
constexpr size_t kMaxReadAhead = 64 << 10;
// How long a closing connection keeps reading what the client still sends
// (see Connection::Linger).
constexpr absl::Duration kLingerTime = absl::Seconds(2);

std::string_view RejectReason(int status) {
  switch (status) {
    case 413: return "body_too_large";
    case 431: return "headers_too_large";
    default: return "bad_request";
  }
}

}  // namespace

class Connection::ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(Connection* connection, bool keep_alive)
      : connection_(connection), loop_(connection->loop_), keep_alive_(keep_alive) {}

  void Respond(int status, HttpHeaders headers, std::string body) override {
    if (connection_ == nullptr || started_) return;
    started_ = true;
    Connection* c = connection_;
    AppendResponseHead(status, headers, body.size(), KeepAlive(), &c->out_);
    c->out_.append(body);
    Finish();
  }

  void StartStream(int status, HttpHeaders headers) override {
    if (connection_ == nullptr || started_) return;
    started_ = true;
    AppendResponseHead(status, headers, std::nullopt, KeepAlive(), &connection_->out_);
    connection_->Flush();
  }

  bool WriteChunk(std::string_view data) override {
    if (connection_ == nullptr || !started_) return true;
    AppendChunk(data, &connection_->out_);
    Connection* c = connection_;
    c->Flush();  // may close the connection (and clear connection_)
    if (connection_ == nullptr) return true;
    if (c->pending_output() < c->options_->high_water_bytes) return true;
    wants_writable_ = true;
    return false;
  }

  void EndStream(bool abort) override {
    if (connection_ == nullptr || !started_) return;
    if (abort) {
      // No terminating chunk: the client must see the body as incomplete.
      connection_->close_after_write_ = true;
    } else {
      connection_->out_.append(kLastChunk);
    }
    Finish();
  }

  void SetOnWritable(absl::AnyInvocable<void()> fn) override { on_writable_ = std::move(fn); }
  void SetOnGone(absl::AnyInvocable<void()> fn) override { on_gone_ = std::move(fn); }
  EventLoop* loop() const override { return loop_; }

  // The connection closed before the answer was queued whole.
  void Gone() {
    connection_ = nullptr;
    if (gone_) return;
    gone_ = true;
    // Posted: the close may come from inside a call into this exchange, and
    // the handler must not be re-entered from there.
    if (on_gone_) loop_->Post(std::move(on_gone_));
  }

  void MaybeWritable(size_t pending, size_t high_water) {
    if (!wants_writable_ || pending >= high_water / 2 || !on_writable_) return;
    wants_writable_ = false;
    on_writable_();
  }

 private:
  bool KeepAlive() const { return keep_alive_ && !connection_->draining_; }
  void Finish() {
    Connection* c = connection_;
    if (!KeepAlive()) c->close_after_write_ = true;
    connection_ = nullptr;
    c->AnswerQueued();
  }

  Connection* connection_;  // null once the answer is queued or the client is gone
  EventLoop* loop_;
  bool keep_alive_;
  bool started_ = false;
  bool gone_ = false;
  bool wants_writable_ = false;
  absl::AnyInvocable<void()> on_writable_;
  absl::AnyInvocable<void()> on_gone_;
};

Connection::Connection(EventLoop* loop, std::unique_ptr<Transport> transport,
                       const ServerOptions* options, const Handler* handler, ServerStats* stats,
                       std::function<void(Connection*)> on_closed)
    : loop_(loop),
      transport_(std::move(transport)),
      options_(options),
      handler_(handler),
      stats_(stats),
      on_closed_(std::move(on_closed)),
      parser_(options->limits) {
  stats_->open_connections.fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() { stats_->open_connections.fetch_sub(1, std::memory_order_relaxed); }

void Connection::Start() {
  request_started_ = MonoNow();
  UpdateInterest();
  UpdateTimer();
}

void Connection::Drain() {
  draining_ = true;
  if (closed_ || lingering_) return;
  // A request that has already reached the socket is answered (a 503 from
  // a draining gateway, with Connection: close) rather than reset unread.
  if (exchange_ == nullptr) {
    ReadSome();
    if (!closed_) ProcessInput();
    if (closed_) return;
  }
  if (exchange_ == nullptr && !parser_.in_request() && pending_output() == 0) {
    Close();
    return;
  }
  UpdateInterest();
  UpdateTimer();
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  loop_->UnwatchFd(transport_->fd());
  if (timer_ != 0) loop_->CancelTimer(timer_);
  timer_ = 0;
  if (exchange_) {
    exchange_->Gone();
    exchange_.reset();
  }
  // Posted: Close may run from inside this connection's own methods.
  loop_->Post([self = shared_from_this()] { self->on_closed_(self.get()); });
}

void Connection::OnEvents(uint32_t events) {
  if (closed_) return;
  std::shared_ptr<Connection> keep = shared_from_this();
  if (lingering_) {
    DiscardInput();
    return;
  }
  if (events & (EPOLLOUT | EPOLLIN | EPOLLERR | EPOLLHUP)) {
    if (pending_output() > 0) Flush();
    if (closed_) return;
    ReadSome();
    if (closed_) return;
    ProcessInput();
  }
  if (closed_) return;
  UpdateInterest();
  UpdateTimer();
}

void Connection::ReadSome() {
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    if (peer_closed_) return;
    // While answering, read only a bounded amount ahead.
    if (exchange_ && in_.size() - in_offset_ >= kMaxReadAhead) return;
    char buffer[kReadChunk];
    Transport::Io io = transport_->Read(buffer, sizeof(buffer));
    if (io.status == Transport::Status::kWouldBlock) return;
    if (io.status != Transport::Status::kOk) {
      peer_closed_ = true;
      // A client that hangs up mid-request or mid-answer is gone; one that
      // half-closes after a complete request still gets its answer unless
      // the socket failed.
      if (io.status == Transport::Status::kError || exchange_ || parser_.in_request() ||
          pending_output() == 0) {
        Close();
      }
      return;
    }
    if (in_offset_ > 0 && in_offset_ == in_.size()) {
      in_.clear();
      in_offset_ = 0;
    }
    in_.append(buffer, io.bytes);
    if (io.bytes < sizeof(buffer) && !transport_->has_buffered_input()) return;
  }
}

void Connection::ProcessInput() {
  if (processing_) return;  // the outer call goes on with the next request
  processing_ = true;
  while (!closed_ && exchange_ == nullptr && !close_after_write_ && in_offset_ < in_.size()) {
    bool was_in_request = parser_.in_request();
    size_t used = parser_.Feed(std::string_view(in_).substr(in_offset_));
    // A request starts at its first byte; empty lines before it (which the
    // parser skips) start nothing, so they cannot push the timeout back.
    if (!was_in_request && parser_.in_request()) request_started_ = MonoNow();
    in_offset_ += used;
    if (parser_.wants_continue()) {
      parser_.ContinueSent();
      out_.append("HTTP/1.1 100 Continue\r\n\r\n");
      Flush();
      if (closed_) break;
    }
    if (parser_.state() == RequestParser::State::kError) {
      RefuseRequest(parser_.error_status(), RejectReason(parser_.error_status()),
                    parser_.error_message());
      break;
    }
    if (parser_.state() != RequestParser::State::kComplete) break;
    Request request = parser_.TakeRequest();
    bool keep_alive = request.keep_alive;
    exchange_ = std::make_shared<ExchangeImpl>(this, keep_alive);
    (*handler_)(std::move(request), exchange_);
  }
  if (in_offset_ == in_.size()) {
    in_.clear();
    in_offset_ = 0;
  }
  processing_ = false;
}

void Connection::RefuseRequest(int status, std::string_view reject, std::string_view message) {
  if (stats_->on_reject) stats_->on_reject(reject);
  // The framing is lost: answer and close (RFC 9112 says so for a bad request).
  std::string body = absl::StrCat(R"({"error":{"message":")", std::string(message),
                                  R"(","type":"invalid_request_error","code":"http_)", status,
                                  R"("}})");
  AppendResponseHead(status, {{"Content-Type", "application/json"}}, body.size(),
                     /*keep_alive=*/false, &out_);
  out_.append(body);
  close_after_write_ = true;
  in_.clear();
  in_offset_ = 0;
  Flush();
}

void Connection::AnswerQueued() {
  exchange_.reset();
  idle_since_ = MonoNow();
  Flush();
  if (closed_) return;
  if (draining_ && pending_output() == 0 && !close_after_write_) {
    Close();
    return;
  }
  // The next pipelined request, if any; not from inside the handler's stack
  // (ProcessInput's loop goes on by itself then).
  ProcessInput();
  if (closed_) return;
  UpdateInterest();
  UpdateTimer();
}

void Connection::Flush() {
  if (closed_) return;
  while (pending_output() > 0) {
    Transport::Io io = transport_->Write(std::string_view(out_).substr(out_offset_));
    if (io.status == Transport::Status::kWouldBlock) break;
    if (io.status != Transport::Status::kOk) {
      if (stats_->on_reject && exchange_) stats_->on_reject("client_gone");
      Close();
      return;
    }
    out_offset_ += io.bytes;
    write_progress_ = MonoNow();
  }
  if (pending_output() == 0) {
    out_.clear();
    out_offset_ = 0;
    if (close_after_write_ && exchange_ == nullptr) {
      Linger();
      return;
    }
  } else if (out_offset_ > (64 << 10) && out_offset_ * 2 > out_.size()) {
    out_.erase(0, out_offset_);
    out_offset_ = 0;
  }
  if (exchange_) {
    std::shared_ptr<ExchangeImpl> exchange = exchange_;
    exchange->MaybeWritable(pending_output(), options_->high_water_bytes);
  }
  if (!closed_ && !processing_) {
    UpdateInterest();
    UpdateTimer();
  }
}

void Connection::Linger() {
  if (closed_ || lingering_) return;
  if (peer_closed_) {
    Close();
    return;
  }
  lingering_ = true;
  in_.clear();
  in_offset_ = 0;
  transport_->ShutdownWrite();
  linger_until_ = MonoNow() + absl::ToInt64Nanoseconds(kLingerTime);
  UpdateInterest();
  UpdateTimer();
}

void Connection::DiscardInput() {
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    char buffer[kReadChunk];
    Transport::Io io = transport_->Read(buffer, sizeof(buffer));
    if (io.status == Transport::Status::kWouldBlock) return;
    if (io.status != Transport::Status::kOk) {
      Close();
      return;
    }
  }
}

void Connection::UpdateInterest() {
  if (closed_) return;
  uint32_t want = 0;
  bool reading = lingering_ || (!peer_closed_ && (exchange_ == nullptr
                                                      ? !close_after_write_
                                                      : in_.size() - in_offset_ < kMaxReadAhead));
  if (reading || transport_->write_wants_readable()) want |= EPOLLIN;
  if (pending_output() > 0 || transport_->read_wants_writable()) want |= EPOLLOUT;
  if (want == interest_) return;
  interest_ = want;
  std::weak_ptr<Connection> weak = weak_from_this();
  loop_->WatchFd(transport_->fd(), want, [weak](uint32_t events) {
    if (auto self = weak.lock()) self->OnEvents(events);
  });
}

Connection::TimerKind Connection::WantedTimer(MonoTime* deadline) const {
  if (lingering_) {
    *deadline = linger_until_;
    return TimerKind::kLinger;
  }
  // While a request is answered the handler's own bounds run (a Call's
  // stream_pause_timeout_ms covers a client that stops reading a stream).
  if (exchange_) return TimerKind::kNone;
  if (pending_output() > 0) {
    *deadline = write_progress_ + absl::ToInt64Nanoseconds(options_->write_timeout);
    return TimerKind::kWrite;
  }
  if (parser_.in_request() || idle_since_ == 0 || in_offset_ < in_.size()) {
    *deadline = request_started_ + absl::ToInt64Nanoseconds(options_->request_timeout);
    return TimerKind::kRequest;
  }
  *deadline = idle_since_ + absl::ToInt64Nanoseconds(options_->idle_timeout);
  return TimerKind::kIdle;
}

void Connection::UpdateTimer() {
  if (closed_) return;
  MonoTime deadline = 0;
  if (WantedTimer(&deadline) == TimerKind::kNone) {
    if (timer_ != 0) loop_->CancelTimer(timer_);
    timer_ = 0;
    return;
  }
  // A timer that fires early re-checks and re-arms, so it is replaced only
  // when it would fire too late.
  if (timer_ != 0 && timer_deadline_ <= deadline) return;
  if (timer_ != 0) loop_->CancelTimer(timer_);
  timer_deadline_ = deadline;
  std::weak_ptr<Connection> weak = weak_from_this();
  timer_ = loop_->AddTimer(deadline, [weak] {
    if (auto self = weak.lock()) self->OnTimer();
  });
}

void Connection::OnTimer() {
  timer_ = 0;
  if (closed_) return;
  MonoTime deadline = 0;
  TimerKind kind = WantedTimer(&deadline);
  if (kind == TimerKind::kNone || deadline > MonoNow()) {
    UpdateTimer();
    return;
  }
  switch (kind) {
    case TimerKind::kRequest:
      if (stats_->on_reject) stats_->on_reject("request_timeout");
      if (parser_.in_request() && pending_output() == 0) {
        // Best effort: the client may be reading while it dawdles.
        std::string body = R"({"error":{"message":"the request did not arrive within the server's request timeout","type":"invalid_request_error","code":"request_timeout"}})";
        AppendResponseHead(408, {{"Content-Type", "application/json"}}, body.size(), false, &out_);
        out_.append(body);
        transport_->Write(out_);
        out_.clear();
        out_offset_ = 0;
        Linger();
        return;
      }
      break;
    case TimerKind::kWrite:
      if (stats_->on_reject) stats_->on_reject("write_timeout");
      break;
    default:
      break;
  }
  Close();
}

}  // namespace rebound::http
