// A rebound.v1.Gateway that answers every Complete at once with a canned
// 200 response, served from the benchmark's own process over loopback TCP.
// Its latency is the floor any gRPC gateway pays on this machine (client,
// HTTP/2, protobuf, server) before doing any work: the benchmark reports it
// so that the gateway's added latency can be split into "gRPC itself" and
// "what rebound does".
#ifndef REBOUND_BENCH_NOOP_GATEWAY_H_
#define REBOUND_BENCH_NOOP_GATEWAY_H_

#include <grpcpp/server.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace rebound::bench {

class NoopGateway {
 public:
  // Listens on 127.0.0.1 (a free port); answers with a body of
  // `response_bytes`.
  static absl::StatusOr<std::unique_ptr<NoopGateway>> Start(int64_t response_bytes);
  ~NoopGateway();
  NoopGateway(const NoopGateway&) = delete;
  NoopGateway& operator=(const NoopGateway&) = delete;

  const std::string& address() const { return address_; }

 private:
  class Service;
  NoopGateway() = default;

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_NOOP_GATEWAY_H_
