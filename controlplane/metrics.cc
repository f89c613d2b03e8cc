#include "controlplane/metrics.h"

#include <string>

namespace rebound::controlplane {
namespace {

// Family::Add takes the family's lock and builds a label map; the control
// plane's rates are low (reports are rate-bounded per replica), so unlike
// the data plane there is no per-thread cache here.
template <typename T>
T& With(prometheus::Family<T>* family, std::string_view label, std::string_view value) {
  return family->Add({{std::string(label), std::string(value)}});
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  connected_ = &prometheus::BuildGauge()
                    .Name("rebound_controlplane_connected_replicas")
                    .Help("Replicas with an open Sync stream that said Hello.")
                    .Register(*registry_)
                    .Add({});
  active_blocks_ = &prometheus::BuildGauge()
                        .Name("rebound_controlplane_active_blocks")
                        .Help("Active blocks in the fleet table, by kind.")
                        .Register(*registry_);
  block_reports_ = &prometheus::BuildCounter()
                        .Name("rebound_controlplane_block_reports_total")
                        .Help("Blocks received from replicas (Hello and BlockReport), by what "
                              "merging them did.")
                        .Register(*registry_);
  report_latency_ = &prometheus::BuildHistogram()
                         .Name("rebound_controlplane_block_report_latency_seconds")
                         .Help("From a block's creation on its origin replica to its arrival at "
                               "the control plane.")
                         .Register(*registry_)
                         .Add({}, prometheus::Histogram::BucketBoundaries{
                                      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                      0.025, 0.05, 0.1, 0.25, 0.5, 1, 5});
  sent_ = &prometheus::BuildCounter()
               .Name("rebound_controlplane_fanout_messages_total")
               .Help("Messages queued to replica streams, by type.")
               .Register(*registry_);
  pushes_ = &prometheus::BuildCounter()
                 .Name("rebound_controlplane_policy_pushes_total")
                 .Help("PushPolicy calls by result.")
                 .Register(*registry_);
  nacks_ = &prometheus::BuildCounter()
                .Name("rebound_controlplane_policy_nacks_total")
                .Help("Policy versions replicas refused to apply.")
                .Register(*registry_)
                .Add({});
  disconnects_ = &prometheus::BuildCounter()
                      .Name("rebound_controlplane_stream_disconnects_total")
                      .Help("Sync streams ended, by reason.")
                      .Register(*registry_);
  unauthenticated_ = &prometheus::BuildCounter()
                          .Name("rebound_controlplane_unauthenticated_total")
                          .Help("RPCs refused for a missing or wrong bearer token, by method.")
                          .Register(*registry_);
  permission_denied_ =
      &prometheus::BuildCounter()
           .Name("rebound_controlplane_permission_denied_total")
           .Help("RPCs refused because the token belongs to the other role (a replica token "
                 "on an operator RPC, or an operator token on Sync), by method.")
           .Register(*registry_);
  policy_version_ = &prometheus::BuildGauge()
                         .Name("rebound_controlplane_policy_version")
                         .Help("Counter of the published policy version (0: none).")
                         .Register(*registry_)
                         .Add({});
  // Known label values exist from the start, so dashboards see zeros rather
  // than missing series.
  for (std::string_view kind : {"retry_after", "latency"}) SetActiveBlocks(kind, 0);
  for (std::string_view result : {"accepted", "rejected", "unchanged", "dry_run"}) {
    With(pushes_, "result", result);
  }
}

void Metrics::SetActiveBlocks(std::string_view kind, double n) {
  With(active_blocks_, "kind", kind).Set(n);
}
void Metrics::RecordBlockReport(std::string_view result) {
  With(block_reports_, "result", result).Increment();
}
void Metrics::RecordSent(std::string_view type) { With(sent_, "type", type).Increment(); }
void Metrics::RecordPush(std::string_view result) { With(pushes_, "result", result).Increment(); }
void Metrics::RecordDisconnect(std::string_view reason) {
  With(disconnects_, "reason", reason).Increment();
}
void Metrics::RecordUnauthenticated(std::string_view rpc) {
  With(unauthenticated_, "rpc", rpc).Increment();
}
void Metrics::RecordPermissionDenied(std::string_view rpc) {
  With(permission_denied_, "rpc", rpc).Increment();
}

}  // namespace rebound::controlplane
