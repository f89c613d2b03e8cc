#include "bench/suite.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/bench_stack.h"
#include "bench/proc_stats.h"
#include "bench/h2load_runner.h"
#include "tests/integration/test_harness.h"

namespace rebound::bench {
namespace {

// Indexes into SaturationOptions::cpu_pids.
enum CpuPid { kServer = 0, kFake = 1, kBench = 2 };

void ReportErrors(const char* phase, const char* path, const PathResult& r) {
  if (r.errors == 0) return;
  std::fprintf(stderr, "rebound-bench: %s/%s: %lld errors; first: %s\n", phase, path,
               static_cast<long long>(r.errors), r.first_error.c_str());
}

void SetLatency(ResultSet* out, const std::string& prefix, const PathResult& r) {
  out->Set(prefix + ".p50_ms", r.latency.p50_ms);
  out->Set(prefix + ".p90_ms", r.latency.p90_ms);
  out->Set(prefix + ".p99_ms", r.latency.p99_ms);
  out->Set(prefix + ".mean_ms", r.latency.mean_ms);
  out->Set(prefix + ".max_ms", r.latency.max_ms);
  out->Set(prefix + ".errors", static_cast<double>(r.errors));
}

// Runs `paths` one call at a time in alternating blocks, reports their
// errors and stores each one's latency as <phase>.<name>.*.
std::vector<PathResult> RunSequentialPhase(
    ResultSet* out, const char* phase,
    const std::vector<std::pair<const char*, SyncTarget*>>& paths,
    const SequentialOptions& options) {
  std::vector<SyncTarget*> targets;
  for (const auto& [name, target] : paths) targets.push_back(target);
  std::vector<PathResult> results = RunSequential(targets, options);
  for (size_t p = 0; p < results.size(); ++p) {
    ReportErrors(phase, paths[p].first, results[p]);
    SetLatency(out, absl::StrCat(phase, ".", paths[p].first), results[p]);
  }
  return results;
}

void SetAdded(ResultSet* out, const std::string& phase) {
  for (const char* q : {"p50_ms", "p90_ms", "p99_ms"}) {
    out->Set(phase + ".added." + q,
             out->Get(phase + ".gateway." + q) - out->Get(phase + ".direct." + q));
  }
}

double MicrosPerCall(double cpu_seconds, int64_t calls) {
  return calls > 0 ? cpu_seconds * 1e6 / static_cast<double>(calls) : 0;
}

// Streaming: time to the first event through the gateway against the same
// stream straight from the fake (alternating blocks), then rebound-server's
// CPU per call for a one-token and a kStreamTokens-token stream, run one
// after the other: their difference over the extra events is the CPU per
// forwarded event, the per-call work taken out. A quarter of the sequential
// call count (a stream is longer).
void RunStreaming(const SuiteTargets& targets, const SuiteOptions& options, ResultSet* out) {
  SequentialOptions seq = options.sequential;
  seq.calls = std::max<int64_t>(1, seq.calls / 4);
  seq.warmup = std::max<int64_t>(1, seq.warmup / 4);
  std::vector<PathResult> r = RunSequentialPhase(
      out, "streaming",
      {{"direct", targets.direct_stream_sync}, {"gateway", targets.gateway_stream_sync}}, seq);
  for (size_t p = 0; p < r.size(); ++p) {
    std::string prefix = p == 0 ? "streaming.direct." : "streaming.gateway.";
    out->Set(prefix + "first_event_p50_ms", r[p].first_event.p50_ms);
    out->Set(prefix + "first_event_p99_ms", r[p].first_event.p99_ms);
    out->Set(prefix + "events_per_call",
             r[p].ok > 0 ? static_cast<double>(r[p].events) / static_cast<double>(r[p].ok) : 0);
  }
  for (const char* q : {"p50_ms", "p99_ms"}) {
    out->Set(absl::StrCat("streaming.added.first_event_", q),
             out->Get(absl::StrCat("streaming.gateway.first_event_", q)) -
                 out->Get(absl::StrCat("streaming.direct.first_event_", q)));
  }

  // {CPU us per call, events per call} of one gateway path run alone.
  auto cpu_per_call = [&](SyncTarget* target, const char* name) -> std::pair<double, double> {
    double before = ProcessCpuSeconds(options.server_pid).value_or(0);
    PathResult result = RunSequential({target}, seq)[0];
    double after = ProcessCpuSeconds(options.server_pid).value_or(0);
    ReportErrors("streaming_cpu", name, result);
    // Warm-up calls ran in the window too.
    int64_t calls = result.ok + seq.warmup;
    double events =
        result.ok > 0 ? static_cast<double>(result.events) / static_cast<double>(result.ok) : 0;
    return {MicrosPerCall(after - before, calls), events};
  };
  auto [one_us, one_events] = cpu_per_call(targets.gateway_stream_one_sync, "one_token");
  auto [many_us, many_events] = cpu_per_call(targets.gateway_stream_sync, "many_tokens");
  out->Set("streaming.cpu.one_token_us_per_call", one_us);
  out->Set("streaming.cpu.many_tokens_us_per_call", many_us);
  out->Set("streaming.cpu.us_per_event",
           many_events > one_events ? (many_us - one_us) / (many_events - one_events) : 0);
}

void SetSaturation(ResultSet* out, const std::string& prefix, const PathResult& r,
                   double window_s) {
  out->Set(prefix + ".calls_per_s", r.calls_per_s);
  SetLatency(out, prefix, r);
  out->Set(prefix + ".server_cpu_us_per_call", MicrosPerCall(r.cpu_seconds[kServer], r.ok));
  out->Set(prefix + ".server_cpu_cores", r.cpu_seconds[kServer] / window_s);
  out->Set(prefix + ".fake_cpu_us_per_call", MicrosPerCall(r.cpu_seconds[kFake], r.ok));
  out->Set(prefix + ".bench_cpu_us_per_call", MicrosPerCall(r.cpu_seconds[kBench], r.ok));
}

// rebound_requests_total on a /metrics page, summed over models: calls that
// ended OK, calls the caller cancelled, and calls that ended any other way.
struct GatewayCalls {
  double ok = 0;
  double cancelled = 0;
  double failed = 0;
};

GatewayCalls CountGatewayCalls(const std::string& metrics_url) {
  GatewayCalls calls;
  for (absl::string_view line : absl::StrSplit(testing::HttpGet(metrics_url), '\n')) {
    if (!absl::StartsWith(line, "rebound_requests_total{")) continue;
    double value = 0;
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) {
      continue;
    }
    if (absl::StrContains(line, "outcome=\"ok\"")) {
      calls.ok += value;
    } else if (absl::StrContains(line, "outcome=\"cancelled\"")) {
      calls.cancelled += value;
    } else {
      calls.failed += value;
    }
  }
  return calls;
}

// One h2load run, with the CPU the server and the fake used in it, stored
// as <prefix>.*. h2load sees HTTP 200 even for a gRPC error (the status
// travels in trailers), so through rebound its own counters must show every
// call OK: any call it counted as failed during the run is an error. Calls
// cancelled by the caller are not: h2load resets the streams still in
// flight when its window closes (at most the requests in flight).
// `proxy_pid`: the process between h2load and the fake whose CPU is the
// path's server CPU (rebound or nginx); 0 for the direct path.
void RunH2loadMeasured(const H2loadOptions& h, bool through_rebound, pid_t proxy_pid,
                       const ThroughputOptions& t, const SuiteOptions& options,
                       const std::string& prefix, ResultSet* out) {
  const int in_flight = h.connections * (h.http1 ? 1 : h.streams_per_connection);
  GatewayCalls before = through_rebound ? CountGatewayCalls(t.metrics_url) : GatewayCalls{};
  absl::StatusOr<double> server_cpu0 = ProcessCpuSeconds(proxy_pid);
  absl::StatusOr<double> fake_cpu0 = ProcessCpuSeconds(options.fake_pid);
  absl::StatusOr<H2loadResult> r = RunH2load(h);
  absl::StatusOr<double> server_cpu1 = ProcessCpuSeconds(proxy_pid);
  absl::StatusOr<double> fake_cpu1 = ProcessCpuSeconds(options.fake_pid);
  if (!r.ok()) {
    std::fprintf(stderr, "rebound-bench: %s: %s\n", prefix.c_str(),
                 std::string(r.status().message()).c_str());
    out->Set(prefix + ".errors", 1);
    return;
  }
  int64_t errors = r->failed + (r->done - r->succeeded);
  // CPU is sampled around the whole run, warm-up included, so it is divided
  // by every call of the run: through rebound its exact count, on the
  // direct path the measured rate over the whole run (warm-up calls run at
  // about the same rate).
  double all_calls = r->requests_per_s * absl::ToDoubleSeconds(h.duration + h.warmup);
  if (through_rebound) {
    GatewayCalls after = CountGatewayCalls(t.metrics_url);
    errors += static_cast<int64_t>(after.failed - before.failed);
    double cancelled = after.cancelled - before.cancelled;
    if (cancelled > in_flight) {
      errors += static_cast<int64_t>(cancelled) - in_flight;  // more than the window's end
    }
    out->Set(prefix + ".cancelled_at_end", cancelled);
    all_calls = after.ok - before.ok;
  }
  if (errors > 0) {
    std::fprintf(stderr, "rebound-bench: %s: %lld errors\n", prefix.c_str(),
                 static_cast<long long>(errors));
  }
  out->Set(prefix + ".calls_per_s", r->requests_per_s);
  out->Set(prefix + ".mean_ms", r->mean_ms);
  out->Set(prefix + ".errors", static_cast<double>(errors));
  if (h.per_request_log) {
    out->Set(prefix + ".p50_ms", r->latency.p50_ms);
    out->Set(prefix + ".p99_ms", r->latency.p99_ms);
  }
  if (all_calls > 0) {
    if (proxy_pid != 0 && server_cpu0.ok() && server_cpu1.ok()) {
      out->Set(prefix + ".server_cpu_us_per_call",
               MicrosPerCall(*server_cpu1 - *server_cpu0, static_cast<int64_t>(all_calls)));
    }
    if (fake_cpu0.ok() && fake_cpu1.ok()) {
      out->Set(prefix + ".fake_cpu_us_per_call",
               MicrosPerCall(*fake_cpu1 - *fake_cpu0, static_cast<int64_t>(all_calls)));
    }
    out->Set(prefix + ".h2load_cpu_us_per_call",
             MicrosPerCall(r->cpu_seconds, static_cast<int64_t>(all_calls)));
  }
}

enum class H2Path { kDirect, kNginx, kHttp, kGrpc, kGrpcNoop };

// h2load's options for `path`: HTTP/1.1 straight to the fake or to the
// front door (one request per connection at a time), or gRPC over HTTP/2
// with `in_flight` streams spread over at most t.gateway_connections.
H2loadOptions H2loadFor(const ThroughputOptions& t, H2Path path, int in_flight) {
  H2loadOptions h;
  h.binary = t.h2load;
  h.duration = t.duration;
  switch (path) {
    case H2Path::kDirect:
    case H2Path::kNginx:
    case H2Path::kHttp:
      h.url = path == H2Path::kDirect  ? t.direct_url
              : path == H2Path::kNginx ? t.nginx_url
                                       : t.http_url;
      h.body_file = t.direct_body_file;
      // nginx forwards the direct path's headers, the provider key included.
      h.headers = path == H2Path::kHttp ? t.http_headers : t.direct_headers;
      h.http1 = true;
      h.connections = in_flight;
      break;
    case H2Path::kGrpc:
    case H2Path::kGrpcNoop:
      h.url = path == H2Path::kGrpc ? t.gateway_url : t.grpc_noop_url;
      h.body_file = t.gateway_body_file;
      h.headers = t.gateway_headers;
      h.connections = std::min(in_flight, t.gateway_connections);
      h.streams_per_connection = std::max(1, in_flight / h.connections);
      break;
  }
  return h;
}

void RunH2loadPath(const ThroughputOptions& t, bool gateway, const SuiteOptions& options,
                   ResultSet* out) {
  H2loadOptions h = H2loadFor(t, gateway ? H2Path::kGrpc : H2Path::kDirect, t.concurrency);
  RunH2loadMeasured(h, gateway, gateway ? options.server_pid : 0, t, options,
                    std::string("throughput.") + (gateway ? "gateway" : "direct"), out);
}

// The HTTP front door against the gRPC API and the direct baseline, all
// three driven by h2load in the same way: one call at a time, a fixed
// rate, and saturation. Stored as front_door.<mode>.<path>.* plus each
// mode's added latency (path minus direct) for http and grpc.
void RunFrontDoor(const SuiteOptions& options, bool direct_first, ResultSet* out) {
  const ThroughputOptions& t = options.throughput;
  constexpr int kRateConnections = 4;
  struct Mode {
    const char* name;
    int in_flight;
    int rps_per_connection;
  };
  const Mode modes[] = {
      {"sequential", 1, 0},
      {"fixed_rate", kRateConnections,
       std::max(1, static_cast<int>(options.fixed_rate.rps) / kRateConnections)},
      {"saturation", t.concurrency, 0},
  };
  std::vector<std::pair<H2Path, const char*>> order = {{H2Path::kDirect, "direct"}};
  if (!t.nginx_url.empty()) order.push_back({H2Path::kNginx, "nginx"});
  order.push_back({H2Path::kHttp, "http"});
  order.push_back({H2Path::kGrpc, "grpc"});
  if (!direct_first) std::reverse(order.begin(), order.end());
  for (const Mode& m : modes) {
    std::vector<std::pair<H2Path, const char*>> paths = order;
    if (m.in_flight == 1 && !t.grpc_noop_url.empty()) {
      // Latency only: the no-op server shares the bench process.
      paths.push_back({H2Path::kGrpcNoop, "grpc_noop"});
    }
    for (const auto& [path, name] : paths) {
      H2loadOptions h = H2loadFor(t, path, m.in_flight);
      h.rps_per_connection = m.rps_per_connection;
      h.per_request_log = true;
      const bool rebound = path == H2Path::kHttp || path == H2Path::kGrpc;
      const pid_t proxy = rebound                   ? options.server_pid
                          : path == H2Path::kNginx ? t.nginx_pid
                                                   : 0;
      RunH2loadMeasured(h, rebound, proxy, t, options,
                        absl::StrCat("front_door.", m.name, ".", name), out);
    }
    const std::string base = absl::StrCat("front_door.", m.name, ".");
    for (const char* via : {"nginx", "http", "grpc"}) {
      if (!out->Has(absl::StrCat(base, via, ".p50_ms"))) continue;
      for (const char* q : {"p50_ms", "p99_ms"}) {
        out->Set(absl::StrCat(base, via, "_added.", q),
                 out->Get(absl::StrCat(base, via, ".", q)) - out->Get(base + "direct." + q));
      }
    }
  }
}

void RunThroughput(const SuiteOptions& options, bool direct_first, ResultSet* out) {
  const ThroughputOptions& t = options.throughput;
  if (direct_first) {
    RunH2loadPath(t, false, options, out);
    RunH2loadPath(t, true, options, out);
  } else {
    RunH2loadPath(t, true, options, out);
    RunH2loadPath(t, false, options, out);
  }
  double direct = out->Get("throughput.direct.calls_per_s");
  out->Set("throughput.gateway_to_direct",
           direct > 0 ? out->Get("throughput.gateway.calls_per_s") / direct : 0);
}

}  // namespace

void RunStreamMemory(const SuiteOptions& options, ResultSet* out) {
  absl::StatusOr<StreamMemoryResult> r =
      MeasureStreamMemory(options.stream_channels, options.stream_memory);
  if (!r.ok()) {
    std::fprintf(stderr, "rebound-bench: stream memory: %s\n",
                 std::string(r.status().message()).c_str());
    out->Set("streams.errors", 1);
    return;
  }
  out->Set("streams.opened", r->opened);
  out->Set("streams.server_rss_before_mib", r->server_kib_before / 1024);
  out->Set("streams.server_rss_open_mib", r->server_kib_open / 1024);
  out->Set("streams.server_rss_after_mib", r->server_kib_after / 1024);
  out->Set("streams.server_kib_per_stream", r->server_kib_per_stream);
  out->Set("streams.fake_kib_per_connection", r->fake_kib_per_connection);
  out->Set("streams.errors", 0);
}

ResultSet RunSuite(const SuiteTargets& targets, const SuiteOptions& options, int pass) {
  ResultSet out;
  const bool direct_first = pass % 2 == 0;

  std::fprintf(stderr, "rebound-bench: pass %d: sequential\n", pass + 1);
  std::vector<PathResult> seq = RunSequentialPhase(&out, "sequential",
                                                   {{"direct", targets.direct_sync},
                                                    {"gateway", targets.gateway_sync},
                                                    {"grpc_noop", targets.grpc_floor_sync}},
                                                   options.sequential);
  SetAdded(&out, "sequential");
  const PathResult& gateway = seq[1];
  for (const auto& [name, summary] :
       {std::pair{"upstream_attempt", &gateway.upstream_attempt},
        {"outside_attempt", &gateway.outside_attempt}}) {
    std::string prefix = std::string("sequential.gateway.") + name;
    out.Set(prefix + ".p50_ms", summary->p50_ms);
    out.Set(prefix + ".p90_ms", summary->p90_ms);
    out.Set(prefix + ".p99_ms", summary->p99_ms);
    out.Set(prefix + ".mean_ms", summary->mean_ms);
  }
  // Where the added p50 goes (medians do not add exactly; a guide, not an
  // identity): gRPC itself, rebound's HTTP attempt versus a plain client,
  // and everything rebound does around them.
  out.Set("sequential.breakdown.grpc_noop_p50_ms", out.Get("sequential.grpc_noop.p50_ms"));
  out.Set("sequential.breakdown.upstream_minus_direct_p50_ms",
          out.Get("sequential.gateway.upstream_attempt.p50_ms") -
              out.Get("sequential.direct.p50_ms"));
  out.Set("sequential.breakdown.rebound_handling_p50_ms",
          out.Get("sequential.gateway.outside_attempt.p50_ms") -
              out.Get("sequential.grpc_noop.p50_ms"));

  std::fprintf(stderr, "rebound-bench: pass %d: failover hop\n", pass + 1);
  RunSequentialPhase(&out, "failover",
                     {{"plain", targets.gateway_plain_sync}, {"hop", targets.gateway_failover_sync}},
                     options.sequential);
  for (const char* q : {"p50_ms", "p99_ms"}) {
    double cost = out.Get(std::string("failover.hop.") + q) -
                  out.Get(std::string("failover.plain.") + q);
    out.Set(std::string("failover.hop_cost.") + q, cost);
  }
  // The hop includes one more upstream round trip (the failed attempt);
  // the direct p50 of this pass stands for it, leaving the gateway's share.
  out.Set("failover.gateway_share.p50_ms",
          out.Get("failover.hop_cost.p50_ms") - out.Get("sequential.direct.p50_ms"));

  std::fprintf(stderr, "rebound-bench: pass %d: translation\n", pass + 1);
  RunSequentialPhase(&out, "translation",
                     {{"same_api", targets.gateway_untranslated_sync},
                      {"translated", targets.gateway_translated_sync}},
                     options.sequential);
  for (const char* q : {"p50_ms", "p99_ms"}) {
    out.Set(std::string("translation.ratio.") + q,
            out.Get(std::string("translation.translated.") + q) /
                out.Get(std::string("translation.same_api.") + q));
  }

  if (targets.gateway_stream_sync != nullptr) {
    std::fprintf(stderr, "rebound-bench: pass %d: streaming\n", pass + 1);
    RunStreaming(targets, options, &out);
  }

  std::fprintf(stderr, "rebound-bench: pass %d: fixed rate\n", pass + 1);
  PathResult rate_direct;
  PathResult rate_gateway;
  if (direct_first) {
    rate_direct = RunFixedRate(*targets.direct_async, options.fixed_rate);
    rate_gateway = RunFixedRate(*targets.gateway_async, options.fixed_rate);
  } else {
    rate_gateway = RunFixedRate(*targets.gateway_async, options.fixed_rate);
    rate_direct = RunFixedRate(*targets.direct_async, options.fixed_rate);
  }
  ReportErrors("fixed_rate", "direct", rate_direct);
  ReportErrors("fixed_rate", "gateway", rate_gateway);
  for (const auto& [path, r] : {std::pair{"direct", &rate_direct}, {"gateway", &rate_gateway}}) {
    std::string prefix = std::string("fixed_rate.") + path;
    out.Set(prefix + ".achieved_rps", r->calls_per_s);
    SetLatency(&out, prefix, *r);
    out.Set(prefix + ".max_send_lag_ms", r->max_send_lag_ms);
  }
  SetAdded(&out, "fixed_rate");

  std::fprintf(stderr, "rebound-bench: pass %d: saturation\n", pass + 1);
  SaturationOptions sat = options.saturation;
  sat.cpu_pids = {options.server_pid, options.fake_pid, getpid()};
  PathResult sat_direct;
  PathResult sat_gateway;
  if (direct_first) {
    sat_direct = RunSaturation(*targets.direct_async, sat);
    sat_gateway = RunSaturation(*targets.gateway_async, sat);
  } else {
    sat_gateway = RunSaturation(*targets.gateway_async, sat);
    sat_direct = RunSaturation(*targets.direct_async, sat);
  }
  ReportErrors("saturation", "direct", sat_direct);
  ReportErrors("saturation", "gateway", sat_gateway);
  double window_s = absl::ToDoubleSeconds(sat.duration);
  SetSaturation(&out, "saturation.direct", sat_direct, window_s);
  SetSaturation(&out, "saturation.gateway", sat_gateway, window_s);
  out.Set("saturation.gateway_to_direct",
          sat_direct.calls_per_s > 0 ? sat_gateway.calls_per_s / sat_direct.calls_per_s : 0);

  if (!options.throughput.h2load.empty()) {
    std::fprintf(stderr, "rebound-bench: pass %d: throughput (h2load)\n", pass + 1);
    RunThroughput(options, direct_first, &out);
    if (!options.throughput.http_url.empty()) {
      std::fprintf(stderr, "rebound-bench: pass %d: HTTP front door (h2load)\n", pass + 1);
      RunFrontDoor(options, direct_first, &out);
    }
  }
  return out;
}

}  // namespace rebound::bench
