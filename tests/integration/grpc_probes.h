// gRPC's standard health and reflection services, probed as a client (a
// Kubernetes probe or grpcurl would): shared by every test of a listener.
#ifndef REBOUND_TESTS_INTEGRATION_GRPC_PROBES_H_
#define REBOUND_TESTS_INTEGRATION_GRPC_PROBES_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

namespace rebound::testing {

// True when grpc.health.v1.Health/Check answers SERVING within 5 s; a failed
// RPC is also a gtest failure with its message.
bool HealthServing(const std::shared_ptr<grpc::Channel>& channel);

// The services listed by server reflection (empty when the RPC fails).
std::vector<std::string> ReflectedServices(const std::shared_ptr<grpc::Channel>& channel);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_INTEGRATION_GRPC_PROBES_H_
