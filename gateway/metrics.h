// The data plane's Prometheus metrics, declared in one place.
//
// Label values are bounded: configured model ids (or "unknown"), provider
// names from the configuration, and fixed enums. Never request data.
#ifndef REBOUND_GATEWAY_METRICS_H_
#define REBOUND_GATEWAY_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace rebound {

// Thread-safe: every gRPC and upstream thread records into the one instance
// that GatewayServer owns; its registry is what /metrics serves.
class Metrics {
 public:
  Metrics();

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // outcome: ok, upstream_error, exhausted, invalid_request, unknown_model,
  // overloaded, shutting_down, cancelled, stream_interrupted, deadline,
  // response_too_large, caller_too_slow. api: "grpc" or "http" (the
  // front door).
  void RecordRequest(std::string_view model, std::string_view outcome, std::string_view api);
  // outcome: success, http_error, timeout, transport_error,
  // stream_interrupted, overloaded, response_too_large. status_class: 2xx,
  // 4xx, 5xx, none.
  void RecordAttempt(std::string_view model, std::string_view provider, std::string_view outcome,
                     std::string_view status_class, double ttfb_seconds, double duration_seconds);
  void RecordOverhead(double seconds);
  void RecordMalformedEvent(std::string_view model);
  // A streaming call ended because its caller read nothing for
  // server.stream_pause_timeout_ms (`model` is the call's primary).
  void RecordStreamPauseTimeout(std::string_view model);
  // Requests to `provider` that HTTP/2 refused unprocessed (REFUSED_STREAM,
  // GOAWAY) and that were re-sent at once without counting as an attempt.
  void RecordUnprocessedResends(std::string_view provider, int count);
  // A translation between APIs (from: the caller's, to: the target's;
  // "openai" or "anthropic"). result: translated (an attempt answered and
  // its answer was translated), upstream_failed (a translated attempt
  // failed upstream), untranslatable_answer (its answer was not one of the
  // target's API), not_translatable (a candidate was skipped: the request
  // cannot be expressed in the target's API).
  void RecordTranslation(std::string_view from, std::string_view to, std::string_view result);
  void RecordConfigLoad(bool ok);
  // A Gateway call refused by caller authentication; rpc: Complete or
  // StreamComplete.
  void RecordUnauthenticated(std::string_view rpc);
  // A retry of a request whose primary is `model`, from the model that just
  // failed to the next target, after `wait_seconds` (kind: backoff or
  // retry_after, whichever was longer).
  void RecordRetry(std::string_view model, std::string_view from, std::string_view to,
                   double wait_seconds, std::string_view wait_kind);
  void RecordWait(double seconds, std::string_view kind);
  // reason: RetryState's EndReason (attempt_cap, class_budget, ...,
  // provider_retry_budget).
  void RecordExhausted(std::string_view model, std::string_view reason);
  // A retry not sent to `provider` because its server.retry_budget was spent.
  void RecordRetryBudgetSkip(std::string_view provider);
  // An attempt whose provider error said `error_class`
  // (policy/provider_error_class.h), by the model that answered it.
  void RecordProviderError(std::string_view model, std::string_view error_class);
  // A hedge of a call to primary `model`: result started, won (the hedge
  // answered first), lost (the attempt it hedged did), failed (it failed
  // before answering) or refused (server.hedge_budget was spent).
  void RecordHedge(std::string_view model, std::string_view result);
  // kind: retry_after or latency; scope: model or provider.
  void RecordBlockCreated(std::string_view kind, std::string_view scope);
  void SetActiveBlocks(std::string_view kind, std::string_view scope, double count);

  // Control-plane client (replica/replica_sync.h). `address` is a
  // configured control-plane address.
  void SetControlPlaneConnected(std::string_view address, bool connected);
  // The counter of the policy version in force (0: the local file).
  void SetPolicyVersion(double counter);
  void RecordPolicyNack();
  void RecordControlPlaneBlocksReceived(int count);
  void RecordControlPlaneBlocksSent(int count);
  // From a block's creation on its origin replica to its merge here.
  void RecordControlPlanePropagation(double seconds);

  prometheus::Gauge& in_flight() { return *in_flight_; }

  // The HTTP front door's listener: open connections, and connections or
  // requests it refused or cut (reason: too_many_connections, bad_request,
  // headers_too_large, body_too_large, request_timeout, write_timeout,
  // client_gone).
  void SetHttpConnections(int64_t open);
  void RecordHttpReject(std::string_view reason);

 private:
  const uint64_t serial_;  // unique per instance: keys the per-thread metric cache
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* attempts_;
  prometheus::Family<prometheus::Histogram>* ttfb_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Histogram* overhead_;
  prometheus::Family<prometheus::Counter>* malformed_events_;
  prometheus::Family<prometheus::Counter>* stream_pause_timeouts_;
  prometheus::Family<prometheus::Counter>* unprocessed_resends_;
  prometheus::Family<prometheus::Counter>* translations_;
  prometheus::Family<prometheus::Counter>* config_loads_;
  prometheus::Family<prometheus::Counter>* unauthenticated_;
  prometheus::Family<prometheus::Counter>* retries_;
  prometheus::Family<prometheus::Counter>* failovers_;
  prometheus::Family<prometheus::Counter>* exhaustions_;
  prometheus::Family<prometheus::Counter>* retry_budget_skips_;
  prometheus::Family<prometheus::Counter>* provider_errors_;
  prometheus::Family<prometheus::Counter>* hedges_;
  prometheus::Family<prometheus::Histogram>* waits_;
  prometheus::Family<prometheus::Counter>* blocks_created_;
  prometheus::Family<prometheus::Gauge>* active_blocks_;
  prometheus::Gauge* in_flight_;
  prometheus::Gauge* http_connections_;
  prometheus::Family<prometheus::Counter>* http_rejects_;
  prometheus::Family<prometheus::Gauge>* controlplane_connected_;
  prometheus::Gauge* policy_version_;
  prometheus::Counter* policy_nacks_;
  prometheus::Counter* controlplane_blocks_received_;
  prometheus::Counter* controlplane_blocks_sent_;
  prometheus::Histogram* controlplane_propagation_;
};

}  // namespace rebound

#endif  // REBOUND_GATEWAY_METRICS_H_
