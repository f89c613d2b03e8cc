#include "bench/stream_memory.h"

#include <grpcpp/client_context.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/proc_stats.h"
#include "bench/workload.h"
#include "rebound/v1/gateway.grpc.pb.h"

namespace rebound::bench {
namespace {

// Counts what all the streams have done; the reactors report here.
struct Tally {
  absl::Mutex mu;
  int first_events ABSL_GUARDED_BY(mu) = 0;
  int ended ABSL_GUARDED_BY(mu) = 0;
  int ended_before_cancel ABSL_GUARDED_BY(mu) = 0;
  std::string first_early_end ABSL_GUARDED_BY(mu);
  bool cancelling ABSL_GUARDED_BY(mu) = false;
};

// One open stream: reads events until the call ends (by our cancel).
class StreamReader final : public grpc::ClientReadReactor<v1::StreamEvent> {
 public:
  StreamReader(v1::Gateway::Stub* stub, const v1::CompletionRequest& request, Tally* tally)
      : tally_(tally) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    stub->async()->StreamComplete(&context_, &request, this);
    StartRead(&event_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (event_.has_data() && !counted_) {
      counted_ = true;
      absl::MutexLock lock(&tally_->mu);
      ++tally_->first_events;
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&tally_->mu);
    ++tally_->ended;
    if (!tally_->cancelling) {
      if (tally_->ended_before_cancel++ == 0) {
        tally_->first_early_end = absl::StrCat(status.error_code(), ": ", status.error_message());
      }
    }
  }

 private:
  Tally* tally_;
  grpc::ClientContext context_;
  v1::StreamEvent event_;
  bool counted_ = false;
};

}  // namespace

absl::StatusOr<StreamMemoryResult> MeasureStreamMemory(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels,
    const StreamMemoryOptions& options) {
  std::vector<std::unique_ptr<v1::Gateway::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(v1::Gateway::NewStub(channel));
  v1::CompletionRequest request;
  request.set_model(options.model);
  request.set_body(options.request_body);
  v1::Header* fault = request.add_headers();
  fault->set_name(kFaultHeader);
  fault->set_value(options.fault);

  StreamMemoryResult r;
  absl::StatusOr<double> server_before = ResidentKib(options.server_pid);
  absl::StatusOr<double> fake_before = ResidentKib(options.fake_pid);
  if (!server_before.ok()) return server_before.status();
  if (!fake_before.ok()) return fake_before.status();
  r.server_kib_before = *server_before;

  Tally tally;
  std::vector<std::unique_ptr<StreamReader>> readers;
  readers.reserve(options.streams);
  for (int i = 0; i < options.streams; ++i) {
    readers.push_back(
        std::make_unique<StreamReader>(stubs[i % stubs.size()].get(), request, &tally));
  }
  bool all_open;
  {
    absl::MutexLock lock(&tally.mu);
    auto open_or_failed = [&tally, n = options.streams]() ABSL_SHARED_LOCKS_REQUIRED(tally.mu) {
      return tally.first_events + tally.ended_before_cancel >= n;
    };
    all_open = tally.mu.AwaitWithTimeout(absl::Condition(&open_or_failed),
                                         options.open_timeout);
    r.opened = tally.first_events;
  }
  absl::StatusOr<double> server_open = ResidentKib(options.server_pid);
  absl::StatusOr<double> fake_open = ResidentKib(options.fake_pid);

  {
    absl::MutexLock lock(&tally.mu);
    tally.cancelling = true;
  }
  for (auto& reader : readers) reader->Cancel();
  {
    absl::MutexLock lock(&tally.mu);
    auto all_ended = [&tally, n = options.streams]() ABSL_SHARED_LOCKS_REQUIRED(tally.mu) {
      return tally.ended >= n;
    };
    if (!tally.mu.AwaitWithTimeout(absl::Condition(&all_ended), absl::Seconds(60))) {
      // The reactors still reference `tally`: there is no safe way on.
      std::fprintf(stderr, "rebound-bench: streams did not end after cancel; giving up\n");
      std::_Exit(1);
    }
    if (tally.ended_before_cancel > 0) {
      return absl::InternalError(absl::StrCat(tally.ended_before_cancel,
                                              " streams ended before the measurement; first: ",
                                              tally.first_early_end));
    }
  }
  readers.clear();
  if (!all_open) {
    return absl::DeadlineExceededError(absl::StrCat("only ", r.opened, " of ", options.streams,
                                                    " streams delivered an event in time"));
  }
  if (!server_open.ok()) return server_open.status();
  if (!fake_open.ok()) return fake_open.status();
  r.server_kib_open = *server_open;
  r.server_kib_per_stream = (r.server_kib_open - r.server_kib_before) / options.streams;
  r.fake_kib_per_connection = (*fake_open - *fake_before) / options.streams;
  if (absl::StatusOr<double> after = ResidentKib(options.server_pid); after.ok()) {
    r.server_kib_after = *after;
  }
  return r;
}

}  // namespace rebound::bench
