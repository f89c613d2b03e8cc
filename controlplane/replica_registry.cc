#include "controlplane/replica_registry.h"

#include <algorithm>

namespace rebound::controlplane {
namespace {

std::string Shorten(std::string_view text, size_t limit) {
  return std::string(text.substr(0, std::min(text.size(), limit)));
}

}  // namespace

ReplicaRegistry::ReplicaRegistry(size_t max_replicas, absl::Duration forget_after)
    : max_replicas_(std::max<size_t>(1, max_replicas)), forget_after_(forget_after) {}

uint64_t ReplicaRegistry::Connect(std::string_view replica_id, std::string_view build_version,
                                  const VersionId& running, absl::Time now) {
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end()) {
    if (replicas_.size() >= max_replicas_) {
      // Make room by forgetting the replica that left longest ago; when all
      // are connected, the newcomer is refused rather than growing the table.
      auto oldest = replicas_.end();
      for (auto r = replicas_.begin(); r != replicas_.end(); ++r) {
        if (!r->second.connected &&
            (oldest == replicas_.end() ||
             r->second.disconnected_at < oldest->second.disconnected_at)) {
          oldest = r;
        }
      }
      if (oldest == replicas_.end()) return 0;
      replicas_.erase(oldest);
    }
    it = replicas_.emplace(std::string(replica_id), ReplicaRecord{}).first;
    it->second.replica_id = std::string(replica_id);
  }
  ReplicaRecord& record = it->second;
  if (!record.connected) ++connected_;
  record.connected = true;
  record.connected_since = now;
  record.build_version = Shorten(build_version, kMaxBuildBytes);
  record.generation = next_generation_++;
  if (running.counter > 0) record.acked = running;
  return record.generation;
}

ReplicaRecord* ReplicaRegistry::Holding(std::string_view replica_id, uint64_t generation) {
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end() || it->second.generation != generation) return nullptr;
  return &it->second;
}

void ReplicaRegistry::Disconnect(std::string_view replica_id, uint64_t generation,
                                 absl::Time now) {
  ReplicaRecord* record = Holding(replica_id, generation);
  if (record == nullptr || !record->connected) return;
  record->connected = false;
  record->disconnected_at = now;
  --connected_;
}

bool ReplicaRegistry::Ack(std::string_view replica_id, uint64_t generation,
                          const VersionId& version) {
  ReplicaRecord* record = Holding(replica_id, generation);
  if (record == nullptr) return false;
  record->acked = version;
  return true;
}

bool ReplicaRegistry::Nack(std::string_view replica_id, uint64_t generation,
                           const VersionId& version, std::string_view reason) {
  ReplicaRecord* record = Holding(replica_id, generation);
  if (record == nullptr) return false;
  record->nacked = version;
  record->last_nack = Shorten(reason, kMaxReasonBytes);
  return true;
}

size_t ReplicaRegistry::Sweep(absl::Time now) {
  size_t forgotten = 0;
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    if (!it->second.connected && now - it->second.disconnected_at > forget_after_) {
      it = replicas_.erase(it);
      ++forgotten;
    } else {
      ++it;
    }
  }
  return forgotten;
}

std::vector<ReplicaRecord> ReplicaRegistry::Snapshot() const {
  std::vector<ReplicaRecord> out;
  out.reserve(replicas_.size());
  for (const auto& [id, record] : replicas_) out.push_back(record);
  return out;
}

const ReplicaRecord* ReplicaRegistry::Find(std::string_view replica_id) const {
  auto it = replicas_.find(replica_id);
  return it == replicas_.end() ? nullptr : &it->second;
}

}  // namespace rebound::controlplane
