#include "blocks/block_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/string_view.h"

namespace rebound {
namespace {

// Debian's Abseil has its own absl::string_view; the maps look up with it.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr BlockKind kKinds[] = {BlockKind::kRetryAfter, BlockKind::kLatency};
constexpr BlockScope kScopes[] = {BlockScope::kModel, BlockScope::kProvider};

}  // namespace

BlockTable::BlockTable(size_t max_entries) : max_entries_(max_entries < 1 ? 1 : max_entries) {}

void BlockTable::SetListener(Listener listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

bool BlockTable::Merge(const BlockKey& key, BlockKind kind, absl::Time until,
                       std::string_view origin) {
  Block incoming{kind, until, std::string(origin)};
  {
    absl::MutexLock lock(&mu_);
    Map& map = MapFor(key.scope, kind);
    auto it = map.find(Absl(key.name));
    if (it != map.end()) {
      if (!Supersedes({incoming.until, incoming.origin}, {it->second.until, it->second.origin})) {
        return false;
      }
      expiry_.erase({it->second.until, key.scope, kind, key.name});
      it->second = incoming;
    } else {
      if (SizeLocked() >= max_entries_) {
        // Full. The soonest-expiring entry goes, expired ones first; an
        // incoming entry that would go first itself is not worth storing.
        if (until <= std::get<0>(*expiry_.begin())) return false;
        EvictFirstLocked();
      }
      map.emplace(key.name, incoming);
    }
    expiry_.emplace(until, key.scope, kind, key.name);
  }
  if (!origin.empty()) return true;
  Listener listener;
  {
    absl::MutexLock lock(&listener_mu_);
    listener = listener_;
  }
  if (listener) listener(key, incoming);
  return true;
}

size_t BlockTable::SizeLocked() const {
  size_t n = 0;
  for (const Map& map : maps_) n += map.size();
  return n;
}

void BlockTable::EvictFirstLocked() {
  auto first = expiry_.begin();
  const auto& [until, scope, kind, name] = *first;
  MapFor(scope, kind).erase(Absl(name));
  expiry_.erase(first);
}

absl::Time BlockTable::ActiveUntilLocked(BlockScope scope, BlockKind kind, std::string_view name,
                                         absl::Time now) const {
  const Map& map = MapFor(scope, kind);
  if (map.empty()) return absl::InfinitePast();
  auto it = map.find(Absl(name));
  if (it == map.end() || it->second.until <= now) return absl::InfinitePast();
  return it->second.until;
}

std::optional<Block> BlockTable::Find(const BlockKey& key, BlockKind kind, absl::Time now) const {
  absl::ReaderMutexLock lock(&mu_);
  const Map& map = MapFor(key.scope, kind);
  auto it = map.find(Absl(key.name));
  if (it == map.end() || it->second.until <= now) return std::nullopt;
  return it->second;
}

CoveringBlocks BlockTable::Covering(const ModelProvider& target, absl::Time now) const {
  CoveringBlocks c;
  absl::ReaderMutexLock lock(&mu_);
  if (expiry_.empty()) return c;
  c.retry_after_until =
      std::max(ActiveUntilLocked(BlockScope::kModel, BlockKind::kRetryAfter, target.model_id, now),
               ActiveUntilLocked(BlockScope::kProvider, BlockKind::kRetryAfter, target.provider,
                                 now));
  c.latency_until =
      std::max(ActiveUntilLocked(BlockScope::kModel, BlockKind::kLatency, target.model_id, now),
               ActiveUntilLocked(BlockScope::kProvider, BlockKind::kLatency, target.provider, now));
  return c;
}

absl::Time BlockTable::BlockedUntil(const ModelProvider& target, absl::Time now) const {
  CoveringBlocks c = Covering(target, now);
  return std::max(c.retry_after_until, c.latency_until);
}

bool BlockTable::Remove(const BlockKey& key, std::optional<BlockKind> kind) {
  absl::MutexLock lock(&mu_);
  bool removed = false;
  for (BlockKind k : kKinds) {
    if (kind && *kind != k) continue;
    Map& map = MapFor(key.scope, k);
    auto it = map.find(Absl(key.name));
    if (it == map.end()) continue;
    expiry_.erase({it->second.until, key.scope, k, key.name});
    map.erase(it);
    removed = true;
  }
  return removed;
}

size_t BlockTable::Sweep(absl::Time now) {
  absl::MutexLock lock(&mu_);
  size_t removed = 0;
  while (!expiry_.empty() && std::get<0>(*expiry_.begin()) <= now) {
    EvictFirstLocked();
    ++removed;
  }
  return removed;
}

std::vector<std::pair<BlockKey, Block>> BlockTable::Snapshot(absl::Time now) const {
  std::vector<std::pair<BlockKey, Block>> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (BlockScope scope : kScopes) {
      for (BlockKind kind : kKinds) {
        for (const auto& [name, block] : MapFor(scope, kind)) {
          if (block.until > now) out.emplace_back(BlockKey{scope, name}, block);
        }
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return a.second.kind < b.second.kind;
  });
  return out;
}

size_t BlockTable::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return SizeLocked();
}

}  // namespace rebound
