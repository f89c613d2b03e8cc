#include "tests/bench/suite.h"

#include <unistd.h>

#include <cstdio>
#include <string>

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

}  // namespace

ResultSet RunSuite(const SuiteTargets& targets, const SuiteOptions& options, int pass) {
  ResultSet out;
  const bool direct_first = pass % 2 == 0;

  std::fprintf(stderr, "rebound-bench: pass %d: sequential\n", pass + 1);
  std::vector<PathResult> seq = RunSequential(
      {targets.direct_sync, targets.gateway_sync, targets.grpc_floor_sync}, options.sequential);
  const char* kSequentialPaths[] = {"direct", "gateway", "grpc_noop"};
  for (size_t p = 0; p < seq.size(); ++p) {
    ReportErrors("sequential", kSequentialPaths[p], seq[p]);
    SetLatency(&out, std::string("sequential.") + kSequentialPaths[p], seq[p]);
  }
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
  std::vector<PathResult> hop =
      RunSequential({targets.gateway_plain_sync, targets.gateway_failover_sync},
                    options.sequential);
  ReportErrors("failover", "plain", hop[0]);
  ReportErrors("failover", "hop", hop[1]);
  SetLatency(&out, "failover.plain", hop[0]);
  SetLatency(&out, "failover.hop", hop[1]);
  for (const char* q : {"p50_ms", "p99_ms"}) {
    double cost = out.Get(std::string("failover.hop.") + q) -
                  out.Get(std::string("failover.plain.") + q);
    out.Set(std::string("failover.hop_cost.") + q, cost);
  }
  // The hop includes one more upstream round trip (the failed attempt);
  // the direct p50 of this pass stands for it, leaving the gateway's share.
  out.Set("failover.gateway_share.p50_ms",
          out.Get("failover.hop_cost.p50_ms") - out.Get("sequential.direct.p50_ms"));

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
  return out;
}

}  // namespace rebound::bench
