#include "bench/load_runners.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "bench/bench_stack.h"
#include "bench/proc_stats.h"
#include "upstream/event_loop.h"

namespace rebound::bench {
namespace {

double NsToMs(int64_t ns) { return static_cast<double>(ns) / 1e6; }

void SleepUntil(MonoTime deadline) {
  timespec ts{static_cast<time_t>(deadline / 1'000'000'000),
              static_cast<long>(deadline % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// A call that never completes would leave callbacks running against freed
// targets; with per-call deadlines far below `timeout` it means the process
// under test is wedged, and the numbers are meaningless anyway.
void AwaitOrDie(absl::Mutex* mu, const absl::Condition& done, absl::Duration timeout,
                const char* what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
  if (!mu->AwaitWithTimeout(done, timeout)) {
    std::fprintf(stderr, "rebound-bench: %s: calls still in flight after %lld s; giving up\n",
                 what, static_cast<long long>(absl::ToInt64Seconds(timeout)));
    std::fflush(stderr);
    std::_Exit(1);
  }
}

void NoteError(PathResult* result, const absl::Status& status) {
  if (result->errors++ == 0) result->first_error = std::string(status.ToString());
}

// ---------------------------------------------------------------- sequential

// Where one path's sequential samples go; null recorders: warm-up.
struct SequentialRecorders {
  LatencyRecorder* latency = nullptr;
  LatencyRecorder* upstream_attempt = nullptr;
  LatencyRecorder* outside_attempt = nullptr;
  LatencyRecorder* first_event = nullptr;
};

void RunBlock(SyncTarget& target, int64_t n, const SequentialRecorders& rec,
              PathResult* result) {
  for (int64_t i = 0; i < n; ++i) {
    MonoTime start = MonoNow();
    absl::StatusOr<CallInfo> answer = target.Call();
    MonoTime end = MonoNow();
    if (!answer.ok()) {
      NoteError(result, answer.status());
      continue;
    }
    if (rec.latency == nullptr) continue;
    rec.latency->Add(end - start);
    ++result->ok;
    if (answer->upstream_ns >= 0) {
      rec.upstream_attempt->Add(answer->upstream_ns);
      rec.outside_attempt->Add(end - start - answer->upstream_ns);
    }
    if (answer->first_event_ns >= 0) rec.first_event->Add(answer->first_event_ns);
    result->events += answer->events;
  }
}

// ---------------------------------------------------------------- fixed rate

struct FixedRateState {
  explicit FixedRateState(int64_t calls) : latency_ns(static_cast<size_t>(calls), -1) {}

  absl::Mutex mu;
  std::vector<int64_t> latency_ns ABSL_GUARDED_BY(mu);  // -1: failed or pending
  int64_t pending ABSL_GUARDED_BY(mu) = 0;
  MonoTime last_measured_completion ABSL_GUARDED_BY(mu) = 0;
  PathResult result ABSL_GUARDED_BY(mu);
};

// ---------------------------------------------------------------- saturation

struct SaturationState {
  absl::Mutex mu;
  bool measuring ABSL_GUARDED_BY(mu) = false;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  int64_t in_flight ABSL_GUARDED_BY(mu) = 0;
  LatencyRecorder latency ABSL_GUARDED_BY(mu);
  PathResult result ABSL_GUARDED_BY(mu);
};

// Starts one closed-loop call; its completion starts the next until the
// state says stop.
void IssueClosedLoop(AsyncTarget* target, std::shared_ptr<SaturationState> state) {
  MonoTime sent = MonoNow();
  target->Start([target, state = std::move(state), sent](absl::Status status) mutable {
    MonoTime now = MonoNow();
    bool again;
    {
      absl::MutexLock lock(&state->mu);
      if (!status.ok()) {
        NoteError(&state->result, status);
      } else if (state->measuring) {
        state->latency.Add(now - sent);
        ++state->result.ok;
      }
      again = !state->stopping;
      if (!again) --state->in_flight;
    }
    if (again) IssueClosedLoop(target, std::move(state));
  });
}

std::vector<double> CpuSeconds(const std::vector<pid_t>& pids) {
  std::vector<double> seconds;
  for (pid_t pid : pids) seconds.push_back(ProcessCpuSeconds(pid).value_or(0));
  return seconds;
}

}  // namespace

std::vector<PathResult> RunSequential(const std::vector<SyncTarget*>& paths,
                                      const SequentialOptions& options) {
  const size_t n_paths = paths.size();
  std::vector<PathResult> results(n_paths);
  std::vector<LatencyRecorder> latency(n_paths);
  std::vector<LatencyRecorder> upstream_attempt(n_paths);
  std::vector<LatencyRecorder> outside_attempt(n_paths);
  std::vector<LatencyRecorder> first_event(n_paths);
  for (LatencyRecorder& r : latency) r.Reserve(static_cast<size_t>(options.calls));
  const int64_t block = std::max<int64_t>(1, options.block);
  auto run_rounds = [&](int64_t calls, bool measure) {
    for (int64_t done = 0, round = 0; done < calls; done += block, ++round) {
      int64_t n = std::min(block, calls - done);
      for (size_t k = 0; k < n_paths; ++k) {
        size_t p = (k + static_cast<size_t>(round)) % n_paths;
        SequentialRecorders rec;
        if (measure) {
          rec = {&latency[p], &upstream_attempt[p], &outside_attempt[p], &first_event[p]};
        }
        RunBlock(*paths[p], n, rec, &results[p]);
      }
    }
  };
  run_rounds(options.warmup, /*measure=*/false);
  run_rounds(options.calls, /*measure=*/true);
  for (size_t p = 0; p < n_paths; ++p) {
    results[p].latency = latency[p].Summarize();
    results[p].upstream_attempt = upstream_attempt[p].Summarize();
    results[p].outside_attempt = outside_attempt[p].Summarize();
    results[p].first_event = first_event[p].Summarize();
  }
  return results;
}

PathResult RunFixedRate(AsyncTarget& target, const FixedRateOptions& options) {
  const double rps = std::max(options.rps, 1.0);
  const auto warmup_calls =
      static_cast<int64_t>(std::ceil(rps * absl::ToDoubleSeconds(options.warmup)));
  const auto measured_calls =
      std::max<int64_t>(1, std::llround(rps * absl::ToDoubleSeconds(options.duration)));
  const int64_t total = warmup_calls + measured_calls;
  auto state = std::make_shared<FixedRateState>(total);
  {
    absl::MutexLock lock(&state->mu);
    state->pending = total;
  }

  auto scheduled = [start = MonoNow() + 1'000'000, rps](int64_t i) -> MonoTime {
    return start + static_cast<MonoTime>(static_cast<double>(i) * 1e9 / rps);
  };
  int64_t max_lag_ns = 0;
  for (int64_t i = 0; i < total; ++i) {
    MonoTime at = scheduled(i);
    SleepUntil(at);
    max_lag_ns = std::max(max_lag_ns, MonoNow() - at);
    bool measured = i >= warmup_calls;
    target.Start([state, i, at, measured](absl::Status status) {
      MonoTime now = MonoNow();
      absl::MutexLock lock(&state->mu);
      if (!status.ok()) {
        NoteError(&state->result, status);
      } else {
        state->latency_ns[static_cast<size_t>(i)] = now - at;
        if (measured) state->last_measured_completion = now;
      }
      --state->pending;
    });
  }

  absl::MutexLock lock(&state->mu);
  AwaitOrDie(&state->mu,
             absl::Condition(+[](FixedRateState* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
               return s->pending == 0;
             }, state.get()),
             options.drain_timeout, "fixed rate");
  PathResult result = std::move(state->result);
  LatencyRecorder latency;
  latency.Reserve(static_cast<size_t>(measured_calls));
  for (int64_t i = warmup_calls; i < total; ++i) {
    int64_t ns = state->latency_ns[static_cast<size_t>(i)];
    if (ns >= 0) latency.Add(ns);
  }
  result.latency = latency.Summarize();
  result.ok = static_cast<int64_t>(latency.count());
  MonoTime measure_start = scheduled(warmup_calls);
  // Calls that all finish on time give exactly the target rate; calls that
  // pile up stretch the span past the schedule and lower it.
  int64_t span_ns = std::max<int64_t>(absl::ToInt64Nanoseconds(options.duration),
                                      state->last_measured_completion - measure_start);
  result.calls_per_s = static_cast<double>(result.ok) * 1e9 / static_cast<double>(span_ns);
  result.max_send_lag_ms = NsToMs(max_lag_ns);
  return result;
}

PathResult RunSaturation(AsyncTarget& target, const SaturationOptions& options) {
  auto state = std::make_shared<SaturationState>();
  {
    absl::MutexLock lock(&state->mu);
    state->in_flight = options.concurrency;
  }
  for (int i = 0; i < options.concurrency; ++i) IssueClosedLoop(&target, state);

  absl::SleepFor(options.warmup);
  std::vector<double> cpu_before = CpuSeconds(options.cpu_pids);
  MonoTime window_start;
  {
    absl::MutexLock lock(&state->mu);
    state->measuring = true;
    window_start = MonoNow();
  }
  absl::SleepFor(options.duration);
  MonoTime window_end;
  {
    absl::MutexLock lock(&state->mu);
    state->measuring = false;
    window_end = MonoNow();
  }
  std::vector<double> cpu_after = CpuSeconds(options.cpu_pids);

  absl::MutexLock lock(&state->mu);
  state->stopping = true;
  AwaitOrDie(&state->mu,
             absl::Condition(+[](SaturationState* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
               return s->in_flight == 0;
             }, state.get()),
             options.drain_timeout, "saturation");
  PathResult result = std::move(state->result);
  result.latency = state->latency.Summarize();
  result.calls_per_s =
      static_cast<double>(result.ok) * 1e9 / static_cast<double>(window_end - window_start);
  for (size_t i = 0; i < cpu_before.size(); ++i) {
    result.cpu_seconds.push_back(cpu_after[i] - cpu_before[i]);
  }
  return result;
}

}  // namespace rebound::bench
