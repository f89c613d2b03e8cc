#include "translate/provider_error.h"

#include <array>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "translate/json.h"

namespace rebound {
namespace {

using translate::Find;
using translate::Value;
using translate::View;
using C = ProviderErrorClass;

// Debian's Abseil has its own string_view class.
absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

struct Signal {
  std::string_view text;
  ProviderErrorClass error_class;
};

// The tables of provider_error.h, in the order they are tried.
constexpr Signal kSpecificCodes[] = {
    {"context_length_exceeded", C::kContextLengthExceeded},
    {"content_filter", C::kContentFilter},
    {"content_policy_violation", C::kContentFilter},
    {"invalid_prompt", C::kContentFilter},
    {"ResponsibleAIPolicyViolation", C::kContentFilter},
    {"insufficient_quota", C::kQuotaExhausted},
    {"billing_hard_limit_reached", C::kQuotaExhausted},
    {"billing_error", C::kQuotaExhausted},
    {"enforced_spend_limit_reached", C::kQuotaExhausted},
    {"rate_limit_exceeded", C::kRateLimited},
    {"rate_limit_error", C::kRateLimited},
    {"requests", C::kRateLimited},
    {"tokens", C::kRateLimited},
    {"overloaded_error", C::kOverloaded},
    {"engine_overloaded_error", C::kOverloaded},
    {"server_is_overloaded", C::kOverloaded},
    {"authentication_error", C::kAuthentication},
    {"permission_error", C::kAuthentication},
    {"invalid_api_key", C::kAuthentication},
    {"not_found_error", C::kNotFound},
    {"model_not_found", C::kNotFound},
};

// Lower case: they are matched against the lowered message.
constexpr Signal kSpecificMessages[] = {
    {"maximum context length", C::kContextLengthExceeded},
    {"context_length_exceeded", C::kContextLengthExceeded},
    {"context window", C::kContextLengthExceeded},
    {"prompt is too long", C::kContextLengthExceeded},
    {"exceed context limit", C::kContextLengthExceeded},
    {"content filtering", C::kContentFilter},
    {"content management policy", C::kContentFilter},
    {"credit balance is too low", C::kQuotaExhausted},
    {"exceeded your current quota", C::kQuotaExhausted},
    {"reached your specified api usage limits", C::kQuotaExhausted},
    {"overloaded", C::kOverloaded},
};

constexpr Signal kGenericCodes[] = {
    {"server_error", C::kServerError},
    {"api_error", C::kServerError},
    {"invalid_request_error", C::kInvalidRequest},
    {"request_too_large", C::kInvalidRequest},
};

// What one error object says: its codes (see the header for which members)
// and its message. Empty views for members that are absent or not strings.
struct ErrorFields {
  std::array<std::string_view, 4> codes;
  std::string_view message;
};

// StringOr for a member lookup that may have found nothing.
std::string_view StringAt(const Value* object, const char* key) {
  return object == nullptr ? std::string_view() : translate::StringOr(*object, key);
}

// The error object of a parsed body, or false when the body has none:
// `error` (OpenAI, Anthropic), else `response.error` (Responses'
// response.failed), else the body itself when its type is "error"
// (Responses' error event carries code and message at the top).
bool FieldsOf(const Value& body, ErrorFields* out) {
  if (!body.IsObject()) return false;
  const Value* error = Find(body, "error");
  if (error != nullptr && error->IsString()) {
    out->message = View(*error);
    return true;
  }
  if (error == nullptr || !error->IsObject()) {
    const Value* response = Find(body, "response");
    error = response != nullptr ? Find(*response, "error") : nullptr;
  }
  if (error == nullptr || !error->IsObject()) {
    if (StringAt(&body, "type") != "error") return false;
    error = &body;
  }
  out->codes = {StringAt(error, "code"), StringAt(error, "type"),
                StringAt(Find(*error, "details"), "error_code"),
                StringAt(Find(*error, "innererror"), "code")};
  out->message = StringAt(error, "message");
  return true;
}

C MatchCodes(const ErrorFields& fields, const auto& table) {
  for (const Signal& s : table) {
    for (std::string_view code : fields.codes) {
      if (!code.empty() && absl::EqualsIgnoreCase(Absl(code), Absl(s.text))) {
        return s.error_class;
      }
    }
  }
  return C::kNone;
}

C MatchMessage(std::string_view message) {
  if (message.empty()) return C::kNone;
  const std::string lowered = absl::AsciiStrToLower(Absl(message));
  for (const Signal& s : kSpecificMessages) {
    if (absl::StrContains(lowered, Absl(s.text))) return s.error_class;
  }
  return C::kNone;
}

// What a body says: its specific class, and separately its generic one.
struct BodyClass {
  C specific = C::kNone;
  C generic = C::kNone;
};

BodyClass ClassifyBody(std::string_view body) {
  translate::Document doc;
  ErrorFields fields;
  if (!translate::ParseBounded(body, &doc) || !FieldsOf(doc, &fields)) return {};
  BodyClass out;
  out.specific = MatchCodes(fields, kSpecificCodes);
  if (out.specific == C::kNone) out.specific = MatchMessage(fields.message);
  out.generic = MatchCodes(fields, kGenericCodes);
  return out;
}

C ClassOfStatus(int status) {
  switch (status) {
    case 401:
    case 403: return C::kAuthentication;
    case 402: return C::kQuotaExhausted;
    case 404: return C::kNotFound;
    case 429: return C::kRateLimited;
    case 503:
    case 529: return C::kOverloaded;
  }
  if (status >= 500) return C::kServerError;
  if (status >= 400) return C::kInvalidRequest;
  return C::kNone;
}

}  // namespace

ProviderErrorClass ClassifyErrorAnswer(int http_status, std::string_view body) {
  const BodyClass said = ClassifyBody(body);
  if (said.specific != C::kNone) return said.specific;
  const C by_status = ClassOfStatus(http_status);
  return by_status != C::kNone ? by_status : said.generic;
}

ProviderErrorClass ClassifyStreamError(std::string_view data) {
  const BodyClass said = ClassifyBody(data);
  if (said.specific != C::kNone) return said.specific;
  return said.generic != C::kNone ? said.generic : C::kServerError;
}

ProviderErrorClass ClassifyRefusal(std::string_view body) {
  translate::Document doc;
  if (!translate::ParseBounded(body, &doc) || !doc.IsObject()) return C::kNone;
  if (const Value* choices = Find(doc, "choices"); choices != nullptr && choices->IsArray()) {
    for (const Value& choice : choices->GetArray()) {
      if (StringAt(&choice, "finish_reason") == "content_filter") return C::kContentFilter;
    }
  }
  return StringAt(&doc, "stop_reason") == "refusal" ? C::kContentFilter : C::kNone;
}

}  // namespace rebound
