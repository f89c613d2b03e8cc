#include "controlplane/sync_stream.h"

#include <algorithm>
#include <utility>

#include "controlplane/control_plane_service.h"

namespace rebound::controlplane {

SyncStream::SyncStream(ControlPlaneService* service, grpc::CallbackServerContext* context,
                       const StreamLimits& limits)
    : service_(service),
      context_(context),
      limits_(limits),
      opened_at_(absl::Now()),
      tokens_(limits.report_burst),
      refilled_at_(opened_at_) {}

void SyncStream::Start() { StartRead(&read_message_); }

bool SyncStream::Enqueue(MessagePtr message, Kind kind) {
  bool overflow = false;
  {
    absl::MutexLock lock(&mu_);
    if (closing_ || finished_) return false;
    size_t bytes = kind == Kind::kIncremental ? message->ByteSizeLong() : 0;
    if (kind == Kind::kIncremental && (queue_.size() >= limits_.max_queued_messages ||
                                       queued_bytes_ + bytes > limits_.max_queued_bytes)) {
      overflow = true;
    } else {
      queued_bytes_ += bytes;
      queue_.emplace_back(std::move(message), bytes);
      if (!writing_) WriteNextLocked();
    }
  }
  if (overflow) {
    // Cancel too: the write in flight is likely stuck on a client that does
    // not read, and waiting for it would hold the queue's memory.
    Close(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       "the replica does not keep up with updates; reconnect to resynchronise"),
          "slow_consumer", /*cancel=*/true);
  }
  return !overflow;
}

void SyncStream::WriteNextLocked() {
  if (queue_.empty()) return;
  writing_ = std::move(queue_.front().first);
  queued_bytes_ -= queue_.front().second;
  queue_.pop_front();
  StartWrite(writing_.get());
}

void SyncStream::Close(const grpc::Status& status, std::string_view reason, bool cancel) {
  {
    absl::MutexLock lock(&mu_);
    if (closing_ || finished_) return;
    closing_ = true;
    closing_since_ = absl::Now();
    close_reason_ = std::string(reason);
    queue_.clear();
    queued_bytes_ = 0;
    if (writing_) {
      final_status_ = status;  // OnWriteDone finishes
    } else {
      finished_ = true;
      Finish(status);
    }
  }
  service_->metrics()->RecordDisconnect(reason);
  if (cancel) context_->TryCancel();
}

bool SyncStream::QueueEmpty() const {
  absl::MutexLock lock(&mu_);
  return queue_.empty() && !writing_;
}

bool SyncStream::closing() const {
  absl::MutexLock lock(&mu_);
  return closing_ || finished_;
}

std::string SyncStream::close_reason() const {
  absl::MutexLock lock(&mu_);
  return close_reason_;
}

absl::Time SyncStream::closing_since() const {
  absl::MutexLock lock(&mu_);
  return closing_since_;
}

void SyncStream::OnReadDone(bool ok) {
  if (!ok) {
    // The replica half-closed, or the call broke: either way it is gone.
    Close(grpc::Status::OK, "client_closed", /*cancel=*/false);
    return;
  }
  double cost = 1;
  if (read_message_.has_blocks()) cost += read_message_.blocks().blocks_size();
  if (read_message_.has_hello()) cost += read_message_.hello().active_blocks_size();
  std::string reason;
  grpc::Status status = service_->OnMessage(this, read_message_, &reason);
  read_message_.Clear();
  if (!status.ok()) {
    Close(status, reason, /*cancel=*/false);
    return;
  }
  ReadNext(cost);
}

void SyncStream::ReadNext(double cost) {
  absl::Time now = absl::Now();
  tokens_ = std::min(limits_.report_burst,
                     tokens_ + absl::ToDoubleSeconds(now - refilled_at_) * limits_.report_rate);
  refilled_at_ = now;
  tokens_ -= cost;
  if (tokens_ >= 0) {
    ResumeRead();
    return;
  }
  // In debt: read again once the bucket is back at zero. The task holds a
  // reference so the stream outlives it even if the call ends meanwhile.
  Ref();
  std::shared_ptr<SyncStream> hold(this, [](SyncStream* s) { s->Unref(); });
  absl::Duration wait = absl::Seconds(-tokens_ / limits_.report_rate);
  service_->scheduler()->After(wait, [hold] { hold->ResumeRead(); });
}

void SyncStream::ResumeRead() {
  absl::MutexLock lock(&mu_);
  if (closing_ || finished_) return;
  StartRead(&read_message_);
}

void SyncStream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_.reset();
  if (!ok && !closing_) {
    // The call is broken (the replica went away or it was cancelled).
    closing_ = true;
    closing_since_ = absl::Now();
    queue_.clear();
    queued_bytes_ = 0;
    final_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
    close_reason_ = "write_failed";
    service_->metrics()->RecordDisconnect("write_failed");
  }
  if (closing_) {
    if (!finished_) {
      finished_ = true;
      Finish(final_status_);
    }
    return;
  }
  WriteNextLocked();
}

void SyncStream::OnCancel() {
  Close(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"), "cancelled", /*cancel=*/false);
}

void SyncStream::OnDone() {
  service_->OnStreamDone(this);
  Unref();
}

}  // namespace rebound::controlplane
