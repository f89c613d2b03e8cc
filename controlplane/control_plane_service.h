// rebound.v1.ControlPlane over gRPC's callback API: replicas' Sync streams,
// PushPolicy, GetState and ClearBlock (ARCHITECTURE.md, "The control plane").
//
// State: the fleet block table, the replica registry and the set of streams
// live under one lock, because a merge and its fan-out must be ordered
// together (a stream that joins either sees a block in its snapshot or gets
// it fanned out, never neither). The policy has its own store; pushes are
// serialised so that fan-outs leave in version order.
#ifndef REBOUND_CONTROLPLANE_CONTROL_PLANE_SERVICE_H_
#define REBOUND_CONTROLPLANE_CONTROL_PLANE_SERVICE_H_

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controlplane/auth.h"
#include "controlplane/block_store.h"
#include "controlplane/metrics.h"
#include "controlplane/policy_store.h"
#include "controlplane/replica_registry.h"
#include "controlplane/scheduler.h"
#include "controlplane/sync_stream.h"
#include "rebound/v1/controlplane.grpc.pb.h"

namespace rebound::controlplane {

struct ServiceOptions {
  // Full snapshot to every stream this often (counted per stream from its
  // Hello), as a backstop for anything a replica missed.
  absl::Duration resync_interval = absl::Seconds(30);
  size_t max_blocks_per_report = 1000;
  // A Hello carries every active global block of the replica at once.
  size_t max_hello_blocks = 10000;
  size_t max_blocks = BlockStore::kDefaultMaxEntries;
  size_t max_replicas = ReplicaRegistry::kDefaultMaxReplicas;
  // Open streams, Hello or not; more are refused (RESOURCE_EXHAUSTED).
  size_t max_streams = ReplicaRegistry::kDefaultMaxReplicas + 100;
  // A stream that has not said Hello by then is closed.
  absl::Duration hello_timeout = absl::Seconds(10);
  // A closing stream whose last write has not completed by then is cancelled.
  absl::Duration close_timeout = absl::Seconds(5);
  // Blocks per BlockUpdate of a snapshot (keeps messages well under the
  // replicas' 4 MiB default receive limit).
  size_t snapshot_chunk = 2000;
  StreamLimits stream;
};

class ControlPlaneService final : public rebound::v1::ControlPlane::CallbackService {
 public:
  ControlPlaneService(ServiceOptions options, PolicyStore* policy, Metrics* metrics,
                      Authenticator auth);
  ~ControlPlaneService() override;

  // Starts the periodic work (sweeps, metrics, resync).
  void Start();
  // Closes every stream with UNAVAILABLE and refuses new ones; call before
  // grpc::Server::Shutdown, which otherwise waits for the long-lived streams.
  void BeginShutdown();
  // Stops the timers; call after the server has shut down.
  void StopTimers() { scheduler_.Stop(); }

  // rebound.v1.ControlPlane
  grpc::ServerBidiReactor<rebound::v1::ReplicaMessage, rebound::v1::ControlMessage>* Sync(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* PushPolicy(grpc::CallbackServerContext* context,
                                       const rebound::v1::PushPolicyRequest* request,
                                       rebound::v1::PushPolicyResponse* response) override;
  grpc::ServerUnaryReactor* GetState(grpc::CallbackServerContext* context,
                                     const rebound::v1::GetStateRequest* request,
                                     rebound::v1::GetStateResponse* response) override;
  grpc::ServerUnaryReactor* ClearBlock(grpc::CallbackServerContext* context,
                                       const rebound::v1::ClearBlockRequest* request,
                                       rebound::v1::ClearBlockResponse* response) override;

  // For SyncStream. Handles one inbound message; a non-OK status closes the
  // stream with it, `*reason` naming why for the disconnect metric.
  grpc::Status OnMessage(SyncStream* stream, const rebound::v1::ReplicaMessage& message,
                         std::string* reason);
  void OnStreamDone(SyncStream* stream);
  Metrics* metrics() { return metrics_; }
  Scheduler* scheduler() { return &scheduler_; }

 private:
  grpc::Status OnHello(SyncStream* stream, const rebound::v1::Hello& hello, std::string* reason);
  void OnAck(SyncStream* stream, const rebound::v1::PolicyAck& ack);
  // Merges reported blocks and sends the ones that changed the table to every
  // other stream.
  void MergeAndFanOutLocked(SyncStream* from,
                            const google::protobuf::RepeatedPtrField<rebound::v1::Block>& blocks,
                            absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The full snapshot as BlockUpdate messages of at most snapshot_chunk
  // blocks. Built once and shared by every stream that needs it (Hellos and
  // resyncs) until the table changes or one of its blocks expires: with
  // 10,000 blocks a snapshot is ~2 MB of messages, and a copy per Hello made
  // a reconnecting fleet of 1,000 allocate (and glibc keep) hundreds of MB.
  std::vector<SyncStream::MessagePtr> SnapshotMessagesLocked(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendToAllLocked(const SyncStream::MessagePtr& message, const SyncStream* except,
                       std::string_view type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Once a second: sweeps, gauges, stuck streams, and the periodic resync.
  void Tick();
  // OK when the call carries a token of the role `rpc` needs; otherwise the
  // status to refuse it with (UNAUTHENTICATED: no valid token;
  // PERMISSION_DENIED: a valid token of the other role), counted and logged.
  grpc::Status Authorize(grpc::CallbackServerContext* context, Rpc rpc);

  const ServiceOptions options_;
  PolicyStore* const policy_;
  Metrics* const metrics_;
  const Authenticator auth_;

  absl::Mutex push_mu_;  // serialises PushPolicy (store + fan-out)

  absl::Mutex mu_;
  BlockStore store_ ABSL_GUARDED_BY(mu_);
  ReplicaRegistry registry_ ABSL_GUARDED_BY(mu_);
  std::set<SyncStream*> streams_ ABSL_GUARDED_BY(mu_);  // every open stream
  std::map<std::string, SyncStream*, std::less<>> by_replica_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // SnapshotMessagesLocked's cache: valid while the store is at
  // snapshot_version_ and before snapshot_valid_until_ms_ (the earliest
  // deadline in it); 0 when there is none.
  std::vector<SyncStream::MessagePtr> snapshot_ ABSL_GUARDED_BY(mu_);
  uint64_t snapshot_version_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t snapshot_valid_until_ms_ ABSL_GUARDED_BY(mu_) = 0;

  // Last: destroyed first, so no task runs against a half-destroyed service.
  Scheduler scheduler_;
};

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_CONTROL_PLANE_SERVICE_H_
