// Throughput measured with h2load (Debian's nghttp2-client): a load
// generator written in C whose own cost per call is a fraction of a gRPC
// C++ client's, so on a small machine more of the CPU goes to the processes
// being measured. It speaks HTTP/2 (gRPC is HTTP/2 with a framed body) and,
// with --h1, HTTP/1.1 to the fake provider for the baseline.
#ifndef REBOUND_BENCH_H2LOAD_RUNNER_H_
#define REBOUND_BENCH_H2LOAD_RUNNER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/latency_stats.h"

namespace rebound::bench {

struct H2loadOptions {
  std::string binary = "h2load";
  std::string url;
  std::string body_file;             // POSTed on every request (-d)
  std::vector<std::string> headers;  // "name: value"
  bool http1 = false;                // --h1: HTTP/1.1, one request per connection at a time
  int connections = 4;               // -c
  int streams_per_connection = 8;    // -m (HTTP/2 only)
  absl::Duration duration = absl::Seconds(5);  // -D, measured
  absl::Duration warmup = absl::Milliseconds(500);  // --warm-up-time, not measured
  int rps_per_connection = 0;        // --rps: a fixed rate per connection; 0: as fast as it can
  bool per_request_log = false;      // --log-file: fills H2loadResult::latency
};

struct H2loadResult {
  int64_t done = 0;       // requests completed in the measured window
  int64_t succeeded = 0;  // of which HTTP 2xx (gRPC errors are 200 + trailers:
                          // the caller checks the gateway's own counters)
  int64_t failed = 0;
  double requests_per_s = 0;
  double mean_ms = 0;           // mean request time
  double cpu_seconds = 0;       // h2load's own user + sys CPU
  // With per_request_log: percentiles of every logged request.
  LatencySummary latency;
};

// Parses h2load's --log-file (one request per line: start time in us,
// status, duration in us) into a summary.
absl::StatusOr<LatencySummary> ParseH2loadLog(const std::string& text);

// Runs h2load to completion and parses its summary. An error when it cannot
// start, exits non-zero or prints no summary.
absl::StatusOr<H2loadResult> RunH2load(const H2loadOptions& options);

// Parses h2load's summary text (exposed for its unit test).
absl::StatusOr<H2loadResult> ParseH2loadSummary(const std::string& text);

// A gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian
// length, the serialized bytes.
std::string GrpcFrame(const std::string& serialized);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_H2LOAD_RUNNER_H_
