#include "policy/diagnostic.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rebound {

std::string Diagnostic::ToString() const {
  // The compiler-style "file:line: severity:" prefix lets editors and CI
  // annotate the offending line; parts that are unknown are left out rather
  // than printed as "0" or "".
  std::string out;
  if (!file.empty()) absl::StrAppend(&out, file, ":");
  if (line > 0) absl::StrAppend(&out, line, ":");
  if (!out.empty()) out += " ";
  absl::StrAppend(&out, severity == Severity::kError ? "error: " : "warning: ");
  if (!key.empty()) absl::StrAppend(&out, key, ": ");
  out += message;
  return out;
}

bool HasErrors(const std::vector<Diagnostic>& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::kError;
  });
}

}  // namespace rebound
