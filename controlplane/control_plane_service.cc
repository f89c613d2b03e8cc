#include "controlplane/control_plane_service.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "blocks/block.h"
#include "common/log.h"

namespace rebound::controlplane {
namespace {

using rebound::v1::Block;
using rebound::v1::ControlMessage;

// A Sync call refused before it starts (no token, shutting down, too many
// streams): finishes at once and deletes itself when gRPC is done with it.
class RejectedStream : public grpc::ServerBidiReactor<rebound::v1::ReplicaMessage,
                                                      rebound::v1::ControlMessage> {
 public:
  explicit RejectedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context,
                               const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

int64_t UnixMicros(absl::Time t) { return absl::ToUnixMicros(t); }

rebound::v1::PolicyVersion ToProto(const VersionId& v) {
  rebound::v1::PolicyVersion out;
  out.set_counter(v.counter);
  out.set_hash(v.hash);
  return out;
}

VersionId FromProto(const rebound::v1::PolicyVersion& v) {
  // A hash is 64 hex digits; anything longer is not one and is not kept.
  return VersionId{v.counter(), v.hash().substr(0, 64)};
}

std::string_view KindName(rebound::v1::BlockKind kind) {
  return kind == rebound::v1::BLOCK_KIND_LATENCY ? "latency" : "retry_after";
}

std::string_view ScopeName(rebound::v1::BlockScope scope) {
  return scope == rebound::v1::BLOCK_SCOPE_PROVIDER ? "provider" : "model";
}

// Replica ids end up in logs and GetState: printable ASCII only.
bool ValidReplicaId(std::string_view id) {
  if (id.empty() || id.size() > ReplicaRegistry::kMaxIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Half an interval plus a fraction of the other half that is spread
// evenly over successive generations (Fibonacci hashing).
absl::Duration FirstResyncDelay(absl::Duration interval, uint64_t generation) {
  double fraction =
      static_cast<double>((generation * 0x9E3779B97F4A7C15ull) >> 11) / static_cast<double>(1ull << 53);
  return interval / 2 + interval / 2 * fraction;
}

}  // namespace

ControlPlaneService::ControlPlaneService(ServiceOptions options, PolicyStore* policy,
                                         Metrics* metrics, Authenticator auth)
    : options_(std::move(options)),
      policy_(policy),
      metrics_(metrics),
      auth_(std::move(auth)),
      store_(options_.max_blocks),
      registry_(options_.max_replicas) {
  std::optional<StoredPolicy> current = policy_->Current();
  metrics_->SetPolicyVersion(current ? static_cast<double>(current->counter) : 0);
}

ControlPlaneService::~ControlPlaneService() { scheduler_.Stop(); }

void ControlPlaneService::Start() {
  scheduler_.After(absl::Seconds(1), [this] { Tick(); });
}

void ControlPlaneService::BeginShutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  for (SyncStream* stream : streams_) {
    stream->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the control plane is shutting down"),
                  "shutdown", /*cancel=*/false);
  }
}

grpc::Status ControlPlaneService::Authorize(grpc::CallbackServerContext* context, Rpc rpc) {
  const Role role = RoleFor(rpc);
  const std::string_view name = ToString(rpc);
  switch (auth_.Check(*context, role)) {
    case Authenticator::Result::kAllowed:
      return grpc::Status::OK;
    case Authenticator::Result::kUnauthenticated:
      metrics_->RecordUnauthenticated(name);
      LogWarn("unauthenticated", {{"rpc", name}, {"peer", context->peer()}});
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing or wrong bearer token (authorization: Bearer <token>)");
    case Authenticator::Result::kWrongRole:
      break;
  }
  // A valid token, for the other role: the caller is known, not allowed.
  metrics_->RecordPermissionDenied(name);
  LogWarn("permission_denied",
          {{"rpc", name},
           {"peer", context->peer()},
           {"token_role", ToString(role == Role::kReplica ? Role::kOperator : Role::kReplica)}});
  return grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      role == Role::kReplica
          ? "this is an operator token; Sync takes a replica token (the control plane's "
            "--replica-token-file)"
          : absl::StrCat("this is a replica token; ", absl::string_view(name.data(), name.size()),
                         " takes an operator token (the control plane's "
                         "--operator-token-file)"));
}

grpc::ServerBidiReactor<rebound::v1::ReplicaMessage, ControlMessage>* ControlPlaneService::Sync(
    grpc::CallbackServerContext* context) {
  if (grpc::Status refused = Authorize(context, Rpc::kSync); !refused.ok()) {
    return new RejectedStream(refused);
  }
  absl::MutexLock lock(&mu_);
  if (shutting_down_) {
    return new RejectedStream(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the control plane is shutting down"));
  }
  if (streams_.size() >= options_.max_streams) {
    return new RejectedStream(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many open Sync streams"));
  }
  auto* stream = new SyncStream(this, context, options_.stream);
  streams_.insert(stream);
  // Under the lock, so that BeginShutdown cannot Finish it before it reads.
  stream->Start();
  return stream;
}

grpc::Status ControlPlaneService::OnMessage(SyncStream* stream,
                                            const rebound::v1::ReplicaMessage& message,
                                            std::string* reason) {
  if (!stream->hello_done()) {
    if (!message.has_hello()) {
      *reason = "protocol_error";
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the first message of a Sync stream must be Hello");
    }
    return OnHello(stream, message.hello(), reason);
  }
  switch (message.message_case()) {
    case rebound::v1::ReplicaMessage::kHello:
      *reason = "protocol_error";
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "Hello is sent once, as the first message");
    case rebound::v1::ReplicaMessage::kAck:
      OnAck(stream, message.ack());
      return grpc::Status::OK;
    case rebound::v1::ReplicaMessage::kBlocks: {
      const auto& blocks = message.blocks().blocks();
      if (static_cast<size_t>(blocks.size()) > options_.max_blocks_per_report) {
        *reason = "too_many_blocks";
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("a BlockReport carries at most ",
                                         options_.max_blocks_per_report, " blocks; got ",
                                         blocks.size()));
      }
      absl::MutexLock lock(&mu_);
      MergeAndFanOutLocked(stream, blocks, absl::Now());
      return grpc::Status::OK;
    }
    default:
      // A message type from a newer replica: ignored, not fatal, so that the
      // protocol can grow.
      return grpc::Status::OK;
  }
}

grpc::Status ControlPlaneService::OnHello(SyncStream* stream, const rebound::v1::Hello& hello,
                                          std::string* reason) {
  if (!ValidReplicaId(hello.replica_id())) {
    *reason = "protocol_error";
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("Hello.replica_id must be 1 to ", ReplicaRegistry::kMaxIdBytes,
                                     " printable characters without spaces"));
  }
  if (static_cast<size_t>(hello.active_blocks_size()) > options_.max_hello_blocks) {
    *reason = "too_many_blocks";
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("a Hello carries at most ", options_.max_hello_blocks,
                                     " active blocks; got ", hello.active_blocks_size()));
  }
  absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  uint64_t generation = registry_.Connect(hello.replica_id(), hello.build_version(),
                                          FromProto(hello.policy_version()), now);
  if (generation == 0) {
    *reason = "registry_full";
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many replicas are connected");
  }
  // After a state loss, or behind another control plane, the next push must
  // be numbered above what the fleet runs, or every replica refuses it.
  policy_->ObserveReplicaCounter(hello.policy_version().counter());
  if (auto it = by_replica_.find(hello.replica_id()); it != by_replica_.end()) {
    // The replica reconnected before its old stream was noticed dead.
    it->second->Close(grpc::Status(grpc::StatusCode::ABORTED,
                                   "replaced by a newer stream of the same replica"),
                      "replaced", /*cancel=*/true);
    it->second = stream;
  } else {
    by_replica_.emplace(hello.replica_id(), stream);
  }
  stream->SetIdentity(hello.replica_id(), generation);
  // It gets a full snapshot now; the first periodic one is due between half
  // an interval and an interval later (spread by its generation), so that a
  // fleet that reconnects at once does not resync in one burst ever after.
  stream->set_next_resync(now + FirstResyncDelay(options_.resync_interval, generation));
  // Read under the lock: a push publishes before it takes the lock to fan
  // out, so either this reads the new version or the fan-out (which now sees
  // this stream's Hello) follows it. The replica ends on the newest version.
  std::optional<StoredPolicy> policy = policy_->Current();
  if (policy) {
    auto message = std::make_shared<ControlMessage>();
    message->mutable_policy()->mutable_version()->set_counter(policy->counter);
    message->mutable_policy()->mutable_version()->set_hash(policy->hash);
    message->mutable_policy()->set_yaml(policy->yaml);
    if (stream->Enqueue(std::move(message), SyncStream::Kind::kForced)) {
      metrics_->RecordSent("policy");
    }
  }
  for (SyncStream::MessagePtr& message : SnapshotMessagesLocked(now)) {
    if (stream->Enqueue(std::move(message), SyncStream::Kind::kForced)) {
      metrics_->RecordSent("snapshot");
    }
  }
  MergeAndFanOutLocked(stream, hello.active_blocks(), now);
  metrics_->SetConnectedReplicas(static_cast<double>(registry_.connected()));
  LogInfo("replica_connected",
          {{"replica", hello.replica_id()},
           {"build", hello.build_version().substr(0, ReplicaRegistry::kMaxBuildBytes)},
           {"policy_counter", absl::StrCat(hello.policy_version().counter())},
           {"blocks", absl::StrCat(hello.active_blocks_size())}});
  return grpc::Status::OK;
}

void ControlPlaneService::OnAck(SyncStream* stream, const rebound::v1::PolicyAck& ack) {
  VersionId version = FromProto(ack.version());
  VersionId in_force = FromProto(ack.in_force());
  // Before the registry shows the answer, so that whoever sees a NACK in
  // GetState and pushes again gets a version above the replica's.
  policy_->ObserveReplicaCounter(in_force.counter);
  absl::MutexLock lock(&mu_);
  if (ack.accepted()) {
    registry_.Ack(stream->replica_id(), stream->generation(), version);
    LogInfo("policy_ack", {{"replica", stream->replica_id()},
                           {"counter", absl::StrCat(version.counter)}});
  } else {
    registry_.Nack(stream->replica_id(), stream->generation(), version, ack.error());
    // What it runs instead counts as acknowledged, as in a Hello (a version
    // another control plane published, say).
    if (in_force.counter > 0) registry_.Ack(stream->replica_id(), stream->generation(), in_force);
    metrics_->RecordNack();
    std::string_view error(ack.error());
    LogWarn("policy_nack", {{"replica", stream->replica_id()},
                            {"counter", absl::StrCat(version.counter)},
                            {"in_force", absl::StrCat(in_force.counter)},
                            {"error", error.substr(0, ReplicaRegistry::kMaxReasonBytes)}});
  }
}

void ControlPlaneService::MergeAndFanOutLocked(
    SyncStream* from, const google::protobuf::RepeatedPtrField<Block>& blocks, absl::Time now) {
  if (blocks.empty()) return;
  int64_t now_us = UnixMicros(now);
  std::shared_ptr<ControlMessage> update;
  for (const Block& reported : blocks) {
    Block block = reported;
    // A replica that leaves origin empty means "mine".
    if (block.origin().empty()) block.set_origin(from->replica_id());
    block.set_relayed_at_unix_us(now_us);
    MergeOutcome outcome = store_.Merge(block, now);
    metrics_->RecordBlockReport(ToString(outcome));
    if (block.created_at_unix_us() > 0) {
      metrics_->RecordReportLatency(
          std::max<double>(0, static_cast<double>(now_us - block.created_at_unix_us()) / 1e6));
    }
    if (outcome == MergeOutcome::kInvalid) {
      LogDebug("block_rejected", {{"replica", from->replica_id()},
                                  {"reason", BlockStore::Validate(block, now)}});
    }
    if (outcome != MergeOutcome::kChanged) continue;
    if (!update) update = std::make_shared<ControlMessage>();
    *update->mutable_blocks()->add_blocks() = std::move(block);
  }
  if (update) SendToAllLocked(update, from, "blocks");
}

std::vector<SyncStream::MessagePtr> ControlPlaneService::SnapshotMessagesLocked(absl::Time now) {
  if (absl::ToUnixMillis(now) < snapshot_valid_until_ms_ &&
      snapshot_version_ == store_.version()) {
    return snapshot_;
  }
  std::vector<Block> blocks = store_.Snapshot(now);
  // Valid until its first block expires (a snapshot must not carry one).
  int64_t valid_until = std::numeric_limits<int64_t>::max();
  for (const Block& block : blocks) valid_until = std::min(valid_until, block.until_unix_ms());
  std::vector<SyncStream::MessagePtr> out;
  size_t chunk = std::max<size_t>(1, options_.snapshot_chunk);
  size_t i = 0;
  do {
    auto message = std::make_shared<ControlMessage>();
    rebound::v1::BlockUpdate* update = message->mutable_blocks();
    for (size_t end = std::min(blocks.size(), i + chunk); i < end; ++i) {
      *update->add_blocks() = std::move(blocks[i]);
    }
    // full_snapshot marks the message that completes a snapshot; a large
    // table arrives in several messages, and replicas merge each of them.
    update->set_full_snapshot(i >= blocks.size());
    out.push_back(std::move(message));
  } while (i < blocks.size());
  snapshot_ = out;
  snapshot_version_ = store_.version();
  snapshot_valid_until_ms_ = valid_until;
  return out;
}

void ControlPlaneService::SendToAllLocked(const SyncStream::MessagePtr& message,
                                          const SyncStream* except, std::string_view type) {
  for (SyncStream* stream : streams_) {
    if (stream == except || !stream->hello_done()) continue;
    if (stream->Enqueue(message, SyncStream::Kind::kIncremental)) metrics_->RecordSent(type);
  }
}

void ControlPlaneService::OnStreamDone(SyncStream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
  if (!stream->hello_done()) return;
  auto it = by_replica_.find(stream->replica_id());
  if (it != by_replica_.end() && it->second == stream) by_replica_.erase(it);
  registry_.Disconnect(stream->replica_id(), stream->generation(), absl::Now());
  metrics_->SetConnectedReplicas(static_cast<double>(registry_.connected()));
  LogInfo("replica_disconnected",
          {{"replica", stream->replica_id()}, {"reason", stream->close_reason()}});
}

grpc::ServerUnaryReactor* ControlPlaneService::PushPolicy(
    grpc::CallbackServerContext* context, const rebound::v1::PushPolicyRequest* request,
    rebound::v1::PushPolicyResponse* response) {
  if (grpc::Status refused = Authorize(context, Rpc::kPushPolicy); !refused.ok()) {
    return Done(context, refused);
  }
  // Validation and the fsyncs block this callback thread for a few
  // milliseconds; pushes are rare operator actions, so that is accepted
  // rather than adding a worker thread.
  absl::MutexLock push_lock(&push_mu_);
  PushOutcome outcome = policy_->Push(request->yaml(), request->dry_run());
  metrics_->RecordPush(ToString(outcome.result));
  response->set_accepted(outcome.accepted);
  response->set_unchanged(outcome.unchanged);
  response->mutable_version()->set_counter(outcome.counter);
  response->mutable_version()->set_hash(outcome.hash);
  for (const Diagnostic& d : outcome.diagnostics) {
    rebound::v1::PolicyDiagnostic* out = response->add_diagnostics();
    out->set_severity(d.severity == Diagnostic::Severity::kError
                          ? rebound::v1::PolicyDiagnostic::SEVERITY_ERROR
                          : rebound::v1::PolicyDiagnostic::SEVERITY_WARNING);
    out->set_line(d.line);
    out->set_key(d.key);
    out->set_message(d.message);
  }
  LogInfo("policy_push", {{"result", ToString(outcome.result)},
                          {"counter", absl::StrCat(outcome.counter)},
                          {"diagnostics", absl::StrCat(outcome.diagnostics.size())}});
  if (outcome.result == PushOutcome::Result::kAccepted) {
    metrics_->SetPolicyVersion(static_cast<double>(outcome.counter));
    auto message = std::make_shared<ControlMessage>();
    message->mutable_policy()->mutable_version()->set_counter(outcome.counter);
    message->mutable_policy()->mutable_version()->set_hash(outcome.hash);
    message->mutable_policy()->set_yaml(request->yaml());
    absl::MutexLock lock(&mu_);
    for (SyncStream* stream : streams_) {
      if (!stream->hello_done()) continue;
      // Forced: a policy is what a replica must not miss, and its size is
      // bounded by the loader's limit; the one message is shared.
      if (stream->Enqueue(message, SyncStream::Kind::kForced)) metrics_->RecordSent("policy");
    }
  }
  return Done(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ControlPlaneService::GetState(
    grpc::CallbackServerContext* context, const rebound::v1::GetStateRequest* /*request*/,
    rebound::v1::GetStateResponse* response) {
  if (grpc::Status refused = Authorize(context, Rpc::kGetState); !refused.ok()) {
    return Done(context, refused);
  }
  if (std::optional<StoredPolicy> policy = policy_->Current()) {
    response->mutable_policy_version()->set_counter(policy->counter);
    response->mutable_policy_version()->set_hash(policy->hash);
  }
  std::vector<ReplicaRecord> replicas;
  std::vector<Block> blocks;
  absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    replicas = registry_.Snapshot();
    blocks = store_.Snapshot(now);
  }
  for (const ReplicaRecord& r : replicas) {
    rebound::v1::ReplicaState* out = response->add_replicas();
    out->set_replica_id(r.replica_id);
    out->set_build_version(r.build_version);
    out->set_connected(r.connected);
    out->set_connected_since_unix_ms(absl::ToUnixMillis(r.connected_since));
    *out->mutable_acked_version() = ToProto(r.acked);
    *out->mutable_nacked_version() = ToProto(r.nacked);
    out->set_last_nack(r.last_nack);
  }
  for (Block& block : blocks) *response->add_blocks() = std::move(block);
  return Done(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ControlPlaneService::ClearBlock(
    grpc::CallbackServerContext* context, const rebound::v1::ClearBlockRequest* request,
    rebound::v1::ClearBlockResponse* response) {
  if (grpc::Status refused = Authorize(context, Rpc::kClearBlock); !refused.ok()) {
    return Done(context, refused);
  }
  if (request->scope() != rebound::v1::BLOCK_SCOPE_MODEL &&
      request->scope() != rebound::v1::BLOCK_SCOPE_PROVIDER) {
    return Done(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                      "scope must be BLOCK_SCOPE_MODEL or BLOCK_SCOPE_PROVIDER"));
  }
  if (request->name().empty() || request->name().size() > kMaxBlockNameBytes) {
    return Done(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                      "name must be a model id or a provider name"));
  }
  if (request->kind() != rebound::v1::BLOCK_KIND_UNSPECIFIED &&
      request->kind() != rebound::v1::BLOCK_KIND_RETRY_AFTER &&
      request->kind() != rebound::v1::BLOCK_KIND_LATENCY) {
    return Done(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                      "kind must be BLOCK_KIND_RETRY_AFTER, BLOCK_KIND_LATENCY "
                                      "or unspecified (every kind)"));
  }
  auto message = std::make_shared<ControlMessage>();
  message->mutable_cleared()->set_scope(request->scope());
  message->mutable_cleared()->set_name(request->name());
  message->mutable_cleared()->set_kind(request->kind());
  bool removed;
  {
    absl::MutexLock lock(&mu_);
    removed = store_.Clear(request->scope(), request->name(), request->kind(), absl::Now());
    // Sent even when this instance held no such block: a replica, or another
    // control plane's replicas, may still hold it.
    SendToAllLocked(message, nullptr, "cleared");
  }
  response->set_removed(removed);
  LogInfo("block_cleared", {{"scope", ScopeName(request->scope())},
                            {"name", request->name().substr(0, kMaxBlockNameBytes)},
                            {"kind", request->kind() == rebound::v1::BLOCK_KIND_UNSPECIFIED
                                         ? "all"
                                         : KindName(request->kind())},
                            {"removed", removed ? "true" : "false"}});
  return Done(context, grpc::Status::OK);
}

void ControlPlaneService::Tick() {
  absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    store_.Sweep(now);
    registry_.Sweep(now);
    // Counted in place: copying the table (as a snapshot) held the lock,
    // and so every fan-out, for milliseconds each second at 10,000 blocks.
    for (rebound::v1::BlockKind kind :
         {rebound::v1::BLOCK_KIND_RETRY_AFTER, rebound::v1::BLOCK_KIND_LATENCY}) {
      metrics_->SetActiveBlocks(KindName(kind),
                                static_cast<double>(store_.CountActive(kind, now)));
    }
    metrics_->SetConnectedReplicas(static_cast<double>(registry_.connected()));

    for (SyncStream* stream : streams_) {
      if (stream->closing()) {
        if (now - stream->closing_since() > options_.close_timeout) stream->Cancel();
      } else if (!stream->hello_done() && now - stream->opened_at() > options_.hello_timeout) {
        stream->Close(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                   "no Hello within the time allowed"),
                      "no_hello", /*cancel=*/true);
      }
    }

    if (!shutting_down_) {
      std::vector<SyncStream::MessagePtr> snapshot;  // built when first due
      for (SyncStream* stream : streams_) {
        if (!stream->hello_done() || now < stream->next_resync()) continue;
        stream->set_next_resync(now + options_.resync_interval);
        // A stream with a backlog is behind already; it gets the next one.
        if (!stream->QueueEmpty()) continue;
        if (snapshot.empty()) snapshot = SnapshotMessagesLocked(now);
        for (const SyncStream::MessagePtr& message : snapshot) {
          if (stream->Enqueue(message, SyncStream::Kind::kForced)) {
            metrics_->RecordSent("snapshot");
          }
        }
      }
    }
  }
  // Ticks at least once a second, and on time for short resync intervals.
  absl::Duration next = std::min(absl::Seconds(1), options_.resync_interval);
  scheduler_.After(std::max(next, absl::Milliseconds(10)), [this] { Tick(); });
}

}  // namespace rebound::controlplane
