// rebound-controlplane: shares blocks between rebound-server replicas and
// pushes validated policies to them. Flags, wiring and signals; nothing else.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/tls_files.h"
#include "common/log.h"
#include "controlplane/auth.h"
#include "controlplane/control_plane_service.h"
#include "controlplane/metrics.h"
#include "controlplane/policy_store.h"
#include "prometheus/exposer.h"

namespace {

constexpr char kUsage[] =
    "usage: rebound-controlplane --state-dir DIR\n"
    "                            (--replica-token-file FILE --operator-token-file FILE |\n"
    "                             --insecure-no-auth)\n"
    "                            [--listen HOST:PORT] [--metrics-listen HOST:PORT]\n"
    "                            [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
    "                            [--resync-interval 30s]\n"
    "                            [--log-level debug|info|warn|error]\n"
    "\n"
    "  --state-dir DIR          where the current policy is persisted (created if missing)\n"
    "  --replica-token-file F   bearer tokens of the replicas, one per line (# comments):\n"
    "                           they open Sync and nothing else\n"
    "  --operator-token-file F  bearer tokens of operators (the rebound CLI): they open\n"
    "                           PushPolicy, GetState and ClearBlock, not Sync. The two\n"
    "                           files must not share a token\n"
    "  --insecure-no-auth       accept RPCs without a token (local experiments only)\n"
    "  --listen HOST:PORT       gRPC address (default 127.0.0.1:7500; port 0 picks one)\n"
    "  --metrics-listen H:P     Prometheus /metrics address (default 127.0.0.1:9465)\n"
    "  --tls-cert, --tls-key    serve gRPC over TLS with this certificate and key\n"
    "  --tls-client-ca FILE     require client certificates signed by these PEM roots (mTLS)\n"
    "  --resync-interval D      full block snapshot to every replica this often (default 30s)\n";

// The single shared token file of earlier versions: refused with the two
// flags that replace it, not read as either, because one token for both
// roles is exactly what the split removes.
constexpr char kRetiredTokenFile[] =
    "--token-file is retired: the replicas' token must not also push policies. Give "
    "--replica-token-file FILE (the tokens in the replicas' control_plane.token_file; Sync "
    "only) and --operator-token-file FILE (the rebound CLI's tokens; PushPolicy, GetState, "
    "ClearBlock), with no token in both\n";

// Big enough for a policy at the loader's 4 MiB limit and a Hello with
// max_hello_blocks blocks; anything larger is refused by gRPC itself.
constexpr int kMaxReceiveBytes = (4 << 20) + (64 << 10);

struct Flags {
  std::string listen = "127.0.0.1:7500";
  std::string metrics_listen = "127.0.0.1:9465";
  std::string state_dir;
  std::string replica_token_file;
  std::string operator_token_file;
  bool insecure_no_auth = false;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  absl::Duration resync_interval = absl::Seconds(30);
};

// "30s", "500ms", "1m"; a bare number is seconds.
std::optional<absl::Duration> ParseInterval(const std::string& text) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return std::nullopt;
  }
  if (d < absl::Milliseconds(100) || d > absl::Hours(24)) return std::nullopt;
  return d;
}

// 0: parsed; otherwise the exit code.
int ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    // --flag=value as well as --flag value: deploy/k8s (like most Kubernetes
    // manifests) writes the first.
    std::optional<std::string> inline_value;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto value = [&](std::string* out) {
      if (inline_value) {
        *out = *inline_value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    if (inline_value && (arg == "--insecure-no-auth" || arg == "--help")) {
      std::cerr << arg << " takes no value\n" << kUsage;
      return 2;
    }
    std::string text;
    bool ok = true;
    if (arg == "--listen") ok = value(&flags->listen);
    else if (arg == "--metrics-listen") ok = value(&flags->metrics_listen);
    else if (arg == "--state-dir") ok = value(&flags->state_dir);
    else if (arg == "--replica-token-file") ok = value(&flags->replica_token_file);
    else if (arg == "--operator-token-file") ok = value(&flags->operator_token_file);
    else if (arg == "--token-file") {
      std::cerr << kRetiredTokenFile;
      return 2;
    } else if (arg == "--tls-cert") ok = value(&flags->tls_cert);
    else if (arg == "--tls-key") ok = value(&flags->tls_key);
    else if (arg == "--tls-client-ca") ok = value(&flags->tls_client_ca);
    else if (arg == "--insecure-no-auth") flags->insecure_no_auth = true;
    else if (arg == "--resync-interval") {
      ok = value(&text);
      std::optional<absl::Duration> d = ok ? ParseInterval(text) : std::nullopt;
      if (ok && !d) {
        std::cerr << "--resync-interval: want a duration from 100ms to 24h, e.g. 30s\n";
        return 2;
      }
      if (d) flags->resync_interval = *d;
    } else if (arg == "--log-level") {
      ok = value(&text);
      if (text == "debug") rebound::SetLogLevel(rebound::LogLevel::kDebug);
      else if (text == "info") rebound::SetLogLevel(rebound::LogLevel::kInfo);
      else if (text == "warn") rebound::SetLogLevel(rebound::LogLevel::kWarn);
      else if (text == "error") rebound::SetLogLevel(rebound::LogLevel::kError);
      else ok = false;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return -1;
    } else {
      std::cerr << "unknown argument " << arg << "\n" << kUsage;
      return 2;
    }
    if (!ok) {
      std::cerr << arg << ": missing or invalid value\n" << kUsage;
      return 2;
    }
  }
  if (flags->state_dir.empty()) {
    std::cerr << "--state-dir is required\n" << kUsage;
    return 2;
  }
  const bool any_tokens =
      !flags->replica_token_file.empty() || !flags->operator_token_file.empty();
  if (any_tokens && flags->insecure_no_auth) {
    std::cerr << "--insecure-no-auth and the token files exclude each other: give both token "
                 "files, or (local experiments only) --insecure-no-auth alone\n";
    return 2;
  }
  if (!flags->insecure_no_auth &&
      (flags->replica_token_file.empty() || flags->operator_token_file.empty())) {
    std::cerr << "--replica-token-file and --operator-token-file are both required (or "
                 "--insecure-no-auth for local experiments)\n"
              << kUsage;
    return 2;
  }
  if (flags->tls_cert.empty() != flags->tls_key.empty()) {
    std::cerr << "--tls-cert and --tls-key go together\n";
    return 2;
  }
  if (!flags->tls_client_ca.empty() && flags->tls_cert.empty()) {
    std::cerr << "--tls-client-ca needs --tls-cert and --tls-key: client certificates are "
                 "checked only over TLS\n";
    return 2;
  }
  return 0;
}

std::string HostOf(const std::string& address) { return address.substr(0, address.rfind(':')); }

}  // namespace

int main(int argc, char** argv) {
  // Debian builds Abseil with deadlock detection on, which costs every lock
  // a global graph update; the lock order here is documented and simple.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Before any thread starts, so that only sigtimedwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Flags flags;
  if (int rc = ParseFlags(argc, argv, &flags); rc != 0) return rc < 0 ? 0 : rc;

  std::optional<rebound::controlplane::Authenticator> auth;
  if (flags.insecure_no_auth) {
    rebound::LogWarn("insecure_no_auth", {{"detail", "every RPC is accepted without a token"}});
    auth = rebound::controlplane::Authenticator::Insecure();
  } else {
    absl::StatusOr<std::vector<std::string>> replica =
        rebound::ReadTokenListFile(flags.replica_token_file);
    absl::StatusOr<std::vector<std::string>> operators =
        rebound::ReadTokenListFile(flags.operator_token_file);
    for (const absl::Status& status : {replica.status(), operators.status()}) {
      if (!status.ok()) {
        std::cerr << "rebound-controlplane: " << status.message() << "\n";
        return 1;
      }
    }
    if (absl::Status disjoint = rebound::controlplane::CheckTokenListsDisjoint(
            *replica, *operators, flags.replica_token_file, flags.operator_token_file);
        !disjoint.ok()) {
      std::cerr << "rebound-controlplane: " << disjoint.message() << "\n";
      return 1;
    }
    auth.emplace(rebound::BearerTokens(*std::move(replica)),
                 rebound::BearerTokens(*std::move(operators)));
  }

  std::string load_error;
  auto policy = rebound::controlplane::PolicyStore::Open(flags.state_dir, &load_error);
  if (!policy.ok()) {
    std::cerr << "rebound-controlplane: " << policy.status().message() << "\n";
    return 1;
  }
  if (!load_error.empty()) {
    rebound::LogError("policy_state_unusable",
                      {{"detail", load_error}, {"effect", "starting without a policy"}});
  } else if (auto current = (*policy)->Current()) {
    rebound::LogInfo("policy_loaded", {{"counter", absl::StrCat(current->counter)},
                                       {"hash", current->hash}});
  }

  rebound::controlplane::Metrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(flags.metrics_listen);
  } catch (const std::exception& e) {
    std::cerr << "rebound-controlplane: cannot serve metrics on " << flags.metrics_listen << ": "
              << e.what() << "\n";
    return 1;
  }
  exposer->RegisterCollectable(metrics.registry());

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      rebound::MakeServerCredentials(
          rebound::TlsFiles{flags.tls_cert, flags.tls_key, flags.tls_client_ca});
  if (!credentials.ok()) {
    std::cerr << "rebound-controlplane: " << credentials.status().message() << "\n";
    return 1;
  }

  rebound::controlplane::ServiceOptions options;
  options.resync_interval = flags.resync_interval;
  rebound::controlplane::ControlPlaneService service(
      options, policy->get(), &metrics, *std::move(auth));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags.listen, *credentials, &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "rebound-controlplane: cannot listen for gRPC on " << flags.listen << "\n";
    return 1;
  }
  service.Start();

  std::vector<int> metrics_ports = exposer->GetListeningPorts();
  std::cout << "rebound-controlplane ready grpc=" << HostOf(flags.listen) << ":" << port
            << " metrics=" << HostOf(flags.metrics_listen) << ":"
            << (metrics_ports.empty() ? 0 : metrics_ports[0]) << std::endl;
  rebound::LogInfo("controlplane_started",
                   {{"grpc", absl::StrCat(HostOf(flags.listen), ":", port)},
                    {"tls", flags.tls_cert.empty()        ? "off"
                            : flags.tls_client_ca.empty() ? "on"
                                                          : "mutual"},
                    {"auth", flags.insecure_no_auth ? "off" : "replica and operator tokens"}});

  int sig = 0;
  while (sig != SIGTERM && sig != SIGINT) sig = sigwaitinfo(&signals, nullptr);

  rebound::LogInfo("shutting_down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server->GetHealthCheckService()->SetServingStatus(false);
  service.BeginShutdown();
  // Streams were told to end; unary calls get a moment to finish.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  service.StopTimers();
  rebound::LogInfo("stopped", {});
  return 0;
}
