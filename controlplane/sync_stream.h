// One replica's Sync stream (gRPC callback API): a bounded outbound queue
// with one write in flight, reads paced by a per-replica token bucket, and a
// single way out (Close) whatever ends the stream.
//
// Lifetime: reference-counted. gRPC holds one reference until OnDone; a
// scheduled read resumption holds another; the object deletes itself when
// both are gone, so a timer never touches a freed stream.
//
// Lock order: the service's lock, then a stream's lock. A stream never calls
// into the service while holding its own lock.
#ifndef REBOUND_CONTROLPLANE_SYNC_STREAM_H_
#define REBOUND_CONTROLPLANE_SYNC_STREAM_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_callback.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rebound/v1/controlplane.grpc.pb.h"

namespace rebound::controlplane {

class ControlPlaneService;

struct StreamLimits {
  // Outbound: a replica whose queue passes either bound is disconnected (it
  // resynchronises on reconnect) instead of growing memory without bound.
  size_t max_queued_messages = 1024;
  size_t max_queued_bytes = 4 << 20;
  // Inbound pacing: every message costs 1 + its blocks; the bucket refills
  // at `report_rate` per second up to `report_burst`. A replica past it is
  // not read until the bucket refills, so a flooding replica is slowed by
  // TCP flow control and cannot starve the others.
  double report_rate = 1000;
  double report_burst = 10000;
};

class SyncStream : public grpc::ServerBidiReactor<rebound::v1::ReplicaMessage,
                                                  rebound::v1::ControlMessage> {
 public:
  using MessagePtr = std::shared_ptr<const rebound::v1::ControlMessage>;

  // How a queued message counts against the bounds. Snapshots and policies
  // are `kForced`: they are what a replica needs to resynchronise, their size
  // is bounded by the block store and the policy limit, and they are shared
  // between streams rather than copied; only incremental updates count.
  enum class Kind { kIncremental, kForced };

  SyncStream(ControlPlaneService* service, grpc::CallbackServerContext* context,
             const StreamLimits& limits);

  // Starts reading. Call once, right after construction.
  void Start();

  // Queues a message (thread-safe). An incremental message that overflows
  // the queue closes the stream as a slow consumer. False when not queued.
  bool Enqueue(MessagePtr message, Kind kind);
  // Ends the stream with `status` once the write in flight (if any) is done;
  // `cancel` also cancels the call so that a write stuck on a client that
  // does not read ends now. Idempotent: the first reason wins.
  void Close(const grpc::Status& status, std::string_view reason, bool cancel);
  // Cancels the call outright (a close that is taking too long).
  void Cancel() { context_->TryCancel(); }

  // For the service's periodic checks.
  bool QueueEmpty() const;
  bool closing() const;
  // Why the stream closed ("" while open): the first reason given to Close.
  std::string close_reason() const;
  absl::Time closing_since() const;
  absl::Time opened_at() const { return opened_at_; }

  // Set by the service when Hello is accepted (under the service's lock);
  // read by the stream's own callbacks and the service.
  void SetIdentity(std::string replica_id, uint64_t generation) {
    replica_id_ = std::move(replica_id);
    generation_ = generation;
    hello_done_.store(true);
  }
  bool hello_done() const { return hello_done_.load(); }
  // When this stream's next periodic full snapshot is due. Its own schedule,
  // counted from its Hello, so that a replica that just got its snapshot is
  // not sent another at the next fleet-wide tick, and a fleet's resyncs are
  // spread over the interval instead of all leaving in one burst (at 1,000
  // replicas and 10,000 blocks, ~600 MB of writes). Read and written under
  // the service's lock only.
  absl::Time next_resync() const { return next_resync_; }
  void set_next_resync(absl::Time t) { next_resync_ = t; }
  const std::string& replica_id() const { return replica_id_; }
  uint64_t generation() const { return generation_; }

  // grpc::ServerBidiReactor
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  ~SyncStream() override = default;
  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }
  // Reads the next message now, or later when the bucket is in debt.
  void ReadNext(double cost);
  void ResumeRead();
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ControlPlaneService* const service_;
  grpc::CallbackServerContext* const context_;
  const StreamLimits limits_;
  const absl::Time opened_at_;
  std::atomic<int> refs_{1};

  // Identity, set once at Hello.
  std::atomic<bool> hello_done_{false};
  std::string replica_id_;
  uint64_t generation_ = 0;
  absl::Time next_resync_ = absl::InfiniteFuture();  // the service's lock

  // Reading: touched only by the read callbacks, which gRPC runs one at a
  // time, and the resumption task, which runs only while no read is pending.
  rebound::v1::ReplicaMessage read_message_;
  double tokens_;
  absl::Time refilled_at_;

  mutable absl::Mutex mu_;
  // Each message with the bytes it counts against max_queued_bytes.
  std::deque<std::pair<MessagePtr, size_t>> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // incremental messages only
  MessagePtr writing_ ABSL_GUARDED_BY(mu_);      // the message in flight
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time closing_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish called
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  std::string close_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_SYNC_STREAM_H_
