// One pass of the whole benchmark (sequential, fixed rate, saturation) over
// both paths, flattened into a ResultSet.
#ifndef REBOUND_TESTS_BENCH_SUITE_H_
#define REBOUND_TESTS_BENCH_SUITE_H_

#include <sys/types.h>

#include "tests/bench/load_runners.h"
#include "tests/bench/results.h"
#include "tests/bench/targets.h"

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
};

struct SuiteOptions {
  SequentialOptions sequential;
  FixedRateOptions fixed_rate;
  SaturationOptions saturation;  // cpu_pids is filled in by RunSuite
  pid_t server_pid = 0;
  pid_t fake_pid = 0;
};

// Runs every measurement once. `pass` (0-based) alternates which path goes
// first in the fixed-rate and saturation phases, so that neither always
// runs on a warmer (or more loaded) machine. Errors are also reported on
// stderr with the first error message.
ResultSet RunSuite(const SuiteTargets& targets, const SuiteOptions& options, int pass);

}  // namespace rebound::bench

#endif  // REBOUND_TESTS_BENCH_SUITE_H_
