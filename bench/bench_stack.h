// The processes a benchmark measures: one rebound-fakeprovider and one
// rebound-server with a single provider pointing at it, both started from
// this build's bin directory and killed when the stack is destroyed.
#ifndef REBOUND_BENCH_BENCH_STACK_H_
#define REBOUND_BENCH_BENCH_STACK_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/integration/test_harness.h"

namespace rebound::bench {

// The model the benchmark config defines (the default provider).
inline constexpr char kBenchModel[] = "openai/bench-model";
// The credential the config gives that provider; the direct baseline sends
// the same Authorization header so that both paths carry the same bytes.
inline constexpr char kBenchAccessKey[] = "bench-key";
// A model whose every attempt fails (the fake reads "fault:SPEC" model names)
// and whose policy fails over to kBenchModel: each call makes one hop.
inline constexpr char kFailoverModel[] = "flaky/fault:status=503";
// The same fake behind the Anthropic Messages API: an OpenAI-shaped call to
// it is translated both ways (TRANSLATION.md), the cost the bench measures
// against the same call to kBenchModel.
inline constexpr char kTranslatedModel[] = "anthropic/bench-translated";
// A model for long-lived streams: idle and first-byte timeouts of minutes.
inline constexpr char kStreamModel[] = "openai/bench-stream";

struct StackOptions {
  int fake_threads = 1;      // rebound-fakeprovider --threads
  int upstream_threads = 1;  // server.upstream_threads in the config
  // The rebound-server to measure (empty: this build's) and extra flags for
  // it, e.g. {"--log-level", "warn"}: lets one bench binary compare builds.
  std::string server_binary{};
  std::vector<std::string> server_flags{};
};

class BenchStack {
 public:
  // Starts the fake, writes the config, starts the server and waits for
  // both ready lines (30 s at most: a server under valgrind starts slowly).
  static absl::StatusOr<std::unique_ptr<BenchStack>> Start(const StackOptions& options);
  // Stops the server with SIGTERM (so that it drains and exits as in
  // production, and a profiler wrapping it can write its data), waiting up
  // to 30 s; then the fake is killed.
  ~BenchStack();
  BenchStack(const BenchStack&) = delete;
  BenchStack& operator=(const BenchStack&) = delete;

  // "127.0.0.1:PORT" of the gateway's gRPC listener.
  const std::string& gateway_address() const { return gateway_address_; }
  // "HOST:PORT" of the gateway's Prometheus endpoint.
  const std::string& metrics_address() const { return metrics_address_; }
  // "HOST:PORT" of the HTTP front door (server.http_listen).
  const std::string& http_address() const { return http_address_; }
  // The URL the gateway forwards to: the fake's chat-completions endpoint.
  std::string direct_url() const;
  pid_t server_pid() const { return server_->pid(); }
  pid_t fake_pid() const { return fake_->process().pid(); }
  int fake_port() const { return fake_->port(); }
  // Where the processes' output and the config are (for a failed run).
  const std::string& config_path() const { return config_path_; }

 private:
  BenchStack() = default;

  std::unique_ptr<testing::FakeProvider> fake_;
  std::unique_ptr<testing::Subprocess> server_;
  std::string gateway_address_;
  std::string metrics_address_;
  std::string http_address_;
  std::string config_path_;
};

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_BENCH_STACK_H_
