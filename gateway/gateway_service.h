// rebound.v1.Gateway on gRPC's callback API: one reactor per call, handing
// the work to a Call on one of the upstream event loops.
#ifndef REBOUND_GATEWAY_GATEWAY_SERVICE_H_
#define REBOUND_GATEWAY_GATEWAY_SERVICE_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "auth/bearer_tokens.h"
#include "blocks/block_table.h"
#include "gateway/metrics.h"
#include "policy/config.h"
#include "rebound/v1/gateway.grpc.pb.h"
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

class GatewayService final : public v1::Gateway::CallbackService {
 public:
  // `workers`, `metrics`, `blocks` and `latency` must outlive the service.
  GatewayService(std::shared_ptr<const Config> config,
                 std::vector<std::unique_ptr<UpstreamWorker>>* workers, Metrics* metrics,
                 BlockTable* blocks, LatencyTracker* latency);

  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext* context,
                                     const v1::CompletionRequest* request,
                                     v1::CompletionResponse* response) override;
  grpc::ServerWriteReactor<v1::StreamEvent>* StreamComplete(
      grpc::CallbackServerContext* context, const v1::CompletionRequest* request) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;

  // Calls started after this get the new config; running calls keep theirs.
  // Also rebuilds the retry budgets (server.retry_budget): providers still
  // configured with the same settings keep theirs, counts included.
  void SetConfig(std::shared_ptr<const Config> config);
  std::shared_ptr<const Config> config() const;

  // Calls started after this must carry one of `tokens` (null: no caller
  // authentication). Health and reflection are not affected.
  void SetCallerTokens(std::shared_ptr<const BearerTokens> tokens);

  // New calls are refused with UNAVAILABLE from now on.
  void StartDraining() { draining_.store(true); }
  int in_flight() const { return in_flight_.load(); }

 private:
  class UnaryReactor;
  class StreamReactor;
  template <typename Reactor>
  void Dispatch(Reactor* reactor, grpc::CallbackServerContext* context,
                const v1::CompletionRequest& request, bool streaming);
  void CallEnded();

  mutable absl::Mutex mu_;
  std::shared_ptr<const Config> config_ ABSL_GUARDED_BY(mu_);
  // Built from config_ (null when disabled); swapped together with it.
  std::shared_ptr<RetryBudgets> retry_budgets_ ABSL_GUARDED_BY(mu_);
  // config_'s credentials, for redaction (codec/redact.h).
  std::shared_ptr<const std::vector<std::string>> secrets_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const BearerTokens> caller_tokens_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<UpstreamWorker>>* workers_;
  Metrics* metrics_;
  BlockTable* blocks_;
  LatencyTracker* latency_;
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<uint32_t> next_worker_{0};
  std::atomic<uint64_t> next_request_serial_{0};  // for NewRequestId
};

}  // namespace rebound

#endif  // REBOUND_GATEWAY_GATEWAY_SERVICE_H_
