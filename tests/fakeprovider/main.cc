// rebound-fakeprovider: a fake OpenAI/Anthropic provider for tests, demos and
// benchmarks. Flags only; the behaviour lives in fake_provider.cc.
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "tests/fakeprovider/fake_provider.h"
#include "tests/fakeprovider/fault_spec.h"
#include "tests/fakeprovider/http_server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port to listen on; port 0 picks a free one");
ABSL_FLAG(int, threads, 1, "event loops (threads), sharing the port with SO_REUSEPORT");
ABSL_FLAG(std::string, default, "", "fault spec for requests that carry none");
ABSL_FLAG(int64_t, max_recorded, 100000,
          "keep at most this many provider requests for GET /_fake/requests (0: none)");
ABSL_FLAG(bool, log_requests, false, "log one line per provider request to stderr");

namespace {

// "127.0.0.1:8080" or "[::1]:8080" -> host, port.
bool SplitHostPort(const std::string& listen, std::string& host, int& port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return !host.empty() && absl::SimpleAtoi(listen.substr(colon + 1), &port) && port >= 0 &&
         port <= 65535;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "rebound-fakeprovider --listen 127.0.0.1:0 [--threads N] [--default SPEC]");
  absl::ParseCommandLine(argc, argv);

  std::string listen = absl::GetFlag(FLAGS_listen);
  rebound::fake::ServerOptions server_options;
  if (!SplitHostPort(listen, server_options.host, server_options.port)) {
    std::fprintf(stderr, "rebound-fakeprovider: --listen wants host:port, got '%s'\n",
                 listen.c_str());
    return 2;
  }
  server_options.threads = absl::GetFlag(FLAGS_threads);
  if (server_options.threads < 1 || server_options.threads > 256) {
    std::fprintf(stderr, "rebound-fakeprovider: --threads must be in [1, 256]\n");
    return 2;
  }
  absl::StatusOr<rebound::fake::FaultSpec> default_spec =
      rebound::fake::ParseFaultSpec(absl::GetFlag(FLAGS_default));
  if (!default_spec.ok()) {
    std::fprintf(stderr, "rebound-fakeprovider: --default: %s\n",
                 std::string(default_spec.status().message()).c_str());
    return 2;
  }
  int64_t max_recorded = absl::GetFlag(FLAGS_max_recorded);

  // Signals are taken synchronously by this thread (sigwait below); the
  // loop threads inherit the blocked mask and never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  rebound::fake::FakeProvider provider({
      .default_spec = *std::move(default_spec),
      .max_recorded = static_cast<size_t>(max_recorded < 0 ? 0 : max_recorded),
      .log_requests = absl::GetFlag(FLAGS_log_requests),
  });
  rebound::fake::HttpServer server(server_options, &provider);
  if (absl::Status s = server.Listen(); !s.ok()) {
    std::fprintf(stderr, "rebound-fakeprovider: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  server.Start();
  bool v6 = server_options.host.find(':') != std::string::npos;
  std::printf("rebound-fakeprovider listening on %s%s%s:%d\n", v6 ? "[" : "",
              server_options.host.c_str(), v6 ? "]" : "", server.port());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server.Stop();
  return 0;
}
