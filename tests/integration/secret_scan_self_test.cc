// The secret scan proves itself: on a planted secret it fails with the file
// and line and without printing the secret; it fails when there is nothing
// to scan; and the harness really records the secrets it writes into
// configs and puts process output where the scan looks.
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/secret_scan.h"
#include "tests/integration/test_harness.h"
#include "tests/integration/test_outputs.h"

namespace rebound::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "sk-test-planted-5a1f93c07e";

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A fresh outputs root per test.
fs::path FreshRoot(const std::string& name) {
  fs::path root = fs::path(TestTempDir()) / name;
  fs::remove_all(root);
  fs::create_directories(root);
  return root;
}

TEST(SecretScanSelfTest, PlantedSecretFailsWithFileAndLineButNeverPrintsIt) {
  fs::path root = FreshRoot("planted");
  Write(root / kSecretsSubdir / "t-1.list", absl::StrCat(kSecret, "\n"));
  Write(root / "t-1/Suite.Test/replica.stderr", "line one\nline two\n");
  Write(root / "t-1/Suite.Test/grpc-gateway.txt",
        absl::StrCat("ok\nok\nerror: Bearer ", kSecret, " rejected\n"));

  SecretScanResult result = ScanOutputs(root.string());
  EXPECT_FALSE(result.ok());
  ASSERT_EQ(result.hits.size(), 1u);
  EXPECT_EQ(result.hits[0].file, "t-1/Suite.Test/grpc-gateway.txt");
  EXPECT_EQ(result.hits[0].line, 3);
  EXPECT_EQ(result.files, 2u);  // the manifest is not an output
  std::string report = FormatReport(result);
  EXPECT_THAT(report, HasSubstr("t-1/Suite.Test/grpc-gateway.txt:3: configured secret"));
  EXPECT_THAT(report, HasSubstr(absl::StrCat("(", std::string(kSecret).size(), " chars)")));
  EXPECT_THAT(report, Not(HasSubstr(kSecret)));
  EXPECT_THAT(report, Not(HasSubstr("sk-test")));  // no more than a short prefix

  // The program ctest runs: exit 1, and the secret is not in what it prints.
  std::string out = (fs::path(TestTempDir()) / "scan.out").string();
  int status = system(absl::StrCat(REBOUND_SECRET_SCAN_BIN, " ", root.string(), " >", out,
                                   " 2>&1").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::ifstream in(out);
  std::string printed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(printed, HasSubstr("grpc-gateway.txt:3:"));
  EXPECT_THAT(printed, Not(HasSubstr(kSecret)));
}

TEST(SecretScanSelfTest, CleanOutputsPass) {
  fs::path root = FreshRoot("clean");
  Write(root / kSecretsSubdir / "t-1.list", absl::StrCat(kSecret, "\n"));
  Write(root / "t-1/Suite.Test/replica.stderr", "nothing to see\n");
  SecretScanResult result = ScanOutputs(root.string());
  EXPECT_TRUE(result.ok()) << FormatReport(result);
  EXPECT_EQ(result.secrets, 1u);
  EXPECT_EQ(result.files, 1u);
}

TEST(SecretScanSelfTest, MissingOrEmptyOutputsFailRatherThanPassVacuously) {
  fs::path root = FreshRoot("empty");
  EXPECT_FALSE(ScanOutputs((root / "missing").string()).ok());
  EXPECT_FALSE(ScanOutputs(root.string()).ok());
  // A manifest alone is no output either.
  Write(root / kSecretsSubdir / "t-1.list", absl::StrCat(kSecret, "\n"));
  SecretScanResult result = ScanOutputs(root.string());
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(FormatReport(result), HasSubstr("vacuously"));
}

TEST(SecretScanSelfTest, ShortSecretsAreReportedNotSearched) {
  fs::path root = FreshRoot("short");
  Write(root / kSecretsSubdir / "t-1.list", "k\n");
  Write(root / "t-1/Suite.Test/out.stdout", "k k k\n");
  SecretScanResult result = ScanOutputs(root.string());
  EXPECT_TRUE(result.ok());
  ASSERT_EQ(result.skipped_secrets.size(), 1u);
  EXPECT_THAT(FormatReport(result), HasSubstr("shorter than"));
}

// End to end through the harness: a config and a token file written with
// WriteTempFile and an environment key are listed in the manifest, and a
// child's output lands under the outputs root, where the scan finds the
// key it printed.
TEST(SecretScanSelfTest, HarnessRecordsConfiguredSecretsAndCapturesChildOutput) {
  fs::path root = FreshRoot("harness");
  ASSERT_EQ(setenv(kOutputsDirEnv, root.c_str(), 1), 0);
  WriteTempFile("rebound.yaml",
                "model_providers:\n"
                "  - model: openai/gpt-4o\n"
                "    access_key: sk-test-from-yaml-0001\n"
                "  - {model: a/b, access_key: \"sk-test-flow-0002\"}\n"
                "  - model: c/d\n"
                "    access_key: $NOT_A_SECRET\n");
  WriteTempFile("cp-token", "sk-test-token-0003\n");
  auto child = Subprocess::Start({.binary = "/bin/sh",
                                  .args = {"-c", "echo leaked $THE_API_KEY"},
                                  .env = {{"THE_API_KEY", "sk-test-env-0004"}},
                                  .name = "leaky"});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->Wait(absl::Seconds(10)), 0);
  ASSERT_EQ(unsetenv(kOutputsDirEnv), 0);

  SecretScanResult result = ScanOutputs(root.string());
  EXPECT_EQ(result.secrets, 4u) << FormatReport(result);
  ASSERT_EQ(result.hits.size(), 1u) << FormatReport(result);
  EXPECT_EQ(result.hits[0].secret, "sk-test-env-0004");
  EXPECT_THAT(result.hits[0].file, HasSubstr("leaky.stdout"));
}

}  // namespace
}  // namespace rebound::testing
