// rebound-secret-scan OUTPUTS_DIR: ctest's secret_scan_test. Exits 0 when no
// configured secret appears in any output, 1 on a hit or when there is
// nothing to scan, 2 on a usage error. Never prints a secret in full.
#include <cstdio>
#include <string>

#include "tests/integration/secret_scan.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUTS_DIR\n", argv[0]);
    return 2;
  }
  rebound::testing::SecretScanResult result = rebound::testing::ScanOutputs(argv[1]);
  std::string report = rebound::testing::FormatReport(result);
  std::fwrite(report.data(), 1, report.size(), result.ok() ? stdout : stderr);
  return result.ok() ? 0 : 1;
}
