// Starting a fleet for integration tests: real rebound-controlplane and
// rebound-server replica processes, each with a client whose responses and
// errors are kept for secret_scan_test (recording_channel.h). Shared by
// fleet_test (SCENARIOS.md 24-28) and fault_soak_test.
#ifndef REBOUND_TESTS_INTEGRATION_FLEET_FIXTURE_H_
#define REBOUND_TESTS_INTEGRATION_FLEET_FIXTURE_H_

#include <grpcpp/client_context.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "client/gateway_client.h"
#include "rebound/v1/controlplane.grpc.pb.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/test_harness.h"

namespace rebound::testing {

// One rebound-server replica. (GatewayProcess writes every config to the
// same file name; two replicas in one test directory need their own files,
// or one would see the other's config as a change of its own.)
struct Replica {
  std::string id;
  std::unique_ptr<Subprocess> process;
  std::shared_ptr<grpc::Channel> channel;  // records what it receives
  std::unique_ptr<client::GatewayClient> client;
  std::string address;
  int metrics_port = 0;

  // GET /metrics; the text is also kept in the test's outputs.
  std::string ScrapeMetrics() const;
};

// Writes `yaml` to rebound-<id>.yaml and starts a replica on it (output
// files named replica-<id>); waits for its ready line.
absl::StatusOr<std::unique_ptr<Replica>> StartReplica(const std::string& id,
                                                      const std::string& yaml, HeaderList env);

// A running rebound-controlplane.
struct ControlPlane {
  std::unique_ptr<Subprocess> process;
  std::string grpc_address;
  std::string metrics_address;
  std::unique_ptr<v1::ControlPlane::Stub> stub;  // over a recording channel
};

// Starts a control plane on `listen` ("127.0.0.1:0" picks a port; a restart
// passes the address the first one chose) with `state_dir` and the two token
// files: the replicas' (their control_plane.token_file) and the operators'
// (for PushPolicy, GetState, ClearBlock).
absl::StatusOr<std::unique_ptr<ControlPlane>> StartControlPlane(
    const std::string& listen, const std::string& state_dir,
    const std::string& replica_token_file, const std::string& operator_token_file);

// A context for one control-plane RPC: the bearer token and a 10 s deadline.
std::unique_ptr<grpc::ClientContext> TokenContext(const std::string& token);

// The replica named `id` in a GetState answer, or nullopt.
std::optional<v1::ReplicaState> FindReplica(const v1::GetStateResponse& state,
                                            const std::string& id);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_INTEGRATION_FLEET_FIXTURE_H_
