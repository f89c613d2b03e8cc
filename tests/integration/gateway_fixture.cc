#include "tests/integration/gateway_fixture.h"

#include <atomic>

#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/http_types.h"
#include "tests/integration/recording_channel.h"
#include "tests/integration/test_outputs.h"

namespace rebound::testing {

absl::StatusOr<std::unique_ptr<GatewayProcess>> GatewayProcess::Start(std::string_view config_yaml,
                                                                      HeaderList env) {
  std::unique_ptr<GatewayProcess> g(new GatewayProcess());
  // A name of its own: a second gateway writing the same file would make
  // the first reload the second's config (the server watches its file).
  static std::atomic<int> started{0};
  g->config_path_ = WriteTempFile(absl::StrCat("rebound-", started.fetch_add(1), ".yaml"),
                                  config_yaml);
  SubprocessOptions options;
  options.binary = BinaryPath("rebound-server");
  options.args = {"--config", g->config_path_};
  options.env = std::move(env);
  auto process = Subprocess::Start(std::move(options));
  if (!process.ok()) return process.status();
  g->process_ = *std::move(process);
  auto line = g->process_->WaitForLine("rebound-server ready", absl::Seconds(20));
  if (!line.ok()) return line.status();
  std::smatch m;
  std::regex re("grpc=(\\S+) metrics=\\S+:(\\d+)");
  if (!std::regex_search(*line, m, re)) {
    return absl::InternalError(absl::StrCat("unexpected ready line: ", *line));
  }
  g->address_ = m[1];
  g->metrics_port_ = std::stoi(m[2]);
  if (std::regex_search(*line, m, std::regex(" http=\\S+:(\\d+)"))) g->http_port_ = std::stoi(m[1]);
  // Every response and error the test receives is kept for secret_scan_test.
  g->client_ = std::make_unique<client::GatewayClient>(RecordingChannel(g->address_, "gateway"),
                                                       client::ClientOptions{});
  return g;
}

std::string GatewayProcess::ScrapeMetrics() {
  HttpOptions options;
  options.url = absl::StrCat("http://127.0.0.1:", metrics_port_, "/metrics");
  std::string body = HttpFetch(options).body;
  RecordOutput("metrics-scrapes.txt", body);
  return body;
}

std::optional<double> MetricValue(const std::string& text, const std::string& line_prefix) {
  std::string want = absl::StrCat("\n", line_prefix, " ");
  size_t at = text.find(want);
  if (at == std::string::npos) return std::nullopt;
  size_t start = at + want.size();
  double value = 0;
  if (!absl::SimpleAtod(text.substr(start, text.find('\n', start) - start), &value)) {
    return std::nullopt;
  }
  return value;
}

std::string ServerSection(std::string_view extra) {
  return absl::StrCat("server:\n  listen: 127.0.0.1:0\n  metrics_listen: 127.0.0.1:0\n",
                      std::string(extra));
}

std::string ProviderEntry(const std::string& model, const std::string& base_url,
                          const std::string& key, const std::string& extra) {
  return absl::StrCat("  - model: ", model, "\n    base_url: ", base_url,
                      "\n    access_key: ", key, "\n", extra);
}

v1::CompletionRequest ChatRequest(std::string_view model, bool stream) {
  v1::CompletionRequest request;
  request.set_model(std::string(model));
  request.set_body(absl::StrCat(R"({"model":"placeholder","messages":[{"role":"user","content":"hi"}])",
                                stream ? R"(,"stream":true})" : "}"));
  return request;
}

v1::CompletionRequest MessagesRequest(std::string_view model, bool stream) {
  v1::CompletionRequest request;
  request.set_model(std::string(model));
  request.set_path("/v1/messages");
  request.set_body(absl::StrCat(
      R"({"model":"placeholder","max_tokens":64,"messages":[{"role":"user","content":"hi"}])",
      stream ? R"(,"stream":true})" : "}"));
  return request;
}

std::string HeaderValue(const google::protobuf::RepeatedPtrField<v1::Header>& headers,
                        std::string_view name) {
  for (const v1::Header& h : headers) {
    if (EqualsIgnoreCase(h.name(), name)) return h.value();
  }
  return "";
}

}  // namespace rebound::testing
