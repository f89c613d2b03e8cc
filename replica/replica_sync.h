// The replica side of the control plane (ARCHITECTURE.md, "The control
// plane"): one long-lived rebound.v1.ControlPlane/Sync stream per configured
// address, over which this rebound-server
//
// - says Hello (replica id, build, the policy version in force, every active
//   global block: a full resync, so nothing is lost while a stream is down);
// - applies pushed policies through the same validation as a local file and
//   ACKs or NACKs each version (a NACK keeps the previous policy);
// - merges the blocks other replicas created (BlockUpdate) and lifts the ones
//   an operator cleared (BlockCleared);
// - reports every global block it creates itself, at once, to every stream.
//
// Threads: one EventLoop thread for the whole client (not one per stream)
// owns every piece of stream state: write queues, reconnect timers, the
// policy version in force. gRPC's callback reactions only post to it, except
// for received blocks, which go straight into the thread-safe BlockTable so a
// pushed block is in force before the next request.
//
// Fail-open: when no control plane answers, the server keeps serving with
// its last good policy and its own blocks; each stream reconnects with
// jittered exponential backoff (100 ms doubling to 5 s, +-50%).
//
// Local file reloads and pushed policies: the control plane owns
// `model_providers`, the file owns `server` and `control_plane`. Before any
// push the file is the whole config (version counter 0). Once a pushed policy
// is in force, a reload (SIGHUP, file change) still validates the whole file
// and takes its `server` settings that can change at runtime, but the pushed
// `model_providers` stay until the next push. That keeps one source of truth
// per section: an operator editing the file cannot silently fork one replica
// away from the fleet's policy, and the control plane cannot change listen
// addresses, TLS or its own addresses and token.
//
// Known limit of state-based blocks: an operator's ClearBlock reaches only
// connected replicas; a replica that was disconnected re-reports the block in
// its next Hello (it is still in its table until it expires).
#ifndef REBOUND_REPLICA_REPLICA_SYNC_H_
#define REBOUND_REPLICA_REPLICA_SYNC_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <grpcpp/security/credentials.h>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "blocks/block_table.h"
#include "gateway/metrics.h"
#include "policy/config.h"
#include "rebound/v1/controlplane.grpc.pb.h"
#include "upstream/event_loop.h"

namespace rebound {

// --- Pure helpers (unit-tested) ---------------------------------------------

// Lowercase hex SHA-256 of zero bytes: the hash of the version a replica runs
// while its policy comes from its local file (counter 0).
inline constexpr char kEmptyPolicyHash[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The version a replica runs before any push.
v1::PolicyVersion LocalPolicyVersion();

// What to do with an offered policy version, given the one in force. Every
// offer is answered (xDS style): the control plane must learn that a
// replica refused its version, and which one the replica runs instead.
enum class PolicyOffer {
  kApply,           // newer counter: validate and apply, then ACK or NACK
  kAlreadyInForce,  // same counter and hash: ACK again (another control plane asks)
  kOlder,           // older counter: NACK, keep the version in force
  kConflicting,     // same counter, another hash: NACK, keep the version in force
};
PolicyOffer ClassifyPolicyOffer(const v1::PolicyVersion& in_force,
                                const v1::PolicyVersion& offered);

// The NACK reason for an offer ClassifyPolicyOffer refuses (kOlder,
// kConflicting), naming both versions as counter/hash-prefix; empty for
// offers that are applied or ACKed.
std::string RefusedOfferReason(const v1::PolicyVersion& in_force,
                               const v1::PolicyVersion& offered);

// A BlockTable entry as a proto Block. An empty `block.origin` (created by
// this process) becomes `replica_id`. The deadline is rounded up to the
// millisecond, so the wire never shortens a block. `created_at` sets
// created_at_unix_us when given.
v1::Block ToProtoBlock(const BlockKey& key, const Block& block, std::string_view replica_id,
                       std::optional<absl::Time> created_at = std::nullopt);

// A received proto Block, validated: known scope and kind, a non-empty name
// of bounded length, a positive deadline (capped at `now` + kMaxBlockAhead,
// blocks/block.h, so that a bogus report cannot block a model for years).
// The origin is never empty in the result ("control-plane" when the report
// had none), so merging it does not fire the BlockTable listener and echo it
// back.
struct ReceivedBlock {
  BlockKey key;
  BlockKind kind = BlockKind::kRetryAfter;
  absl::Time until;
  std::string origin;
};
std::optional<ReceivedBlock> FromProtoBlock(const v1::Block& block, absl::Time now);

// What a BlockCleared lifts: the key and one kind, or every kind.
struct ClearedBlock {
  BlockKey key;
  std::optional<BlockKind> kind;  // nullopt: every kind
};
// The BlockCleared key and kind, or nullopt when malformed.
std::optional<ClearedBlock> FromProtoCleared(const v1::BlockCleared& cleared);

// The config in force after a push: the pushed `model_providers` with the
// replica's own `server` and `control_plane` sections. Used for a reload
// while a pushed policy is in force too (`local` is then the reloaded file).
std::shared_ptr<const Config> MergePushedPolicy(const Config& pushed, const Config& local);

// Jittered exponential backoff: base doubling up to max, each delay scaled
// by a factor in [0.5, 1.5). `uniform01` returns values in [0, 1); injected
// so tests assert exact delays.
class ReconnectBackoff {
 public:
  ReconnectBackoff(absl::Duration base, absl::Duration max, std::function<double()> uniform01);
  // The delay before the next attempt; each call doubles the next one.
  absl::Duration Next();
  // After a successful connection: the next delay starts from `base` again.
  void Reset() { attempt_ = 0; }

 private:
  absl::Duration base_;
  absl::Duration max_;
  std::function<double()> uniform01_;
  int attempt_ = 0;
};

// --- The client -------------------------------------------------------------

class ReplicaSync {
 public:
  // Validates a pushed policy YAML and, when valid, swaps it in (the caller's
  // GatewayServer merges it with its own sections). Errors carry the
  // diagnostics, sent back as the NACK reason. Called on the client's thread.
  using PolicyApplier = std::function<absl::Status(std::string_view yaml)>;

  struct Options {
    ControlPlaneSettings settings;
    std::string replica_id;  // already defaulted by the caller (hostname:port)
    // At most this many messages wait per stream; beyond it the oldest
    // BlockReport is dropped (the next Hello resyncs everything).
    size_t max_queued_messages = 1024;
    absl::Duration backoff_base = absl::Milliseconds(100);
    absl::Duration backoff_max = absl::Seconds(5);
  };

  // `blocks` and `metrics` must outlive the client.
  ReplicaSync(Options options, BlockTable* blocks, Metrics* metrics,
                     PolicyApplier apply_policy);
  ~ReplicaSync();
  ReplicaSync(const ReplicaSync&) = delete;
  ReplicaSync& operator=(const ReplicaSync&) = delete;

  // Starts the client thread and one stream per address. Returns an error
  // only for an unusable setup (an unreadable ca_file); an unreachable
  // control plane is not an error (fail-open).
  absl::Status Start();
  // Cancels every stream and waits for them to finish; idempotent. Blocks
  // reported afterwards are dropped.
  void Stop();

  // Reports a block this process created (the BlockTable listener) to every
  // stream. Thread-safe, never blocks.
  void ReportBlock(const BlockKey& key, const Block& block, absl::Time created_at);

  const std::string& replica_id() const { return options_.replica_id; }

 private:
  class Stream;
  struct Endpoint;

  // All of these run on loop_.
  void StartStream(Endpoint* endpoint);
  void ScheduleReconnect(Endpoint* endpoint);
  void OnStreamConnected(Stream* stream);
  void OnStreamFinished(Stream* stream, const grpc::Status& status);
  void HandlePolicy(Stream* stream, const v1::Policy& policy);
  // These two run on gRPC's threads: BlockTable is thread-safe.
  void HandleBlocks(const v1::BlockUpdate& update);
  void HandleCleared(const v1::BlockCleared& cleared);
  // The Hello, carrying the first kBlocksPerMessage entries of `snapshot`.
  v1::ReplicaMessage BuildHello(const std::vector<std::pair<BlockKey, Block>>& snapshot) const;

  const Options options_;
  BlockTable* const blocks_;
  Metrics* const metrics_;
  const PolicyApplier apply_policy_;

  EventLoop loop_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;  // fixed after Start
  v1::PolicyVersion in_force_;  // on loop_
  int live_streams_ = 0;        // on loop_
  bool stopping_ = false;       // on loop_
  std::atomic<bool> started_{false};
  std::atomic<bool> accepting_reports_{false};
  absl::Notification all_streams_done_;
};

}  // namespace rebound

#endif  // REBOUND_REPLICA_REPLICA_SYNC_H_
