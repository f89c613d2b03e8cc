#include "replica/replica_sync.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <random>

#include <grpcpp/channel.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/log.h"

namespace rebound {
namespace {

// Bounds on what the control plane can make this process hold or log.
constexpr size_t kMaxNackReasonBytes = 4096;
constexpr size_t kMaxTokenBytes = 4096;
// Blocks per Hello; the rest of a large table follows in BlockReports of the
// same size, so no message approaches gRPC's 4 MiB receive limit.
constexpr int kBlocksPerMessage = 1000;
// A received block older than this is a replay (snapshot, resync), not a
// propagation measurement.
constexpr absl::Duration kMaxPropagation = absl::Seconds(60);
// The origin recorded for a received block that named none.
constexpr char kUnknownOrigin[] = "control-plane";

v1::BlockScope ToProto(BlockScope scope) {
  return scope == BlockScope::kModel ? v1::BLOCK_SCOPE_MODEL : v1::BLOCK_SCOPE_PROVIDER;
}

v1::BlockKind ToProto(BlockKind kind) {
  return kind == BlockKind::kRetryAfter ? v1::BLOCK_KIND_RETRY_AFTER : v1::BLOCK_KIND_LATENCY;
}

std::optional<BlockScope> FromProto(v1::BlockScope scope) {
  switch (scope) {
    case v1::BLOCK_SCOPE_MODEL: return BlockScope::kModel;
    case v1::BLOCK_SCOPE_PROVIDER: return BlockScope::kProvider;
    default: return std::nullopt;
  }
}

std::optional<BlockKey> KeyFromProto(v1::BlockScope scope, const std::string& name) {
  std::optional<BlockScope> s = FromProto(scope);
  if (!s || name.empty() || name.size() > kMaxBlockNameBytes) return std::nullopt;
  return BlockKey{*s, name};
}

// The bearer token: the file's contents without surrounding whitespace.
absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, kMaxTokenBytes);
  if (absl::IsOutOfRange(text.status())) {
    return absl::InvalidArgumentError(absl::StrCat("token_file ", path, " is too large"));
  }
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("cannot read token_file ", path));
  std::string token(absl::StripAsciiWhitespace(*text));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("token_file ", path, " is empty"));
  }
  return token;
}


absl::StatusOr<std::string> ReadPemFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, kMaxPemFileBytes);
  if (absl::IsOutOfRange(text.status())) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is ", text.status().message()));
  }
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return text;
}

std::string VersionText(const v1::PolicyVersion& v) {
  return absl::StrCat(v.counter(), "/", v.hash().substr(0, 12));
}

}  // namespace

// --- Pure helpers -------------------------------------------------------------

v1::PolicyVersion LocalPolicyVersion() {
  v1::PolicyVersion v;
  v.set_counter(0);
  v.set_hash(kEmptyPolicyHash);
  return v;
}

PolicyOffer ClassifyPolicyOffer(const v1::PolicyVersion& in_force,
                                const v1::PolicyVersion& offered) {
  if (offered.counter() > in_force.counter()) return PolicyOffer::kApply;
  if (offered.counter() == in_force.counter() && offered.hash() == in_force.hash()) {
    return PolicyOffer::kAlreadyInForce;
  }
  return offered.counter() < in_force.counter() ? PolicyOffer::kOlder : PolicyOffer::kConflicting;
}

std::string RefusedOfferReason(const v1::PolicyVersion& in_force,
                               const v1::PolicyVersion& offered) {
  // counter/first 12 hash characters, printable: the hash comes from the
  // control plane, and the reason goes to logs and GetState.
  auto shown = [](const v1::PolicyVersion& v) {
    std::string hash = v.hash().substr(0, 12);
    for (char& c : hash) {
      if (c <= 0x20 || c >= 0x7f) c = '?';
    }
    return absl::StrCat(v.counter(), "/", hash);
  };
  switch (ClassifyPolicyOffer(in_force, offered)) {
    case PolicyOffer::kOlder:
      return absl::StrCat("offered version ", shown(offered), " is older than version ",
                          shown(in_force),
                          " in force, which is kept: a replica never goes back (this control "
                          "plane lost its state or is behind another; its next push is "
                          "numbered above ",
                          in_force.counter(), ")");
    case PolicyOffer::kConflicting:
      return absl::StrCat("offered version ", shown(offered), " has the counter of version ",
                          shown(in_force),
                          " in force but other content, so the version in force is kept (two "
                          "control planes published different policies under one counter; "
                          "the next push is numbered above ",
                          in_force.counter(), ")");
    case PolicyOffer::kApply:
    case PolicyOffer::kAlreadyInForce:
      break;
  }
  return "";
}

v1::Block ToProtoBlock(const BlockKey& key, const Block& block, std::string_view replica_id,
                       std::optional<absl::Time> created_at) {
  v1::Block out;
  out.set_scope(ToProto(key.scope));
  out.set_name(key.name);
  out.set_kind(ToProto(block.kind));
  // Round up: a receiver must never see a block shorter than ours.
  int64_t until_us = absl::ToUnixMicros(block.until);
  out.set_until_unix_ms(until_us >= 0 ? (until_us + 999) / 1000 : until_us / 1000);
  out.set_origin(block.origin.empty() ? std::string(replica_id) : block.origin);
  if (created_at) out.set_created_at_unix_us(absl::ToUnixMicros(*created_at));
  return out;
}

std::optional<ReceivedBlock> FromProtoBlock(const v1::Block& block, absl::Time now) {
  std::optional<BlockKey> key = KeyFromProto(block.scope(), block.name());
  if (!key) return std::nullopt;
  ReceivedBlock out;
  out.key = *std::move(key);
  switch (block.kind()) {
    case v1::BLOCK_KIND_RETRY_AFTER: out.kind = BlockKind::kRetryAfter; break;
    case v1::BLOCK_KIND_LATENCY: out.kind = BlockKind::kLatency; break;
    default: return std::nullopt;
  }
  if (block.until_unix_ms() <= 0) return std::nullopt;
  out.until = std::min(absl::FromUnixMillis(block.until_unix_ms()), now + kMaxBlockAhead);
  out.origin = block.origin().empty() ? std::string(kUnknownOrigin)
                                      : block.origin().substr(0, kMaxBlockOriginBytes);
  return out;
}

std::optional<ClearedBlock> FromProtoCleared(const v1::BlockCleared& cleared) {
  std::optional<BlockKey> key = KeyFromProto(cleared.scope(), cleared.name());
  if (!key) return std::nullopt;
  ClearedBlock out{*std::move(key), std::nullopt};
  switch (cleared.kind()) {
    case v1::BLOCK_KIND_UNSPECIFIED: break;
    case v1::BLOCK_KIND_RETRY_AFTER: out.kind = BlockKind::kRetryAfter; break;
    case v1::BLOCK_KIND_LATENCY: out.kind = BlockKind::kLatency; break;
    default: return std::nullopt;
  }
  return out;
}

std::shared_ptr<const Config> MergePushedPolicy(const Config& pushed, const Config& local) {
  auto merged = std::make_shared<Config>(pushed);
  merged->source = pushed.source;
  merged->server = local.server;
  merged->control_plane = local.control_plane;
  return merged;
}

ReconnectBackoff::ReconnectBackoff(absl::Duration base, absl::Duration max,
                                   std::function<double()> uniform01)
    : base_(base), max_(max), uniform01_(std::move(uniform01)) {}

absl::Duration ReconnectBackoff::Next() {
  absl::Duration d = base_;
  for (int i = 0; i < attempt_ && d < max_; ++i) d *= 2;
  d = std::min(d, max_);
  if (attempt_ < 64) ++attempt_;
  double u = std::clamp(uniform01_(), 0.0, 1.0);
  return d * (0.5 + u);
}

// --- Endpoint and Stream ----------------------------------------------------

// One configured address: its channel and, while one runs, its stream.
struct ReplicaSync::Endpoint {
  Endpoint(std::string a, ReconnectBackoff b) : address(std::move(a)), backoff(std::move(b)) {}

  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ControlPlane::Stub> stub;
  ReconnectBackoff backoff;  // on loop_
  Stream* stream = nullptr;  // on loop_; owned, deleted after OnDone
  EventLoop::TimerId reconnect_timer = 0;  // on loop_
  // On loop_: whether the current run of failed connects was logged at
  // warning level (once per run, so a wrong CA or token is visible in the
  // log without a line every few seconds).
  bool failure_logged = false;
};

// One Sync call. Writes are started only on the client's loop (one at a
// time, from a bounded queue); the hold taken before StartCall keeps gRPC
// from finishing the call while the loop may still start a write, and is
// released once the read side has failed and no write is in flight. OnDone
// hands the reactor back to the loop, which deletes it.
class ReplicaSync::Stream final
    : public grpc::ClientBidiReactor<v1::ReplicaMessage, v1::ControlMessage> {
 public:
  Stream(ReplicaSync* client, Endpoint* endpoint) : client_(client), endpoint_(endpoint) {}

  Endpoint* endpoint() const { return endpoint_; }
  bool connected() const { return connected_; }
  void set_connected() { connected_ = true; }

  // On the loop: starts the call with `first` messages queued (the Hello
  // and, for a large table, more blocks).
  void Begin(const std::string& token, std::vector<v1::ReplicaMessage> first) {
    // The token goes into call metadata only; it is never logged.
    if (!token.empty()) context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    endpoint_->stub->async()->Sync(&context_, this);
    for (v1::ReplicaMessage& m : first) queue_.push_back(std::move(m));
    StartRead(&read_);
    AddHold();
    WriteNext();
    StartCall();
  }

  // On the loop: queues `message` behind the ones waiting; when the queue is
  // full the oldest BlockReport goes (the next Hello resyncs every block).
  void Enqueue(v1::ReplicaMessage message) {
    if (dead_) return;
    if (queue_.size() >= client_->options_.max_queued_messages) {
      auto it = std::find_if(queue_.begin(), queue_.end(), [](const v1::ReplicaMessage& m) {
        return m.has_blocks();
      });
      if (it != queue_.end()) {
        queue_.erase(it);
        if (dropped_++ % 1000 == 0) {
          LogWarn("controlplane_queue_overflow",
                  {{"address", endpoint_->address},
                   {"dropped_block_reports", absl::StrCat(dropped_)},
                   {"detail", "the next Hello resyncs every block"}});
        }
      }
    }
    queue_.push_back(std::move(message));
    if (!write_in_flight_) WriteNext();
  }

  // Any thread.
  void Cancel() { context_.TryCancel(); }

  // The control plane accepted the call (a refusal is a trailers-only
  // answer: ok is false then).
  void OnReadInitialMetadataDone(bool ok) override {
    if (ok && !connected_posted_.exchange(true)) {
      client_->loop_.Post([this] { client_->OnStreamConnected(this); });
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      client_->loop_.Post([this] { ReadFailed(); });
      return;
    }
    if (!connected_posted_.exchange(true)) {
      client_->loop_.Post([this] { client_->OnStreamConnected(this); });
    }
    switch (read_.message_case()) {
      case v1::ControlMessage::kPolicy:
        client_->loop_.Post([this, policy = std::move(*read_.mutable_policy())] {
          client_->HandlePolicy(this, policy);
        });
        break;
      case v1::ControlMessage::kBlocks:
        // Straight into the table: the next request must see it.
        client_->HandleBlocks(read_.blocks());
        break;
      case v1::ControlMessage::kCleared:
        client_->HandleCleared(read_.cleared());
        break;
      default:
        break;  // a message this build does not know: ignored
    }
    read_.Clear();
    StartRead(&read_);
  }

  void OnWriteDone(bool ok) override {
    client_->loop_.Post([this, ok] { WriteFinished(ok); });
  }

  void OnDone(const grpc::Status& status) override {
    client_->loop_.Post([this, status] { client_->OnStreamFinished(this, status); });
  }

 private:
  // On the loop.
  void WriteNext() {
    if (dead_ || queue_.empty()) return;
    writing_ = std::move(queue_.front());
    queue_.pop_front();
    write_in_flight_ = true;
    StartWrite(&writing_);
  }

  void WriteFinished(bool ok) {
    write_in_flight_ = false;
    if (ok && writing_.has_blocks()) {
      client_->metrics_->RecordControlPlaneBlocksSent(writing_.blocks().blocks_size());
    }
    if (!ok) dead_ = true;  // the call is broken; the read side fails too
    if (dead_) {
      ReleaseHold();
      return;
    }
    WriteNext();
  }

  void ReadFailed() {
    dead_ = true;
    queue_.clear();
    if (!write_in_flight_) ReleaseHold();
  }

  void ReleaseHold() {
    if (hold_released_) return;
    hold_released_ = true;
    // Cancel too: a write that failed alone would otherwise leave the read
    // waiting on a half-broken call.
    context_.TryCancel();
    RemoveHold();
  }

  ReplicaSync* const client_;
  Endpoint* const endpoint_;
  grpc::ClientContext context_;
  v1::ControlMessage read_;  // owned by the read side
  std::atomic<bool> connected_posted_{false};
  // On the loop:
  std::deque<v1::ReplicaMessage> queue_;
  v1::ReplicaMessage writing_;
  bool write_in_flight_ = false;
  bool dead_ = false;
  bool hold_released_ = false;
  bool connected_ = false;
  uint64_t dropped_ = 0;
};

// --- ReplicaSync -------------------------------------------------------

ReplicaSync::ReplicaSync(Options options, BlockTable* blocks, Metrics* metrics,
                                       PolicyApplier apply_policy)
    : options_(std::move(options)),
      blocks_(blocks),
      metrics_(metrics),
      apply_policy_(std::move(apply_policy)),
      in_force_(LocalPolicyVersion()) {}

ReplicaSync::~ReplicaSync() { Stop(); }

absl::Status ReplicaSync::Start() {
  const ControlPlaneSettings& settings = options_.settings;
  if (!settings.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile(settings.ca_file);
    if (!ca.ok()) return ca.status();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *std::move(ca);
    // A client certificate for control planes that require one (mTLS).
    if (!settings.cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadPemFile(settings.cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPemFile(settings.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials_ = grpc::SslCredentials(ssl);
  } else {
    credentials_ = grpc::InsecureChannelCredentials();
  }
  if (settings.token_file.empty()) {
    LogWarn("controlplane_no_token",
            {{"detail", "control_plane.token_file is not set; the control plane will refuse"}});
  }

  grpc::ChannelArguments args;
  // gRPC's own reconnect backoff (default: up to 2 min) would otherwise
  // delay the resync long after the control plane is back.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.backoff_base)));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.backoff_base)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.backoff_max)));
  // Notice a silently dead peer (no RST) within minutes; 5 min is the
  // default minimum ping interval gRPC servers accept.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 300000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);

  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  for (const std::string& address : settings.addresses) {
    auto endpoint = std::make_unique<Endpoint>(
        address, ReconnectBackoff(options_.backoff_base, options_.backoff_max, [rng] {
          return std::uniform_real_distribution<double>(0.0, 1.0)(*rng);
        }));
    endpoint->channel = grpc::CreateCustomChannel(address, credentials_, args);
    endpoint->stub = v1::ControlPlane::NewStub(endpoint->channel);
    metrics_->SetControlPlaneConnected(address, false);
    endpoints_.push_back(std::move(endpoint));
  }
  metrics_->SetPolicyVersion(0);

  started_.store(true);
  accepting_reports_.store(true);
  loop_.StartThread();
  loop_.Post([this] {
    for (auto& endpoint : endpoints_) StartStream(endpoint.get());
  });
  LogInfo("controlplane_client_started",
          {{"replica_id", options_.replica_id},
           {"addresses", absl::StrCat(endpoints_.size())},
           {"tls", settings.ca_file.empty()     ? "off"
                   : settings.cert_file.empty() ? "on"
                                                : "mutual"}});
  return absl::OkStatus();
}

void ReplicaSync::Stop() {
  if (!started_.exchange(false)) return;
  accepting_reports_.store(false);
  loop_.Post([this] {
    stopping_ = true;
    for (auto& endpoint : endpoints_) {
      loop_.CancelTimer(endpoint->reconnect_timer);
      if (endpoint->stream) endpoint->stream->Cancel();
    }
    if (live_streams_ == 0) all_streams_done_.Notify();
  });
  // Every reactor must have reported OnDone before the loop it posts to
  // stops; TryCancel makes that prompt.
  all_streams_done_.WaitForNotification();
  loop_.Stop();
  loop_.Join();
  for (auto& endpoint : endpoints_) metrics_->SetControlPlaneConnected(endpoint->address, false);
}

void ReplicaSync::ReportBlock(const BlockKey& key, const Block& block,
                                     absl::Time created_at) {
  if (!accepting_reports_.load()) return;
  v1::ReplicaMessage message;
  *message.mutable_blocks()->add_blocks() =
      ToProtoBlock(key, block, options_.replica_id, created_at);
  loop_.Post([this, message = std::move(message)] {
    for (auto& endpoint : endpoints_) {
      if (endpoint->stream) endpoint->stream->Enqueue(message);
    }
  });
}

void ReplicaSync::StartStream(Endpoint* endpoint) {
  endpoint->reconnect_timer = 0;
  if (stopping_) return;
  std::string token;
  if (!options_.settings.token_file.empty()) {
    // Read on every connect, so a rotated token is picked up.
    absl::StatusOr<std::string> read_token = ReadToken(options_.settings.token_file);
    if (!read_token.ok()) {
      LogWarn("controlplane_token_unreadable",
              {{"address", endpoint->address},
               {"detail", std::string(read_token.status().message())}});
      ScheduleReconnect(endpoint);
      return;
    }
    token = *std::move(read_token);
  }
  // The Hello snapshot and the stream's registration happen in the same
  // loop task: a block created earlier is in the snapshot, one created
  // later is reported on this stream after the Hello.
  std::vector<std::pair<BlockKey, Block>> snapshot = blocks_->Snapshot(absl::Now());
  std::vector<v1::ReplicaMessage> first;
  first.push_back(BuildHello(snapshot));
  for (size_t i = kBlocksPerMessage; i < snapshot.size(); i += kBlocksPerMessage) {
    v1::ReplicaMessage report;
    for (size_t j = i; j < std::min(snapshot.size(), i + kBlocksPerMessage); ++j) {
      *report.mutable_blocks()->add_blocks() =
          ToProtoBlock(snapshot[j].first, snapshot[j].second, options_.replica_id);
    }
    first.push_back(std::move(report));
  }
  auto* stream = new Stream(this, endpoint);
  endpoint->stream = stream;
  ++live_streams_;
  stream->Begin(token, std::move(first));
}

v1::ReplicaMessage ReplicaSync::BuildHello(
    const std::vector<std::pair<BlockKey, Block>>& snapshot) const {
  v1::ReplicaMessage message;
  v1::Hello* hello = message.mutable_hello();
  hello->set_replica_id(options_.replica_id);
  hello->set_build_version(REBOUND_VERSION);
  *hello->mutable_policy_version() = in_force_;
  int n = 0;
  for (const auto& [key, block] : snapshot) {
    if (n++ == kBlocksPerMessage) break;
    *hello->add_active_blocks() = ToProtoBlock(key, block, options_.replica_id);
  }
  return message;
}

void ReplicaSync::ScheduleReconnect(Endpoint* endpoint) {
  if (stopping_) return;
  absl::Duration delay = endpoint->backoff.Next();
  LogDebug("controlplane_reconnect_scheduled",
           {{"address", endpoint->address},
            {"delay_ms", absl::StrCat(absl::ToInt64Milliseconds(delay))}});
  endpoint->reconnect_timer =
      loop_.AddTimerAfter(delay, [this, endpoint] { StartStream(endpoint); });
}

void ReplicaSync::OnStreamConnected(Stream* stream) {
  stream->set_connected();
  Endpoint* endpoint = stream->endpoint();
  endpoint->backoff.Reset();
  endpoint->failure_logged = false;
  metrics_->SetControlPlaneConnected(endpoint->address, true);
  LogInfo("controlplane_connected",
          {{"address", endpoint->address}, {"replica_id", options_.replica_id}});
}

void ReplicaSync::OnStreamFinished(Stream* stream, const grpc::Status& status) {
  Endpoint* endpoint = stream->endpoint();
  bool was_connected = stream->connected();
  endpoint->stream = nullptr;
  delete stream;
  --live_streams_;
  metrics_->SetControlPlaneConnected(endpoint->address, false);
  if (stopping_) {
    if (live_streams_ == 0) all_streams_done_.Notify();
    return;
  }
  // A refused connection repeats every few seconds while the control plane
  // is down: worth a warning when a working stream ends or a run of failed
  // connects begins (the detail then says why: refused, TLS, token).
  bool warn = was_connected || !endpoint->failure_logged;
  endpoint->failure_logged = true;
  Log(warn ? LogLevel::kWarn : LogLevel::kDebug, "controlplane_disconnected",
      {{"address", endpoint->address},
       {"code", absl::StrCat(static_cast<int>(status.error_code()))},
       {"detail", status.error_message()},
       {"serving", "last good policy and local blocks"}});
  ScheduleReconnect(endpoint);
}

void ReplicaSync::HandlePolicy(Stream* stream, const v1::Policy& policy) {
  const v1::PolicyVersion& offered = policy.version();
  v1::ReplicaMessage reply;
  v1::PolicyAck* ack = reply.mutable_ack();
  *ack->mutable_version() = offered;
  switch (ClassifyPolicyOffer(in_force_, offered)) {
    case PolicyOffer::kOlder:
    case PolicyOffer::kConflicting: {
      // Answered like any other offer (xDS): silence would leave the
      // control plane believing it is in force, with no way to learn that
      // it is behind.
      std::string reason = RefusedOfferReason(in_force_, offered);
      metrics_->RecordPolicyNack();
      ack->set_accepted(false);
      ack->set_error(reason);
      LogWarn("policy_refused", {{"version", VersionText(offered)},
                                 {"kept", VersionText(in_force_)},
                                 {"address", stream->endpoint()->address},
                                 {"reason", reason}});
      break;
    }
    case PolicyOffer::kAlreadyInForce:
      ack->set_accepted(true);
      break;
    case PolicyOffer::kApply: {
      absl::Status applied = apply_policy_(policy.yaml());
      if (applied.ok()) {
        in_force_ = offered;
        metrics_->SetPolicyVersion(static_cast<double>(offered.counter()));
        ack->set_accepted(true);
        LogInfo("policy_applied",
                {{"version", VersionText(offered)}, {"address", stream->endpoint()->address}});
      } else {
        metrics_->RecordPolicyNack();
        std::string reason(applied.message().substr(0, kMaxNackReasonBytes));
        ack->set_accepted(false);
        ack->set_error(reason);
        LogError("policy_rejected", {{"version", VersionText(offered)},
                                     {"kept", VersionText(in_force_)},
                                     {"reason", reason}});
      }
      break;
    }
  }
  *ack->mutable_in_force() = in_force_;
  stream->Enqueue(std::move(reply));
}

void ReplicaSync::HandleBlocks(const v1::BlockUpdate& update) {
  absl::Time now = absl::Now();
  int received = 0;
  for (const v1::Block& proto : update.blocks()) {
    std::optional<ReceivedBlock> block = FromProtoBlock(proto, now);
    if (!block) {
      LogWarn("controlplane_block_invalid", {{"name", proto.name().substr(0, 64)}});
      continue;
    }
    ++received;
    // Origin is never empty here: the listener stays silent, no echo.
    blocks_->Merge(block->key, block->kind, block->until, block->origin);
    // A snapshot replays old blocks: their age is not propagation latency.
    // Snapshots may come in several messages with only the last marked, so
    // an age beyond kMaxPropagation counts as a replay too.
    if (!update.full_snapshot() && proto.created_at_unix_us() > 0 &&
        block->origin != options_.replica_id) {
      absl::Duration latency = now - absl::FromUnixMicros(proto.created_at_unix_us());
      if (latency >= absl::ZeroDuration() && latency <= kMaxPropagation) {
        metrics_->RecordControlPlanePropagation(absl::ToDoubleSeconds(latency));
      }
    }
  }
  metrics_->RecordControlPlaneBlocksReceived(received);
}

void ReplicaSync::HandleCleared(const v1::BlockCleared& cleared) {
  std::optional<ClearedBlock> key = FromProtoCleared(cleared);
  if (!key) return;
  bool removed = blocks_->Remove(key->key, key->kind);
  LogInfo("block_cleared", {{"key", key->key.ToString()},
                            {"kind", key->kind ? ToString(*key->kind) : "all"},
                            {"removed", removed ? "true" : "false"}});
}

}  // namespace rebound
