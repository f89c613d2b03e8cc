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

// One h2load run on one path, with the CPU the server and the fake used in
// it. h2load sees HTTP 200 even for a gRPC error (the status travels in
// trailers), so on the gateway path rebound's own counters must show every
// call OK: any call it counted as failed during the run is an error. Calls
// cancelled by the caller are not: h2load resets the streams still in
// flight when its window closes (at most the requests in flight).
void RunH2loadPath(const ThroughputOptions& t, bool gateway, const SuiteOptions& options,
                   ResultSet* out) {
  H2loadOptions h;
  h.binary = t.h2load;
  h.duration = t.duration;
  if (gateway) {
    h.url = t.gateway_url;
    h.body_file = t.gateway_body_file;
    h.headers = t.gateway_headers;
    h.connections = t.gateway_connections;
    h.streams_per_connection = std::max(1, t.concurrency / t.gateway_connections);
  } else {
    h.url = t.direct_url;
    h.body_file = t.direct_body_file;
    h.headers = t.direct_headers;
    h.http1 = true;
    h.connections = t.concurrency;
  }
  const char* path = gateway ? "gateway" : "direct";
  std::string prefix = std::string("throughput.") + path;
  GatewayCalls before = gateway ? CountGatewayCalls(t.metrics_url) : GatewayCalls{};
  absl::StatusOr<double> server_cpu0 = ProcessCpuSeconds(options.server_pid);
  absl::StatusOr<double> fake_cpu0 = ProcessCpuSeconds(options.fake_pid);
  absl::StatusOr<H2loadResult> r = RunH2load(h);
  absl::StatusOr<double> server_cpu1 = ProcessCpuSeconds(options.server_pid);
  absl::StatusOr<double> fake_cpu1 = ProcessCpuSeconds(options.fake_pid);
  if (!r.ok()) {
    std::fprintf(stderr, "rebound-bench: throughput/%s: %s\n", path,
                 std::string(r.status().message()).c_str());
    out->Set(prefix + ".errors", 1);
    return;
  }
  int64_t errors = r->failed + (r->done - r->succeeded);
  // CPU is sampled around the whole run, warm-up included, so it is divided
  // by every call of the run: on the gateway rebound's exact count, on the
  // direct path the measured rate over the whole run (warm-up calls run at
  // about the same rate).
  double all_calls =
      r->requests_per_s * absl::ToDoubleSeconds(t.duration + H2loadOptions().warmup);
  if (gateway) {
    GatewayCalls after = CountGatewayCalls(t.metrics_url);
    errors += static_cast<int64_t>(after.failed - before.failed);
    double cancelled = after.cancelled - before.cancelled;
    if (cancelled > t.concurrency) {
      errors += static_cast<int64_t>(cancelled) - t.concurrency;  // more than the window's end
    }
    out->Set(prefix + ".cancelled_at_end", cancelled);
    all_calls = after.ok - before.ok;
  }
  if (errors > 0) {
    std::fprintf(stderr, "rebound-bench: throughput/%s: %lld errors\n", path,
                 static_cast<long long>(errors));
  }
  out->Set(prefix + ".calls_per_s", r->requests_per_s);
  out->Set(prefix + ".mean_ms", r->mean_ms);
  out->Set(prefix + ".errors", static_cast<double>(errors));
  if (all_calls > 0) {
    if (gateway && server_cpu0.ok() && server_cpu1.ok()) {
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
  }
  return out;
}

}  // namespace rebound::bench
