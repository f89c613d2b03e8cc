// One pass of the whole benchmark (sequential, fixed rate, saturation) over
// both paths, flattened into a ResultSet.
#ifndef REBOUND_BENCH_SUITE_H_
#define REBOUND_BENCH_SUITE_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "bench/load_runners.h"
#include "bench/results.h"
#include "bench/stream_memory.h"
#include "bench/targets.h"

namespace rebound::bench {

struct SuiteTargets {
  SyncTarget* direct_sync = nullptr;
  SyncTarget* gateway_sync = nullptr;
  SyncTarget* grpc_floor_sync = nullptr;  // the no-op gRPC Gateway
  AsyncTarget* direct_async = nullptr;
  AsyncTarget* gateway_async = nullptr;
  // Without the fault header (the model names decide): a call that needs no
  // retry and one that fails over once.
  SyncTarget* gateway_plain_sync = nullptr;
  SyncTarget* gateway_failover_sync = nullptr;
  // The translation cost: one 4 KiB chat request (2 KiB answer) to the
  // OpenAI-API model and the same to the Anthropic-API one.
  SyncTarget* gateway_untranslated_sync = nullptr;
  SyncTarget* gateway_translated_sync = nullptr;
  // Streaming (section 7): StreamComplete through the gateway and the same
  // streamed request straight to the fake, with kStreamTokens content
  // events; and the gateway with one, for the per-event CPU.
  SyncTarget* direct_stream_sync = nullptr;
  SyncTarget* gateway_stream_sync = nullptr;
  SyncTarget* gateway_stream_one_sync = nullptr;
};


// Throughput with h2load (section 5): both paths with the same number of
// requests in flight. Skipped when `h2load` is empty.
struct ThroughputOptions {
  std::string h2load;               // the h2load binary, or "" to skip
  std::string gateway_url;          // http://HOST:PORT/rebound.v1.Gateway/Complete
  std::string gateway_body_file;    // a gRPC-framed CompletionRequest
  std::string direct_url;           // the fake's chat-completions URL
  std::string direct_body_file;     // the same chat request as JSON
  std::vector<std::string> direct_headers;  // what rebound sends upstream
  std::vector<std::string> gateway_headers;
  std::string http_url;             // the front door's /v1/chat/completions; "" skips it
  std::string nginx_url;            // nginx proxying to the fake (bench/nginx_proxy.h); "" skips it
  pid_t nginx_pid = 0;
  // The bench's own no-op Gateway (answers at once, no upstream): gRPC
  // alone, the floor of the gRPC path's added latency; "" skips it.
  std::string grpc_noop_url;
  std::vector<std::string> http_headers;  // sent with direct_body_file
  std::string metrics_url;          // the gateway's /metrics: counts its OK calls
  int concurrency = 32;             // requests in flight on each path
  int gateway_connections = 4;      // HTTP/2 connections (streams split over them)
  absl::Duration duration = absl::Seconds(5);
};

struct SuiteOptions {
  SequentialOptions sequential;
  FixedRateOptions fixed_rate;
  SaturationOptions saturation;  // cpu_pids is filled in by RunSuite
  pid_t server_pid = 0;
  pid_t fake_pid = 0;
  ThroughputOptions throughput;
  StreamMemoryOptions stream_memory;  // streams == 0: skipped
  std::vector<std::shared_ptr<grpc::Channel>> stream_channels;
};

// Runs every measurement once. `pass` (0-based) alternates which path goes
// first in the fixed-rate and saturation phases, so that neither always
// runs on a warmer (or more loaded) machine. Errors are also reported on
// stderr with the first error message.
ResultSet RunSuite(const SuiteTargets& targets, const SuiteOptions& options, int pass);

// Memory per open stream (section 6), measured once on a fresh server:
// memory the allocator keeps from earlier phases would be reused by the
// streams and hide their cost. Adds "streams.*" keys to `out`.
void RunStreamMemory(const SuiteOptions& options, ResultSet* out);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_SUITE_H_
