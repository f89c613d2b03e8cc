#include "policy/provider_error_class.h"

namespace rebound {

std::string_view ToString(ProviderErrorClass c) {
  switch (c) {
    case ProviderErrorClass::kNone: return "";
    case ProviderErrorClass::kContextLengthExceeded: return "context_length_exceeded";
    case ProviderErrorClass::kContentFilter: return "content_filter";
    case ProviderErrorClass::kQuotaExhausted: return "quota_exhausted";
    case ProviderErrorClass::kRateLimited: return "rate_limited";
    case ProviderErrorClass::kOverloaded: return "overloaded";
    case ProviderErrorClass::kServerError: return "server_error";
    case ProviderErrorClass::kInvalidRequest: return "invalid_request";
    case ProviderErrorClass::kAuthentication: return "authentication";
    case ProviderErrorClass::kNotFound: return "not_found";
  }
  return "";
}

std::optional<ProviderErrorClass> ProviderErrorClassFromString(std::string_view name) {
  for (ProviderErrorClass c : kAllProviderErrorClasses) {
    if (ToString(c) == name) return c;
  }
  return std::nullopt;
}

}  // namespace rebound
