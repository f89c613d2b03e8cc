// Memory per open stream: `streams` StreamComplete calls held open at once
// through rebound-server (each upstream answers one event, then stalls with
// the connection open), and the server's resident memory with all of them
// open compared with before they opened. The fake's own memory per open
// connection is reported alongside, as a same-run reference.
#ifndef REBOUND_BENCH_STREAM_MEMORY_H_
#define REBOUND_BENCH_STREAM_MEMORY_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rebound::bench {

struct StreamMemoryOptions {
  int streams = 2000;
  std::string model;         // a streaming model whose idle timeout outlasts the run
  std::string request_body;  // a chat request with "stream": true
  std::string fault;         // x-fake-fault: one event, then stall
  pid_t server_pid = 0;
  pid_t fake_pid = 0;
  absl::Duration open_timeout = absl::Seconds(60);
};

struct StreamMemoryResult {
  int opened = 0;                // streams that delivered their first event
  double server_kib_before = 0;  // VmRSS
  double server_kib_open = 0;
  double server_kib_after = 0;  // after every stream was cancelled
  double server_kib_per_stream = 0;
  double fake_kib_per_connection = 0;
};

// Opens the streams over `channels` (round robin; one HTTP/2 connection
// caps concurrent streams), waits until each has delivered an event,
// samples memory, cancels them all and waits until every one has ended.
absl::StatusOr<StreamMemoryResult> MeasureStreamMemory(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels,
    const StreamMemoryOptions& options);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_STREAM_MEMORY_H_
