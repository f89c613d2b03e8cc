#include "server/gateway_server.h"

#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "auth/bearer_tokens.h"
#include "auth/tls_files.h"
#include "common/log.h"
#include "policy/config_loader.h"
#include "prometheus/exposer.h"

namespace rebound {
namespace {

// The cores this process may run on (its CPU affinity, which taskset and
// container CPU sets restrict), 1 if that cannot be read.
int AvailableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return CPU_COUNT(&set);
}

// The signals RunUntilTerminated waits for: TERM and INT drain and stop,
// HUP reloads. Blocked on every thread so that only sigtimedwait sees them.
sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

int64_t FileMtimeNs(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// The Gateway caller tokens `settings` asks for; null when
// server.auth_token_file is not set (Gateway is open).
absl::StatusOr<std::shared_ptr<const BearerTokens>> LoadCallerTokens(
    const ServerSettings& settings) {
  if (settings.auth_token_file.empty()) return nullptr;
  absl::StatusOr<std::vector<std::string>> tokens = ReadTokenListFile(settings.auth_token_file);
  if (!tokens.ok()) {
    return absl::Status(tokens.status().code(),
                        absl::StrCat("server.auth_token_file: ", tokens.status().message()));
  }
  return std::make_shared<const BearerTokens>(*std::move(tokens));
}

}  // namespace

GatewayServer::GatewayServer(std::string config_path, std::shared_ptr<const Config> config)
    : config_path_(std::move(config_path)), config_(std::move(config)) {
  config_mtime_ns_ = FileMtimeNs(config_path_);
}

GatewayServer::~GatewayServer() {
  if (http_server_) http_server_->Stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
  // Before the workers go: their block listener may still report.
  if (controlplane_) controlplane_->Stop();
  for (auto& worker : workers_) {
    // Tear the curl client down on its own thread, then stop the loop.
    worker->loop.Post([w = worker.get()] { w->client.reset(); });
    worker->loop.Stop();
    worker->loop.Join();
  }
}

void GatewayServer::BlockSignals() {
  sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

std::shared_ptr<const Config> GatewayServer::config() const {
  absl::MutexLock lock(&config_mu_);
  return config_;
}

absl::Status GatewayServer::Start() {
  std::shared_ptr<const Config> config = this->config();
  const ServerSettings& settings = config->server;
  // Files first: a bad certificate, key or token file stops the server
  // before it starts any thread.
  absl::StatusOr<std::shared_ptr<const BearerTokens>> caller_tokens = LoadCallerTokens(settings);
  if (!caller_tokens.ok()) return caller_tokens.status();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(settings.tls);
  if (!credentials.ok()) return credentials.status();
  if (absl::Status ca = CheckProviderCaFiles(*config); !ca.ok()) return ca;
  metrics_.RecordConfigLoad(true);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(settings.metrics_address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", settings.metrics_address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(metrics_.registry());

  // One limit for every loop: a provider gets max_connections_per_provider
  // wherever its calls run.
  auto limit = std::make_shared<ConnectionLimit>(settings.max_connections_per_provider);
  int upstream_threads = ResolveUpstreamThreads(settings.upstream_threads, AvailableCores());
  for (int i = 0; i < upstream_threads; ++i) {
    auto worker = std::make_unique<UpstreamWorker>();
    worker->client = std::make_unique<CurlUpstream>(
        &worker->loop, CurlUpstream::Options{settings.max_connections_per_provider, limit});
    worker->loop.StartThread();
    workers_.push_back(std::move(worker));
  }
  blocks_.SetListener([this](const BlockKey& key, const Block& block) {
    metrics_.RecordBlockCreated(ToString(block.kind), ToString(key.scope));
    LogInfo("block", {{"key", key.ToString()},
                      {"kind", ToString(block.kind)},
                      {"until_ms_from_now",
                       std::to_string(absl::ToInt64Milliseconds(block.until - absl::Now()))}});
    // Shared at once with every other replica, stamped for their
    // propagation-latency measurement.
    if (ReplicaSync* reporter = controlplane_reporter_.load()) {
      reporter->ReportBlock(key, block, absl::Now());
    }
  });
  core_ = std::make_unique<GatewayCore>(config, &workers_, &metrics_, &blocks_, &latency_);
  core_->SetCallerTokens(*caller_tokens);
  service_ = std::make_unique<GatewayService>(core_.get());
  workers_[0]->loop.Post([this] { SweepBlocks(); });

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(settings.listen_address, *credentials, &port);
  builder.RegisterService(service_.get());
  // The request body limit is enforced with a clear message by the Call;
  // gRPC's own limit sits above it so oversized calls still get that message.
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<int64_t>(settings.max_body_bytes + (1 << 20), INT32_MAX)));
  builder.SetMaxSendMessageSize(128 << 20);
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for gRPC on ", settings.listen_address));
  }
  std::string host = settings.listen_address.substr(0, settings.listen_address.rfind(':'));
  std::vector<int> metrics_ports = exposer_->GetListeningPorts();
  std::string metrics_host =
      settings.metrics_address.substr(0, settings.metrics_address.rfind(':'));
  if (!settings.http_listen.empty()) {
    if (absl::Status s = StartHttp(settings); !s.ok()) return s;
  }
  std::string http_ready;
  if (http_server_) {
    http_ready = absl::StrCat(" http=", settings.http_listen.substr(0, settings.http_listen.rfind(':')),
                              ":", http_server_->port());
  }
  std::cout << "rebound-server ready grpc=" << host << ":" << port << " metrics=" << metrics_host
            << ":" << (metrics_ports.empty() ? 0 : metrics_ports[0]) << http_ready << std::endl;
  if (absl::Status s = StartControlPlane(port); !s.ok()) return s;
  LogInfo("server_started",
          {{"grpc", absl::StrCat(host, ":", port)},
           {"providers", absl::StrCat(config->providers.size())},
           {"upstream_threads", absl::StrCat(workers_.size())},
           {"tls", settings.tls.cert_file.empty()        ? "off"
                   : settings.tls.client_ca_file.empty() ? "on"
                                                         : "mutual"},
           {"caller_auth", *caller_tokens ? absl::StrCat((*caller_tokens)->size(), " tokens")
                                          : std::string("off")}});
  return absl::OkStatus();
}

absl::Status GatewayServer::StartHttp(const ServerSettings& settings) {
  http::ServerOptions options;
  options.address = settings.http_listen;
  if (!settings.tls.cert_file.empty()) {
    absl::StatusOr<std::shared_ptr<http::TlsContext>> tls = http::TlsContext::Create(settings.tls);
    if (!tls.ok()) return tls.status();
    options.tls = *std::move(tls);
  }
  options.max_connections = settings.http_max_connections;
  options.limits.max_body_bytes = settings.max_body_bytes;
  options.request_timeout = absl::Milliseconds(settings.http_request_timeout_ms);
  options.idle_timeout = absl::Milliseconds(settings.http_idle_timeout_ms);
  options.write_timeout = absl::Milliseconds(settings.stream_pause_timeout_ms);
  front_door_ = std::make_unique<HttpFrontDoor>(core_.get());
  http_server_ = std::make_unique<http::Server>(
      std::move(options), core_->loops(),
      [door = front_door_.get()](http::Request request, std::shared_ptr<http::Exchange> exchange) {
        door->Handle(std::move(request), std::move(exchange));
      });
  http_server_->mutable_stats()->on_reject = [this](std::string_view reason) {
    metrics_.RecordHttpReject(reason);
  };
  return http_server_->Start();
}

absl::Status GatewayServer::StartControlPlane(int grpc_port) {
  std::shared_ptr<const Config> config = this->config();
  // Without addresses: the embedded default, blocks shared only in-process.
  if (config->control_plane.addresses.empty()) return absl::OkStatus();
  pushed_allowed_env_ = config->control_plane.allowed_env;
  ReplicaSync::Options options;
  options.settings = config->control_plane;
  options.replica_id = config->control_plane.replica_id;
  if (options.replica_id.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0) snprintf(host, sizeof(host), "localhost");
    options.replica_id = absl::StrCat(host, ":", grpc_port);
  }
  controlplane_ = std::make_unique<ReplicaSync>(
      std::move(options), &blocks_, &metrics_,
      [this](std::string_view yaml) { return ApplyPushedPolicy(yaml); });
  if (absl::Status s = controlplane_->Start(); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("control plane: ", s.message()));
  }
  controlplane_reporter_.store(controlplane_.get());
  return absl::OkStatus();
}

absl::Status GatewayServer::ApplyPushedPolicy(std::string_view yaml) {
  LoadOptions options;
  options.pushed_policy = true;
  options.allowed_env = pushed_allowed_env_;
  LoadResult result = LoadConfigFromString(yaml, "control-plane policy", ProcessEnv(), options);
  if (!result.ok()) {
    // The NACK reason: every error with its line, as `--check` prints them.
    std::string reason;
    for (const Diagnostic& d : result.diagnostics) {
      if (d.severity != Diagnostic::Severity::kError) continue;
      if (!reason.empty()) reason += "\n";
      reason += d.ToString();
    }
    if (reason.empty()) reason = "invalid policy";
    return absl::InvalidArgumentError(reason);
  }
  for (const Diagnostic& d : result.diagnostics) {
    LogWarn("policy_diagnostic", {{"detail", d.ToString()}});
  }
  if (absl::Status ca = CheckProviderCaFiles(*result.config); !ca.ok()) {
    return absl::InvalidArgumentError(ca.message());
  }
  absl::MutexLock lock(&config_mu_);
  pushed_policy_ = result.config;
  config_ = MergePushedPolicy(*result.config, *config_);
  core_->SetConfig(config_);
  LogInfo("policy_in_force", {{"providers", absl::StrCat(config_->providers.size())}});
  return absl::OkStatus();
}

void GatewayServer::SweepBlocks() {
  absl::Time now = absl::Now();
  blocks_.Sweep(now);
  latency_.Sweep(now);
  int counts[2][2] = {};  // [kind][scope]
  for (const auto& [key, block] : blocks_.Snapshot(now)) {
    ++counts[block.kind == BlockKind::kLatency][key.scope == BlockScope::kProvider];
  }
  for (BlockKind kind : {BlockKind::kRetryAfter, BlockKind::kLatency}) {
    for (BlockScope scope : {BlockScope::kModel, BlockScope::kProvider}) {
      metrics_.SetActiveBlocks(ToString(kind), ToString(scope),
                               counts[kind == BlockKind::kLatency][scope == BlockScope::kProvider]);
    }
  }
  if (http_server_) metrics_.SetHttpConnections(http_server_->stats().open_connections.load());
  workers_[0]->loop.AddTimerAfter(absl::Seconds(1), [this] { SweepBlocks(); });
}

void GatewayServer::Reload(const char* why) {
  // Whatever triggered it, this load has seen the file as it is now.
  config_mtime_ns_ = FileMtimeNs(config_path_);
  LoadResult result = LoadConfigFromFile(config_path_, ProcessEnv());
  for (const Diagnostic& d : result.diagnostics) LogWarn("config_diagnostic", {{"detail", d.ToString()}});
  if (!result.ok()) {
    metrics_.RecordConfigLoad(false);
    LogError("config_reload_rejected",
             {{"trigger", why}, {"file", config_path_}, {"kept", "previous configuration"}});
    return;
  }
  // The token file is part of the configuration: re-read on every reload
  // (SIGHUP after rotating tokens), and a broken one rejects the reload.
  if (absl::Status ca = CheckProviderCaFiles(*result.config); !ca.ok()) {
    metrics_.RecordConfigLoad(false);
    LogError("config_reload_rejected", {{"trigger", why},
                                        {"file", config_path_},
                                        {"detail", std::string(ca.message())},
                                        {"kept", "previous configuration"}});
    return;
  }
  absl::StatusOr<std::shared_ptr<const BearerTokens>> caller_tokens =
      LoadCallerTokens(result.config->server);
  metrics_.RecordConfigLoad(caller_tokens.ok());
  if (!caller_tokens.ok()) {
    LogError("config_reload_rejected",
             {{"trigger", why},
              {"file", config_path_},
              {"detail", std::string(caller_tokens.status().message())},
              {"kept", "previous configuration and caller tokens"}});
    return;
  }
  if (!*caller_tokens && !config()->server.auth_token_file.empty()) {
    LogWarn("caller_auth_disabled",
            {{"detail", "server.auth_token_file was removed: Gateway accepts every caller"}});
  }
  absl::MutexLock lock(&config_mu_);
  if (result.config->server.listen_address != config_->server.listen_address ||
      result.config->server.metrics_address != config_->server.metrics_address ||
      result.config->server.upstream_threads != config_->server.upstream_threads ||
      result.config->server.http_listen != config_->server.http_listen ||
      result.config->server.http_max_connections != config_->server.http_max_connections ||
      result.config->server.http_idle_timeout_ms != config_->server.http_idle_timeout_ms ||
      result.config->server.http_request_timeout_ms != config_->server.http_request_timeout_ms) {
    LogWarn("config_reload_partial",
            {{"detail", "listen addresses, upstream_threads and the http_* listener settings "
                        "change only on restart"}});
  }
  if (result.config->control_plane != config_->control_plane) {
    LogWarn("config_reload_partial", {{"detail", "control_plane changes only on restart"}});
  }
  // Once a policy was pushed, the control plane owns model_providers: the
  // file still brings its server settings (replica/replica_sync.h).
  config_ = pushed_policy_ ? MergePushedPolicy(*pushed_policy_, *result.config) : result.config;
  core_->SetConfig(config_);
  core_->SetCallerTokens(*caller_tokens);
  LogInfo("config_reloaded",
          {{"trigger", why},
           {"providers", absl::StrCat(config_->providers.size())},
           {"model_providers", pushed_policy_ ? "pushed policy kept" : "from file"}});
}

void GatewayServer::RunUntilTerminated() {
  const sigset_t set = HandledSignals();
  while (true) {
    // Wake once a second to notice config file changes.
    timespec timeout{1, 0};
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGHUP) {
      Reload("SIGHUP");
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    } else {
      int64_t mtime = FileMtimeNs(config_path_);
      if (mtime != 0 && mtime != config_mtime_ns_) {
        config_mtime_ns_ = mtime;
        Reload("file_change");
      }
    }
  }
  Drain();
}

void GatewayServer::Drain() {
  int64_t grace_ms = config()->server.drain_grace_ms;
  LogInfo("draining", {{"in_flight", absl::StrCat(core_->in_flight())},
                       {"grace_ms", absl::StrCat(grace_ms)}});
  const absl::Time deadline = absl::Now() + absl::Milliseconds(grace_ms);
  core_->StartDraining();
  if (http_server_) http_server_->StartDraining();
  server_->GetHealthCheckService()->SetServingStatus(false);
  // Shutdown stops accepting calls, waits for in-flight calls up to the
  // deadline, then cancels the rest.
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
  if (http_server_) {
    // HTTP calls still running at the deadline are cut with their
    // connections (their Calls are cancelled).
    if (!core_->WaitForIdle(deadline)) {
      LogWarn("drain_deadline", {{"in_flight", absl::StrCat(core_->in_flight())}});
    }
    http_server_->Stop();
  }
  // Kept until the calls are done, so blocks they create still reach the
  // other replicas.
  if (controlplane_) controlplane_->Stop();
  LogInfo("drained", {});
}

}  // namespace rebound
