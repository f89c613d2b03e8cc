// Small HTTP value types shared by the pure request logic and the I/O layer.
#ifndef REBOUND_COMMON_HTTP_TYPES_H_
#define REBOUND_COMMON_HTTP_TYPES_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rebound {

// Header fields in arrival order; names keep their case, lookups ignore it.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// ASCII case-insensitive comparisons. (Debian's Abseil has its own
// absl::string_view, distinct from std::string_view, so these take std ones.)
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle);
bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix);

// The first value of header `name` (case-insensitive), or an empty view.
std::string_view FindHeader(const HttpHeaders& headers, std::string_view name);

// True for headers that carry caller credentials (never forwarded unless the
// target has passthrough_auth, always redacted from what callers and logs see).
bool IsCredentialHeader(std::string_view name);

// kConnect..kTotal are the provider's `timeouts`. kDeadline and kRetryBudget
// cap an attempt by what remains of the caller's deadline and of the policy's
// max_retry_duration_ms: they end the call, never start another attempt.
enum class TimeoutKind { kNone, kConnect, kFirstByte, kIdle, kTotal, kDeadline, kRetryBudget };
std::string_view ToString(TimeoutKind kind);

}  // namespace rebound

#endif  // REBOUND_COMMON_HTTP_TYPES_H_
