// What the gRPC Gateway service and the HTTP front door share: the config
// and caller tokens in force, the retry budgets, the upstream workers, the
// admission of a call (draining, max_in_flight) and the count of calls in
// flight that draining waits for. Both front ends build their Calls here,
// so a call means the same whichever way it came in.
#ifndef REBOUND_GATEWAY_GATEWAY_CORE_H_
#define REBOUND_GATEWAY_GATEWAY_CORE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/bearer_tokens.h"
#include "blocks/block_table.h"
#include "gateway/call.h"
#include "gateway/metrics.h"
#include "policy/config.h"
#include "retry/latency_tracker.h"
#include "retry/retry_budgets.h"
#include "upstream/curl_upstream.h"
#include "upstream/event_loop.h"

namespace rebound {

// One upstream I/O thread: its loop and the curl client that runs on it.
struct UpstreamWorker {
  EventLoop loop;
  std::unique_ptr<CurlUpstream> client;
};

// A consistent view of the settings one call runs with.
struct CallSettings {
  std::shared_ptr<const Config> config;
  std::shared_ptr<const BearerTokens> caller_tokens;  // null: no caller authentication
  std::shared_ptr<RetryBudgets> retry_budgets;
  std::shared_ptr<const std::vector<std::string>> secrets;
  std::shared_ptr<RetryBudget> hedge_budget;  // null: server.hedge_budget disabled
};

// Why a call is refused before it starts (draining or max_in_flight).
struct Refusal {
  grpc::StatusCode code;
  v1::ErrorReason reason;
  std::string message;
  int64_t pushback_ms = 0;
};

class GatewayCore {
 public:
  // `workers`, `metrics`, `blocks` and `latency` must outlive the core.
  GatewayCore(std::shared_ptr<const Config> config,
              std::vector<std::unique_ptr<UpstreamWorker>>* workers, Metrics* metrics,
              BlockTable* blocks, LatencyTracker* latency);

  // Calls started after this get the new config; running calls keep theirs.
  // Also rebuilds the retry budgets (server.retry_budget): providers still
  // configured with the same settings keep theirs, counts included.
  void SetConfig(std::shared_ptr<const Config> config);
  // Calls started after this must carry one of `tokens` (null: none).
  void SetCallerTokens(std::shared_ptr<const BearerTokens> tokens);
  CallSettings Settings() const;

  // Counts a call in flight (CallEnded undoes it, whatever Admit says), then
  // refuses it while draining or past server.max_in_flight.
  std::optional<Refusal> Admit(const Config& config);
  void CallEnded();

  // "rb-..." ids for calls whose caller sent none.
  std::string NewRequestId();

  // The worker for a new gRPC call (round robin), or the one that runs
  // `loop` (an HTTP connection's), or null.
  UpstreamWorker& NextWorker();
  UpstreamWorker* WorkerOn(const EventLoop* loop);
  std::vector<EventLoop*> loops() const;

  // What a Call on `worker` needs; `api` labels its metrics.
  CallEnv MakeEnv(const CallSettings& settings, UpstreamWorker& worker, std::string_view api);

  // New calls are refused with UNAVAILABLE from now on.
  void StartDraining() { draining_.store(true); }
  bool draining() const { return draining_.load(); }
  int in_flight() const { return in_flight_.load(); }
  // Waits until no call is in flight or `deadline` passes; true when none is.
  bool WaitForIdle(absl::Time deadline);

  Metrics* metrics() const { return metrics_; }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const Config> config_ ABSL_GUARDED_BY(mu_);
  // Built from config_ (null when disabled); swapped together with it.
  std::shared_ptr<RetryBudgets> retry_budgets_ ABSL_GUARDED_BY(mu_);
  // Likewise; kept across a reload that leaves server.hedge_budget as it was.
  std::shared_ptr<RetryBudget> hedge_budget_ ABSL_GUARDED_BY(mu_);
  // config_'s credentials, for redaction (codec/redact.h).
  std::shared_ptr<const std::vector<std::string>> secrets_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const BearerTokens> caller_tokens_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<UpstreamWorker>>* workers_;
  Metrics* metrics_;
  BlockTable* blocks_;
  LatencyTracker* latency_;
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
  absl::Mutex idle_mu_;  // WaitForIdle's wake-up: taken when in_flight_ reaches 0
  std::atomic<uint32_t> next_worker_{0};
  std::atomic<uint64_t> next_request_serial_{0};
};

}  // namespace rebound

#endif  // REBOUND_GATEWAY_GATEWAY_CORE_H_
