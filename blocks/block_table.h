// The process-wide table of blocks (RETRY.md section 6): "do not send to X
// until T", X being a model id or a provider.
//
// One BlockTable is shared by every request of a process (blocks with
// `apply_to: global`) and fed by the control plane with the blocks other
// replicas created. Merging keeps the later deadline, so the table is a
// state-based CRDT: any order of reports, repeated or not, converges to the
// same table (ARCHITECTURE.md, "The control plane").
//
// Entries are keyed by what they cover AND by their kind: a Retry-After
// block and a latency block on the same model are two entries, each with its
// own deadline, because they mean different things (a Retry-After block is
// waited for or routed around; a latency block only deprioritises). A long
// latency block must never absorb a shorter Retry-After block, or the
// engine would stop honouring the provider's Retry-After. The merge rule is
// blocks/block.h's, shared with the control plane's store; the limits there
// are enforced where blocks arrive from other processes (replica_sync, the
// control plane), not here.
//
// Pure: no clock of its own; `now` is passed in. Thread-safe.
#ifndef REBOUND_BLOCKS_BLOCK_TABLE_H_
#define REBOUND_BLOCKS_BLOCK_TABLE_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "blocks/block.h"
#include "policy/config.h"

namespace rebound {

// The active blocks covering one model (its model-scoped and its
// provider-scoped entries), as the latest deadline of each kind;
// InfinitePast when no block of that kind is active. Returned by one lookup
// under one lock.
struct CoveringBlocks {
  absl::Time retry_after_until = absl::InfinitePast();
  absl::Time latency_until = absl::InfinitePast();
};

class BlockTable {
 public:
  static constexpr size_t kDefaultMaxEntries = 100000;

  // Called after a local Merge (empty origin) changed the table, outside the
  // table's lock, with the entry as it now is. The control-plane client uses
  // it to report the block to the other replicas.
  using Listener = std::function<void(const BlockKey&, const Block&)>;

  explicit BlockTable(size_t max_entries = kDefaultMaxEntries);

  BlockTable(const BlockTable&) = delete;
  BlockTable& operator=(const BlockTable&) = delete;

  // Installs the listener (replacing any previous one). Set it before the
  // table is shared; a Merge racing with SetListener may miss the new one.
  void SetListener(Listener listener);

  // Merges "blocked until `until`" into the entry for (`key`, `kind`).
  // Returns true when the table changed.
  //
  // - A later deadline replaces an earlier one; an earlier one never shortens
  //   an entry (RETRY.md 6). Entries of the other kind are not affected.
  // - Equal deadlines: the larger origin wins, so that every replica
  //   converges to the same entry whatever the order of reports. Merging an
  //   identical entry changes nothing.
  // - When the table is full, the entry that expires soonest is evicted to
  //   make room; expired entries therefore go first. A new entry that would
  //   itself expire before every stored one is dropped instead (false).
  //   Memory stays bounded whatever the number of distinct keys.
  bool Merge(const BlockKey& key, BlockKind kind, absl::Time until, std::string_view origin = "");

  // The active entry for (`key`, `kind`) (until > now), or nullopt.
  std::optional<Block> Find(const BlockKey& key, BlockKind kind, absl::Time now) const;
  // The active blocks of both kinds covering `target`.
  CoveringBlocks Covering(const ModelProvider& target, absl::Time now) const;
  // The latest deadline of the active blocks of any kind covering `target`,
  // or InfinitePast when none is active.
  absl::Time BlockedUntil(const ModelProvider& target, absl::Time now) const;

  // Removes the entry for (`key`, `kind`), or with no kind every entry for
  // `key` (an operator's ClearBlock). True if one was present.
  bool Remove(const BlockKey& key, std::optional<BlockKind> kind = std::nullopt);
  // Removes every entry expired at `now`; returns how many.
  size_t Sweep(absl::Time now);
  // Every active entry, ordered by key, then kind (Retry-After first).
  std::vector<std::pair<BlockKey, Block>> Snapshot(absl::Time now) const;
  // Entries stored, expired ones included until swept or evicted.
  size_t size() const;

 private:
  using Map = absl::flat_hash_map<std::string, Block>;
  // Expiry order: (until, scope, kind, name); the first element expires
  // soonest.
  using ExpiryIndex = std::set<std::tuple<absl::Time, BlockScope, BlockKind, std::string>>;

  Map& MapFor(BlockScope scope, BlockKind kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return maps_[Index(scope, kind)];
  }
  const Map& MapFor(BlockScope scope, BlockKind kind) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return maps_[Index(scope, kind)];
  }
  static size_t Index(BlockScope scope, BlockKind kind) {
    return (scope == BlockScope::kModel ? 0 : 2) + (kind == BlockKind::kRetryAfter ? 0 : 1);
  }
  // The deadline of the active entry, or InfinitePast.
  absl::Time ActiveUntilLocked(BlockScope scope, BlockKind kind, std::string_view name,
                               absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  size_t SizeLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Erases the soonest-expiring entry.
  void EvictFirstLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  mutable absl::Mutex mu_;
  // One map per (scope, kind) rather than one keyed by both, so that the hot
  // lookup (every candidate of every request) needs no key string built.
  Map maps_[4] ABSL_GUARDED_BY(mu_);
  ExpiryIndex expiry_ ABSL_GUARDED_BY(mu_);

  absl::Mutex listener_mu_;
  Listener listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace rebound

#endif  // REBOUND_BLOCKS_BLOCK_TABLE_H_
