// The fleet's block table as the control plane holds it: every active
// global block any replica reported, keyed by (scope, name, kind), as wire
// Blocks. A Retry-After block and a latency block on the same name are two
// entries with their own deadlines, as in the replicas' BlockTable.
//
// Merging follows the one rule of blocks/block.h, as the replicas'
// BlockTable does, so the store is a state-based CRDT: the later deadline wins, and equal deadlines
// are broken by a total order on the rest of the block, so any order of
// reports, repeated or not, converges to the same table. That is what lets
// several control planes run side by side (ARCHITECTURE.md, "The control
// plane").
//
// Pure and not thread-safe: no clock of its own (`now` is passed in) and no
// lock (the service serialises access, because merges and their fan-out must
// be ordered together).
#ifndef REBOUND_CONTROLPLANE_BLOCK_STORE_H_
#define REBOUND_CONTROLPLANE_BLOCK_STORE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "rebound/v1/controlplane.pb.h"

namespace rebound::controlplane {

// What a block covers and its kind: (scope, name, kind).
struct StoreKey {
  rebound::v1::BlockScope scope = rebound::v1::BLOCK_SCOPE_UNSPECIFIED;
  std::string name;
  rebound::v1::BlockKind kind = rebound::v1::BLOCK_KIND_UNSPECIFIED;

  auto operator<=>(const StoreKey&) const = default;
  bool operator==(const StoreKey&) const = default;
};

enum class MergeOutcome {
  kChanged,     // stored (new key, or superseded the stored entry)
  kUnchanged,   // the stored entry already wins (identical, or later)
  kInvalid,     // rejected by validation (see BlockStore::Validate)
  kTombstoned,  // an operator cleared this key with a deadline at least as late
  kDropped,     // the store is full and this block would expire first
};
std::string_view ToString(MergeOutcome outcome);

class BlockStore {
 public:
  static constexpr size_t kDefaultMaxEntries = 100000;

  explicit BlockStore(size_t max_entries = kDefaultMaxEntries);

  // Empty when `block` may be stored at `now`; otherwise why not. Rejected:
  // an empty or overlong name or origin, an unknown scope or kind, a deadline
  // not after `now` or more than kMaxBlockAhead after it (blocks/block.h).
  // Rejected rather than clamped: clamping would make the stored value depend
  // on when each control plane received the report, and side-by-side
  // instances would stop converging.
  static std::string Validate(const rebound::v1::Block& block, absl::Time now);

  // Merges `block` (relayed_at_unix_us is the store's own bookkeeping and
  // ignored for the merge decision):
  // - per (scope, name, kind), a later until_unix_ms replaces the stored
  //   entry, an earlier one never shortens it (RETRY.md 6); entries of the
  //   other kind are not affected;
  // - equal deadlines: the larger origin, then the larger created_at, so
  //   every control plane and replica picks the same entry whatever the
  //   order; merging an identical entry changes nothing (idempotent);
  // - a key cleared by an operator ignores deadlines <= the cleared one until
  //   that deadline passes;
  // - full: the soonest-expiring entry is evicted, unless the incoming block
  //   would expire before every stored one (then it is dropped).
  MergeOutcome Merge(const rebound::v1::Block& block, absl::Time now);

  // Removes the entry of (scope, name, kind), or of every kind when `kind`
  // is BLOCK_KIND_UNSPECIFIED (an operator's ClearBlock) and, for each one
  // removed, remembers its deadline as a tombstone: replicas that have not
  // yet seen the BlockCleared re-report the block, and it must not come back.
  // True when an entry was removed.
  bool Clear(rebound::v1::BlockScope scope, std::string_view name, rebound::v1::BlockKind kind,
             absl::Time now);

  // Removes expired entries and tombstones; returns how many entries went.
  size_t Sweep(absl::Time now);

  // Every active entry (until > now), ordered by key.
  std::vector<rebound::v1::Block> Snapshot(absl::Time now) const;
  // The stored entry for the key, active or not; nullptr when absent.
  const rebound::v1::Block* Find(rebound::v1::BlockScope scope, std::string_view name,
                                 rebound::v1::BlockKind kind) const;

  // Active entries (until > now) of `kind`, counted without copying them.
  size_t CountActive(rebound::v1::BlockKind kind, absl::Time now) const;

  size_t size() const { return entries_.size(); }
  size_t tombstones() const { return tombstones_.size(); }
  // Bumped by every change to the entries (a merge that changed the table,
  // a clear that removed one, an eviction, a sweep that removed any): equal
  // versions mean equal entries, so a snapshot built at one version can be
  // reused while the version stands and none of its entries has expired.
  uint64_t version() const { return version_; }

 private:
  using ExpiryIndex = std::set<std::pair<int64_t, StoreKey>>;

  void EvictFirst();
  bool ClearKey(const StoreKey& key, absl::Time now);

  const size_t max_entries_;
  std::map<StoreKey, rebound::v1::Block> entries_;
  ExpiryIndex expiry_;  // (until_unix_ms, key) of every entry
  std::map<StoreKey, int64_t> tombstones_;  // key -> cleared deadline (unix ms)
  ExpiryIndex tombstone_expiry_;
  uint64_t version_ = 0;
};

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_BLOCK_STORE_H_
