// The upstream side of a call, as the Call sees it: start one HTTP transfer
// to a provider, cancel it, pause and resume its body. CurlUpstream
// implements it over libcurl; tests/unit/call_test.cc scripts it.
#ifndef REBOUND_UPSTREAM_UPSTREAM_H_
#define REBOUND_UPSTREAM_UPSTREAM_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/http_types.h"
#include "upstream/upstream_request.h"

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
  // Exactly once, last, unless Upstream::Cancel returned true first; the
  // transfer is gone when this runs.
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

// Thread safety: every method, and every TransferHandler call, runs on the
// thread that owns the Upstream (for CurlUpstream, its EventLoop's thread).
//
// The contract on callbacks, for every implementation: a handler gets
// OnHeaders at most once, then OnBody calls, then exactly one OnDone, and
// none of them from inside Start. Cancel(id) returning true means the
// handler of `id` will never be called again; false means `id` is unknown
// or already done (its OnDone has run). Resume may deliver buffered body
// bytes (OnBody) before it returns. Destroying the Upstream drops every
// transfer without calling its handler.
class Upstream {
 public:
  using TransferId = uint64_t;  // never 0

  virtual ~Upstream() = default;
  // Starts a POST of `request`. `handler` must stay valid until its OnDone
  // has run or Cancel returned true. A transfer that cannot start (the
  // provider's connection limit) ends with kOverloaded, also never inside
  // this call.
  virtual TransferId Start(UpstreamRequest request, TransferHandler* handler,
                           AttemptCap cap) = 0;
  virtual bool Cancel(TransferId id) = 0;
  // Caller-side backpressure: no OnBody while paused, and the idle timeout
  // does not run. Unknown ids are ignored.
  virtual void Pause(TransferId id) = 0;
  virtual void Resume(TransferId id) = 0;
};

}  // namespace rebound

#endif  // REBOUND_UPSTREAM_UPSTREAM_H_
