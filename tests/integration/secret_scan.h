// The whole-suite secret scan: searches every output the integration tests
// left under the outputs root (test_outputs.h) for every secret the tests
// configured (the manifests under <root>/secrets/). Pure file logic, used by
// the rebound-secret-scan program (ctest's secret_scan_test) and tested by
// secret_scan_self_test.
#ifndef REBOUND_TESTS_INTEGRATION_SECRET_SCAN_H_
#define REBOUND_TESTS_INTEGRATION_SECRET_SCAN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rebound::testing {

// Secrets shorter than this cannot be searched meaningfully (a one-letter
// key matches everything); they are reported as skipped, never silently.
inline constexpr size_t kMinScannableSecretLength = 8;

struct SecretHit {
  std::string file;    // path relative to the outputs root
  int64_t line = 0;    // 1-based
  std::string secret;  // the secret found (callers print Redact() of it)
};

struct SecretScanResult {
  std::vector<std::string> errors;  // the scan itself could not be done
  std::vector<SecretHit> hits;
  std::vector<std::string> skipped_secrets;  // too short to scan
  size_t secrets = 0;                        // distinct secrets searched for
  size_t files = 0;                          // output files searched
  uint64_t bytes = 0;                        // bytes searched

  // No error, no hit, and something was actually searched.
  bool ok() const { return errors.empty() && hits.empty(); }
};

// Scans `root`. An error (not a pass) when `root` is missing, holds no output
// file, or a file cannot be read: the scan never passes vacuously.
SecretScanResult ScanOutputs(const std::string& root);

// A secret as it may be printed: its first few characters and its length,
// e.g. `"sk-t..." (24 chars)`.
std::string Redact(const std::string& secret);

// The report: one line per error and hit (`file:line: ...`) and a summary.
std::string FormatReport(const SecretScanResult& result);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_INTEGRATION_SECRET_SCAN_H_
