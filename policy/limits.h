// Every bound the configuration loader enforces, in one place, so that the
// README's table and the code cannot drift apart one constant at a time.
//
// Two kinds. Size limits keep a wrong file or a hostile push (the control
// plane accepts up to 4 MiB) from making the loader, or the server holding
// the config, allocate without bound: YAML aliases let a few kilobytes name
// hundreds of millions of nodes. Each is set well above what real
// configurations need. Value bounds keep numbers inside what the server can
// represent and act on (see the individual comments).
#ifndef REBOUND_POLICY_LIMITS_H_
#define REBOUND_POLICY_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace rebound::limits {

// ---------------------------------------------------------------------------
// Size of the input

// A configuration is a few kilobytes. The cap matches gRPC's default message
// limit, so anything a control-plane push can carry also loads.
inline constexpr size_t kMaxConfigBytes = 4 << 20;

// YAML nodes (scalars, lists, maps; map keys included) in the document, each
// alias counted as the whole node it repeats. A provider with a full retry
// policy is about 100 nodes, so the largest realistic file (every provider
// of kMaxModelProviders with its own full policy) is about 100,000: this is
// twice that. It is what defeats alias amplification ("billion laughs"),
// while ordinary anchors (a shared `retry_policy: *common`) cost only the
// nodes they repeat. It also bounds yaml-cpp's own tree (about 470 bytes a
// node), because it is checked on the event stream before the tree is built.
inline constexpr int64_t kMaxYamlNodes = 200'000;

// Diagnostics one load reports; past it, one last diagnostic says how many
// more errors and warnings were found. Nobody reads more than this, and a
// file with a warning per provider would otherwise print thousands.
inline constexpr size_t kMaxDiagnostics = 200;

// ---------------------------------------------------------------------------
// Lists

inline constexpr size_t kMaxModelProviders = 1000;
inline constexpr size_t kMaxHeadersPerProvider = 64;
// A request makes at most 10 attempts, but a long list still helps when its
// first entries are blocked.
inline constexpr size_t kMaxFallbackModels = 64;
inline constexpr size_t kMaxStatusCodeRules = 64;
// Entries of one rule's `codes` list: enough to list every retriable status
// (300-599) one by one.
inline constexpr size_t kMaxCodeEntriesPerRule = 300;
// Status codes of one policy's rules together, ranges expanded ("500-504" is
// five). The first rule listing a code wins, so past 300 distinct codes more
// only repeat; 1,000 leaves room for catch-all ranges after specific rules.
inline constexpr size_t kMaxStatusCodesPerPolicy = 1000;
inline constexpr size_t kMaxControlPlaneAddresses = 64;

// ---------------------------------------------------------------------------
// Values

// Every duration (timeouts, backoff, max_retry_duration_ms, the latency
// threshold and window, block durations, the Retry-After cap, the drain
// grace) is at most a day. Unbounded, 2^63 - 1 ms overflowed when the server
// converted it to int64 nanoseconds, so that every attempt timed out at
// once. And a day is what the control plane accepts: it rejects blocks more
// than 24 h ahead (kMaxBlockAhead, blocks/block.h), so a longer block or
// Retry-After cap would hold on one replica and silently not propagate.
inline constexpr int64_t kMaxDurationMs = 86'400'000;
inline constexpr int64_t kMaxDurationSeconds = 86'400;

// server.max_body_bytes. The gRPC listener's message limit is an int32 with
// 1 MiB of headroom over it (server/gateway_server.cc); 1 GiB is far above
// any chat request (base64 images included) and keeps that sum in range.
inline constexpr int64_t kMaxBodyBytes = int64_t{1} << 30;
// server.max_response_bytes: a unary answer travels in one protobuf message,
// which holds at most 2 GiB; 1 GiB keeps the answer and its envelope in range.
inline constexpr int64_t kMaxResponseBytes = int64_t{1} << 30;
// server.max_in_flight: concurrent calls of one replica.
inline constexpr int kMaxInFlight = 1'000'000;
// server.max_connections_per_provider: more than a process can have file
// descriptors for by default.
inline constexpr int kMaxConnectionsPerProvider = 65'536;
// Event-loop threads for upstream I/O; more than the cores of any machine
// this runs on only adds contention.
inline constexpr int kMaxUpstreamThreads = 16;
// server.http_max_connections: file descriptors are the real bound; a
// larger number is a typo.
inline constexpr int kMaxHttpConnections = 1'000'000;

// max_attempts of any class and default_max_attempts. A request stops at 10
// attempts whatever the classes say (values above 10 are warned about); this
// only rejects numbers that can only be typos.
inline constexpr int kMaxAttempts = 100;
// default_max_tokens: far above any model's output limit, so only a typo
// (an extra digit group) is refused.
inline constexpr int64_t kMaxDefaultMaxTokens = 10'000'000;
// context_window in tokens: ten times the largest window offered today.
inline constexpr int64_t kMaxContextWindow = 100'000'000;
// retry_policy.hedge.max_hedges: each hedge is one more attempt, and a
// request stops at 10 attempts.
inline constexpr int kMaxHedges = 9;
// on_errors entries per policy (there are only nine classes).
inline constexpr size_t kMaxErrorRules = 16;

// on_high_latency.min_triggers: the server keeps up to that many timestamps
// per model or provider.
inline constexpr int kMaxMinTriggers = 1000;

// server.retry_budget. Finagle caps percentCanRetry at 1000 %: beyond ten
// retries per call the per-request attempt cap binds first anyway.
inline constexpr int kMaxRetryBudgetPercent = 1000;
// A floor of 100,000 retries a second per provider is already no limit.
inline constexpr int kMaxRetryBudgetMinRetriesPerSecond = 100'000;
// Ten minutes: a longer memory makes the budget slow to notice that a
// provider's traffic dropped, and costs a bucket per second per provider.
inline constexpr int kMaxRetryBudgetWindowSeconds = 600;

}  // namespace rebound::limits

#endif  // REBOUND_POLICY_LIMITS_H_
