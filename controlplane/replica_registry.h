// Who is connected and which policy version each replica runs: the replica
// half of GetState.
//
// A replica is known by the id it sends in Hello. Each Sync stream that says
// Hello gets a generation number; a replica that reconnects before its old
// stream is noticed dead takes the record over, and the old stream's late
// messages and its eventual disconnect no longer touch it.
//
// Bounded: at most max_replicas records; disconnected ones are forgotten
// after forget_after (and evicted, oldest disconnect first, to make room).
// Pure and not thread-safe (the service serialises access; `now` is passed).
#ifndef REBOUND_CONTROLPLANE_REPLICA_REGISTRY_H_
#define REBOUND_CONTROLPLANE_REPLICA_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace rebound::controlplane {

struct VersionId {
  uint64_t counter = 0;  // 0: none
  std::string hash;
  bool operator==(const VersionId&) const = default;
};

struct ReplicaRecord {
  std::string replica_id;
  std::string build_version;
  bool connected = false;
  absl::Time connected_since = absl::InfinitePast();
  absl::Time disconnected_at = absl::InfinitePast();
  uint64_t generation = 0;  // the stream that holds the record
  VersionId acked;
  VersionId nacked;
  std::string last_nack;  // the reason of the latest NACK
};

class ReplicaRegistry {
 public:
  static constexpr size_t kDefaultMaxReplicas = 10000;
  static constexpr absl::Duration kDefaultForgetAfter = absl::Hours(1);
  static constexpr size_t kMaxIdBytes = 256;
  static constexpr size_t kMaxBuildBytes = 128;
  static constexpr size_t kMaxReasonBytes = 1024;

  explicit ReplicaRegistry(size_t max_replicas = kDefaultMaxReplicas,
                           absl::Duration forget_after = kDefaultForgetAfter);

  // Records a Hello. `running` is the version the replica says it runs
  // (counter 0: its local file), which counts as acknowledged. Returns the
  // stream's generation (> 0), or 0 when every slot is held by a connected
  // replica. Long build strings are shortened.
  uint64_t Connect(std::string_view replica_id, std::string_view build_version,
                   const VersionId& running, absl::Time now);
  // Marks the replica disconnected, if `generation` still holds it.
  void Disconnect(std::string_view replica_id, uint64_t generation, absl::Time now);
  // ACK / NACK of one version by the stream `generation`. Long reasons are
  // shortened. False when the stream no longer holds the record.
  bool Ack(std::string_view replica_id, uint64_t generation, const VersionId& version);
  bool Nack(std::string_view replica_id, uint64_t generation, const VersionId& version,
            std::string_view reason);

  // Forgets replicas disconnected for longer than forget_after; returns how many.
  size_t Sweep(absl::Time now);

  // Every record, ordered by id.
  std::vector<ReplicaRecord> Snapshot() const;
  const ReplicaRecord* Find(std::string_view replica_id) const;
  size_t size() const { return replicas_.size(); }
  size_t connected() const { return connected_; }

 private:
  ReplicaRecord* Holding(std::string_view replica_id, uint64_t generation);

  const size_t max_replicas_;
  const absl::Duration forget_after_;
  std::map<std::string, ReplicaRecord, std::less<>> replicas_;
  uint64_t next_generation_ = 1;
  size_t connected_ = 0;
};

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_REPLICA_REGISTRY_H_
