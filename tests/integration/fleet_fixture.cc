#include "tests/integration/fleet_fixture.h"

#include <grpcpp/grpcpp.h>

#include <regex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/recording_channel.h"
#include "tests/integration/test_outputs.h"

namespace rebound::testing {

std::string Replica::ScrapeMetrics() const {
  HttpOptions options;
  options.url = absl::StrCat("http://127.0.0.1:", metrics_port, "/metrics");
  std::string body = HttpFetch(options).body;
  RecordOutput(absl::StrCat("metrics-", id, ".txt"), body);
  return body;
}

absl::StatusOr<std::unique_ptr<Replica>> StartReplica(const std::string& id,
                                                      const std::string& yaml, HeaderList env) {
  auto r = std::make_unique<Replica>();
  r->id = id;
  std::string config = WriteTempFile(absl::StrCat("rebound-", id, ".yaml"), yaml);
  auto process = Subprocess::Start({.binary = BinaryPath("rebound-server"),
                                    .args = {"--config", config},
                                    .env = std::move(env),
                                    .name = absl::StrCat("replica-", id)});
  if (!process.ok()) return process.status();
  r->process = *std::move(process);
  auto line = r->process->WaitForLine("rebound-server ready", absl::Seconds(20));
  if (!line.ok()) return line.status();
  std::smatch m;
  std::regex re("grpc=(\\S+) metrics=\\S+:(\\d+)");
  if (!std::regex_search(*line, m, re)) {
    return absl::InternalError(absl::StrCat("unexpected ready line: ", *line));
  }
  r->address = m[1];
  r->metrics_port = std::stoi(m[2]);
  r->channel = RecordingChannel(r->address, absl::StrCat("replica-", id));
  r->client = std::make_unique<client::GatewayClient>(r->channel, client::ClientOptions{});
  return r;
}

absl::StatusOr<std::unique_ptr<ControlPlane>> StartControlPlane(
    const std::string& listen, const std::string& state_dir,
    const std::string& replica_token_file, const std::string& operator_token_file) {
  auto process = Subprocess::Start(
      {.binary = BinaryPath("rebound-controlplane"),
       .args = {"--listen", listen, "--metrics-listen", "127.0.0.1:0", "--state-dir", state_dir,
                "--replica-token-file", replica_token_file, "--operator-token-file",
                operator_token_file},
       .name = "controlplane"});
  if (!process.ok()) return process.status();
  auto ready = (*process)->WaitForLine("^rebound-controlplane ready grpc=\\S+ metrics=\\S+$",
                                       absl::Seconds(20));
  if (!ready.ok()) return ready.status();
  auto cp = std::make_unique<ControlPlane>();
  cp->process = *std::move(process);
  size_t g = ready->find("grpc=") + 5;
  cp->grpc_address = ready->substr(g, ready->find(' ', g) - g);
  cp->metrics_address = ready->substr(ready->find("metrics=") + 8);
  cp->stub = v1::ControlPlane::NewStub(RecordingChannel(cp->grpc_address, "controlplane"));
  return cp;
}

std::unique_ptr<grpc::ClientContext> TokenContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return context;
}

std::optional<v1::ReplicaState> FindReplica(const v1::GetStateResponse& state,
                                            const std::string& id) {
  for (const v1::ReplicaState& r : state.replicas()) {
    if (r.replica_id() == id) return r;
  }
  return std::nullopt;
}

}  // namespace rebound::testing
