// The rebound-server process: wires config, upstream workers, the gRPC
// server (Gateway, health, reflection) and the metrics exposer, and handles
// SIGTERM (drain) and SIGHUP / file changes (validated reload).
#ifndef REBOUND_SERVER_GATEWAY_SERVER_H_
#define REBOUND_SERVER_GATEWAY_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "absl/status/status.h"
#include "policy/config.h"
#include "server/gateway_service.h"
#include "server/metrics.h"

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
  // Every second on the first worker: sweeps expired blocks and publishes
  // the active-block gauges.
  void SweepBlocks();

  std::string config_path_;
  std::shared_ptr<const Config> config_;
  Metrics metrics_;
  BlockTable blocks_;
  LatencyTracker latency_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::vector<std::unique_ptr<UpstreamWorker>> workers_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<grpc::Server> server_;
  int64_t config_mtime_ns_ = 0;
};

}  // namespace rebound

#endif  // REBOUND_SERVER_GATEWAY_SERVER_H_
