// Calls through rebound-server: gRPC unary Complete on one shared channel,
// blocking (SyncTarget) or with gRPC's callback API (AsyncTarget).
#ifndef REBOUND_BENCH_GATEWAY_TARGET_H_
#define REBOUND_BENCH_GATEWAY_TARGET_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "bench/targets.h"
#include "bench/workload.h"
#include "rebound/v1/gateway.grpc.pb.h"
#include "rebound/v1/gateway.pb.h"

namespace rebound::bench {

class GatewayTarget final : public SyncTarget, public AsyncTarget {
 public:
  // Every call asks for `model` with the workload's body and fault header,
  // under `deadline`.
  GatewayTarget(std::shared_ptr<grpc::Channel> channel, const std::string& model,
                const Workload& workload, absl::Duration deadline);

  absl::StatusOr<CallInfo> Call() override;
  void Start(DoneCallback done) override;

 private:
  struct PendingCall;

  std::unique_ptr<v1::Gateway::Stub> stub_;
  v1::CompletionRequest request_;  // read-only after construction
  absl::Duration deadline_;
};

// StreamComplete, one call at a time: reads the whole stream and reports
// when its first SseEvent arrived and how many it carried.
class GatewayStreamTarget final : public SyncTarget {
 public:
  GatewayStreamTarget(std::shared_ptr<grpc::Channel> channel, const std::string& model,
                      const Workload& workload, absl::Duration deadline);

  absl::StatusOr<CallInfo> Call() override;

 private:
  std::unique_ptr<v1::Gateway::Stub> stub_;
  v1::CompletionRequest request_;
  absl::Duration deadline_;
};

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_GATEWAY_TARGET_H_
