// Helpers for integration tests that run the real binaries: subprocesses
// with captured output, the fake provider and its control API, and small
// libcurl HTTP calls. Everything here is bounded in time: no helper can hang
// a test, and a process a test started never outlives it.
#ifndef REBOUND_TESTS_INTEGRATION_TEST_HARNESS_H_
#define REBOUND_TESTS_INTEGRATION_TEST_HARNESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rebound::testing {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// This process's own directory, new and empty on first use:
// ${TEST_TMPDIR:-/tmp}/rebound-tests/<binary>-<pid>-<random suffix>.
const std::string& ProcessTempDir();

// Names this test process uniquely across runs: ProcessTempDir()'s basename.
std::string ProcessTag();

// "<Suite>.<Test>" of the running test ("no_test" outside one), with every
// character other than [A-Za-z0-9._-] replaced by '_'.
std::string CurrentTestDirName();

// This test's own directory for files (created on first use):
// ProcessTempDir()/<Suite>.<Test>. Files stay after the test so that failures
// can be inspected and outputs grepped.
std::string TestTempDir();

// Writes `contents` to TestTempDir()/name and returns the path.
std::string WriteTempFile(std::string_view name, std::string_view contents);

// Path of a binary built by this project (REBOUND_BIN_DIR/name).
std::string BinaryPath(std::string_view name);

// Polls `condition` every `period` until it holds or `timeout` passes, and
// checks it once more at the deadline; returns whether it held. The one
// waiting loop of the integration tests, for what a process reaches on its
// own schedule. A test that must show something did NOT happen waits here
// for a later event that would have come after it, never for time to pass.
bool WaitUntil(absl::FunctionRef<bool()> condition, absl::Duration timeout = absl::Seconds(10),
               absl::Duration period = absl::Milliseconds(10));

struct SubprocessOptions {
  std::string binary{};             // path to execute
  std::vector<std::string> args{};  // without argv[0]
  HeaderList env{};                 // added to (or replacing in) this process's environment
  std::string name{};               // names the output files; default: the binary's basename
};

// A child process whose stdout and stderr go to files in TestTempDir(). Not
// thread-safe. The destructor kills (SIGKILL, whole process group) and reaps.
class Subprocess {
 public:
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(SubprocessOptions options);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  // The first complete stdout line matching `regex` (ECMAScript, searched
  // anywhere in the line), waiting for it up to `timeout`. Fails early when
  // the process exits; errors include the tail of stderr.
  absl::StatusOr<std::string> WaitForLine(std::string_view regex, absl::Duration timeout);
  // The same on stderr (where servers log).
  absl::StatusOr<std::string> WaitForStderrLine(std::string_view regex, absl::Duration timeout);

  // Sends `signal` to the process (not its group).
  void Signal(int signal);
  // True until the process has exited (reaps it when it has).
  bool Running();
  // Waits up to `timeout` for the exit and returns the exit code (128 + n
  // when killed by signal n). On timeout: SIGKILL, a gtest failure, and -1.
  int Wait(absl::Duration timeout);

  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  Subprocess() = default;
  absl::StatusOr<std::string> WaitForLineIn(const std::string& path, std::string_view what,
                                            std::string_view regex, absl::Duration timeout);
  void Reap(int wait_status);

  std::string name_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string stdout_path_;
  std::string stderr_path_;
};

// One request the fake provider received (GET /_fake/requests).
struct RecordedRequest {
  int64_t seq = 0;
  absl::Time time;  // when it was fully received (the fake's CLOCK_REALTIME)
  std::string method;
  std::string path;
  HeaderList headers;  // as received: original case and order
  std::string body;    // exact bytes
};

// The first header named `name` (ASCII case-insensitive), or nullopt.
std::optional<std::string> Header(const RecordedRequest& request, std::string_view name);
std::optional<std::string> Header(const HeaderList& headers, std::string_view name);

// A running rebound-fakeprovider on a free loopback port.
class FakeProvider {
 public:
  // `extra_args` are appended (e.g. {"--default", "status=503"}); `name`
  // names the output files when a test runs several fakes.
  static absl::StatusOr<std::unique_ptr<FakeProvider>> Start(
      std::vector<std::string> extra_args = {}, std::string name = "fakeprovider");

  int port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:PORT"
  Subprocess& process() { return *process_; }

  // Replaces the script: one spec per provider request, "" = success. The
  // helpers below report failures to gtest and return false.
  bool SetScript(const std::vector<std::string>& specs);
  bool ClearRequests();
  std::vector<RecordedRequest> Requests();
  int RequestCount();

  // Requests() as a value or an error, for tests that check the plumbing.
  absl::StatusOr<std::vector<RecordedRequest>> FetchRequests();

 private:
  FakeProvider() = default;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

// Parses the JSON of GET /_fake/requests.
absl::StatusOr<std::vector<RecordedRequest>> ParseRecordedRequests(std::string_view json);

struct HttpOptions {
  std::string method = "GET";
  std::string url{};
  std::optional<std::string> body{};   // sent as is (binary-safe)
  std::vector<std::string> headers{};  // "Name: value"
  absl::Duration timeout = absl::Seconds(10);
  std::string ca_file{};  // https: the roots to trust (PEM file)
};

struct HttpResult {
  int curl_code = 0;  // CURLcode; 0 = the transfer completed
  std::string error;  // curl's message when curl_code != 0
  long status = 0;    // final status (0 when none arrived)
  HeaderList headers;
  std::string body;
  // The body as libcurl delivered it, piece by piece, with arrival times:
  // lets tests check that streamed events arrive spaced, not all at once.
  std::vector<std::pair<absl::Time, std::string>> chunks;
  absl::Time started;        // just before the request was sent
  absl::Time head_received;  // when the final response head was complete

  bool ok() const { return curl_code == 0; }
  std::optional<std::string> Header(std::string_view name) const;
};

// One HTTP request with libcurl easy (no proxy, no signals); never throws.
HttpResult HttpFetch(const HttpOptions& options);

// Convenience wrappers returning the body; a transport error (not an HTTP
// error status) is a gtest failure and returns "".
std::string HttpGet(const std::string& url);
std::string HttpPut(const std::string& url, const std::string& body);
std::string HttpPost(const std::string& url, const std::string& body);
std::string HttpDelete(const std::string& url, const std::string& body = "");

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_INTEGRATION_TEST_HARNESS_H_
