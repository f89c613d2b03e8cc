#include "translate/api.h"

namespace rebound::translate {

Api ApiOfPath(std::string_view path) {
  if (size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (path == "/v1/chat/completions") return Api::kOpenAiChat;
  if (path == "/v1/messages") return Api::kAnthropicMessages;
  return Api::kOther;
}

Api ApiOf(ProviderInterface interface) {
  return interface == ProviderInterface::kAnthropic ? Api::kAnthropicMessages : Api::kOpenAiChat;
}

std::string_view PathOf(Api api) {
  switch (api) {
    case Api::kOpenAiChat: return "/v1/chat/completions";
    case Api::kAnthropicMessages: return "/v1/messages";
    case Api::kOther: break;
  }
  return "";
}

std::string_view ToString(Api api) {
  switch (api) {
    case Api::kOpenAiChat: return "openai";
    case Api::kAnthropicMessages: return "anthropic";
    case Api::kOther: break;
  }
  return "other";
}

}  // namespace rebound::translate
