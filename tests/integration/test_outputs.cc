#include "tests/integration/test_outputs.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/test_harness.h"

namespace rebound::testing {
namespace {

// One lock for every append: outputs are small and rare next to what the
// processes under test do, and whole lines never interleave.
std::mutex& AppendMutex() {
  static std::mutex mu;
  return mu;
}

const char* OutputsRoot() {
  const char* root = std::getenv(kOutputsDirEnv);
  return root != nullptr && *root != '\0' ? root : nullptr;
}

// A value as written in YAML: surrounding quotes and a trailing comment off.
std::string YamlScalar(std::string value) {
  if (size_t hash = value.find(" #"); hash != std::string::npos) value.resize(hash);
  absl::StripAsciiWhitespace(&value);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

}  // namespace

std::string OutputsDir() {
  const char* root = OutputsRoot();
  if (root == nullptr) return TestTempDir();
  std::filesystem::path dir = std::filesystem::path(root) / ProcessTag() / CurrentTestDirName();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return dir.string();
}

void AppendToOutputFile(const std::string& path, std::string_view text) {
  std::lock_guard<std::mutex> lock(AppendMutex());
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.put('\n');
  if (!out) ADD_FAILURE() << "cannot append to " << path;
}

void RecordOutput(std::string_view file, std::string_view text) {
  AppendToOutputFile((std::filesystem::path(OutputsDir()) / std::string(file)).string(), text);
}

void RecordSecret(std::string_view secret) {
  const char* root = OutputsRoot();
  if (root == nullptr || secret.empty()) return;
  // A secret spanning lines could not be searched line by line; its lines
  // are recorded one by one instead.
  if (size_t nl = secret.find('\n'); nl != std::string_view::npos) {
    RecordSecret(secret.substr(0, nl));
    RecordSecret(secret.substr(nl + 1));
    return;
  }
  std::filesystem::path dir = std::filesystem::path(root) / kSecretsSubdir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  AppendToOutputFile((dir / absl::StrCat(ProcessTag(), ".list")).string(), secret);
}

void RecordSecretsInFile(std::string_view name, std::string_view contents) {
  std::string base = std::filesystem::path(std::string(name)).filename().string();
  if (absl::StrContains(absl::AsciiStrToLower(base), "token")) {
    // Token files hold one token per line; blank lines and # comments are
    // not tokens (auth/bearer_tokens.h).
    for (absl::string_view line :
         absl::StrSplit(absl::string_view(contents.data(), contents.size()), '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!line.empty() && line[0] != '#') RecordSecret(std::string(line));
    }
    return;
  }
  // `access_key: VALUE` anywhere on a line: block style or flow style
  // (`{model: m, access_key: k}`).
  static const std::regex kAccessKey(R"(access_key\s*:\s*("[^"]*"|'[^']*'|[^,}\s][^,}\n]*))");
  std::string text(contents);
  for (std::sregex_iterator it(text.begin(), text.end(), kAccessKey), end; it != end; ++it) {
    std::string value = YamlScalar((*it)[1].str());
    if (!value.empty() && value[0] != '$') RecordSecret(value);
  }
}

void RecordSecretInEnv(std::string_view name, std::string_view value) {
  std::string upper = absl::AsciiStrToUpper(absl::string_view(name.data(), name.size()));
  if (absl::StrContains(upper, "KEY") || absl::StrContains(upper, "TOKEN") ||
      absl::StrContains(upper, "SECRET")) {
    RecordSecret(value);
  }
}

}  // namespace rebound::testing
