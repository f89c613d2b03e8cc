#include "auth/bearer_tokens.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/files.h"

namespace rebound {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

absl::StatusOr<std::vector<std::string>> ParseTokenList(std::string_view text,
                                                        std::string_view source) {
  std::vector<std::string> tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    absl::string_view token = absl::StripAsciiWhitespace(line);
    if (token.empty() || token[0] == '#') continue;
    for (char c : token) {
      if (c < 0x21 || c > 0x7e) {
        return absl::InvalidArgumentError(absl::StrCat(
            std::string(source), ":", line_number,
            ": a token must be printable ASCII without spaces (one token per line)"));
      }
    }
    tokens.emplace_back(token);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), " holds no token (only blank lines or # comments)"));
  }
  return tokens;
}

absl::StatusOr<std::vector<std::string>> ReadTokenListFile(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("no token file given");
  absl::StatusOr<std::string> text = ReadFile(path, kMaxTokenFileBytes);
  if (absl::IsOutOfRange(text.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat("the token file ", path, " is larger than ", kMaxTokenFileBytes, " bytes"));
  }
  if (absl::IsDataLoss(text.status())) {
    return absl::DataLossError(absl::StrCat("cannot read the token file ", path));
  }
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("cannot read the token file ", path));
  return ParseTokenList(*text, path);
}

BearerTokens::Result BearerTokens::Check(std::string_view authorization) const {
  if (authorization.empty()) return Result::kMissing;
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(authorization.data(), kScheme.size()),
                              absl::string_view(kScheme.data(), kScheme.size()))) {
    return Result::kNotBearer;
  }
  std::string_view presented = authorization.substr(kScheme.size());
  bool accepted = false;
  // No early exit: every token is compared whatever matched before.
  for (const std::string& token : tokens_) accepted |= ConstantTimeEquals(presented, token);
  return accepted ? Result::kAccepted : Result::kRejected;
}

}  // namespace rebound
