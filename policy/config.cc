#include "policy/config.h"

#include <algorithm>

#include "policy/limits.h"

namespace rebound {

// The spellings below are the YAML spellings: the loader parses them and
// ToYaml writes them, so a change here is a change of the file format.

std::string_view ToString(CrossInterface c) {
  return c == CrossInterface::kSkip ? "skip" : "translate";
}

int ResolveUpstreamThreads(int configured, int cores) {
  if (configured > 0) return configured;
  return std::clamp(cores, 1, limits::kMaxUpstreamThreads);
}

std::string_view ToString(Strategy s) {
  switch (s) {
    case Strategy::kSameModel:
      return "same_model";
    case Strategy::kSameProvider:
      return "same_provider";
    case Strategy::kDifferentProvider:
      return "different_provider";
    case Strategy::kLargerContext:
      return "larger_context";
  }
  return "unknown";
}

std::string_view ToString(BlockScope s) {
  switch (s) {
    case BlockScope::kModel:
      return "model";
    case BlockScope::kProvider:
      return "provider";
  }
  return "unknown";
}

std::string_view ToString(ApplyTo a) {
  switch (a) {
    case ApplyTo::kGlobal:
      return "global";
    case ApplyTo::kRequest:
      return "request";
  }
  return "unknown";
}

std::string_view ToString(BackoffApplyTo a) {
  switch (a) {
    case BackoffApplyTo::kSameModel:
      return "same_model";
    case BackoffApplyTo::kSameProvider:
      return "same_provider";
    case BackoffApplyTo::kGlobal:
      return "global";
  }
  return "unknown";
}

std::string_view ToString(LatencyMeasure m) {
  switch (m) {
    case LatencyMeasure::kTtfb:
      return "ttfb";
    case LatencyMeasure::kTotal:
      return "total";
  }
  return "unknown";
}

std::string_view ToString(ProviderInterface i) {
  switch (i) {
    case ProviderInterface::kOpenAi:
      return "openai";
    case ProviderInterface::kAnthropic:
      return "anthropic";
  }
  return "unknown";
}

const StatusCodeRule* RetryPolicy::RuleForStatus(int code) const {
  // A handful of rules with a few codes each: a linear scan is cheaper than
  // building an index, and it keeps "the first entry wins" obvious.
  for (const StatusCodeRule& rule : on_status_codes) {
    if (std::find(rule.codes.begin(), rule.codes.end(), code) != rule.codes.end()) {
      return &rule;
    }
  }
  return nullptr;
}

const ErrorRule* RetryPolicy::RuleForError(ProviderErrorClass error) const {
  if (error == ProviderErrorClass::kNone) return nullptr;
  for (const ErrorRule& rule : on_errors) {
    if (std::find(rule.errors.begin(), rule.errors.end(), error) != rule.errors.end()) {
      return &rule;
    }
  }
  return nullptr;
}

bool ModelProvider::operator==(const ModelProvider& other) const {
  return model_id == other.model_id && provider == other.provider &&
         bare_model == other.bare_model && base_url == other.base_url &&
         strip_v1_path_prefix == other.strip_v1_path_prefix &&
         access_key == other.access_key && access_key_source == other.access_key_source &&
         interface == other.interface && passthrough_auth == other.passthrough_auth &&
         default_max_tokens == other.default_max_tokens &&
         context_window == other.context_window && headers == other.headers && is_default == other.is_default && timeouts == other.timeouts &&
         tls_ca_file == other.tls_ca_file && retry_policy == other.retry_policy;
}

const ModelProvider* Config::Find(std::string_view model_id) const {
  for (const ModelProvider& p : providers) {
    if (p.model_id == model_id) return &p;
  }
  return nullptr;
}

const ModelProvider* Config::Default() const {
  for (const ModelProvider& p : providers) {
    if (p.is_default) return &p;
  }
  return nullptr;
}

bool Config::operator==(const Config& other) const {
  return server == other.server && control_plane == other.control_plane &&
         providers == other.providers;
}

}  // namespace rebound
