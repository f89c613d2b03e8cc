#include "bench/report.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/workload.h"

namespace rebound::bench {
namespace {

// One table row: a label, then values formatted by the caller.
void Row(std::FILE* out, const std::string& label, const std::string& cells) {
  std::fprintf(out, "  %-16s%s\n", label.c_str(), cells.c_str());
}

std::string Cell(double value, int precision = 3) {
  return absl::StrFormat("%10.*f", precision, value);
}

std::string CountCell(double value) { return absl::StrFormat("%9.0f", value); }

std::string Verdict(bool met) { return met ? "MET" : "MISSED"; }

// The header of a latency table, and one row: <key>.p50_ms ... (and its
// error count when `errors`).
void LatencyHeader(std::FILE* out) {
  Row(out, "", "    p50 ms    p90 ms    p99 ms   mean ms    errors");
}
void LatencyRow(std::FILE* out, const ResultSet& r, const std::string& label,
                const std::string& key, bool errors = true) {
  std::string p = key + ".";
  Row(out, label,
      absl::StrCat(Cell(r.Get(p + "p50_ms")), Cell(r.Get(p + "p90_ms")),
                   Cell(r.Get(p + "p99_ms")), Cell(r.Get(p + "mean_ms")),
                   errors ? absl::StrCat(" ", CountCell(r.Get(p + "errors"))) : ""));
}

std::string JsonNumber(double v) {
  // JSON has no NaN or infinity; neither should occur, but never emit them.
  if (v != v || v > 1e300 || v < -1e300) return "null";
  return absl::StrFormat("%.6g", v);
}

void AppendObject(std::string* json, const ResultSet& r, const char* indent) {
  absl::StrAppend(json, "{");
  const char* sep = "\n";
  for (const auto& [key, value] : r.values()) {
    absl::StrAppend(json, sep, indent, "  \"", key, "\": ", JsonNumber(value));
    sep = ",\n";
  }
  absl::StrAppend(json, "\n", indent, "}");
}

}  // namespace

void PrintTable(const BenchSettings& s, const ResultSet& r, std::FILE* out) {
  std::fprintf(out,
               "rebound-bench: %d pass%s; every number is the median across passes, error "
               "counts are summed\n"
               "  request %lld B chat JSON, response ~%lld B; %d CPUs, load average %.2f at "
               "start\n\n",
               s.repeat, s.repeat == 1 ? "" : "es", static_cast<long long>(s.body_bytes),
               static_cast<long long>(s.response_bytes), s.cpus, s.load_average);

  std::fprintf(out,
               "1. Sequential: %lld calls per path (after %lld warm-up), one at a time,\n"
               "   in alternating blocks of %lld\n",
               static_cast<long long>(s.calls), static_cast<long long>(s.warmup),
               static_cast<long long>(s.block));
  LatencyHeader(out);
  LatencyRow(out, r, "direct", "sequential.direct");
  LatencyRow(out, r, "gateway", "sequential.gateway");
  LatencyRow(out, r, "  in upstream", "sequential.gateway.upstream_attempt", /*errors=*/false);
  LatencyRow(out, r, "  rest", "sequential.gateway.outside_attempt", /*errors=*/false);
  LatencyRow(out, r, "grpc no-op", "sequential.grpc_noop");
  double added_p50 = r.Get("sequential.added.p50_ms");
  Row(out, "added",
      absl::StrCat(Cell(added_p50), Cell(r.Get("sequential.added.p90_ms")),
                   Cell(r.Get("sequential.added.p99_ms")),
                   absl::StrFormat("      target: p50 <= %.2f ms %s, p99 <= %.2f ms %s",
                                   kTargetAddedP50Ms, Verdict(added_p50 <= kTargetAddedP50Ms),
                                   kTargetAddedP99Ms,
                                   Verdict(r.Get("sequential.added.p99_ms") <=
                                           kTargetAddedP99Ms))));
  std::fprintf(out,
               "  added = gateway - direct. gateway = in upstream (rebound's own timing of its\n"
               "  HTTP attempt) + rest (gRPC both ways, request handling, thread hand-offs).\n"
               "  grpc no-op: a Gateway in the bench process that answers at once (gRPC alone).\n"
               "  added p50 ~ %.3f gRPC no-op + %.3f upstream attempt vs direct + %.3f rebound "
               "handling\n",
               r.Get("sequential.breakdown.grpc_noop_p50_ms"),
               r.Get("sequential.breakdown.upstream_minus_direct_p50_ms"),
               r.Get("sequential.breakdown.rebound_handling_p50_ms"));

  std::fprintf(out,
               "\n2. Fixed rate: %.0f calls/s for %.1f s, open loop, latency from the "
               "scheduled send\n",
               s.rps, s.seconds);
  Row(out, "", "achieved/s    p50 ms    p99 ms    errors  max send lag ms");
  for (const char* path : {"direct", "gateway"}) {
    std::string p = absl::StrCat("fixed_rate.", path, ".");
    Row(out, path,
        absl::StrCat(Cell(r.Get(p + "achieved_rps"), 1), Cell(r.Get(p + "p50_ms")),
                     Cell(r.Get(p + "p99_ms")), " ", CountCell(r.Get(p + "errors")),
                     Cell(r.Get(p + "max_send_lag_ms"))));
  }
  double rate_errors = r.Get("fixed_rate.gateway.errors");
  Row(out, "added",
      absl::StrCat("          ", Cell(r.Get("fixed_rate.added.p50_ms")),
                   Cell(r.Get("fixed_rate.added.p99_ms")),
                   absl::StrFormat("      target: 0 errors %s, added p99 <= %.2f ms %s",
                                   Verdict(rate_errors == 0), kTargetFixedRateAddedP99Ms,
                                   Verdict(r.Get("fixed_rate.added.p99_ms") <=
                                           kTargetFixedRateAddedP99Ms))));

  std::fprintf(out, "\n3. Saturation: %d calls in flight, closed loop, %.1f s\n",
               s.concurrency, s.seconds);
  Row(out, "", "   calls/s    p50 ms    p99 ms    errors   CPU us/call: server      fake"
               "     bench");
  for (const char* path : {"direct", "gateway"}) {
    std::string p = absl::StrCat("saturation.", path, ".");
    bool gateway = std::string(path) == "gateway";
    Row(out, path,
        absl::StrCat(Cell(r.Get(p + "calls_per_s"), 1), Cell(r.Get(p + "p50_ms")),
                     Cell(r.Get(p + "p99_ms")), " ", CountCell(r.Get(p + "errors")),
                     "              ",
                     gateway ? Cell(r.Get(p + "server_cpu_us_per_call"), 1) : "         -",
                     Cell(r.Get(p + "fake_cpu_us_per_call"), 1),
                     Cell(r.Get(p + "bench_cpu_us_per_call"), 1)));
  }
  Row(out, "gateway/direct", Cell(r.Get("saturation.gateway_to_direct"), 3));
  std::fprintf(out, "  rebound-server used %.2f CPU cores during the gateway window\n",
               r.Get("saturation.gateway.server_cpu_cores"));

  std::fprintf(out,
               "\n4. Failover hop: sequential gateway calls; the first attempt of a hop call "
               "answers 503\n   and the policy fails over to the healthy model\n");
  LatencyHeader(out);
  for (const char* path : {"plain", "hop"}) {
    LatencyRow(out, r, path, absl::StrCat("failover.", path));
  }
  Row(out, "hop cost", absl::StrCat(Cell(r.Get("failover.hop_cost.p50_ms")), "          ",
                                    Cell(r.Get("failover.hop_cost.p99_ms"))));
  std::fprintf(out,
               "  hop cost p50 = %.3f ms: one more upstream round trip (direct p50 %.3f ms) "
               "+ %.3f ms in the gateway\n",
               r.Get("failover.hop_cost.p50_ms"), r.Get("sequential.direct.p50_ms"),
               r.Get("failover.gateway_share.p50_ms"));

  std::fprintf(out,
               "\n4b. Translation: sequential gateway calls, a 4 KiB chat request and a 2 KiB "
               "answer,\n    to the OpenAI-API model and to the same fake as an Anthropic-API "
               "model (translated both ways)\n");
  LatencyHeader(out);
  for (const char* path : {"same_api", "translated"}) {
    LatencyRow(out, r, path, absl::StrCat("translation.", path));
  }
  Row(out, "translated/same", absl::StrCat(Cell(r.Get("translation.ratio.p50_ms"), 3), "          ",
                                           Cell(r.Get("translation.ratio.p99_ms"), 3)));
  std::fprintf(out, "  target: translated/same p50 <= 1.3\n");

  if (r.Has("streaming.gateway.first_event_p50_ms")) {
    std::fprintf(out,
                 "\n4c. Streaming: sequential streamed calls of %d content tokens, the gateway's\n"
                 "    StreamComplete against the same stream straight from the fake\n",
                 kStreamTokens);
    Row(out, "", "first event p50  p99 ms    whole p50 ms  events/call  errors");
    for (const char* path : {"direct", "gateway"}) {
      std::string p = absl::StrCat("streaming.", path, ".");
      Row(out, path,
          absl::StrCat(Cell(r.Get(p + "first_event_p50_ms")), Cell(r.Get(p + "first_event_p99_ms")),
                       "    ", Cell(r.Get(p + "p50_ms")), "   ", Cell(r.Get(p + "events_per_call"), 1),
                       "    ", CountCell(r.Get(p + "errors"))));
    }
    Row(out, "added", absl::StrCat(Cell(r.Get("streaming.added.first_event_p50_ms")),
                                   Cell(r.Get("streaming.added.first_event_p99_ms"))));
    std::fprintf(out,
                 "  rebound-server CPU per streamed call: %.1f us with 1 token, %.1f us with %d;\n"
                 "  per forwarded event (the difference over the extra events): %.2f us\n",
                 r.Get("streaming.cpu.one_token_us_per_call"),
                 r.Get("streaming.cpu.many_tokens_us_per_call"), kStreamTokens,
                 r.Get("streaming.cpu.us_per_event"));
  }

  if (r.Has("throughput.gateway.calls_per_s")) {
    std::fprintf(out,
                 "\n5. Throughput with h2load: %d requests in flight on each path for %.1f s;\n"
                 "   gateway: gRPC over HTTP/2 connections, direct: HTTP/1.1 connections\n",
                 s.concurrency, s.seconds);
    Row(out, "", "   calls/s   mean ms    errors   CPU us/call: server      fake    h2load");
    for (const char* path : {"direct", "gateway"}) {
      std::string p = absl::StrCat("throughput.", path, ".");
      bool gateway = std::string(path) == "gateway";
      Row(out, path,
          absl::StrCat(Cell(r.Get(p + "calls_per_s"), 1), Cell(r.Get(p + "mean_ms")), " ",
                       CountCell(r.Get(p + "errors")), "              ",
                       gateway ? Cell(r.Get(p + "server_cpu_us_per_call"), 1) : "         -",
                       Cell(r.Get(p + "fake_cpu_us_per_call"), 1),
                       Cell(r.Get(p + "h2load_cpu_us_per_call"), 1)));
    }
    std::fprintf(out,
                 "  gateway calls reset by h2load when its window closed (not errors): %.0f\n",
                 r.Get("throughput.gateway.cancelled_at_end"));
    double rate = r.Get("throughput.gateway.calls_per_s");
    Row(out, "gateway/direct",
        absl::StrCat(Cell(r.Get("throughput.gateway_to_direct"), 3),
                     absl::StrFormat("      target: >= %.0f calls/s through the gateway: %s",
                                     kTargetThroughputCallsPerS,
                                     Verdict(rate >= kTargetThroughputCallsPerS))));
  }

  if (r.Has("front_door.sequential.http.calls_per_s")) {
    std::fprintf(out,
                 "\n5b. HTTP front door with h2load: the same chat request straight to the fake\n"
                 "    (HTTP/1.1), through nginx (HTTP/1.1 reverse proxy, upstream keep-alive),\n"
                 "    through the front door (HTTP/1.1, --h1) and through gRPC\n"
                 "    (HTTP/2); one call at a time, %.0f calls/s over 4 connections, and %d\n"
                 "    in flight; latency percentiles from h2load's per-request log\n",
                 s.rps, s.concurrency);
    Row(out, "", "   calls/s    p50 ms    p99 ms    errors   CPU us/call: server      fake");
    for (const char* mode : {"sequential", "fixed_rate", "saturation"}) {
      std::fprintf(out, "  %s\n", mode);
      for (const char* path : {"direct", "nginx", "http", "grpc", "grpc_noop"}) {
        std::string p = absl::StrCat("front_door.", mode, ".", path, ".");
        if (!r.Has(p + "calls_per_s")) continue;
        bool proxied = std::string(path) != "direct" && std::string(path) != "grpc_noop";
        Row(out, absl::StrCat("  ", path),
            absl::StrCat(Cell(r.Get(p + "calls_per_s"), 1), Cell(r.Get(p + "p50_ms")),
                         Cell(r.Get(p + "p99_ms")), " ", CountCell(r.Get(p + "errors")),
                         "              ",
                         proxied ? Cell(r.Get(p + "server_cpu_us_per_call"), 1) : "         -",
                         Cell(r.Get(p + "fake_cpu_us_per_call"), 1)));
      }
      std::string b = absl::StrCat("front_door.", mode, ".");
      double http_added = r.Get(b + "http_added.p50_ms");
      double grpc_added = r.Get(b + "grpc_added.p50_ms");
      double http_cpu = r.Get(b + "http.server_cpu_us_per_call");
      double grpc_cpu = r.Get(b + "grpc.server_cpu_us_per_call");
      std::fprintf(out,
                   "    added p50: http %.3f ms, grpc %.3f ms; server CPU/call http/grpc %.3f"
                   "      target: http <= grpc: %s\n",
                   http_added, grpc_added, grpc_cpu > 0 ? http_cpu / grpc_cpu : 0,
                   Verdict(http_added <= grpc_added && http_cpu <= grpc_cpu).c_str());
      if (r.Has(b + "nginx.calls_per_s")) {
        // Issue 15's yardstick: rebound's hop against nginx's HTTP-to-HTTP one.
        double nginx_added = r.Get(b + "nginx_added.p50_ms");
        std::fprintf(out,
                     "    vs nginx: added p50 grpc/nginx %.2f, http/nginx %.2f (nginx %.3f ms); "
                     "calls/s grpc/nginx %.2f, http/nginx %.2f\n",
                     nginx_added > 0 ? grpc_added / nginx_added : 0,
                     nginx_added > 0 ? http_added / nginx_added : 0, nginx_added,
                     r.Get(b + "grpc.calls_per_s") / std::max(r.Get(b + "nginx.calls_per_s"), 1e-9),
                     r.Get(b + "http.calls_per_s") / std::max(r.Get(b + "nginx.calls_per_s"), 1e-9));
        const double grpc_vs_nginx =
            r.Get(b + "grpc.calls_per_s") / std::max(r.Get(b + "nginx.calls_per_s"), 1e-9);
        if (std::string(mode) == "sequential") {
          std::fprintf(out, "    target: grpc added p50 <= %.1f x nginx's: %s\n",
                       kTargetAddedP50VsNginx,
                       Verdict(nginx_added > 0 && grpc_added <= kTargetAddedP50VsNginx * nginx_added)
                           .c_str());
        } else if (std::string(mode) == "saturation") {
          std::fprintf(out,
                       "    target: grpc calls/s >= %.1f x nginx's: %s; server CPU/call <= %.0f us: "
                       "%s\n",
                       kTargetThroughputVsNginx,
                       Verdict(grpc_vs_nginx >= kTargetThroughputVsNginx).c_str(),
                       kTargetServerCpuUsPerCall,
                       Verdict(grpc_cpu > 0 && grpc_cpu <= kTargetServerCpuUsPerCall).c_str());
        }
      }
      if (r.Has(b + "grpc_noop.calls_per_s")) {
        // With no upstream at all, the added latency of a gRPC hop is at
        // least one gRPC round trip: the floor of grpc's added p50.
        double floor = r.Get(b + "grpc_noop.p50_ms");
        std::fprintf(out,
                     "    grpc_noop (a Gateway in the bench process that answers at once): one "
                     "gRPC round trip %.3f ms p50,\n    the floor of grpc's added p50; the rest "
                     "(rebound's handling and hand-offs): %.3f ms\n",
                     floor, grpc_added - floor);
      }
    }
  }

  if (r.Has("streams.errors")) {
    double per_stream = r.Get("streams.server_kib_per_stream");
    std::fprintf(out,
                 "\n6. Memory per open stream: %d StreamComplete calls held open at once\n"
                 "   (each upstream sends one event, then stays silent); measured once, first\n",
                 s.streams);
    std::fprintf(out,
                 "  rebound-server RSS %.1f MiB before, %.1f MiB with all open, %.1f MiB "
                 "after cancelling\n",
                 r.Get("streams.server_rss_before_mib"), r.Get("streams.server_rss_open_mib"),
                 r.Get("streams.server_rss_after_mib"));
    std::fprintf(out,
                 "  per open stream: %.1f KiB (fake provider, same run: %.1f KiB per "
                 "connection)      target: <= %.0f KiB: %s\n",
                 per_stream, r.Get("streams.fake_kib_per_connection"), kTargetKibPerStream,
                 Verdict(r.Get("streams.errors") == 0 && per_stream <= kTargetKibPerStream)
                     .c_str());
  }
}

absl::Status WriteJson(const std::string& path, const BenchSettings& s, const ResultSet& combined,
                       const std::vector<ResultSet>& passes) {
  std::string json = absl::StrCat(
      "{\n  \"settings\": {",
      absl::StrFormat(
          "\"calls\": %d, \"warmup\": %d, \"block\": %d, \"rps\": %s, \"seconds\": %s, "
          "\"concurrency\": %d, \"repeat\": %d, \"body_bytes\": %d, \"response_bytes\": %d, "
          "\"cpus\": %d, \"load_average\": %s",
          s.calls, s.warmup, s.block, JsonNumber(s.rps), JsonNumber(s.seconds), s.concurrency,
          s.repeat, s.body_bytes, s.response_bytes, s.cpus, JsonNumber(s.load_average)),
      "},\n  \"median\": ");
  AppendObject(&json, combined, "  ");
  absl::StrAppend(&json, ",\n  \"passes\": [");
  const char* sep = "\n    ";
  for (const ResultSet& pass : passes) {
    absl::StrAppend(&json, sep);
    AppendObject(&json, pass, "    ");
    sep = ",\n    ";
  }
  absl::StrAppend(&json, "\n  ]\n}\n");
  std::ofstream file(path, std::ios::trunc);
  file << json;
  file.close();
  if (!file) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace rebound::bench
