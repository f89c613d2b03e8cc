#include "common/http_types.h"

#include <algorithm>
#include <cctype>

namespace rebound {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return Lower(x) == Lower(y); });
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view FindHeader(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

bool IsCredentialHeader(std::string_view name) {
  for (std::string_view credential : {"authorization", "proxy-authorization", "x-api-key",
                                      "api-key", "x-goog-api-key", "cookie"}) {
    if (EqualsIgnoreCase(name, credential)) return true;
  }
  return false;
}

std::string_view ToString(TimeoutKind kind) {
  switch (kind) {
    case TimeoutKind::kNone: return "none";
    case TimeoutKind::kConnect: return "connect";
    case TimeoutKind::kFirstByte: return "first_byte";
    case TimeoutKind::kIdle: return "idle";
    case TimeoutKind::kTotal: return "total";
    case TimeoutKind::kDeadline: return "deadline";
    case TimeoutKind::kRetryBudget: return "retry_budget";
  }
  return "unknown";
}

}  // namespace rebound
