#include "policy/provider_defaults.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rebound {
namespace {

// Each checked against the vendor's documentation of its OpenAI-compatible
// (or, for anthropic, Messages) API, whose base URL ends in /v1 there.
// Together documents api.together.ai (api.together.xyz is its older host).
// Gemini's endpoint is .../v1beta/openai/chat/completions: no /v1 at all.
constexpr ProviderDefaults kDefaults[] = {
    {"openai", "https://api.openai.com", ProviderInterface::kOpenAi, false},
    {"anthropic", "https://api.anthropic.com", ProviderInterface::kAnthropic, false},
    {"mistral", "https://api.mistral.ai", ProviderInterface::kOpenAi, false},
    {"groq", "https://api.groq.com/openai", ProviderInterface::kOpenAi, false},
    {"deepseek", "https://api.deepseek.com", ProviderInterface::kOpenAi, false},
    {"together", "https://api.together.ai", ProviderInterface::kOpenAi, false},
    {"together_ai", "https://api.together.ai", ProviderInterface::kOpenAi, false},
    {"fireworks", "https://api.fireworks.ai/inference", ProviderInterface::kOpenAi, false},
    {"openrouter", "https://openrouter.ai/api", ProviderInterface::kOpenAi, false},
    {"xai", "https://api.x.ai", ProviderInterface::kOpenAi, false},
    {"gemini", "https://generativelanguage.googleapis.com/v1beta/openai",
     ProviderInterface::kOpenAi, true},
};

}  // namespace

const ProviderDefaults* FindProviderDefaults(std::string_view provider) {
  for (const ProviderDefaults& d : kDefaults) {
    if (d.provider == provider) return &d;
  }
  return nullptr;
}

bool HasDefaultEndpoint(const ModelProvider& p) {
  const ProviderDefaults* d = FindProviderDefaults(p.provider);
  return d != nullptr && p.base_url == d->base_url &&
         p.strip_v1_path_prefix == d->strip_v1_path_prefix;
}

std::string ProvidersWithDefaults() {
  std::vector<std::string> names;
  for (const ProviderDefaults& d : kDefaults) names.emplace_back(d.provider);
  std::sort(names.begin(), names.end());
  const std::string last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " and ", last);
}

}  // namespace rebound
