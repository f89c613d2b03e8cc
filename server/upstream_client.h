// Upstream HTTP over libcurl's multi interface, driven by an EventLoop.
// (The HTTP/2 refused-stream re-send needs libcurl 7.88's wording; with
// another libcurl it is off and such requests count as failed attempts.)
//
// One UpstreamClient per EventLoop; every method and callback runs on that
// loop's thread. Connections are kept alive and reused across transfers;
// HTTP/2 is negotiated over TLS. Timeouts (RETRY.md 3.4) are loop timers, so
// the kind of timeout that ended a transfer is known exactly.
#ifndef REBOUND_SERVER_UPSTREAM_CLIENT_H_
#define REBOUND_SERVER_UPSTREAM_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "policy/config.h"
#include "server/event_loop.h"
#include "server/http_types.h"
#include "server/upstream_request.h"

namespace rebound {

// How a transfer ended.
struct TransferResult {
  enum class Kind {
    kCompleted,       // the whole response was received
    kTimeout,         // see timeout_kind
    kTransportError,  // connection refused/reset, DNS, TLS, broken transfer
    kOverloaded,      // the per-provider connection limit was reached
    kAborted,         // the handler's OnBody returned false (it knows why)
  };
  Kind kind = Kind::kCompleted;
  TimeoutKind timeout_kind = TimeoutKind::kNone;
  int64_t timeout_ms = 0;   // the configured value that fired
  std::string error;        // short, for logs and attempt records; no secrets
  std::string error_type;   // compact: "connection_refused", "connection_reset", ...
  // Requests HTTP/2 refused unprocessed and curl re-sent at once (not
  // attempts: the provider never processed them).
  int unprocessed_resends = 0;
};

// Receives one transfer's progress. All calls happen on the loop thread.
class TransferHandler {
 public:
  virtual ~TransferHandler() = default;
  // The status line and headers (after any 1xx). Called at most once,
  // before the first OnBody.
  virtual void OnHeaders(int http_status, HttpHeaders headers) = 0;
  // A piece of the body, as it arrives. Return false to abort the transfer
  // (it then ends with kAborted).
  virtual bool OnBody(std::string_view chunk) = 0;
  // Exactly once, last; the transfer is gone when this runs. Not called
  // after Cancel().
  virtual void OnDone(const TransferResult& result) = 0;
};

// A cap on one transfer besides the provider's own timeouts: what remains of
// the caller's deadline or of the policy's max_retry_duration_ms. When it
// passes first, the transfer ends as kTimeout with `kind` and `ms`.
struct AttemptCap {
  absl::Duration after = absl::InfiniteDuration();
  TimeoutKind kind = TimeoutKind::kNone;  // kDeadline or kRetryBudget
  int64_t ms = 0;                         // reported as the timeout's value
};

class UpstreamClient {
 public:
  using TransferId = uint64_t;

  struct Options {
    int max_connections_per_provider = 256;
  };

  UpstreamClient(EventLoop* loop, Options options);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Starts a POST. `handler` must outlive the transfer (until OnDone or
  // Cancel). A transfer that cannot start (limit reached) reports OnDone
  // from a posted task, never re-entrantly.
  TransferId Start(UpstreamRequest request, TransferHandler* handler, AttemptCap cap = {});

  // Stops a transfer; its handler gets no further calls. Unknown ids are
  // ignored.
  // True when `id` was a live transfer (its handler will not be called).
  bool Cancel(TransferId id);

  // Pauses/resumes delivery of body bytes (caller-side backpressure). While
  // paused, the idle timeout does not run.
  void Pause(TransferId id);
  void Resume(TransferId id);

  int active_transfers() const { return static_cast<int>(transfers_.size()); }

 private:
  struct Transfer;
  static int OnSocket(void* easy, int fd, int what, void* client, void* socket_data);
  static int OnCurlTimer(void* multi, long timeout_ms, void* client);
  static size_t OnHeaderLine(char* data, size_t size, size_t n, void* transfer);
  static size_t OnWrite(char* data, size_t size, size_t n, void* transfer);
  static int OnPreRequest(void* transfer, char* conn_primary_ip, char* conn_local_ip,
                          int conn_primary_port, int conn_local_port);
  static int OnDebug(void* easy, int type, char* data, size_t size, void* transfer);
  // HTTP/2 requests refused unprocessed are re-sent at most this often per
  // transfer.
  static constexpr int kMaxUnprocessedResends = 2;
  static bool Unprocessed(const Transfer& t);
  static bool AboveGoaway(const Transfer& t);
  static void ForgetRequest(Transfer* t);

  void DriveSocket(int fd, uint32_t epoll_events);
  void DriveTimeout();
  void CollectFinished();
  void FinishTransfer(Transfer* t, TransferResult result);
  void ArmIdleTimer(Transfer* t);
  void OnTimeout(TransferId id, TimeoutKind kind, int64_t ms);
  void Release(Transfer* t);
  void* AcquireEasy();

  EventLoop* loop_;
  Options options_;
  bool h2_resends_ = false;  // OnDebug understands this libcurl's text
  void* multi_;  // CURLM*
  EventLoop::TimerId curl_timer_ = 0;
  TransferId next_id_ = 1;
  std::unordered_map<TransferId, std::unique_ptr<Transfer>> transfers_;
  std::unordered_map<std::string, int> active_per_pool_;
  std::vector<void*> idle_easy_;  // reusable CURL* handles
};

}  // namespace rebound

#endif  // REBOUND_SERVER_UPSTREAM_CLIENT_H_
