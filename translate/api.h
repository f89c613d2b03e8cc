// Which of the two chat APIs a request speaks, and whether rebound can
// translate between them (../shared/spec/TRANSLATION.md).
#ifndef REBOUND_TRANSLATE_API_H_
#define REBOUND_TRANSLATE_API_H_

#include <string_view>

#include "policy/config.h"

namespace rebound::translate {

enum class Api {
  kOpenAiChat,         // POST /v1/chat/completions
  kAnthropicMessages,  // POST /v1/messages
  kOther,              // any other path: never translated
};

// The caller's API, named by its request path.
Api ApiOfPath(std::string_view path);
// The API a provider speaks.
Api ApiOf(ProviderInterface interface);
// The path of `api` on a provider (kOther has none).
std::string_view PathOf(Api api);
std::string_view ToString(Api api);  // "openai", "anthropic", "other"

}  // namespace rebound::translate

#endif  // REBOUND_TRANSLATE_API_H_
