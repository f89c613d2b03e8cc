// The immutable configuration model: server settings, control-plane settings
// and the model providers with their retry policies (RETRY.md section 1).
//
// A Config is built once by LoadConfig (config_loader.h), validated, and then
// shared read-only by every request through std::shared_ptr<const Config>.
// Nothing mutates it afterwards; a reload builds a new one and swaps the
// pointer.
#ifndef REBOUND_POLICY_CONFIG_H_
#define REBOUND_POLICY_CONFIG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/provider_error_class.h"

namespace rebound {

// kLargerContext (`larger_context`, an extension of plano's three): the
// first candidate of any provider whose `context_window` is larger than the
// failed model's; only for on_errors entries of context_length_exceeded.
enum class Strategy { kSameModel, kSameProvider, kDifferentProvider, kLargerContext };
enum class BlockScope { kModel, kProvider };
enum class ApplyTo { kGlobal, kRequest };
enum class BackoffApplyTo { kSameModel, kSameProvider, kGlobal };
enum class LatencyMeasure { kTtfb, kTotal };
enum class ProviderInterface { kOpenAi, kAnthropic };
// `cross_interface`: whether a failover may go to a model of the other API,
// the request and answer translated (TRANSLATION.md).
enum class CrossInterface { kTranslate, kSkip };

std::string_view ToString(Strategy s);
std::string_view ToString(CrossInterface c);
std::string_view ToString(BlockScope s);
std::string_view ToString(ApplyTo a);
std::string_view ToString(BackoffApplyTo a);
std::string_view ToString(LatencyMeasure m);
std::string_view ToString(ProviderInterface i);

// The upstream loops to run: `configured`, or with 0 one per core in
// `cores` (the process' CPU affinity), at least 1 and at most
// limits::kMaxUpstreamThreads. A loop per core is nginx's `worker_processes
// auto`: one call's work never crosses loops, so loops scale until the cores
// run out.
int ResolveUpstreamThreads(int configured, int cores);

// A class's escalation step (`then:`, an extension of plano): once the
// class's own max_attempts are spent, its next failures retry with this
// strategy, for max_attempts more attempts.
struct EscalationStep {
  Strategy strategy = Strategy::kDifferentProvider;
  int max_attempts = 1;

  bool operator==(const EscalationStep&) const = default;
};

// The strategy and attempt budget of one error class (RETRY.md 3.2).
// max_attempts counts failed attempts of the class including the first;
// with `then`, the class allows max_attempts + then->max_attempts failures.
struct ClassPolicy {
  Strategy strategy = Strategy::kDifferentProvider;
  int max_attempts = 2;
  std::optional<EscalationStep> then = std::nullopt;

  bool operator==(const ClassPolicy&) const = default;
};

// One `on_errors` entry (an extension of plano): a rule for errors the
// provider's error body names (policy/provider_error_class.h), which takes
// precedence over on_status_codes.
struct ErrorRule {
  std::vector<ProviderErrorClass> errors;
  ClassPolicy policy;
  // When set, the failed model (or its provider, block_scope) is blocked for
  // this long, like a Retry-After of that length: a spent quota stays spent.
  std::optional<int64_t> block_duration_seconds;
  BlockScope block_scope = BlockScope::kModel;

  bool operator==(const ErrorRule&) const = default;
};

// `hedge` (an extension of plano): when an attempt has sent no first byte
// (for event streams: no first answer event) after after_ms, the same request
// starts on another candidate while the first keeps running; the first to
// answer wins and the other is cancelled.
struct HedgePolicy {
  int64_t after_ms = 0;
  Strategy strategy = Strategy::kDifferentProvider;
  int max_hedges = 1;  // per call; at most two attempts ever run at once

  bool operator==(const HedgePolicy&) const = default;
};

// One `on_status_codes` entry; codes are expanded ("500-504" -> 5 codes).
struct StatusCodeRule {
  std::vector<int> codes;
  ClassPolicy policy;

  bool operator==(const StatusCodeRule&) const = default;
};

struct HighLatencyPolicy {
  int64_t threshold_ms = 0;
  LatencyMeasure measure = LatencyMeasure::kTtfb;
  int min_triggers = 1;
  int64_t trigger_window_seconds = 60;
  ClassPolicy policy;
  int64_t block_duration_seconds = 300;
  BlockScope scope = BlockScope::kModel;
  ApplyTo apply_to = ApplyTo::kGlobal;

  bool operator==(const HighLatencyPolicy&) const = default;
};

struct BackoffPolicy {
  BackoffApplyTo apply_to = BackoffApplyTo::kGlobal;
  int64_t base_ms = 100;
  int64_t max_ms = 5000;
  bool jitter = true;

  bool operator==(const BackoffPolicy&) const = default;
};

struct RetryAfterPolicy {
  BlockScope scope = BlockScope::kModel;
  ApplyTo apply_to = ApplyTo::kGlobal;
  int64_t max_retry_after_seconds = 300;
  // An extension of plano: a failure whose Retry-After (or the same model's
  // remaining block) is at most this long is retried on the same model after
  // waiting it out, whatever its class's strategy; a longer one follows the
  // strategy. Absent: plano's behaviour.
  std::optional<int64_t> same_model_max_wait_ms = std::nullopt;

  bool operator==(const RetryAfterPolicy&) const = default;
};

// A model's `retry_policy`. Immutable after loading.
struct RetryPolicy {
  std::vector<std::string> fallback_models;
  Strategy default_strategy = Strategy::kDifferentProvider;
  int default_max_attempts = 2;
  std::vector<StatusCodeRule> on_status_codes;
  std::vector<ErrorRule> on_errors;
  // `on_timeout`; when absent in YAML, the defaults above.
  ClassPolicy on_timeout;
  std::optional<HighLatencyPolicy> on_high_latency;
  std::optional<BackoffPolicy> backoff;
  RetryAfterPolicy retry_after;
  std::optional<int64_t> max_retry_duration_ms;
  CrossInterface cross_interface = CrossInterface::kTranslate;
  std::optional<HedgePolicy> hedge;

  // The first `on_status_codes` entry listing `code`, or nullptr.
  const StatusCodeRule* RuleForStatus(int code) const;
  // The first `on_errors` entry listing `error`, or nullptr (always for kNone).
  const ErrorRule* RuleForError(ProviderErrorClass error) const;

  bool operator==(const RetryPolicy&) const = default;
};

// Per-provider upstream timeouts (RETRY.md 3.4), milliseconds.
struct Timeouts {
  int64_t connect_ms = 5000;
  int64_t first_byte_ms = 60000;
  int64_t idle_ms = 30000;
  std::optional<int64_t> total_ms;

  bool operator==(const Timeouts&) const = default;
};

// One `model_providers` entry.
struct ModelProvider {
  std::string model_id;    // "provider/model"
  std::string provider;    // text before the first '/'
  std::string bare_model;  // text after it
  std::string base_url;    // without trailing '/'
  // Internal, not a YAML key: drop the caller's leading "/v1" before its
  // path is appended to base_url. Set only by the gemini base_url default
  // (policy/provider_defaults.h): Google's OpenAI-compatible endpoint is
  // .../v1beta/openai/chat/completions, which no base_url followed by
  // "/v1/chat/completions" can spell.
  bool strip_v1_path_prefix = false;
  // Resolved credential. Secret: never log, export or return it.
  std::string access_key;
  // `access_key` as written in the file ("$VAR", "${VAR}" or a literal).
  std::string access_key_source;
  ProviderInterface interface = ProviderInterface::kOpenAi;
  bool passthrough_auth = false;
  // `max_tokens` sent to this (Anthropic) model when a translated OpenAI
  // request set none: Anthropic requires it, OpenAI does not.
  int64_t default_max_tokens = 4096;
  // The model's context window in tokens, for the larger_context strategy;
  // 0: not configured (never chosen by larger_context).
  int64_t context_window = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  bool is_default = false;
  Timeouts timeouts;
  // PEM roots that verify this provider's TLS certificate (a private CA);
  // empty: the system's roots.
  std::string tls_ca_file;
  std::optional<RetryPolicy> retry_policy;  // absent: no retries
  int line = 0;                             // YAML line of the entry

  // Compares the configuration only: `line` records where the entry was
  // written, so the same provider loaded from two files still compares equal.
  bool operator==(const ModelProvider& other) const;
};

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // when set, client certificates are required

  bool operator==(const TlsFiles&) const = default;
};

// `server.retry_budget`: Finagle/Envoy-style protection against retry
// storms (retry/retry_budget.h). Per provider and per replica process: over
// the last `window_seconds`, retries sent to a provider may not exceed
// min_retries_per_second * window_seconds + percent/100 * its first attempts.
// On by default with Finagle's numbers.
struct RetryBudgetSettings {
  bool enabled = true;
  int percent = 20;                 // 0..1000: share of recent first attempts
  int min_retries_per_second = 10;  // >= 0: the floor, so a quiet provider can still be retried
  int window_seconds = 10;          // 1..600

  bool operator==(const RetryBudgetSettings&) const = default;
};

struct ServerSettings {
  std::string listen_address = "127.0.0.1:50051";
  std::string metrics_address = "127.0.0.1:9464";
  int64_t max_body_bytes = 8 << 20;
  // The largest successful answer buffered for a caller (unary answers, and
  // streaming calls whose provider answered with a plain body). Past it the
  // call ends with RESOURCE_EXHAUSTED and is not retried: another provider
  // would bill the same large answer again.
  int64_t max_response_bytes = 64 << 20;
  // How long a streaming caller may leave its queue full (not reading)
  // before the call ends with RESOURCE_EXHAUSTED and the upstream transfer
  // and its connection slot are released. While paused the upstream's idle
  // timeout does not run, so without this bound a caller that stops reading
  // would hold a connection slot forever.
  int64_t stream_pause_timeout_ms = 30000;
  int max_in_flight = 4096;
  int max_connections_per_provider = 256;
  int64_t drain_grace_ms = 30000;
  // Event-loop threads for upstream I/O and the front door; 0: one per core
  // the process may run on (ResolveUpstreamThreads).
  int upstream_threads = 0;
  // The HTTP front door (OpenAI and Anthropic APIs); empty: off. Served by
  // the upstream threads, with `tls` as for gRPC.
  std::string http_listen;
  int http_max_connections = 10000;
  // A keep-alive connection with no request in progress is closed after this.
  int64_t http_idle_timeout_ms = 60000;
  // A request must arrive whole (headers and body) within this of its first
  // byte (or of the connection's accept): the slowloris bound.
  int64_t http_request_timeout_ms = 30000;
  TlsFiles tls;
  RetryBudgetSettings retry_budget;
  // `server.hedge_budget`: hedges (retry_policy.hedge) may not exceed this
  // share of the recent calls whose policy hedges, plus the floor
  // (min_retries_per_second is `min_hedges_per_second` in YAML). Per
  // replica; since each replica bounds its own calls, the fleet's hedges stay
  // within the same share of the fleet's calls (plus one floor per replica).
  RetryBudgetSettings hedge_budget{true, 10, 1, 10};
  // Bearer tokens callers of Gateway must present (one per line); empty:
  // Gateway is open. Read at start and on every reload.
  std::string auth_token_file;

  bool operator==(const ServerSettings&) const = default;
};

struct ControlPlaneSettings {
  std::vector<std::string> addresses;  // empty: run alone (embedded default)
  std::string replica_id;              // empty: hostname:port
  std::string token_file;
  std::string ca_file;  // TLS to the control plane when set
  // This replica's client certificate and key (mTLS); both or neither, and
  // only with ca_file.
  std::string cert_file;
  std::string key_file;
  // The environment variables a pushed policy's access_key may read
  // (LoadOptions::allowed_env); empty: a pushed policy expands none.
  std::vector<std::string> allowed_env;

  bool operator==(const ControlPlaneSettings&) const = default;
};

struct Config {
  std::string source;  // file name, for messages
  ServerSettings server;
  ControlPlaneSettings control_plane;
  std::vector<ModelProvider> providers;  // configuration order

  // The provider with this model id, or nullptr.
  const ModelProvider* Find(std::string_view model_id) const;
  // The `default: true` provider, or nullptr.
  const ModelProvider* Default() const;

  // Compares the configuration only, not `source` (where it was read from).
  bool operator==(const Config& other) const;
};

}  // namespace rebound

#endif  // REBOUND_POLICY_CONFIG_H_
