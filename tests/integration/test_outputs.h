// Where integration tests leave what their processes said, and the list of
// secrets they configured, so that `secret_scan_test` can search the whole
// suite's outputs for every configured key after the suite has run.
//
// ctest sets REBOUND_TEST_OUTPUTS_DIR for every integration test (see
// tests/CMakeLists.txt). Under it:
//   <binary>-<pid>/<Suite.Test>/...   process stdout/stderr, metric scrapes,
//                                     gRPC responses and errors
//   secrets/<binary>-<pid>.list       one configured secret per line
// Config and token files are not outputs: they stay in TestTempDir().
// Without the variable (a test binary run by hand) outputs go to
// TestTempDir() and no manifest is written.
#ifndef REBOUND_TESTS_INTEGRATION_TEST_OUTPUTS_H_
#define REBOUND_TESTS_INTEGRATION_TEST_OUTPUTS_H_

#include <string>
#include <string_view>

namespace rebound::testing {

// The environment variable naming the suite's outputs root.
inline constexpr char kOutputsDirEnv[] = "REBOUND_TEST_OUTPUTS_DIR";
// The manifest directory under the outputs root; the scanner skips it.
inline constexpr char kSecretsSubdir[] = "secrets";

// This test's directory for outputs (created on first use).
std::string OutputsDir();

// Adds `secret` to this process's manifest (no-op without the variable or
// for an empty value). Thread-safe.
void RecordSecret(std::string_view secret);

// Records the secrets in a file the harness is about to write: the trimmed
// contents of a token file (its name contains "token"), and every literal
// `access_key:` value of a YAML config (`$VAR` references are not secrets;
// their values are recorded where they are put into an environment).
void RecordSecretsInFile(std::string_view name, std::string_view contents);

// Records an environment entry a test passes to a child when its name says
// it holds a credential (contains KEY, TOKEN or SECRET).
void RecordSecretInEnv(std::string_view name, std::string_view value);

// Appends `text` and a newline to OutputsDir()/file. Thread-safe. For what a
// test receives other than process output: metric scrapes, responses, errors.
void RecordOutput(std::string_view file, std::string_view text);

// The same for a path computed once (e.g. OutputsDir() taken on the test's
// thread by an object whose callbacks run on other threads).
void AppendToOutputFile(const std::string& path, std::string_view text);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_INTEGRATION_TEST_OUTPUTS_H_
