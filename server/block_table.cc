#include "server/block_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/string_view.h"

namespace rebound {
namespace {

constexpr std::string_view kModelPrefix = "model:";
constexpr std::string_view kProviderPrefix = "provider:";

// Debian's Abseil has its own absl::string_view; the maps look up with it.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Tie-break rank of an entry's kind: on equal deadlines a Retry-After block
// wins over a latency block, since it is the stronger signal (the upstream
// said it will refuse, not merely that it was slow).
int KindRank(BlockKind kind) { return kind == BlockKind::kRetryAfter ? 1 : 0; }

// True when `candidate` should replace `current` under the merge rule.
bool Supersedes(const Block& candidate, const Block& current) {
  if (candidate.until != current.until) return candidate.until > current.until;
  int a = KindRank(candidate.kind), b = KindRank(current.kind);
  if (a != b) return a > b;
  return candidate.origin > current.origin;
}

}  // namespace

std::string BlockKey::ToString() const {
  std::string out(scope == BlockScope::kModel ? kModelPrefix : kProviderPrefix);
  out += name;
  return out;
}

std::optional<BlockKey> BlockKey::Parse(std::string_view text) {
  for (auto [prefix, scope] : {std::pair{kModelPrefix, BlockScope::kModel},
                               std::pair{kProviderPrefix, BlockScope::kProvider}}) {
    if (text.size() > prefix.size() && text.substr(0, prefix.size()) == prefix) {
      return BlockKey{scope, std::string(text.substr(prefix.size()))};
    }
  }
  return std::nullopt;
}

std::string_view ToString(BlockKind kind) {
  return kind == BlockKind::kRetryAfter ? "retry_after" : "latency";
}

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
    auto& map = MapFor(key.scope);
    auto it = map.find(Absl(key.name));
    if (it != map.end()) {
      if (!Supersedes(incoming, it->second)) return false;
      expiry_.erase({it->second.until, key.scope, key.name});
      it->second = incoming;
    } else {
      if (map.size() + (key.scope == BlockScope::kModel ? provider_blocks_.size()
                                                          : model_blocks_.size()) >=
          max_entries_) {
        // Full. The soonest-expiring entry goes, expired ones first; an
        // incoming entry that would go first itself is not worth storing.
        if (until <= std::get<0>(*expiry_.begin())) return false;
        EvictFirstLocked();
      }
      map.emplace(key.name, incoming);
    }
    expiry_.emplace(until, key.scope, key.name);
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

void BlockTable::EvictFirstLocked() {
  auto first = expiry_.begin();
  MapFor(std::get<1>(*first)).erase(Absl(std::get<2>(*first)));
  expiry_.erase(first);
}

std::optional<Block> BlockTable::FindLocked(BlockScope scope, std::string_view name,
                                            absl::Time now) const {
  const auto& map = MapFor(scope);
  auto it = map.find(Absl(name));
  if (it == map.end() || it->second.until <= now) return std::nullopt;
  return it->second;
}

std::optional<Block> BlockTable::Find(const BlockKey& key, absl::Time now) const {
  absl::ReaderMutexLock lock(&mu_);
  return FindLocked(key.scope, key.name, now);
}

CoveringBlocks BlockTable::Covering(const ModelProvider& target, absl::Time now) const {
  absl::ReaderMutexLock lock(&mu_);
  if (model_blocks_.empty() && provider_blocks_.empty()) return {};
  return {FindLocked(BlockScope::kModel, target.model_id, now),
          FindLocked(BlockScope::kProvider, target.provider, now)};
}

absl::Time BlockTable::BlockedUntil(const ModelProvider& target, absl::Time now) const {
  CoveringBlocks c = Covering(target, now);
  absl::Time until = absl::InfinitePast();
  if (c.model) until = std::max(until, c.model->until);
  if (c.provider) until = std::max(until, c.provider->until);
  return until;
}

bool BlockTable::Remove(const BlockKey& key) {
  absl::MutexLock lock(&mu_);
  auto& map = MapFor(key.scope);
  auto it = map.find(Absl(key.name));
  if (it == map.end()) return false;
  expiry_.erase({it->second.until, key.scope, key.name});
  map.erase(it);
  return true;
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
    for (BlockScope scope : {BlockScope::kModel, BlockScope::kProvider}) {
      for (const auto& [name, block] : MapFor(scope)) {
        if (block.until > now) out.emplace_back(BlockKey{scope, name}, block);
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

size_t BlockTable::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return model_blocks_.size() + provider_blocks_.size();
}

}  // namespace rebound
