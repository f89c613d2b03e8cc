#include "bench/bench_stack.h"

#include <signal.h>
#include <unistd.h>


#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace rebound::bench {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(30);
constexpr absl::Duration kStopTimeout = absl::Seconds(30);

std::string ConfigYaml(int fake_port, int upstream_threads) {
  return absl::StrCat(
      "server:\n"
      "  listen: 127.0.0.1:0\n"
      "  metrics_listen: 127.0.0.1:0\n"
      "  http_listen: 127.0.0.1:0\n"
      "  upstream_threads: ", upstream_threads, "\n"
      // The stream-memory phase holds thousands of upstream connections
      // (issue 15 measures 10,000).
      "  max_connections_per_provider: 16384\n"
      "  max_in_flight: 16384\n"
      "model_providers:\n"
      "  - model: ", kBenchModel, "\n"
      "    base_url: http://127.0.0.1:", fake_port, "\n"
      "    access_key: ", kBenchAccessKey, "\n"
      "    default: true\n"
      "  - model: ", kFailoverModel, "\n"
      "    base_url: http://127.0.0.1:", fake_port, "\n"
      "    access_key: ", kBenchAccessKey, "\n"
      "    retry_policy:\n"
      "      fallback_models: [", kBenchModel, "]\n"
      "      on_status_codes: [{codes: [503], strategy: different_provider, max_attempts: 2}]\n"
      "  - model: ", kTranslatedModel, "\n"
      "    base_url: http://127.0.0.1:", fake_port, "\n"
      "    access_key: ", kBenchAccessKey, "\n"
      "    provider_interface: anthropic\n"
      "  - model: ", kStreamModel, "\n"
      "    base_url: http://127.0.0.1:", fake_port, "\n"
      "    access_key: ", kBenchAccessKey, "\n"
      "    timeouts: {idle_ms: 600000, first_byte_ms: 600000}\n");
}

}  // namespace

absl::StatusOr<std::unique_ptr<BenchStack>> BenchStack::Start(const StackOptions& options) {
  std::unique_ptr<BenchStack> stack(new BenchStack());
  // Nothing reads the fake's request record here; keeping it would only
  // grow the fake's memory for the whole run.
  absl::StatusOr<std::unique_ptr<testing::FakeProvider>> fake = testing::FakeProvider::Start(
      {"--threads", absl::StrCat(options.fake_threads), "--max_recorded", "0"});
  if (!fake.ok()) return fake.status();
  stack->fake_ = *std::move(fake);

  stack->config_path_ = testing::WriteTempFile(
      "rebound-bench.yaml", ConfigYaml(stack->fake_->port(), options.upstream_threads));
  std::vector<std::string> args = {"--config", stack->config_path_};
  args.insert(args.end(), options.server_flags.begin(), options.server_flags.end());
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> server = testing::Subprocess::Start(
      {.binary = options.server_binary.empty() ? testing::BinaryPath("rebound-server")
                                               : options.server_binary,
       .args = std::move(args)});
  if (!server.ok()) return server.status();
  stack->server_ = *std::move(server);
  absl::StatusOr<std::string> ready =
      stack->server_->WaitForLine(R"(^rebound-server ready grpc=\S+)", kStartTimeout);
  if (!ready.ok()) return ready.status();
  // "rebound-server ready grpc=HOST:PORT metrics=HOST:PORT http=HOST:PORT"
  for (absl::string_view word : absl::StrSplit(*ready, ' ')) {
    if (absl::ConsumePrefix(&word, "grpc=")) stack->gateway_address_ = std::string(word);
    if (absl::ConsumePrefix(&word, "metrics=")) stack->metrics_address_ = std::string(word);
    if (absl::ConsumePrefix(&word, "http=")) stack->http_address_ = std::string(word);
  }
  if (stack->gateway_address_.empty()) {
    return absl::InternalError(absl::StrCat("no gRPC address in '", *ready, "'"));
  }
  return stack;
}

BenchStack::~BenchStack() {
  if (server_ != nullptr && server_->Running()) {
    server_->Signal(SIGTERM);
    server_->Wait(kStopTimeout);
  }
}

std::string BenchStack::direct_url() const {
  return absl::StrCat(fake_->base_url(), "/v1/chat/completions");
}

}  // namespace rebound::bench
