// Small ASCII helpers on std::string_view. Debian 12's Abseil is built with
// its own absl::string_view class (ABSL_OPTION_USE_STD_STRING_VIEW is 0), so
// absl's string functions do not take std::string_view; these cover what the
// fake needs without a conversion at every call.
#ifndef REBOUND_TESTS_FAKEPROVIDER_TEXT_UTIL_H_
#define REBOUND_TESTS_FAKEPROVIDER_TEXT_UTIL_H_

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace rebound::fake {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline std::string_view TrimAsciiWhitespace(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits on every occurrence of `separator` (non-empty); always returns at
// least one piece.
inline std::vector<std::string_view> SplitOn(std::string_view s, std::string_view separator) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(separator, start);
    if (at == std::string_view::npos) break;
    pieces.push_back(s.substr(start, at - start));
    start = at + separator.size();
  }
  pieces.push_back(s.substr(start));
  return pieces;
}

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_TEXT_UTIL_H_
