#include "policy/config_yaml.h"

#include <yaml-cpp/yaml.h>

#include <string_view>

#include "absl/strings/str_cat.h"
#include "policy/provider_defaults.h"

namespace rebound {
namespace {

// Strings are always double-quoted: yaml-cpp writes "true", "123" or "null"
// plain, and those would load back as other types.
void Str(YAML::Emitter& out, std::string_view key, const std::string& value) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::DoubleQuoted << value;
}

template <typename T>
void Val(YAML::Emitter& out, std::string_view key, const T& value) {
  out << YAML::Key << std::string(key) << YAML::Value << value;
}

void Enum(YAML::Emitter& out, std::string_view key, std::string_view value) {
  out << YAML::Key << std::string(key) << YAML::Value << std::string(value);
}

void OptionalStr(YAML::Emitter& out, std::string_view key, const std::string& value) {
  if (!value.empty()) Str(out, key, value);
}

void WriteClass(YAML::Emitter& out, const ClassPolicy& c) {
  Enum(out, "strategy", ToString(c.strategy));
  Val(out, "max_attempts", c.max_attempts);
  if (c.then) {
    out << YAML::Key << "then" << YAML::Value << YAML::BeginMap;
    Enum(out, "strategy", ToString(c.then->strategy));
    Val(out, "max_attempts", c.then->max_attempts);
    out << YAML::EndMap;
  }
}

void WriteBudget(YAML::Emitter& out, std::string_view key, std::string_view floor_key,
                 const RetryBudgetSettings& b) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  Val(out, "enabled", b.enabled);
  Val(out, "percent", b.percent);
  Val(out, floor_key, b.min_retries_per_second);
  Val(out, "window_seconds", b.window_seconds);
  out << YAML::EndMap;
}

// [429, 430, ..., 450, 526] -> [429, "430-450", 526]; expanding the result
// gives back exactly `codes`, order included.
void WriteCodes(YAML::Emitter& out, const std::vector<int>& codes) {
  out << YAML::Key << "codes" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  size_t i = 0;
  while (i < codes.size()) {
    size_t j = i;
    while (j + 1 < codes.size() && codes[j + 1] == codes[j] + 1) ++j;
    if (j - i >= 2) {
      out << YAML::DoubleQuoted << absl::StrCat(codes[i], "-", codes[j]);
    } else {
      for (size_t k = i; k <= j; ++k) out << codes[k];
    }
    i = j + 1;
  }
  out << YAML::EndSeq;
}

void WriteRetryPolicy(YAML::Emitter& out, const RetryPolicy& p) {
  out << YAML::Key << "retry_policy" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "fallback_models" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const std::string& m : p.fallback_models) out << YAML::DoubleQuoted << m;
  out << YAML::EndSeq;
  Enum(out, "default_strategy", ToString(p.default_strategy));
  Val(out, "default_max_attempts", p.default_max_attempts);
  out << YAML::Key << "on_status_codes" << YAML::Value;
  if (p.on_status_codes.empty()) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const StatusCodeRule& rule : p.on_status_codes) {
    out << YAML::BeginMap;
    WriteCodes(out, rule.codes);
    WriteClass(out, rule.policy);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (!p.on_errors.empty()) {
    out << YAML::Key << "on_errors" << YAML::Value << YAML::BeginSeq;
    for (const ErrorRule& rule : p.on_errors) {
      out << YAML::BeginMap;
      out << YAML::Key << "errors" << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (ProviderErrorClass e : rule.errors) out << std::string(ToString(e));
      out << YAML::EndSeq;
      WriteClass(out, rule.policy);
      if (rule.block_duration_seconds) {
        Val(out, "block_duration_seconds", *rule.block_duration_seconds);
        Enum(out, "block_scope", ToString(rule.block_scope));
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::Key << "on_timeout" << YAML::Value << YAML::BeginMap;
  WriteClass(out, p.on_timeout);
  out << YAML::EndMap;
  if (p.on_high_latency) {
    const HighLatencyPolicy& h = *p.on_high_latency;
    out << YAML::Key << "on_high_latency" << YAML::Value << YAML::BeginMap;
    Val(out, "threshold_ms", h.threshold_ms);
    Enum(out, "measure", ToString(h.measure));
    Val(out, "min_triggers", h.min_triggers);
    Val(out, "trigger_window_seconds", h.trigger_window_seconds);
    WriteClass(out, h.policy);
    Val(out, "block_duration_seconds", h.block_duration_seconds);
    Enum(out, "scope", ToString(h.scope));
    Enum(out, "apply_to", ToString(h.apply_to));
    out << YAML::EndMap;
  }
  if (p.backoff) {
    out << YAML::Key << "backoff" << YAML::Value << YAML::BeginMap;
    Enum(out, "apply_to", ToString(p.backoff->apply_to));
    Val(out, "base_ms", p.backoff->base_ms);
    Val(out, "max_ms", p.backoff->max_ms);
    Val(out, "jitter", p.backoff->jitter);
    out << YAML::EndMap;
  }
  out << YAML::Key << "retry_after_handling" << YAML::Value << YAML::BeginMap;
  Enum(out, "scope", ToString(p.retry_after.scope));
  Enum(out, "apply_to", ToString(p.retry_after.apply_to));
  Val(out, "max_retry_after_seconds", p.retry_after.max_retry_after_seconds);
  if (p.retry_after.same_model_max_wait_ms) {
    Val(out, "same_model_max_wait_ms", *p.retry_after.same_model_max_wait_ms);
  }
  out << YAML::EndMap;
  if (p.max_retry_duration_ms) Val(out, "max_retry_duration_ms", *p.max_retry_duration_ms);
  Enum(out, "cross_interface", ToString(p.cross_interface));
  if (p.hedge) {
    out << YAML::Key << "hedge" << YAML::Value << YAML::BeginMap;
    Val(out, "after_ms", p.hedge->after_ms);
    Enum(out, "strategy", ToString(p.hedge->strategy));
    Val(out, "max_hedges", p.hedge->max_hedges);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void WriteProvider(YAML::Emitter& out, const ModelProvider& p) {
  out << YAML::BeginMap;
  Str(out, "model", p.model_id);
  // A default endpoint is left to the default: the gemini default drops the
  // caller's /v1, which no YAML key says, so writing its URL would load as
  // a different provider.
  if (!HasDefaultEndpoint(p)) Str(out, "base_url", p.base_url);
  OptionalStr(out, "access_key", p.access_key_source);
  Enum(out, "provider_interface", ToString(p.interface));
  Val(out, "passthrough_auth", p.passthrough_auth);
  Val(out, "default_max_tokens", p.default_max_tokens);
  if (p.context_window > 0) Val(out, "context_window", p.context_window);
  Val(out, "default", p.is_default);
  out << YAML::Key << "headers" << YAML::Value;
  if (p.headers.empty()) out << YAML::Flow;
  out << YAML::BeginMap;
  for (const auto& [name, value] : p.headers) Str(out, name, value);
  out << YAML::EndMap;
  out << YAML::Key << "timeouts" << YAML::Value << YAML::BeginMap;
  Val(out, "connect_ms", p.timeouts.connect_ms);
  Val(out, "first_byte_ms", p.timeouts.first_byte_ms);
  Val(out, "idle_ms", p.timeouts.idle_ms);
  if (p.timeouts.total_ms) Val(out, "total_ms", *p.timeouts.total_ms);
  out << YAML::EndMap;
  OptionalStr(out, "tls_ca_file", p.tls_ca_file);
  if (p.retry_policy) WriteRetryPolicy(out, *p.retry_policy);
  out << YAML::EndMap;
}

}  // namespace

std::string ToYaml(const Config& config) {
  YAML::Emitter out;
  out.SetBoolFormat(YAML::TrueFalseBool);
  out << YAML::BeginMap;

  const ServerSettings& s = config.server;
  out << YAML::Key << "server" << YAML::Value << YAML::BeginMap;
  Str(out, "listen", s.listen_address);
  Str(out, "metrics_listen", s.metrics_address);
  Val(out, "max_body_bytes", s.max_body_bytes);
  Val(out, "max_response_bytes", s.max_response_bytes);
  Val(out, "stream_pause_timeout_ms", s.stream_pause_timeout_ms);
  Val(out, "max_in_flight", s.max_in_flight);
  Val(out, "max_connections_per_provider", s.max_connections_per_provider);
  Val(out, "drain_grace_ms", s.drain_grace_ms);
  Val(out, "upstream_threads", s.upstream_threads);
  OptionalStr(out, "http_listen", s.http_listen);
  Val(out, "http_max_connections", s.http_max_connections);
  Val(out, "http_idle_timeout_ms", s.http_idle_timeout_ms);
  Val(out, "http_request_timeout_ms", s.http_request_timeout_ms);
  if (!s.tls.cert_file.empty() || !s.tls.key_file.empty() || !s.tls.client_ca_file.empty()) {
    out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
    OptionalStr(out, "cert_file", s.tls.cert_file);
    OptionalStr(out, "key_file", s.tls.key_file);
    OptionalStr(out, "client_ca_file", s.tls.client_ca_file);
    out << YAML::EndMap;
  }
  WriteBudget(out, "retry_budget", "min_retries_per_second", s.retry_budget);
  WriteBudget(out, "hedge_budget", "min_hedges_per_second", s.hedge_budget);
  OptionalStr(out, "auth_token_file", s.auth_token_file);
  out << YAML::EndMap;

  const ControlPlaneSettings& c = config.control_plane;
  out << YAML::Key << "control_plane" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "addresses" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const std::string& a : c.addresses) out << YAML::DoubleQuoted << a;
  out << YAML::EndSeq;
  OptionalStr(out, "replica_id", c.replica_id);
  OptionalStr(out, "token_file", c.token_file);
  OptionalStr(out, "ca_file", c.ca_file);
  OptionalStr(out, "cert_file", c.cert_file);
  OptionalStr(out, "key_file", c.key_file);
  if (!c.allowed_env.empty()) {
    out << YAML::Key << "allowed_env" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& name : c.allowed_env) out << name;
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;

  out << YAML::Key << "model_providers" << YAML::Value << YAML::BeginSeq;
  for (const ModelProvider& p : config.providers) WriteProvider(out, p);
  out << YAML::EndSeq;

  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace rebound
