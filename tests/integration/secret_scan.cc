#include "tests/integration/secret_scan.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "tests/integration/test_outputs.h"

namespace rebound::testing {
namespace {

namespace fs = std::filesystem;

bool ReadWhole(const fs::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

// Every line of every manifest, deduplicated.
std::set<std::string> LoadSecrets(const fs::path& dir, SecretScanResult& result) {
  std::set<std::string> secrets;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return secrets;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string text;
    if (!ReadWhole(entry.path(), &text)) {
      result.errors.push_back(absl::StrCat(entry.path().string(), ": cannot read the manifest"));
      continue;
    }
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) secrets.insert(line);
    }
  }
  return secrets;
}

int64_t LineOf(std::string_view text, size_t offset) {
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n');
}

}  // namespace

std::string Redact(const std::string& secret) {
  // At most a quarter of it, and never more than 4 characters.
  size_t shown = std::min<size_t>(4, secret.size() / 4);
  return absl::StrCat("\"", secret.substr(0, shown), "...\" (", secret.size(), " chars)");
}

SecretScanResult ScanOutputs(const std::string& root_text) {
  SecretScanResult result;
  const fs::path root(root_text);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    result.errors.push_back(absl::StrCat(root_text,
                                         ": no outputs directory; the integration tests did not "
                                         "run, or did not write their outputs here"));
    return result;
  }
  const fs::path manifests = root / kSecretsSubdir;
  std::vector<std::string> secrets;
  for (const std::string& s : LoadSecrets(manifests, result)) {
    if (s.size() < kMinScannableSecretLength) {
      result.skipped_secrets.push_back(s);
    } else {
      secrets.push_back(s);
    }
  }
  result.secrets = secrets.size();

  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory() && it->path() == manifests) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::string text;
    std::string relative = fs::relative(it->path(), root).string();
    if (!ReadWhole(it->path(), &text)) {
      result.errors.push_back(absl::StrCat(relative, ": cannot read"));
      continue;
    }
    ++result.files;
    result.bytes += text.size();
    for (const std::string& secret : secrets) {
      for (size_t at = text.find(secret); at != std::string::npos;
           at = text.find(secret, at + secret.size())) {
        result.hits.push_back({relative, LineOf(text, at), secret});
      }
    }
  }
  if (ec) result.errors.push_back(absl::StrCat(root_text, ": cannot list: ", ec.message()));
  if (result.files == 0 && result.errors.empty()) {
    result.errors.push_back(
        absl::StrCat(root_text, ": no output files to search; the scan would pass vacuously"));
  }
  std::sort(result.hits.begin(), result.hits.end(), [](const SecretHit& a, const SecretHit& b) {
    return std::tie(a.file, a.line) < std::tie(b.file, b.line);
  });
  return result;
}

std::string FormatReport(const SecretScanResult& result) {
  std::string out;
  for (const std::string& e : result.errors) absl::StrAppend(&out, "error: ", e, "\n");
  for (const SecretHit& h : result.hits) {
    absl::StrAppend(&out, h.file, ":", h.line, ": configured secret ", Redact(h.secret), "\n");
  }
  for (const std::string& s : result.skipped_secrets) {
    absl::StrAppend(&out, "note: secret ", Redact(s), " is shorter than ",
                    kMinScannableSecretLength, " characters and was not searched for\n");
  }
  absl::StrAppend(&out, result.ok() ? "PASS" : "FAIL", ": ", result.secrets, " secrets searched in ",
                  result.files, " files (", result.bytes, " bytes); ", result.hits.size(),
                  " hits, ", result.errors.size(), " errors\n");
  return out;
}

}  // namespace rebound::testing
