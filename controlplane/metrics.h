// The control plane's Prometheus metrics, declared in one place. Prefix
// rebound_controlplane_. Label values are fixed enums, never replica ids or
// block names (those are unbounded). Thread-safe (prometheus-cpp's metrics
// are); main owns the one instance and the service records into it.
#ifndef REBOUND_CONTROLPLANE_METRICS_H_
#define REBOUND_CONTROLPLANE_METRICS_H_

#include <memory>
#include <string_view>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace rebound::controlplane {

class Metrics {
 public:
  Metrics();

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void SetConnectedReplicas(double n) { connected_->Set(n); }
  // kind: retry_after or latency.
  void SetActiveBlocks(std::string_view kind, double n);
  // One reported block; result: MergeOutcome (changed, unchanged, invalid,
  // tombstoned, dropped).
  void RecordBlockReport(std::string_view result);
  // Seconds from the block's creation on its origin replica to its arrival
  // here (clocks of different hosts: only meaningful when they are synced).
  void RecordReportLatency(double seconds) { report_latency_->Observe(seconds); }
  // One message queued to one stream; type: policy, blocks, snapshot, cleared.
  void RecordSent(std::string_view type);
  // result: accepted, rejected, unchanged, dry_run.
  void RecordPush(std::string_view result);
  void RecordNack() { nacks_->Increment(); }
  // reason: see ControlPlaneService::DisconnectReason.
  void RecordDisconnect(std::string_view reason);
  // rpc: Sync, PushPolicy, GetState, ClearBlock.
  void RecordUnauthenticated(std::string_view rpc);
  // A valid token of the other role; rpc as above.
  void RecordPermissionDenied(std::string_view rpc);
  void SetPolicyVersion(double counter) { policy_version_->Set(counter); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* connected_;
  prometheus::Family<prometheus::Gauge>* active_blocks_;
  prometheus::Family<prometheus::Counter>* block_reports_;
  prometheus::Histogram* report_latency_;
  prometheus::Family<prometheus::Counter>* sent_;
  prometheus::Family<prometheus::Counter>* pushes_;
  prometheus::Counter* nacks_;
  prometheus::Family<prometheus::Counter>* disconnects_;
  prometheus::Family<prometheus::Counter>* unauthenticated_;
  prometheus::Family<prometheus::Counter>* permission_denied_;
  prometheus::Gauge* policy_version_;
};

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_METRICS_H_
