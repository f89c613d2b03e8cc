// The per-request decision maker of the attempt loop.
//
// RetryState is pure: it never touches a socket, a timer or the clock. The
// Call (server/call.h) reports what each attempt did and executes what
// RetryState decides: start an attempt at a target after a wait, deliver the
// answer, or fail with a precise error. Time is passed in by the caller.
//
// Envoy's split: the RetryPolicy is immutable and shared; a RetryState lives
// for one request.
#ifndef REBOUND_SERVER_RETRY_STATE_H_
#define REBOUND_SERVER_RETRY_STATE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "policy/config.h"
#include "server/http_types.h"

namespace rebound {

// What one attempt did, as the attempt loop observed it.
struct AttemptResult {
  enum class Kind {
    kSuccess,            // complete 2xx
    kHttpError,          // non-2xx status
    kTimeout,            // timeout_kind says which
    kTransportError,     // refused, reset, DNS, TLS, stream ended before any event
    kStreamInterrupted,  // cut, stalled or unterminated after events reached the caller
    kOverloaded,         // the gateway's own per-provider connection limit
  };
  Kind kind = Kind::kSuccess;
  const ModelProvider* target = nullptr;
  int http_status = 0;
  HttpHeaders headers;
  TimeoutKind timeout_kind = TimeoutKind::kNone;
  int64_t timeout_ms = 0;
  std::string error_type;  // "http_429", "timeout_1000ms", "stream_interrupted", ...
  absl::Duration ttfb = absl::ZeroDuration();
  absl::Duration duration = absl::ZeroDuration();
  absl::Duration wait_before = absl::ZeroDuration();
};

// Caller options that can only narrow the policy (CompletionRequest.retry).
struct NarrowingOptions {
  bool disable_retries = false;
  int max_attempts = 0;  // 0 = no extra cap
  std::vector<const ModelProvider*> allowed_models;  // empty = no restriction
};

struct Decision {
  enum class Kind {
    kAttempt,  // start an attempt at `target` after `wait`
    kDeliver,  // the last attempt's answer goes to the caller as it is
    kExhausted,  // retries exhausted: fail with the retry_exhausted detail
  };
  Kind kind = Kind::kDeliver;
  const ModelProvider* target = nullptr;
  absl::Duration wait = absl::ZeroDuration();
  // kExhausted: when a retry can succeed again (blocks, Retry-After); zero = unknown.
  absl::Duration pushback = absl::ZeroDuration();
  bool retry_budget_exhausted = false;
};

class RetryState {
 public:
  // `config` must outlive the state (the Call holds a shared_ptr to it).
  RetryState(const Config* config, const ModelProvider* primary, NarrowingOptions options);

  // The first attempt.
  Decision Begin(absl::Time now);
  // After every attempt, in order.
  Decision OnAttemptDone(const AttemptResult& result, absl::Time now);

  const std::vector<AttemptResult>& attempts() const { return attempts_; }
  const ModelProvider* primary() const { return primary_; }

 private:
  const Config* config_;
  const ModelProvider* primary_;
  NarrowingOptions options_;
  std::vector<AttemptResult> attempts_;
};

}  // namespace rebound

#endif  // REBOUND_SERVER_RETRY_STATE_H_
