// Errors and warnings found while loading or validating a configuration.
#ifndef REBOUND_POLICY_DIAGNOSTIC_H_
#define REBOUND_POLICY_DIAGNOSTIC_H_

#include <string>
#include <vector>

namespace rebound {

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string file;     // as given to the loader
  int line = 0;         // 1-based; 0 when unknown
  std::string key;      // dotted path, e.g. "model_providers[0].retry_policy.backoff.base_ms"
  std::string message;  // what is wrong, never a secret value

  // "config.yaml:12: error: model_providers[0].retry_policy.backoff.base_ms: must be >= 1"
  std::string ToString() const;
};

bool HasErrors(const std::vector<Diagnostic>& diagnostics);

}  // namespace rebound

#endif  // REBOUND_POLICY_DIAGNOSTIC_H_
