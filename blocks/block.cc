#include "blocks/block.h"

#include <utility>

namespace rebound {
namespace {

constexpr std::string_view kModelPrefix = "model:";
constexpr std::string_view kProviderPrefix = "provider:";

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

bool Supersedes(const BlockVersion& candidate, const BlockVersion& current) {
  if (candidate.until != current.until) return candidate.until > current.until;
  if (candidate.origin != current.origin) return candidate.origin > current.origin;
  return candidate.created_at > current.created_at;
}

}  // namespace rebound
