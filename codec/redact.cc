#include "codec/redact.h"

#include <algorithm>
#include <cctype>

#include "common/http_types.h"

namespace rebound {
namespace {

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

// Length of the run of key characters starting at `pos`.
size_t KeyRun(std::string_view text, size_t pos) {
  size_t end = pos;
  while (end < text.size() && IsKeyChar(text[end])) ++end;
  return end - pos;
}

bool StartsWithAt(std::string_view text, size_t pos, std::string_view prefix, bool fold_case) {
  if (text.size() - pos < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = text[pos + i], b = prefix[i];
    if (fold_case) {
      a = static_cast<char>(std::tolower(static_cast<unsigned char>(a)));
      b = static_cast<char>(std::tolower(static_cast<unsigned char>(b)));
    }
    if (a != b) return false;
  }
  return true;
}

// The length of a key-looking token at `pos`, or 0. A token must not be the
// tail of a longer word ("task-..." is not "sk-...").
size_t KeyTokenAt(std::string_view text, size_t pos) {
  if (pos > 0 && IsKeyChar(text[pos - 1])) return 0;
  if (StartsWithAt(text, pos, "sk-", false)) {
    size_t run = KeyRun(text, pos + 3);
    return run >= 16 ? 3 + run : 0;
  }
  if (StartsWithAt(text, pos, "AIza", false)) {
    size_t run = KeyRun(text, pos + 4);
    return run >= 35 ? 4 + run : 0;
  }
  return 0;
}

}  // namespace

std::string Redact(std::string_view text, const std::vector<std::string>& secrets) {
  // Configured secrets first: they may not look like keys at all. Longest
  // first, so that a secret containing another is replaced whole.
  std::vector<std::string_view> ordered(secrets.begin(), secrets.end());
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  std::string out(text);
  for (std::string_view secret : ordered) {
    if (secret.size() < kMinSecretBytes) continue;
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), kRedacted);
      pos += kRedacted.size();
    }
  }
  std::string result;
  result.reserve(out.size());
  size_t i = 0;
  while (i < out.size()) {
    if (StartsWithAt(out, i, "bearer ", true)) {
      size_t start = i + 7;
      while (start < out.size() && out[start] == ' ') ++start;
      size_t run = 0;
      while (start + run < out.size() && !std::isspace(static_cast<unsigned char>(out[start + run])) &&
             out[start + run] != '"' && out[start + run] != '\'' && out[start + run] != ',') {
        ++run;
      }
      if (run >= 8 && std::string_view(out).substr(start, run) != kRedacted) {
        result.append(out, i, start - i);
        result.append(kRedacted);
        i = start + run;
        continue;
      }
    }
    if (size_t n = KeyTokenAt(out, i); n > 0) {
      result.append(kRedacted);
      i += n;
      continue;
    }
    result.push_back(out[i++]);
  }
  return result;
}

std::vector<std::string> ConfiguredSecrets(const Config& config) {
  std::vector<std::string> secrets;
  for (const ModelProvider& p : config.providers) {
    if (!p.access_key.empty()) secrets.push_back(p.access_key);
    for (const auto& [name, value] : p.headers) {
      // Only credential headers: `anthropic-version: 2023-06-01` or
      // `content-type: application/json` are no secret, and redacting them
      // would mangle every error body that mentions them.
      if (!IsCredentialHeader(name)) continue;
      secrets.push_back(value);
      // "Bearer <token>": the token alone may be echoed too.
      if (size_t space = value.find(' '); space != std::string::npos) {
        secrets.push_back(value.substr(space + 1));
      }
    }
  }
  std::sort(secrets.begin(), secrets.end());
  secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
  return secrets;
}

}  // namespace rebound
