#include "controlplane/block_store.h"

#include <algorithm>

#include "blocks/block.h"

namespace rebound::controlplane {
namespace {

using rebound::v1::Block;

// blocks/block.h's merge rule over everything but relayed_at_unix_us (which
// each control plane sets for itself).
bool Supersedes(const Block& candidate, const Block& current) {
  auto version = [](const Block& b) {
    return BlockVersion{absl::FromUnixMillis(b.until_unix_ms()), b.origin(),
                        absl::FromUnixMicros(b.created_at_unix_us())};
  };
  return rebound::Supersedes(version(candidate), version(current));
}

}  // namespace

std::string_view ToString(MergeOutcome outcome) {
  switch (outcome) {
    case MergeOutcome::kChanged: return "changed";
    case MergeOutcome::kUnchanged: return "unchanged";
    case MergeOutcome::kInvalid: return "invalid";
    case MergeOutcome::kTombstoned: return "tombstoned";
    case MergeOutcome::kDropped: return "dropped";
  }
  return "invalid";
}

BlockStore::BlockStore(size_t max_entries) : max_entries_(std::max<size_t>(1, max_entries)) {}

std::string BlockStore::Validate(const Block& block, absl::Time now) {
  if (block.name().empty()) return "empty name";
  if (block.name().size() > kMaxBlockNameBytes) return "name too long";
  if (block.origin().size() > kMaxBlockOriginBytes) return "origin too long";
  if (block.scope() != rebound::v1::BLOCK_SCOPE_MODEL &&
      block.scope() != rebound::v1::BLOCK_SCOPE_PROVIDER) {
    return "unknown scope";
  }
  if (block.kind() != rebound::v1::BLOCK_KIND_RETRY_AFTER &&
      block.kind() != rebound::v1::BLOCK_KIND_LATENCY) {
    return "unknown kind";
  }
  int64_t now_ms = absl::ToUnixMillis(now);
  if (block.until_unix_ms() <= now_ms) return "deadline not in the future";
  if (block.until_unix_ms() - now_ms > absl::ToInt64Milliseconds(kMaxBlockAhead)) {
    return "deadline more than 24 h ahead";
  }
  return "";
}

MergeOutcome BlockStore::Merge(const Block& block, absl::Time now) {
  if (!Validate(block, now).empty()) return MergeOutcome::kInvalid;
  StoreKey key{block.scope(), block.name(), block.kind()};

  if (auto t = tombstones_.find(key); t != tombstones_.end()) {
    if (block.until_unix_ms() <= t->second) return MergeOutcome::kTombstoned;
    // A block outliving the cleared one is a new signal: the tombstone is
    // no longer needed.
    tombstone_expiry_.erase({t->second, key});
    tombstones_.erase(t);
  }

  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (!Supersedes(block, it->second)) return MergeOutcome::kUnchanged;
    expiry_.erase({it->second.until_unix_ms(), key});
    it->second = block;
    expiry_.insert({block.until_unix_ms(), std::move(key)});
    ++version_;
    return MergeOutcome::kChanged;
  }
  if (entries_.size() >= max_entries_) {
    // Full: the soonest-expiring entry goes (expired ones first); a block
    // that would go first itself is not worth storing.
    if (block.until_unix_ms() <= expiry_.begin()->first) return MergeOutcome::kDropped;
    EvictFirst();
  }
  entries_.emplace(key, block);
  expiry_.insert({block.until_unix_ms(), std::move(key)});
  ++version_;
  return MergeOutcome::kChanged;
}

bool BlockStore::Clear(rebound::v1::BlockScope scope, std::string_view name,
                       rebound::v1::BlockKind kind, absl::Time now) {
  bool removed = false;
  for (rebound::v1::BlockKind k :
       {rebound::v1::BLOCK_KIND_RETRY_AFTER, rebound::v1::BLOCK_KIND_LATENCY}) {
    if (kind != rebound::v1::BLOCK_KIND_UNSPECIFIED && kind != k) continue;
    removed |= ClearKey(StoreKey{scope, std::string(name), k}, now);
  }
  return removed;
}

bool BlockStore::ClearKey(const StoreKey& key, absl::Time now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  int64_t until = it->second.until_unix_ms();
  expiry_.erase({until, key});
  entries_.erase(it);
  ++version_;
  if (until > absl::ToUnixMillis(now)) {
    // Tombstones share the entries' bound; the oldest goes first.
    if (tombstones_.size() >= max_entries_) {
      auto first = tombstone_expiry_.begin();
      tombstones_.erase(first->second);
      tombstone_expiry_.erase(first);
    }
    auto [t, inserted] = tombstones_.try_emplace(key, until);
    if (!inserted) {
      tombstone_expiry_.erase({t->second, key});
      t->second = std::max(t->second, until);
    }
    tombstone_expiry_.insert({t->second, key});
  }
  return true;
}

size_t BlockStore::Sweep(absl::Time now) {
  int64_t now_ms = absl::ToUnixMillis(now);
  size_t removed = 0;
  while (!expiry_.empty() && expiry_.begin()->first <= now_ms) {
    EvictFirst();
    ++removed;
  }
  while (!tombstone_expiry_.empty() && tombstone_expiry_.begin()->first <= now_ms) {
    tombstones_.erase(tombstone_expiry_.begin()->second);
    tombstone_expiry_.erase(tombstone_expiry_.begin());
  }
  return removed;
}

std::vector<Block> BlockStore::Snapshot(absl::Time now) const {
  int64_t now_ms = absl::ToUnixMillis(now);
  std::vector<Block> out;
  out.reserve(entries_.size());
  for (const auto& [key, block] : entries_) {
    if (block.until_unix_ms() > now_ms) out.push_back(block);
  }
  return out;
}

const Block* BlockStore::Find(rebound::v1::BlockScope scope, std::string_view name,
                              rebound::v1::BlockKind kind) const {
  auto it = entries_.find(StoreKey{scope, std::string(name), kind});
  return it == entries_.end() ? nullptr : &it->second;
}

size_t BlockStore::CountActive(rebound::v1::BlockKind kind, absl::Time now) const {
  int64_t now_ms = absl::ToUnixMillis(now);
  size_t n = 0;
  for (const auto& [key, block] : entries_) n += key.kind == kind && block.until_unix_ms() > now_ms;
  return n;
}

void BlockStore::EvictFirst() {
  auto first = expiry_.begin();
  entries_.erase(first->second);
  expiry_.erase(first);
  ++version_;
}

}  // namespace rebound::controlplane
