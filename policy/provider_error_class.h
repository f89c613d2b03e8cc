// What a provider said went wrong, as a small fixed set of classes: the
// vocabulary of `on_errors` in a retry policy, of attempt records, the
// exhaustion JSON, log lines and the rebound_provider_errors_total metric.
// The classifier that reads provider error bodies into a class is
// translate/provider_error.h; this header is only the names, so that the
// configuration and the retry engine need no JSON parser.
#ifndef REBOUND_POLICY_PROVIDER_ERROR_CLASS_H_
#define REBOUND_POLICY_PROVIDER_ERROR_CLASS_H_

#include <optional>
#include <string_view>

namespace rebound {

enum class ProviderErrorClass {
  kNone,                   // no provider error (a success, a timeout, a transport failure)
  kContextLengthExceeded,  // the prompt (plus max_tokens) does not fit the model's window
  kContentFilter,          // the provider's content policy refused the prompt or the answer
  kQuotaExhausted,         // the account's quota or credit is spent: waiting does not help
  kRateLimited,            // slow down: requests or tokens per minute
  kOverloaded,             // the provider is overloaded (Anthropic 529, OpenAI "overloaded")
  kServerError,            // another 5xx
  kInvalidRequest,         // another 4xx about the request itself
  kAuthentication,         // 401 / 403: the key or its permissions
  kNotFound,               // 404: unknown model or path
};

// "context_length_exceeded", "content_filter", ...; "" for kNone.
std::string_view ToString(ProviderErrorClass c);
// The class named `name` (never kNone), or nullopt.
std::optional<ProviderErrorClass> ProviderErrorClassFromString(std::string_view name);

// Every class but kNone, in declaration order (for validation messages).
inline constexpr ProviderErrorClass kAllProviderErrorClasses[] = {
    ProviderErrorClass::kContextLengthExceeded, ProviderErrorClass::kContentFilter,
    ProviderErrorClass::kQuotaExhausted,        ProviderErrorClass::kRateLimited,
    ProviderErrorClass::kOverloaded,            ProviderErrorClass::kServerError,
    ProviderErrorClass::kInvalidRequest,        ProviderErrorClass::kAuthentication,
    ProviderErrorClass::kNotFound,
};

}  // namespace rebound

#endif  // REBOUND_POLICY_PROVIDER_ERROR_CLASS_H_
