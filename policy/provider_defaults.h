// The public endpoints of well-known providers: what a model_providers entry
// gets when it names no base_url. plano's schema requires only `model`, so
// `- model: openai/gpt-4o` with an access_key is a complete plano entry.
//
// rebound appends the caller's path (/v1/chat/completions, /v1/messages) to
// base_url, so these are written without /v1.
#ifndef REBOUND_POLICY_PROVIDER_DEFAULTS_H_
#define REBOUND_POLICY_PROVIDER_DEFAULTS_H_

#include <string>
#include <string_view>

#include "policy/config.h"

namespace rebound {

struct ProviderDefaults {
  std::string_view provider;  // the text before '/' in a model id
  std::string_view base_url;
  ProviderInterface interface;
  // See ModelProvider::strip_v1_path_prefix; true for gemini only.
  bool strip_v1_path_prefix;
};

// The defaults for `provider`, or nullptr when rebound knows none.
const ProviderDefaults* FindProviderDefaults(std::string_view provider);

// Whether `p`'s endpoint is exactly what its provider's default gives, so
// that writing it back without base_url loads the same provider (ToYaml).
bool HasDefaultEndpoint(const ModelProvider& p);

// The providers that have defaults, sorted: "anthropic, deepseek, ... and xai".
std::string ProvidersWithDefaults();

}  // namespace rebound

#endif  // REBOUND_POLICY_PROVIDER_DEFAULTS_H_
