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

// Event-loop threads for upstream I/O; more than the cores of any machine
// this runs on only adds contention.
inline constexpr int kMaxUpstreamThreads = 16;

}  // namespace rebound::limits

#endif  // REBOUND_POLICY_LIMITS_H_
