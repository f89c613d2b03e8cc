// The rebound-server process: wires config, upstream workers, the gRPC
// server (Gateway, health, reflection), the optional HTTP front door
// (server.http_listen, on the upstream workers' loops) and the metrics
// exposer, and handles
// SIGTERM (drain) and SIGHUP / file changes (validated reload). With
// control_plane.addresses set, it also runs the ReplicaSync, which
// shares blocks with the other replicas and applies pushed policies (see
// replica/replica_sync.h for how those interact with reloads).
#ifndef REBOUND_SERVER_GATEWAY_SERVER_H_
#define REBOUND_SERVER_GATEWAY_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gateway/gateway_core.h"
#include "gateway/gateway_service.h"
#include "gateway/http_front_door.h"
#include "gateway/metrics.h"
#include "http/server.h"
#include "policy/config.h"
#include "replica/replica_sync.h"

namespace prometheus {
class Exposer;
}

namespace rebound {

class GatewayServer {
 public:
  GatewayServer(std::string config_path, std::shared_ptr<const Config> config);
  ~GatewayServer();

  // Binds the listeners and starts serving; prints the ready line.
  absl::Status Start();
  // Blocks until SIGTERM/SIGINT, handling SIGHUP reloads meanwhile; then
  // drains and returns. Signals must be blocked in every thread beforehand
  // (BlockSignals()).
  void RunUntilTerminated();

  // Blocks SIGTERM, SIGINT and SIGHUP for the calling thread and every thread
  // it starts later; call first thing in main().
  static void BlockSignals();

 private:
  void Reload(const char* why);
  void Drain();
  // The ReplicaSync's PolicyApplier: validates a pushed
  // `model_providers` YAML like a local file, except that it reads the
  // environment only for access_key names in control_plane.allowed_env
  // (LoadOptions::pushed_policy), and swaps it in with this replica's own
  // server and control_plane sections.
  absl::Status ApplyPushedPolicy(std::string_view yaml);
  // Starts the control-plane client; `grpc_port` names the replica when
  // control_plane.replica_id is empty.
  absl::Status StartControlPlane(int grpc_port);
  // Binds server.http_listen on every upstream worker's loop.
  absl::Status StartHttp(const ServerSettings& settings);
  std::shared_ptr<const Config> config() const;
  // Every second on the first worker: sweeps expired blocks and publishes
  // the active-block gauges.
  void SweepBlocks();

  std::string config_path_;
  // Written by reloads (main thread) and pushed policies (control-plane
  // client thread).
  mutable absl::Mutex config_mu_;
  std::shared_ptr<const Config> config_ ABSL_GUARDED_BY(config_mu_);
  // The last pushed policy applied (its model_providers are in force), or
  // null while the local file rules.
  std::shared_ptr<const Config> pushed_policy_ ABSL_GUARDED_BY(config_mu_);
  // control_plane.allowed_env as the process started: like the rest of
  // control_plane, it changes only on restart. Set before the client starts.
  std::vector<std::string> pushed_allowed_env_;
  Metrics metrics_;
  BlockTable blocks_;
  LatencyTracker latency_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::vector<std::unique_ptr<UpstreamWorker>> workers_;
  std::unique_ptr<GatewayCore> core_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpFrontDoor> front_door_;
  std::unique_ptr<http::Server> http_server_;  // null unless server.http_listen
  int64_t config_mtime_ns_ = 0;
  std::unique_ptr<ReplicaSync> controlplane_;
  // What the BlockTable listener (upstream threads) reports to; set once the
  // client is started.
  std::atomic<ReplicaSync*> controlplane_reporter_{nullptr};
};

}  // namespace rebound

#endif  // REBOUND_SERVER_GATEWAY_SERVER_H_
