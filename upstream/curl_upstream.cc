#include "upstream/curl_upstream.h"

#include <curl/curl.h>
#include <sys/epoll.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rebound {

struct CurlUpstream::Transfer {
  TransferId id = 0;
  CurlUpstream* client = nullptr;
  CURL* easy = nullptr;
  TransferHandler* handler = nullptr;
  UpstreamRequest request;
  curl_slist* header_list = nullptr;

  int http_status = 0;
  HttpHeaders response_headers;
  bool headers_delivered = false;
  bool first_byte_seen = false;
  bool paused = false;
  bool aborted_by_handler = false;
  // curl's pre-request hook runs once per HTTP request it sends; a second
  // run is curl's hidden re-send on a fresh connection (see OnPreRequest).
  int requests_sent = 0;
  bool hidden_retry_refused = false;
  // What curl's informational text said of this request (OnDebug): its
  // HTTP/2 stream, a refusal, a GOAWAY's last processed stream, and whether
  // a transport failure was reported (then the request may have been
  // processed, whatever else was seen).
  uint32_t h2_stream_id = 0;
  bool h2_refused = false;
  std::optional<uint32_t> goaway_last_stream;
  bool transport_failure_seen = false;
  int unprocessed_resends = 0;
  char error_buffer[CURL_ERROR_SIZE] = {};

  MonoTime last_activity = 0;
  EventLoop::TimerId first_byte_timer = 0;
  EventLoop::TimerId idle_timer = 0;
  EventLoop::TimerId total_timer = 0;
  EventLoop::TimerId cap_timer = 0;
};


namespace {

// curl_global_init must run once before any thread uses curl.
struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

TransferResult ResultFromCurlCode(CURLcode code, const char* error_buffer) {
  TransferResult r;
  if (code == CURLE_OK) return r;
  r.kind = TransferResult::Kind::kTransportError;
  r.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT: r.error_type = "connection_refused"; break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: r.error_type = "dns_failure"; break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR: r.error_type = "connection_reset"; break;
    case CURLE_GOT_NOTHING: r.error_type = "empty_reply"; break;
    case CURLE_PARTIAL_FILE: r.error_type = "incomplete_body"; break;
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: r.error_type = "http2_error"; break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE: r.error_type = "tls_error"; break;
    case CURLE_OPERATION_TIMEDOUT:
      // Only the connect timeout is left to curl; the others are loop timers.
      r.kind = TransferResult::Kind::kTimeout;
      r.timeout_kind = TimeoutKind::kConnect;
      r.error_type = "timeout_connect";
      break;
    default: r.error_type = "transport_error"; break;
  }
  return r;
}

}  // namespace

CurlUpstream::CurlUpstream(EventLoop* loop, Options options)
    : loop_(loop),
      options_(options),
      limit_(options_.limit != nullptr
                 ? options_.limit
                 : std::make_shared<ConnectionLimit>(options_.max_connections_per_provider)) {
  static CurlGlobal global;
  // The HTTP/2 re-send rule reads libcurl's informational text, whose
  // wording is what upstream_http2_test checked: libcurl 7.88. Another
  // libcurl keeps the safe default (no re-send behind the retry engine).
  h2_resends_ = (curl_version_info(CURLVERSION_NOW)->version_num >> 8) == 0x0758;
  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlUpstream::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlUpstream::OnCurlTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  // Keep enough idle connections around that steady load never reconnects.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 4L * limit_->max());
}

CurlUpstream::~CurlUpstream() {
  refused_->clear();
  while (!transfers_.empty()) Cancel(transfers_.begin()->first);
  for (void* easy : idle_easy_) curl_easy_cleanup(static_cast<CURL*>(easy));
  if (curl_timer_ != 0) loop_->CancelTimer(curl_timer_);
  curl_multi_cleanup(multi_);
}

void* CurlUpstream::AcquireEasy() {
  if (!idle_easy_.empty()) {
    CURL* easy = static_cast<CURL*>(idle_easy_.back());
    idle_easy_.pop_back();
    curl_easy_reset(easy);
    return easy;
  }
  return curl_easy_init();
}

CurlUpstream::TransferId CurlUpstream::Start(UpstreamRequest request,
                                                 TransferHandler* handler, AttemptCap cap) {
  TransferId id = next_id_++;
  if (!limit_->TryAcquire(request.pool_key)) {
    refused_->insert(id);
    // Holds the set, not `this`: the task may run after this CurlUpstream
    // is gone (the destructor empties the set, so it then does nothing).
    loop_->Post([refused = refused_, id, handler, limit = limit_->max()] {
      if (refused->erase(id) == 0) return;  // cancelled meanwhile, or destroyed
      TransferResult r;
      r.kind = TransferResult::Kind::kOverloaded;
      r.error = absl::StrCat("provider connection limit (", limit, ") reached");
      r.error_type = "provider_overloaded";
      handler->OnDone(r);
    });
    return id;
  }

  auto t = std::make_unique<Transfer>();
  t->id = id;
  t->client = this;
  t->handler = handler;
  t->request = std::move(request);
  t->easy = static_cast<CURL*>(AcquireEasy());
  CURL* easy = t->easy;

  // Suppress curl's own defaults that would change what the provider sees.
  t->header_list = curl_slist_append(t->header_list, "Expect:");
  bool has_content_type = false;
  for (const auto& [name, value] : t->request.headers) {
    if (EqualsIgnoreCase(name, "content-type")) has_content_type = true;
    std::string line = value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value);
    t->header_list = curl_slist_append(t->header_list, line.c_str());
  }
  if (!has_content_type) {
    t->header_list = curl_slist_append(t->header_list, "Content-Type: application/json");
  }

  curl_easy_setopt(easy, CURLOPT_URL, t->request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->header_list);
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->request.body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(t->request.body.size()));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(t->request.timeouts.connect_ms));
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error_buffer);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &CurlUpstream::OnHeaderLine);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &CurlUpstream::OnWrite);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
  // Providers are chosen by configuration, never by a redirect.
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, &CurlUpstream::OnPreRequest);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, t.get());
  if (!t->request.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, t->request.ca_file.c_str());
  }
  if (h2_resends_ && absl::StartsWith(t->request.url, "https://")) {
    // HTTP/2 is negotiated over TLS only. libcurl 7.88 says whether a
    // stream was refused or a GOAWAY arrived only in its informational
    // text, so listen to it (nothing is printed: the callback replaces
    // curl's own output, and header and data dumps are ignored).
    curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, &CurlUpstream::OnDebug);
    curl_easy_setopt(easy, CURLOPT_DEBUGDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
  }

  const Timeouts& to = t->request.timeouts;
  t->first_byte_timer = loop_->AddTimerAfter(
      absl::Milliseconds(to.first_byte_ms),
      [this, id, ms = to.first_byte_ms] { OnTimeout(id, TimeoutKind::kFirstByte, ms); });
  if (to.total_ms) {
    t->total_timer = loop_->AddTimerAfter(
        absl::Milliseconds(*to.total_ms),
        [this, id, ms = *to.total_ms] { OnTimeout(id, TimeoutKind::kTotal, ms); });
  }
  if (cap.after != absl::InfiniteDuration()) {
    t->cap_timer = loop_->AddTimerAfter(std::max(cap.after, absl::ZeroDuration()),
                                        [this, id, kind = cap.kind, ms = cap.ms] {
                                          OnTimeout(id, kind, ms);
                                        });
  }

  Transfer* raw = t.get();
  transfers_.emplace(id, std::move(t));
  curl_multi_add_handle(multi_, raw->easy);
  return id;
}

bool CurlUpstream::Cancel(TransferId id) {
  if (refused_->erase(id) > 0) return true;
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return false;
  Release(it->second.get());
  transfers_.erase(it);
  return true;
}

void CurlUpstream::Pause(TransferId id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end() || it->second->paused) return;
  Transfer* t = it->second.get();
  // OnWrite answers CURL_WRITEFUNC_PAUSE from now on; that is safe even when
  // Pause() is called from inside a body callback.
  t->paused = true;
  if (t->idle_timer != 0) {
    loop_->CancelTimer(t->idle_timer);
    t->idle_timer = 0;
  }
}

void CurlUpstream::Resume(TransferId id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end() || !it->second->paused) return;
  Transfer* t = it->second.get();
  t->paused = false;
  t->last_activity = MonoNow();
  if (t->first_byte_seen) ArmIdleTimer(t);
  curl_easy_pause(t->easy, CURLPAUSE_CONT);
}

void CurlUpstream::Release(Transfer* t) {
  curl_multi_remove_handle(multi_, t->easy);
  for (EventLoop::TimerId timer :
       {t->first_byte_timer, t->idle_timer, t->total_timer, t->cap_timer}) {
    if (timer != 0) loop_->CancelTimer(timer);
  }
  curl_slist_free_all(t->header_list);
  t->header_list = nullptr;
  idle_easy_.push_back(t->easy);
  limit_->Release(t->request.pool_key);
}

void CurlUpstream::FinishTransfer(Transfer* t, TransferResult result) {
  TransferHandler* handler = t->handler;
  TransferId id = t->id;
  Release(t);
  transfers_.erase(id);  // destroys *t
  handler->OnDone(result);
}

void CurlUpstream::OnTimeout(TransferId id, TimeoutKind kind, int64_t ms) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  Transfer* t = it->second.get();
  if (kind == TimeoutKind::kFirstByte) t->first_byte_timer = 0;
  if (kind == TimeoutKind::kTotal) t->total_timer = 0;
  if (kind == TimeoutKind::kDeadline || kind == TimeoutKind::kRetryBudget) t->cap_timer = 0;
  if (kind == TimeoutKind::kIdle) {
    t->idle_timer = 0;
    // The idle timer is re-armed lazily: bytes may have arrived since.
    MonoTime quiet_until = t->last_activity + ms * 1'000'000;
    if (MonoNow() < quiet_until) {
      ArmIdleTimer(t);
      return;
    }
  }
  TransferResult r;
  r.kind = TransferResult::Kind::kTimeout;
  r.timeout_kind = kind;
  r.timeout_ms = ms;
  r.error = absl::StrCat(std::string(ToString(kind)), " timeout after ", ms, " ms");
  r.error_type = absl::StrCat("timeout_", ms, "ms");
  FinishTransfer(t, std::move(r));
}

void CurlUpstream::ArmIdleTimer(Transfer* t) {
  int64_t ms = t->request.timeouts.idle_ms;
  TransferId id = t->id;
  t->idle_timer = loop_->AddTimer(t->last_activity + ms * 1'000'000,
                                  [this, id, ms] { OnTimeout(id, TimeoutKind::kIdle, ms); });
}

size_t CurlUpstream::OnHeaderLine(char* data, size_t size, size_t n, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new status line: an earlier 1xx block (if any) is discarded.
    t->response_headers.clear();
    size_t space = line.find(' ');
    int status = 0;
    if (space != std::string_view::npos && line.size() >= space + 4) {
      std::from_chars(line.data() + space + 1, line.data() + space + 4, status);
    }
    t->http_status = status;
    return size * n;
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) {
    line.remove_suffix(1);
  }
  std::string_view trimmed = line;
  if (trimmed.empty()) {
    if (t->http_status >= 200 && !t->headers_delivered) {
      t->headers_delivered = true;
      t->handler->OnHeaders(t->http_status, std::move(t->response_headers));
      t->response_headers.clear();
    }
    return size * n;
  }
  size_t colon = trimmed.find(':');
  if (colon != std::string_view::npos) {
    t->response_headers.emplace_back(
        std::string(trimmed.substr(0, colon)),
        std::string(trimmed.substr(trimmed.find_first_not_of(" \t", colon + 1) ==
                                           std::string_view::npos
                                       ? trimmed.size()
                                       : trimmed.find_first_not_of(" \t", colon + 1))));
  }
  return size * n;
}

// libcurl re-sends a request once, on a fresh connection, when a reused
// connection dies before any response byte (Curl_retry_request). For a POST
// to an LLM provider that is a second upstream request the retry engine
// never sees: the provider may have received and billed the first. Refuse
// the re-send: the attempt ends as a connection reset, a transport error the
// retry policy handles (and counts) like any other.
//
// The exception is a request HTTP/2 guarantees was not processed (RFC 9113
// section 8.7): re-sending it at once is safe and costs the caller no
// attempt. libcurl 7.88 re-sends a refused stream itself (allowed here) but
// fails a stream above a GOAWAY's last stream id (re-sent by
// CollectFinished).
int CurlUpstream::OnPreRequest(void* userdata, char*, char*, int, int) {
  auto* t = static_cast<Transfer*>(userdata);
  if (t->requests_sent++ == 0) return CURL_PREREQFUNC_OK;
  if (Unprocessed(*t) && t->unprocessed_resends < kMaxUnprocessedResends) {
    ++t->unprocessed_resends;
    ForgetRequest(t);
    return CURL_PREREQFUNC_OK;
  }
  t->hidden_retry_refused = true;
  return CURL_PREREQFUNC_ABORT;
}

// On HTTP/2, curl re-sends behind our back (Curl_retry_request) only for a
// refused stream, or for a receive error, which it reports as a failure
// first ("Recv failure", an SSL read error); an end of the connection or
// any other stream reset fails the transfer instead. So a re-send of an
// HTTP/2 request with no failure reported is a refused stream, on a new
// connection (curl says "REFUSED_STREAM") or a reused one (it only says
// "Connection died").
bool CurlUpstream::Unprocessed(const Transfer& t) {
  if (t.transport_failure_seen) return false;
  if (t.h2_refused || t.h2_stream_id > 0) return true;
  return false;
}

bool CurlUpstream::AboveGoaway(const Transfer& t) {
  return !t.transport_failure_seen && t.h2_stream_id > 0 && t.goaway_last_stream &&
         t.h2_stream_id > *t.goaway_last_stream;
}

void CurlUpstream::ForgetRequest(Transfer* t) {
  t->h2_stream_id = 0;
  t->h2_refused = false;
  t->goaway_last_stream.reset();
}

// curl's informational text for one transfer (CURLINFO_TEXT; headers and
// data are ignored and never kept). Markers, as libcurl 7.88 words them:
// "Using Stream ID: N", "REFUSED_STREAM, retrying a fresh connect" and
// "recveived GOAWAY, error=E, last_stream=L" (sic); a transport failure
// ("Recv failure", "Send failure", an SSL read or write error, a stream
// "not closed cleanly") means the request may have been processed. A GOAWAY
// read by another transfer on the same connection is not seen here: this
// transfer then fails and is counted, the safe side. upstream_http2_test
// breaks if a libcurl update rewords these.
int CurlUpstream::OnDebug(void*, int type, char* data, size_t size, void* userdata) {
  if (type != CURLINFO_TEXT) return 0;
  auto* t = static_cast<Transfer*>(userdata);
  absl::string_view text(data, size);  // Debian's Abseil: its own string_view
  auto number_after = [&text](absl::string_view marker) -> std::optional<uint32_t> {
    size_t at = text.find(marker);
    if (at == absl::string_view::npos) return std::nullopt;
    uint32_t n = 0;
    const char* begin = text.data() + at + marker.size();
    auto [end, ec] = std::from_chars(begin, text.data() + text.size(), n);
    if (ec != std::errc() || end == begin) return std::nullopt;
    return n;
  };
  if (std::optional<uint32_t> id = number_after("Using Stream ID: ")) {
    t->h2_stream_id = *id;
  } else if (absl::StrContains(text, "REFUSED_STREAM")) {
    t->h2_refused = true;
  } else if (absl::StrContains(text, "GOAWAY")) {
    t->goaway_last_stream = number_after("last_stream=");
  } else if (absl::StrContains(text, "failure") || absl::StrContains(text, "SSL_read") ||
             absl::StrContains(text, "SSL_write") || absl::StrContains(text, "not closed cleanly")) {
    t->transport_failure_seen = true;
  }
  return 0;
}

size_t CurlUpstream::OnWrite(char* data, size_t size, size_t n, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  if (t->paused) return CURL_WRITEFUNC_PAUSE;
  CurlUpstream* self = t->client;
  t->last_activity = MonoNow();
  if (!t->first_byte_seen) {
    t->first_byte_seen = true;
    if (t->first_byte_timer != 0) {
      self->loop_->CancelTimer(t->first_byte_timer);
      t->first_byte_timer = 0;
    }
    self->ArmIdleTimer(t);
  }
  if (!t->headers_delivered) {
    t->headers_delivered = true;
    t->handler->OnHeaders(t->http_status, std::move(t->response_headers));
  }
  if (!t->handler->OnBody(std::string_view(data, size * n))) {
    t->aborted_by_handler = true;
    return 0;  // curl ends the transfer with CURLE_WRITE_ERROR
  }
  return size * n;
}

int CurlUpstream::OnSocket(void* /*easy*/, int fd, int what, void* client,
                             void* /*socket_data*/) {
  auto* self = static_cast<CurlUpstream*>(client);
  if (what == CURL_POLL_REMOVE) {
    self->loop_->UnwatchFd(fd);
    return 0;
  }
  uint32_t events = 0;
  if (what & CURL_POLL_IN) events |= EPOLLIN;
  if (what & CURL_POLL_OUT) events |= EPOLLOUT;
  self->loop_->WatchFd(fd, events, [self, fd](uint32_t ev) { self->DriveSocket(fd, ev); });
  return 0;
}

int CurlUpstream::OnCurlTimer(void* /*multi*/, long timeout_ms, void* client) {
  auto* self = static_cast<CurlUpstream*>(client);
  if (self->curl_timer_ != 0) {
    self->loop_->CancelTimer(self->curl_timer_);
    self->curl_timer_ = 0;
  }
  if (timeout_ms >= 0) {
    // curl must not be re-entered from its own callback: run on the loop.
    self->curl_timer_ = self->loop_->AddTimerAfter(absl::Milliseconds(timeout_ms), [self] {
      self->curl_timer_ = 0;
      self->DriveTimeout();
    });
  }
  return 0;
}

void CurlUpstream::DriveSocket(int fd, uint32_t epoll_events) {
  int flags = 0;
  if (epoll_events & EPOLLIN) flags |= CURL_CSELECT_IN;
  if (epoll_events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
  if (epoll_events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
  int running = 0;
  curl_multi_socket_action(multi_, fd, flags, &running);
  CollectFinished();
}

void CurlUpstream::DriveTimeout() {
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  CollectFinished();
}

void CurlUpstream::CollectFinished() {
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &pending)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    if (t == nullptr) continue;
    TransferResult result;
    if (t->aborted_by_handler) {
      result.kind = TransferResult::Kind::kAborted;
      result.error = "the gateway stopped reading the response";
      result.error_type = "aborted";
    } else if (t->hidden_retry_refused) {
      result.kind = TransferResult::Kind::kTransportError;
      result.error = "connection reset before the response (curl's re-send refused)";
      result.error_type = "connection_reset";
    } else {
      result = ResultFromCurlCode(msg->data.result, t->error_buffer);
      if (result.kind == TransferResult::Kind::kTimeout) {
        result.timeout_ms = t->request.timeouts.connect_ms;
        result.error_type = absl::StrCat("timeout_", result.timeout_ms, "ms");
      }
    }
    if (result.kind == TransferResult::Kind::kTransportError && !t->headers_delivered &&
        AboveGoaway(*t) && t->unprocessed_resends < kMaxUnprocessedResends) {
      // The server shut the connection down before it processed this
      // stream: send the request again on a new connection, same attempt.
      ++t->unprocessed_resends;
      ForgetRequest(t);
      t->requests_sent = 0;
      t->hidden_retry_refused = false;
      curl_multi_remove_handle(multi_, t->easy);
      curl_multi_add_handle(multi_, t->easy);
      continue;
    }
    if (result.kind == TransferResult::Kind::kCompleted && !t->headers_delivered) {
      // A response without body bytes: deliver its headers now.
      t->headers_delivered = true;
      t->handler->OnHeaders(t->http_status, std::move(t->response_headers));
    }
    result.unprocessed_resends = t->unprocessed_resends;
    FinishTransfer(t, std::move(result));
  }
}

}  // namespace rebound
