#include "gateway/metrics.h"

#include <atomic>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"

namespace rebound {
namespace {

// Family::Add builds a label map and takes the family's mutex on every call.
// Label values are bounded, so each thread remembers the metric it got for a
// given (Metrics instance, family, label values) key and skips both
// afterwards. The instance's serial is part of the key because a later
// Metrics may get a freed one's addresses (tests build many per thread).
template <typename T>
T& Cached(uint64_t serial, prometheus::Family<T>* family,
          std::initializer_list<std::string_view> values, absl::FunctionRef<T&()> add) {
  thread_local absl::flat_hash_map<std::string, void*> cache;
  std::string key(reinterpret_cast<const char*>(&serial), sizeof(serial));
  key.append(reinterpret_cast<const char*>(&family), sizeof(family));
  for (std::string_view v : values) {
    key.append(v.data(), v.size());
    key.push_back('\x1f');
  }
  auto [it, inserted] = cache.try_emplace(std::move(key), nullptr);
  if (inserted) it->second = &add();
  return *static_cast<T*>(it->second);
}

using prometheus::Histogram;

// Upstream latencies: 1 ms to 2 min.
const Histogram::BucketBoundaries& LatencyBuckets() {
  static const Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return kBuckets;
}

// Gateway overhead: 10 us to 100 ms.
const Histogram::BucketBoundaries& OverheadBuckets() {
  static const Histogram::BucketBoundaries kBuckets = {
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1};
  return kBuckets;
}

// Block propagation between replicas: 100 us to 1 s.
const Histogram::BucketBoundaries& PropagationBuckets() {
  static const Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
  return kBuckets;
}

uint64_t NextSerial() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Metrics::Metrics()
    : serial_(NextSerial()), registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("rebound_requests_total")
                   .Help("Calls by primary model, outcome and api (grpc: rebound.v1.Gateway; "
                         "http: the OpenAI/Anthropic front door).")
                   .Register(*registry_);
  attempts_ = &prometheus::BuildCounter()
                   .Name("rebound_attempts_total")
                   .Help("Upstream HTTP attempts by model, provider, outcome and status class.")
                   .Register(*registry_);
  ttfb_ = &prometheus::BuildHistogram()
               .Name("rebound_upstream_ttfb_seconds")
               .Help("Time from sending an upstream request to its first body byte.")
               .Register(*registry_);
  duration_ = &prometheus::BuildHistogram()
                   .Name("rebound_upstream_duration_seconds")
                   .Help("Time from sending an upstream request to the end of its answer.")
                   .Register(*registry_);
  overhead_ = &prometheus::BuildHistogram()
                   .Name("rebound_gateway_overhead_seconds")
                   .Help("Time a call spent in the gateway itself: not waiting on upstreams "
                         "or backoff.")
                   .Register(*registry_)
                   .Add({}, OverheadBuckets());
  malformed_events_ = &prometheus::BuildCounter()
                           .Name("rebound_sse_malformed_events_total")
                           .Help("Upstream SSE events dropped because their JSON did not parse.")
                           .Register(*registry_);
  stream_pause_timeouts_ =
      &prometheus::BuildCounter()
           .Name("rebound_stream_pause_timeouts_total")
           .Help("Streaming calls ended because the caller read nothing for "
                 "server.stream_pause_timeout_ms; the upstream transfer was released.")
           .Register(*registry_);
  unprocessed_resends_ =
      &prometheus::BuildCounter()
           .Name("rebound_upstream_unprocessed_resends_total")
           .Help("Requests HTTP/2 refused unprocessed (REFUSED_STREAM, GOAWAY) and rebound "
                 "re-sent at once, without counting an attempt.")
           .Register(*registry_);
  translations_ = &prometheus::BuildCounter()
                       .Name("rebound_translations_total")
                       .Help("Translations between the OpenAI and Anthropic APIs, by the "
                             "caller's API, the target's, and result.")
                       .Register(*registry_);
  config_loads_ = &prometheus::BuildCounter()
                       .Name("rebound_config_loads_total")
                       .Help("Configuration loads and reloads by result.")
                       .Register(*registry_);
  unauthenticated_ = &prometheus::BuildCounter()
                          .Name("rebound_unauthenticated_total")
                          .Help("Gateway calls refused for a missing or unaccepted caller "
                                "token, by RPC.")
                          .Register(*registry_);
  retries_ = &prometheus::BuildCounter()
                  .Name("rebound_retries_total")
                  .Help("Attempts after the first, by primary model.")
                  .Register(*registry_);
  failovers_ = &prometheus::BuildCounter()
                    .Name("rebound_failovers_total")
                    .Help("Retries sent to a different model than the one that just failed.")
                    .Register(*registry_);
  exhaustions_ = &prometheus::BuildCounter()
                      .Name("rebound_exhaustions_total")
                      .Help("Calls that ended with retries exhausted, by primary model and reason.")
                      .Register(*registry_);
  retry_budget_skips_ = &prometheus::BuildCounter()
                             .Name("rebound_retry_budget_skips_total")
                             .Help("Retries not sent to a provider because its retry budget "
                                   "(server.retry_budget) was spent.")
                             .Register(*registry_);
  provider_errors_ = &prometheus::BuildCounter()
                         .Name("rebound_provider_errors_total")
                         .Help("Attempts whose provider error named a class "
                               "(context_length_exceeded, quota_exhausted, ...), by model.")
                         .Register(*registry_);
  hedges_ = &prometheus::BuildCounter()
                 .Name("rebound_hedges_total")
                 .Help("Hedged attempts (retry_policy.hedge) by primary model and result: "
                       "started, won, lost, failed, refused (by server.hedge_budget).")
                 .Register(*registry_);
  waits_ = &prometheus::BuildHistogram()
                .Name("rebound_wait_seconds")
                .Help("Backoff and Retry-After waits before an attempt, by the longer kind.")
                .Register(*registry_);
  blocks_created_ = &prometheus::BuildCounter()
                         .Name("rebound_blocks_created_total")
                         .Help("Global blocks created or extended by this process.")
                         .Register(*registry_);
  active_blocks_ = &prometheus::BuildGauge()
                        .Name("rebound_active_blocks")
                        .Help("Global blocks in force, by kind and scope.")
                        .Register(*registry_);
  in_flight_ = &prometheus::BuildGauge()
                    .Name("rebound_in_flight_requests")
                    .Help("Gateway calls currently being served.")
                    .Register(*registry_)
                    .Add({});
  http_connections_ = &prometheus::BuildGauge()
                           .Name("rebound_http_connections")
                           .Help("Open connections of the HTTP front door.")
                           .Register(*registry_)
                           .Add({});
  http_rejects_ = &prometheus::BuildCounter()
                       .Name("rebound_http_rejects_total")
                       .Help("HTTP front door connections and requests refused or cut, by reason.")
                       .Register(*registry_);
  controlplane_connected_ = &prometheus::BuildGauge()
                                 .Name("rebound_controlplane_connected")
                                 .Help("1 while the Sync stream to this control-plane address "
                                       "is up.")
                                 .Register(*registry_);
  policy_version_ = &prometheus::BuildGauge()
                         .Name("rebound_policy_version")
                         .Help("Counter of the policy version in force; 0: the local file.")
                         .Register(*registry_)
                         .Add({});
  policy_nacks_ = &prometheus::BuildCounter()
                       .Name("rebound_policy_nacks_total")
                       .Help("Pushed policy versions this replica could not apply.")
                       .Register(*registry_)
                       .Add({});
  controlplane_blocks_received_ = &prometheus::BuildCounter()
                                       .Name("rebound_controlplane_blocks_received_total")
                                       .Help("Blocks received from the control plane and merged.")
                                       .Register(*registry_)
                                       .Add({});
  controlplane_blocks_sent_ = &prometheus::BuildCounter()
                                   .Name("rebound_controlplane_blocks_sent_total")
                                   .Help("Locally created blocks reported to a control plane "
                                         "(once per stream).")
                                   .Register(*registry_)
                                   .Add({});
  controlplane_propagation_ = &prometheus::BuildHistogram()
                                   .Name("rebound_controlplane_propagation_seconds")
                                   .Help("From a block's creation on another replica to its "
                                         "merge here.")
                                   .Register(*registry_)
                                   .Add({}, PropagationBuckets());
  prometheus::BuildGauge()
      .Name("rebound_build_info")
      .Help("Always 1; the version label says which build runs.")
      .Register(*registry_)
      .Add({{"version", REBOUND_VERSION}})
      .Set(1);
}

void Metrics::RecordRequest(std::string_view model, std::string_view outcome,
                            std::string_view api) {
  Cached<prometheus::Counter>(serial_, requests_, {model, outcome, api},
                              [&]() -> prometheus::Counter& {
                                return requests_->Add({{"model", std::string(model)},
                                                       {"outcome", std::string(outcome)},
                                                       {"api", std::string(api)}});
                              })
      .Increment();
}

void Metrics::SetHttpConnections(int64_t open) {
  http_connections_->Set(static_cast<double>(open));
}

void Metrics::RecordHttpReject(std::string_view reason) {
  Cached<prometheus::Counter>(serial_, http_rejects_, {reason}, [&]() -> prometheus::Counter& {
    return http_rejects_->Add({{"reason", std::string(reason)}});
  }).Increment();
}

void Metrics::RecordAttempt(std::string_view model, std::string_view provider,
                            std::string_view outcome, std::string_view status_class,
                            double ttfb_seconds, double duration_seconds) {
  Cached<prometheus::Counter>(serial_, attempts_, {model, provider, outcome, status_class},
                              [&]() -> prometheus::Counter& {
                                return attempts_->Add({{"model", std::string(model)},
                                                       {"provider", std::string(provider)},
                                                       {"outcome", std::string(outcome)},
                                                       {"status_class", std::string(status_class)}});
                              })
      .Increment();
  if (ttfb_seconds > 0) {
    Cached<prometheus::Histogram>(serial_, ttfb_, {model}, [&]() -> prometheus::Histogram& {
      return ttfb_->Add({{"model", std::string(model)}}, LatencyBuckets());
    }).Observe(ttfb_seconds);
  }
  Cached<prometheus::Histogram>(serial_, duration_, {model}, [&]() -> prometheus::Histogram& {
    return duration_->Add({{"model", std::string(model)}}, LatencyBuckets());
  }).Observe(duration_seconds);
}

void Metrics::RecordRetry(std::string_view model, std::string_view from, std::string_view to,
                          double wait_seconds, std::string_view wait_kind) {
  retries_->Add({{"model", std::string(model)}}).Increment();
  if (from != to) {
    failovers_->Add({{"from", std::string(from)}, {"to", std::string(to)}}).Increment();
  }
  if (wait_seconds > 0) RecordWait(wait_seconds, wait_kind);
}

void Metrics::RecordWait(double seconds, std::string_view kind) {
  waits_->Add({{"kind", std::string(kind)}}, LatencyBuckets()).Observe(seconds);
}

void Metrics::RecordExhausted(std::string_view model, std::string_view reason) {
  exhaustions_->Add({{"model", std::string(model)}, {"reason", std::string(reason)}}).Increment();
}

void Metrics::RecordRetryBudgetSkip(std::string_view provider) {
  Cached<prometheus::Counter>(serial_, retry_budget_skips_, {provider}, [&]() -> prometheus::Counter& {
    return retry_budget_skips_->Add({{"provider", std::string(provider)}});
  }).Increment();
}

void Metrics::RecordProviderError(std::string_view model, std::string_view error_class) {
  Cached<prometheus::Counter>(serial_, provider_errors_, {model, error_class},
                              [&]() -> prometheus::Counter& {
                                return provider_errors_->Add({{"model", std::string(model)},
                                                              {"class", std::string(error_class)}});
                              })
      .Increment();
}

void Metrics::RecordHedge(std::string_view model, std::string_view result) {
  Cached<prometheus::Counter>(serial_, hedges_, {model, result}, [&]() -> prometheus::Counter& {
    return hedges_->Add({{"model", std::string(model)}, {"result", std::string(result)}});
  }).Increment();
}

void Metrics::RecordBlockCreated(std::string_view kind, std::string_view scope) {
  blocks_created_->Add({{"kind", std::string(kind)}, {"scope", std::string(scope)}}).Increment();
}

void Metrics::SetActiveBlocks(std::string_view kind, std::string_view scope, double count) {
  active_blocks_->Add({{"kind", std::string(kind)}, {"scope", std::string(scope)}}).Set(count);
}

void Metrics::RecordOverhead(double seconds) { overhead_->Observe(seconds); }

void Metrics::RecordMalformedEvent(std::string_view model) {
  malformed_events_->Add({{"model", std::string(model)}}).Increment();
}

void Metrics::RecordStreamPauseTimeout(std::string_view model) {
  stream_pause_timeouts_->Add({{"model", std::string(model)}}).Increment();
}

void Metrics::RecordUnprocessedResends(std::string_view provider, int count) {
  unprocessed_resends_->Add({{"provider", std::string(provider)}}).Increment(count);
}

void Metrics::RecordTranslation(std::string_view from, std::string_view to,
                                std::string_view result) {
  translations_
      ->Add({{"from", std::string(from)}, {"to", std::string(to)}, {"result", std::string(result)}})
      .Increment();
}

void Metrics::SetControlPlaneConnected(std::string_view address, bool connected) {
  controlplane_connected_->Add({{"address", std::string(address)}}).Set(connected ? 1 : 0);
}

void Metrics::SetPolicyVersion(double counter) { policy_version_->Set(counter); }

void Metrics::RecordPolicyNack() { policy_nacks_->Increment(); }

void Metrics::RecordControlPlaneBlocksReceived(int count) {
  if (count > 0) controlplane_blocks_received_->Increment(count);
}

void Metrics::RecordControlPlaneBlocksSent(int count) {
  if (count > 0) controlplane_blocks_sent_->Increment(count);
}

void Metrics::RecordControlPlanePropagation(double seconds) {
  controlplane_propagation_->Observe(seconds);
}

void Metrics::RecordUnauthenticated(std::string_view rpc) {
  Cached<prometheus::Counter>(serial_, unauthenticated_, {rpc}, [&]() -> prometheus::Counter& {
    return unauthenticated_->Add({{"rpc", std::string(rpc)}});
  }).Increment();
}

void Metrics::RecordConfigLoad(bool ok) {
  config_loads_->Add({{"result", ok ? "ok" : "rejected"}}).Increment();
}

}  // namespace rebound
