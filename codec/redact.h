// Keeps credentials out of everything rebound returns or logs (ARCHITECTURE.md,
// "Security"): upstream error bodies and headers go back to callers in
// ErrorDetail and into log previews, and providers echo keys in them (OpenAI's
// 401 says "Incorrect API key provided: sk-...").
#ifndef REBOUND_CODEC_REDACT_H_
#define REBOUND_CODEC_REDACT_H_

#include <string>
#include <string_view>
#include <vector>

#include "policy/config.h"

namespace rebound {

inline constexpr std::string_view kRedacted = "[redacted]";

// Replaces, in `text`:
//  - every occurrence of each of `secrets` (secrets shorter than
//    kMinSecretBytes are ignored: they would redact ordinary words);
//  - tokens that look like provider keys whoever they belong to: "sk-"
//    followed by 16 or more key characters (OpenAI, Anthropic "sk-ant-",
//    OpenRouter "sk-or-"), and Google's "AIza" followed by 35;
//  - the credential after "Bearer " (any case) when it is 8 or more
//    characters.
// Key characters are ASCII letters, digits, '-' and '_'. Pure.
std::string Redact(std::string_view text, const std::vector<std::string>& secrets);

inline constexpr size_t kMinSecretBytes = 4;

// Every configured credential of `config`: access keys, and the values of
// configured credential headers (authorization, x-api-key, api-key, ...)
// with the token after a scheme ("Bearer t" -> also "t"), for Redact.
std::vector<std::string> ConfiguredSecrets(const Config& config);

}  // namespace rebound

#endif  // REBOUND_CODEC_REDACT_H_
