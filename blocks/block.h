// A request block (RETRY.md 6), as both binaries see it: what it covers,
// its kind, its deadline, the one merge rule, and the limits on what a block
// from another process may hold. The server's BlockTable, the replica's sync
// stream and the control plane's BlockStore all use these, so that every
// process keeps the same entry whatever order the reports arrive in.
#ifndef REBOUND_BLOCKS_BLOCK_H_
#define REBOUND_BLOCKS_BLOCK_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "policy/config.h"

namespace rebound {

// Model ids and provider names are shorter than this; a longer name is not one.
inline constexpr size_t kMaxBlockNameBytes = 512;
// A replica id.
inline constexpr size_t kMaxBlockOriginBytes = 256;
// No provider asks for more than this; a block reported further ahead is
// rejected by the control plane and capped by a replica.
inline constexpr absl::Duration kMaxBlockAhead = absl::Hours(24);

// What a block covers: one model id or every model of one provider.
struct BlockKey {
  BlockScope scope = BlockScope::kModel;
  std::string name;  // model id ("openai/gpt-4o") or provider ("openai")

  static BlockKey Model(std::string_view model_id) {
    return {BlockScope::kModel, std::string(model_id)};
  }
  static BlockKey Provider(std::string_view provider) {
    return {BlockScope::kProvider, std::string(provider)};
  }
  // The key a signal from `target` creates under `scope` (the policy's
  // retry_after_handling.scope or on_high_latency.scope).
  static BlockKey For(BlockScope scope, const ModelProvider& target) {
    return scope == BlockScope::kModel ? Model(target.model_id) : Provider(target.provider);
  }

  // Stable text form, used on the wire and in logs: "model:openai/gpt-4o",
  // "provider:openai".
  std::string ToString() const;
  // The inverse of ToString; nullopt for anything else (an unknown prefix or
  // an empty name).
  static std::optional<BlockKey> Parse(std::string_view text);

  bool operator==(const BlockKey&) const = default;
  auto operator<=>(const BlockKey&) const = default;
};

enum class BlockKind { kRetryAfter, kLatency };
std::string_view ToString(BlockKind kind);

struct Block {
  BlockKind kind = BlockKind::kRetryAfter;
  absl::Time until = absl::InfinitePast();  // the block is active while now < until
  std::string origin;                       // replica id that created it; "" = this process

  bool operator==(const Block&) const = default;
};

// The merge rule for two versions of the block of one key and kind: true
// when `candidate` replaces `current`. The later deadline wins, an earlier
// one never shortens a block; on equal deadlines the larger origin, then the
// later creation time, so that the rule is a total order and merging is
// commutative, associative and idempotent (a state-based CRDT). Who keeps
// no creation time (the server's table) passes InfinitePast for both.
struct BlockVersion {
  absl::Time until;
  std::string_view origin;
  absl::Time created_at = absl::InfinitePast();
};
bool Supersedes(const BlockVersion& candidate, const BlockVersion& current);

}  // namespace rebound

#endif  // REBOUND_BLOCKS_BLOCK_H_
