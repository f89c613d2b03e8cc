// A real rebound-server process for integration tests, configured from YAML
// text, with a gRPC client connected to it.
#ifndef REBOUND_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_
#define REBOUND_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/gateway_client.h"
#include "rebound/v1/gateway.pb.h"
#include "tests/integration/test_harness.h"

namespace rebound::testing {

class GatewayProcess {
 public:
  // Writes `config_yaml` to a temp file and starts rebound-server on it.
  // The YAML should listen on 127.0.0.1:0 for both gRPC and metrics (see
  // ServerSection()); the chosen ports are read from the ready line.
  static absl::StatusOr<std::unique_ptr<GatewayProcess>> Start(std::string_view config_yaml,
                                                               HeaderList env = {});

  const std::string& address() const { return address_; }
  int metrics_port() const { return metrics_port_; }
  // The HTTP front door's port (server.http_listen), 0 when it is off.
  int http_port() const { return http_port_; }
  const std::string& config_path() const { return config_path_; }
  client::GatewayClient& client() { return *client_; }
  Subprocess& process() { return *process_; }

  // GET /metrics.
  std::string ScrapeMetrics();

 private:
  GatewayProcess() = default;
  std::unique_ptr<Subprocess> process_;
  std::unique_ptr<client::GatewayClient> client_;
  std::string address_;
  std::string config_path_;
  int metrics_port_ = 0;
  int http_port_ = 0;
};

// The value of the first metric line starting with `line_prefix` + " " in
// Prometheus text, or nullopt.
std::optional<double> MetricValue(const std::string& text, const std::string& line_prefix);

// `server:` section listening on free loopback ports, plus `extra` lines
// (indented by the caller) appended inside it.
std::string ServerSection(std::string_view extra = "");

// A `model_providers` entry (indented for the list) with `extra` lines
// appended inside it.
std::string ProviderEntry(const std::string& model, const std::string& base_url,
                          const std::string& key, const std::string& extra = "");

// A chat-completions request for `model` with a small body.
v1::CompletionRequest ChatRequest(std::string_view model, bool stream = false);

// An Anthropic Messages request for `model`: path /v1/messages and a small
// body with the max_tokens the API requires.
v1::CompletionRequest MessagesRequest(std::string_view model, bool stream = false);

// The value of the first `name` header in a response or event header list.
std::string HeaderValue(const google::protobuf::RepeatedPtrField<v1::Header>& headers,
                        std::string_view name);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_
