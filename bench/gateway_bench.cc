// rebound-bench: what rebound-server adds to a call, measured against the
// same load sent straight to the fake provider in the same run.
//
//   build/bin/rebound-bench --repeat 3 [--calls N] [--rps R] [--seconds S]
//                           [--concurrency C] [--json FILE]
//
// Flags, wiring and output only; the measurements live in load_runners.cc
// and suite.cc. See bench/README.md.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_stack.h"
#include "bench/direct_target.h"
#include "bench/gateway_target.h"
#include "bench/h2load_runner.h"
#include "bench/nginx_proxy.h"
#include "bench/noop_gateway.h"
#include "bench/report.h"
#include "bench/suite.h"
#include "bench/workload.h"

ABSL_FLAG(int64_t, calls, 5000, "sequential: measured calls per path");
ABSL_FLAG(int64_t, warmup, 500, "sequential: warm-up calls per path");
ABSL_FLAG(int64_t, block, 250, "sequential: calls per block (blocks alternate paths)");
ABSL_FLAG(double, rps, 2000, "fixed rate: calls per second (open loop)");
ABSL_FLAG(double, seconds, 5, "fixed rate and saturation: measured seconds per path");
ABSL_FLAG(int, concurrency, 32, "saturation: calls in flight");
ABSL_FLAG(int, repeat, 1, "run the whole suite this many times; report medians");
ABSL_FLAG(std::string, json, "", "also write the results to this file as JSON");
ABSL_FLAG(int64_t, body_bytes, 1024, "request body size (chat JSON)");
ABSL_FLAG(int64_t, response_bytes, 2048, "response size the fake pads its answers to");
ABSL_FLAG(int, fake_threads, 1, "rebound-fakeprovider --threads");
ABSL_FLAG(int, upstream_threads, 0, "rebound-server upstream_threads (0, its default: one per core)");
ABSL_FLAG(std::string, h2load, "/usr/bin/h2load",
          "throughput: the h2load binary (Debian package nghttp2-client); empty: skip");
ABSL_FLAG(int, h2load_connections, 4, "throughput: HTTP/2 connections to the gateway");
ABSL_FLAG(std::string, nginx, "/usr/sbin/nginx",
          "section 5b: nginx as the reference proxy (Debian package nginx-light); empty: skip");
ABSL_FLAG(int, streams, 2000, "stream memory: streams held open at once (0: skip)");
ABSL_FLAG(std::string, server, "", "rebound-server binary to measure (default: this build's)");
ABSL_FLAG(std::vector<std::string>, server_flags, {},
          "extra rebound-server flags, comma-separated (e.g. --log-level,warn)");

namespace rebound::bench {
namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(10);

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one_minute = 0;
  in >> one_minute;
  return one_minute;
}

// One call on each path before measuring: both must answer 200, and with
// bodies of about the same size (the gateway forwards the fake's body).
absl::Status Preflight(SyncTarget& direct, SyncTarget& gateway) {
  absl::StatusOr<CallInfo> d = direct.Call();
  if (!d.ok()) return d.status();
  absl::StatusOr<CallInfo> g = gateway.Call();
  if (!g.ok()) return g.status();
  std::fprintf(stderr, "rebound-bench: response bodies: direct %zu B, gateway %zu B\n",
               d->body_bytes, g->body_bytes);
  return absl::OkStatus();
}

// h2load's inputs: the gRPC-framed CompletionRequest the gateway path
// sends, and the JSON body plus the headers rebound would send upstream.
ThroughputOptions MakeThroughputOptions(const BenchStack& stack, const Workload& workload,
                                        const BenchSettings& settings, absl::Duration duration) {
  ThroughputOptions t;
  std::string h2load = absl::GetFlag(FLAGS_h2load);
  if (!h2load.empty() && access(h2load.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "rebound-bench: %s not found: throughput section skipped "
                 "(apt-get install nghttp2-client)\n",
                 h2load.c_str());
    h2load.clear();
  }
  t.h2load = h2load;
  v1::CompletionRequest request;
  request.set_model(kBenchModel);
  request.set_body(workload.body);
  v1::Header* fault = request.add_headers();
  fault->set_name(kFaultHeader);
  fault->set_value(workload.fault);
  t.gateway_url = absl::StrCat("http://", stack.gateway_address(), "/rebound.v1.Gateway/Complete");
  t.gateway_body_file =
      testing::WriteTempFile("h2load-request.grpc", GrpcFrame(request.SerializeAsString()));
  t.gateway_headers = {"content-type: application/grpc", "te: trailers"};
  t.direct_url = stack.direct_url();
  t.direct_body_file = testing::WriteTempFile("h2load-request.json", workload.body);
  t.direct_headers = {"content-type: application/json",
                      absl::StrCat("authorization: Bearer ", kBenchAccessKey),
                      absl::StrCat(kFaultHeader, ": ", workload.fault)};
  if (!stack.http_address().empty()) {
    // The same JSON as the direct path; rebound adds the provider's key.
    t.http_url = absl::StrCat("http://", stack.http_address(), "/v1/chat/completions");
    t.http_headers = {"content-type: application/json",
                      absl::StrCat(kFaultHeader, ": ", workload.fault)};
  }
  t.metrics_url = absl::StrCat("http://", stack.metrics_address(), "/metrics");
  t.concurrency = settings.concurrency;
  t.gateway_connections = std::max(1, absl::GetFlag(FLAGS_h2load_connections));
  t.duration = duration;
  return t;
}

absl::Status CheckFlags(const BenchSettings& s) {
  if (s.calls < 1 || s.warmup < 0 || s.block < 1) {
    return absl::InvalidArgumentError("--calls and --block must be >= 1, --warmup >= 0");
  }
  if (s.rps <= 0 || s.seconds <= 0) {
    return absl::InvalidArgumentError("--rps and --seconds must be > 0");
  }
  if (s.concurrency < 1 || s.repeat < 1) {
    return absl::InvalidArgumentError("--concurrency and --repeat must be >= 1");
  }
  if (s.body_bytes < 0 || s.response_bytes < 0) {
    return absl::InvalidArgumentError("--body_bytes and --response_bytes must be >= 0");
  }
  return absl::OkStatus();
}

int Run() {
  BenchSettings settings{
      .calls = absl::GetFlag(FLAGS_calls),
      .warmup = absl::GetFlag(FLAGS_warmup),
      .block = absl::GetFlag(FLAGS_block),
      .rps = absl::GetFlag(FLAGS_rps),
      .seconds = absl::GetFlag(FLAGS_seconds),
      .concurrency = absl::GetFlag(FLAGS_concurrency),
      .repeat = absl::GetFlag(FLAGS_repeat),
      .body_bytes = absl::GetFlag(FLAGS_body_bytes),
      .response_bytes = absl::GetFlag(FLAGS_response_bytes),
      .streams = absl::GetFlag(FLAGS_streams),
      .cpus = static_cast<int>(std::thread::hardware_concurrency()),
      .load_average = LoadAverage(),
  };
  if (absl::Status s = CheckFlags(settings); !s.ok()) {
    std::fprintf(stderr, "rebound-bench: %s\n", std::string(s.message()).c_str());
    return 2;
  }

  absl::StatusOr<std::unique_ptr<BenchStack>> stack =
      BenchStack::Start({.fake_threads = absl::GetFlag(FLAGS_fake_threads),
                         .upstream_threads = absl::GetFlag(FLAGS_upstream_threads),
                         .server_binary = absl::GetFlag(FLAGS_server),
                         .server_flags = absl::GetFlag(FLAGS_server_flags)});
  if (!stack.ok()) {
    std::fprintf(stderr, "rebound-bench: cannot start the stack: %s\n",
                 std::string(stack.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "rebound-bench: gateway %s, fake %s (config %s)\n",
               (*stack)->gateway_address().c_str(), (*stack)->direct_url().c_str(),
               (*stack)->config_path().c_str());

  Workload workload = MakeWorkload(static_cast<size_t>(settings.body_bytes),
                                   settings.response_bytes);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel((*stack)->gateway_address(), grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::fprintf(stderr, "rebound-bench: cannot connect to the gateway\n");
    return 1;
  }
  GatewayTarget gateway(channel, kBenchModel, workload, kCallDeadline);
  Workload no_fault = workload;
  no_fault.fault.clear();  // the model names decide what the fake does
  GatewayTarget gateway_plain(channel, kBenchModel, no_fault, kCallDeadline);
  GatewayTarget gateway_failover(channel, kFailoverModel, no_fault, kCallDeadline);
  Workload translation_workload = MakeWorkload(4096, 2048);
  GatewayTarget gateway_untranslated(channel, kBenchModel, translation_workload, kCallDeadline);
  GatewayTarget gateway_translated(channel, kTranslatedModel, translation_workload, kCallDeadline);
  const auto body_bytes = static_cast<size_t>(settings.body_bytes);
  Workload token_stream_workload = MakeTokenStreamWorkload(body_bytes, kStreamTokens);
  Workload one_token_stream_workload = MakeTokenStreamWorkload(body_bytes, 1);
  DirectSyncTarget direct_stream((*stack)->direct_url(), token_stream_workload, kCallDeadline);
  GatewayStreamTarget gateway_stream(channel, kBenchModel, token_stream_workload, kCallDeadline);
  GatewayStreamTarget gateway_stream_one(channel, kBenchModel, one_token_stream_workload,
                                         kCallDeadline);
  DirectSyncTarget direct_sync((*stack)->direct_url(), workload, kCallDeadline);
  DirectAsyncTarget direct_async((*stack)->direct_url(), workload, kCallDeadline);
  absl::StatusOr<std::unique_ptr<NoopGateway>> noop =
      NoopGateway::Start(settings.response_bytes);
  if (!noop.ok()) {
    std::fprintf(stderr, "rebound-bench: %s\n", std::string(noop.status().message()).c_str());
    return 1;
  }
  GatewayTarget grpc_noop(
      grpc::CreateChannel((*noop)->address(), grpc::InsecureChannelCredentials()), kBenchModel,
      workload, kCallDeadline);
  if (absl::Status s = Preflight(direct_sync, gateway); !s.ok()) {
    std::fprintf(stderr, "rebound-bench: preflight call failed: %s\n", s.ToString().c_str());
    return 1;
  }

  const absl::Duration duration = absl::Seconds(settings.seconds);
  ThroughputOptions throughput = MakeThroughputOptions(**stack, workload, settings, duration);
  throughput.grpc_noop_url = absl::StrCat("http://", (*noop)->address(), "/rebound.v1.Gateway/Complete");
  std::unique_ptr<NginxProxy> nginx;
  if (!absl::GetFlag(FLAGS_nginx).empty()) {
    absl::StatusOr<std::unique_ptr<NginxProxy>> started =
        NginxProxy::Start(absl::GetFlag(FLAGS_nginx), (*stack)->fake_port());
    if (started.ok()) {
      nginx = *std::move(started);
      throughput.nginx_url = nginx->base_url() + "/v1/chat/completions";
      throughput.nginx_pid = nginx->pid();
    } else {
      std::fprintf(stderr, "rebound-bench: nginx reference skipped: %s\n",
                   std::string(started.status().message()).c_str());
    }
  }
  // The open streams are spread over 8 connections, as a fleet of callers
  // would spread them (one connection could carry them all).
  std::vector<std::shared_ptr<grpc::Channel>> stream_channels;
  for (int i = 0; i < 8; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("rebound.bench.channel", i);  // distinct args: distinct connections
    stream_channels.push_back(grpc::CreateCustomChannel(
        (*stack)->gateway_address(), grpc::InsecureChannelCredentials(), args));
  }
  Workload stream_workload = MakeStreamWorkload(static_cast<size_t>(settings.body_bytes));
  SuiteOptions options{
      .sequential = {.calls = settings.calls, .warmup = settings.warmup, .block = settings.block},
      .fixed_rate = {.rps = settings.rps, .duration = duration},
      .saturation = {.concurrency = settings.concurrency, .duration = duration},
      .server_pid = (*stack)->server_pid(),
      .fake_pid = (*stack)->fake_pid(),
      .throughput = std::move(throughput),
      .stream_memory = {.streams = settings.streams,
                        .model = kStreamModel,
                        .request_body = stream_workload.body,
                        .fault = stream_workload.fault,
                        .server_pid = (*stack)->server_pid(),
                        .fake_pid = (*stack)->fake_pid()},
      .stream_channels = stream_channels,
  };
  SuiteTargets targets{
      .direct_sync = &direct_sync,
      .gateway_sync = &gateway,
      .grpc_floor_sync = &grpc_noop,
      .direct_async = &direct_async,
      .gateway_async = &gateway,
      .gateway_plain_sync = &gateway_plain,
      .gateway_failover_sync = &gateway_failover,
      .gateway_untranslated_sync = &gateway_untranslated,
      .gateway_translated_sync = &gateway_translated,
      .direct_stream_sync = &direct_stream,
      .gateway_stream_sync = &gateway_stream,
      .gateway_stream_one_sync = &gateway_stream_one,
  };
  // First, on the fresh server (see RunStreamMemory).
  ResultSet streams;
  if (settings.streams > 0) {
    std::fprintf(stderr, "rebound-bench: %d open streams\n", settings.streams);
    RunStreamMemory(options, &streams);
  }
  std::vector<ResultSet> passes;
  for (int pass = 0; pass < settings.repeat; ++pass) {
    passes.push_back(RunSuite(targets, options, pass));
    const ResultSet& r = passes.back();
    std::fprintf(stderr,
                 "rebound-bench: pass %d: sequential added p50 %.3f ms, fixed-rate gateway p99 "
                 "%.3f ms, saturation %.0f vs %.0f calls/s\n",
                 pass + 1, r.Get("sequential.added.p50_ms"), r.Get("fixed_rate.gateway.p99_ms"),
                 r.Get("saturation.gateway.calls_per_s"), r.Get("saturation.direct.calls_per_s"));
  }

  ResultSet combined = Combine(passes);
  for (const auto& [key, value] : streams.values()) combined.Set(key, value);
  PrintTable(settings, combined, stdout);
  std::fflush(stdout);
  if (std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    if (absl::Status s = WriteJson(path, settings, combined, passes); !s.ok()) {
      std::fprintf(stderr, "rebound-bench: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace rebound::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "rebound-bench [--repeat K] [--calls N] [--rps R] [--seconds S] [--concurrency C] "
      "[--json FILE]\nMeasures the latency and throughput rebound-server adds, against the "
      "same load sent straight to the fake provider.");
  absl::ParseCommandLine(argc, argv);
  return rebound::bench::Run();
}
