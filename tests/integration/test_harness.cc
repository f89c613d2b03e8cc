#include "tests/integration/test_harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "codec/json_scan.h"
#include "gtest/gtest.h"
#include "tests/integration/test_outputs.h"

extern char** environ;

namespace rebound::testing {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(5);
constexpr size_t kStderrTail = 2000;

absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(ToAbsl(a), ToAbsl(b));
}

std::string SanitizeForPath(std::string name) {
  for (char& c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      c = '_';
    }
  }
  return name;
}

// In a sanitizer build (REBOUND_SANITIZE) a child reports what it finds on
// stderr and, for a data race or a leak, keeps running or exits normally; the
// test would pass unless the finding happened to break a call. Every child's
// stderr is therefore checked when its Subprocess is destroyed. Plain builds
// never print these markers.
void ExpectNoSanitizerReport(const std::string& name, const std::string& stderr_path) {
  static constexpr std::string_view kMarkers[] = {
      "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
      "ThreadSanitizer: reported", ": runtime error: "};
  const std::string err = ReadFile(stderr_path);
  for (std::string_view marker : kMarkers) {
    const size_t at = err.find(marker);
    if (at == std::string::npos) continue;
    const size_t from = err.rfind('\n', at);
    ADD_FAILURE() << name << " reported a sanitizer finding (whole report in " << stderr_path
                  << "):\n"
                  << err.substr(from == std::string::npos ? 0 : from + 1, kStderrTail);
    return;
  }
}

}  // namespace

// ---------------------------------------------------------------- files

const std::string& ProcessTempDir() {
  // The pid alone is not unique: pid_max is often 32768, so a later run can
  // reuse a pid and find an earlier run's files (a control plane once
  // started with another run's persisted policy). mkdtemp adds a suffix no
  // earlier run has used.
  static const std::string* dir = [] {
    const char* root = std::getenv("TEST_TMPDIR");
    std::filesystem::path base =
        std::filesystem::path(root != nullptr && *root != '\0' ? root : "/tmp") / "rebound-tests";
    std::error_code ec;
    std::filesystem::create_directories(base, ec);
    std::string pattern =
        (base / absl::StrCat(program_invocation_short_name, "-", getpid(), "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "cannot create a directory like " << pattern << ": " << strerror(errno);
    }
    return new std::string(std::move(pattern));
  }();
  return *dir;
}

std::string ProcessTag() { return std::filesystem::path(ProcessTempDir()).filename().string(); }

std::string CurrentTestDirName() {
  std::string test = "no_test";
  if (const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    test = absl::StrCat(info->test_suite_name(), ".", info->name());
  }
  return SanitizeForPath(test);
}

std::string TestTempDir() {
  std::filesystem::path dir = std::filesystem::path(ProcessTempDir()) / CurrentTestDirName();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return dir.string();
}

std::string WriteTempFile(std::string_view name, std::string_view contents) {
  std::string path = (std::filesystem::path(TestTempDir()) / std::string(name)).string();
  // Configs and token files carry the suite's secrets: list them for
  // secret_scan_test (the files themselves are not outputs).
  RecordSecretsInFile(name, contents);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) ADD_FAILURE() << "cannot write " << path;
  return path;
}

std::string BinaryPath(std::string_view name) {
  return absl::StrCat(REBOUND_BIN_DIR, "/", ToAbsl(name));
}

bool WaitUntil(absl::FunctionRef<bool()> condition, absl::Duration timeout,
               absl::Duration period) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(period);
  }
  return condition();
}

// ---------------------------------------------------------------- Subprocess

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(SubprocessOptions options) {
  std::unique_ptr<Subprocess> p(new Subprocess());
  p->name_ = options.name.empty() ? std::filesystem::path(options.binary).filename().string()
                                  : options.name;
  // Several starts under one name in one test (a restart) keep every output.
  // Outputs go where secret_scan_test searches them after the suite.
  std::string dir = OutputsDir();
  std::string base = (std::filesystem::path(dir) / p->name_).string();
  for (int n = 2; std::filesystem::exists(base + ".stdout"); ++n) {
    base = (std::filesystem::path(dir) / absl::StrCat(p->name_, ".", n)).string();
  }
  p->stdout_path_ = base + ".stdout";
  p->stderr_path_ = base + ".stderr";

  // Everything the child needs is prepared before fork(): between fork and
  // exec only async-signal-safe calls are allowed.
  std::vector<std::string> argv_strings = {options.binary};
  argv_strings.insert(argv_strings.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& [k, v] : options.env) overridden |= (k == key);
    if (!overridden) env_strings.emplace_back(entry);
  }
  for (const auto& [k, v] : options.env) {
    RecordSecretInEnv(k, v);
    env_strings.push_back(k + "=" + v);
  }
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  int out_fd = open(p->stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd = open(p->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int exec_pipe[2] = {-1, -1};
  if (out_fd < 0 || err_fd < 0 || null_fd < 0 || pipe2(exec_pipe, O_CLOEXEC) != 0) {
    std::string error = strerror(errno);
    for (int fd : {out_fd, err_fd, null_fd, exec_pipe[0], exec_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
    return absl::InternalError(absl::StrCat("cannot prepare ", p->name_, ": ", error));
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Own process group, so the destructor can kill whatever it spawns; and
    // die with the test binary even if it crashes.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    int error = errno;
    [[maybe_unused]] ssize_t n = write(exec_pipe[1], &error, sizeof error);
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  close(null_fd);
  close(exec_pipe[1]);
  if (pid < 0) {
    close(exec_pipe[0]);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  p->pid_ = pid;
  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  if (n > 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    p->pid_ = -1;
    return absl::InvalidArgumentError(
        absl::StrCat("cannot execute ", options.binary, ": ", strerror(exec_errno)));
  }
  return p;
}

Subprocess::~Subprocess() {
  if (pid_ <= 0) return;
  if (!exit_code_) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  ExpectNoSanitizerReport(name_, stderr_path_);
}

void Subprocess::Reap(int wait_status) {
  if (WIFEXITED(wait_status)) {
    exit_code_ = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    exit_code_ = 128 + WTERMSIG(wait_status);
  } else {
    exit_code_ = -1;
  }
}

bool Subprocess::Running() {
  if (pid_ <= 0 || exit_code_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    Reap(status);
    return false;
  }
  return r == 0;
}

void Subprocess::Signal(int signal) {
  if (pid_ > 0 && !exit_code_) kill(pid_, signal);
}

int Subprocess::Wait(absl::Duration timeout) {
  if (!WaitUntil([&] { return !Running(); }, timeout, kPollInterval)) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    Reap(status);
    ADD_FAILURE() << name_ << " (pid " << pid_ << ") did not exit within " << timeout
                  << "; killed. stderr:\n"
                  << Tail(Stderr(), kStderrTail);
    return -1;
  }
  return exit_code_.value_or(-1);
}

std::string Subprocess::Stdout() const { return ReadFile(stdout_path_); }
std::string Subprocess::Stderr() const { return ReadFile(stderr_path_); }

absl::StatusOr<std::string> Subprocess::WaitForLine(std::string_view regex,
                                                    absl::Duration timeout) {
  return WaitForLineIn(stdout_path_, "stdout", regex, timeout);
}

absl::StatusOr<std::string> Subprocess::WaitForStderrLine(std::string_view regex,
                                                          absl::Duration timeout) {
  return WaitForLineIn(stderr_path_, "stderr", regex, timeout);
}

absl::StatusOr<std::string> Subprocess::WaitForLineIn(const std::string& path,
                                                      std::string_view what, std::string_view regex,
                                                      absl::Duration timeout) {
  std::regex re{std::string(regex)};
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    // Check liveness before reading, so that lines printed just before an
    // exit are still seen.
    bool running = Running();
    std::string text = ReadFile(path);
    size_t start = 0;
    for (;;) {
      size_t end = text.find('\n', start);
      // An unterminated last line only counts once the writer is gone.
      if (end == std::string::npos && running) break;
      std::string line = text.substr(start, end == std::string::npos ? end : end - start);
      if (std::regex_search(line, re)) return line;
      if (end == std::string::npos) break;
      start = end + 1;
    }
    if (!running) {
      return absl::FailedPreconditionError(absl::StrCat(
          name_, " exited (code ", exit_code_.value_or(-1), ") before printing a line matching '",
          ToAbsl(regex), "' on ", ToAbsl(what), "; stderr:\n", Tail(Stderr(), kStderrTail)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          name_, " printed no line matching '", ToAbsl(regex), "' on ", ToAbsl(what), " within ",
          absl::FormatDuration(timeout), "; stderr:\n", Tail(Stderr(), kStderrTail)));
    }
    absl::SleepFor(kPollInterval);
  }
}

// ---------------------------------------------------------------- HTTP

namespace {

void GlobalCurlInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_ALL); });
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* result = static_cast<HttpResult*>(user);
  size_t n = size * count;
  result->body.append(data, n);
  result->chunks.emplace_back(absl::Now(), std::string(data, n));
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* result = static_cast<HttpResult*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    result->headers.clear();  // a new response head (after 100 Continue)
    return n;
  }
  if (line == "\r\n" || line == "\n") {
    result->head_received = absl::Now();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  absl::string_view value = absl::StripAsciiWhitespace(ToAbsl(line.substr(colon + 1)));
  result->headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  return n;
}

}  // namespace

std::optional<std::string> HttpResult::Header(std::string_view name) const {
  return rebound::testing::Header(headers, name);
}

HttpResult HttpFetch(const HttpOptions& options) {
  GlobalCurlInit();
  HttpResult result;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    result.curl_code = CURLE_FAILED_INIT;
    result.error = "curl_easy_init failed";
    return result;
  }
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const std::string& h : options.headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // CI may export a proxy
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options.timeout)));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result);
  if (options.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(options.body->size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, options.body->data());
  }
  if (options.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (options.method != "GET" && !(options.method == "POST" && options.body)) {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, options.method.c_str());
  }
  result.started = absl::Now();
  CURLcode code = curl_easy_perform(curl);
  result.curl_code = code;
  if (code != CURLE_OK) result.error = error[0] != '\0' ? error : curl_easy_strerror(code);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return result;
}

namespace {

std::string BodyOrFail(const char* method, const std::string& url, HttpResult result) {
  if (!result.ok()) {
    ADD_FAILURE() << method << " " << url << ": " << result.error;
    return "";
  }
  return std::move(result.body);
}

}  // namespace

std::string HttpGet(const std::string& url) {
  return BodyOrFail("GET", url, HttpFetch({.method = "GET", .url = url}));
}

std::string HttpPut(const std::string& url, const std::string& body) {
  return BodyOrFail("PUT", url, HttpFetch({.method = "PUT", .url = url, .body = body}));
}

std::string HttpPost(const std::string& url, const std::string& body) {
  return BodyOrFail("POST", url, HttpFetch({.method = "POST", .url = url, .body = body}));
}

std::string HttpDelete(const std::string& url, const std::string& body) {
  HttpOptions options{.method = "DELETE", .url = url};
  if (!body.empty()) options.body = body;
  return BodyOrFail("DELETE", url, HttpFetch(options));
}

// ---------------------------------------------------------------- FakeProvider

std::optional<std::string> Header(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string> Header(const RecordedRequest& request, std::string_view name) {
  return Header(request.headers, name);
}

absl::StatusOr<std::unique_ptr<FakeProvider>> FakeProvider::Start(
    std::vector<std::string> extra_args, std::string name) {
  std::vector<std::string> args = {"--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(
      {.binary = BinaryPath("rebound-fakeprovider"), .args = args, .name = std::move(name)});
  if (!process.ok()) return process.status();
  absl::StatusOr<std::string> line = (*process)->WaitForLine(
      R"(^rebound-fakeprovider listening on 127\.0\.0\.1:[0-9]+$)", absl::Seconds(10));
  if (!line.ok()) return line.status();
  std::unique_ptr<FakeProvider> fake(new FakeProvider());
  std::string_view port_text = std::string_view(*line).substr(line->rfind(':') + 1);
  if (!absl::SimpleAtoi(ToAbsl(port_text), &fake->port_)) {
    return absl::InternalError(absl::StrCat("no port in '", *line, "'"));
  }
  fake->process_ = *std::move(process);
  return fake;
}

std::string FakeProvider::base_url() const { return absl::StrCat("http://127.0.0.1:", port_); }

bool FakeProvider::SetScript(const std::vector<std::string>& specs) {
  // Every entry ends with '\n', so a trailing "" entry survives the trip.
  std::string body;
  for (const std::string& s : specs) absl::StrAppend(&body, s, "\n");
  HttpResult r = HttpFetch({.method = "PUT", .url = base_url() + "/_fake/script", .body = body});
  if (!r.ok() || r.status != 200) {
    ADD_FAILURE() << "SetScript: " << (r.ok() ? absl::StrCat(r.status, " ", r.body) : r.error);
    return false;
  }
  return true;
}

bool FakeProvider::ClearRequests() {
  HttpResult r = HttpFetch({.method = "DELETE", .url = base_url() + "/_fake/requests"});
  if (!r.ok() || r.status != 200) {
    ADD_FAILURE() << "ClearRequests: " << (r.ok() ? absl::StrCat(r.status, " ", r.body) : r.error);
    return false;
  }
  return true;
}

absl::StatusOr<std::vector<RecordedRequest>> FakeProvider::FetchRequests() {
  HttpResult r = HttpFetch({.method = "GET", .url = base_url() + "/_fake/requests"});
  if (!r.ok()) return absl::UnavailableError(absl::StrCat("GET /_fake/requests: ", r.error));
  if (r.status != 200) {
    return absl::InternalError(absl::StrCat("GET /_fake/requests: ", r.status, " ", r.body));
  }
  return ParseRecordedRequests(r.body);
}

std::vector<RecordedRequest> FakeProvider::Requests() {
  absl::StatusOr<std::vector<RecordedRequest>> requests = FetchRequests();
  if (!requests.ok()) {
    ADD_FAILURE() << requests.status();
    return {};
  }
  return *std::move(requests);
}

int FakeProvider::RequestCount() { return static_cast<int>(Requests().size()); }

// ---------------------------------------------------------------- record JSON

namespace {

absl::StatusOr<std::string> DecodeStringMember(const json::Member& m) {
  absl::StatusOr<std::string> s = json::DecodeString(m.value);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("member \"", m.key, "\": ", s.status().message()));
  }
  return s;
}

absl::StatusOr<HeaderList> ParseHeaderPairs(std::string_view array) {
  HeaderList headers;
  absl::Status inner = absl::OkStatus();
  absl::Status s = json::ForEachElement(array, [&](std::string_view pair) {
    std::vector<std::string> parts;
    inner = json::ForEachElement(pair, [&](std::string_view element) {
      absl::StatusOr<std::string> text = json::DecodeString(element);
      if (!text.ok()) {
        inner = text.status();
        return false;
      }
      parts.push_back(*std::move(text));
      return true;
    });
    if (inner.ok() && parts.size() != 2) {
      inner = absl::InvalidArgumentError("a header is not a [name, value] pair");
    }
    if (!inner.ok()) return false;
    headers.emplace_back(std::move(parts[0]), std::move(parts[1]));
    return true;
  });
  if (!s.ok()) return s;
  if (!inner.ok()) return inner;
  return headers;
}

absl::StatusOr<RecordedRequest> ParseRecordedRequest(std::string_view object) {
  RecordedRequest r;
  std::optional<std::string> body_b64;
  absl::Status inner = absl::OkStatus();
  auto fail = [&](absl::Status s) {
    inner = std::move(s);
    return false;
  };
  absl::Status s = json::ForEachMember(object, [&](const json::Member& m) {
    if (m.key == "seq" || m.key == "time_us") {
      int64_t n = 0;
      if (!absl::SimpleAtoi(ToAbsl(m.value), &n)) {
        return fail(absl::InvalidArgumentError(absl::StrCat("bad ", m.key)));
      }
      if (m.key == "seq") {
        r.seq = n;
      } else {
        r.time = absl::FromUnixMicros(n);
      }
    } else if (m.key == "method" || m.key == "path" || m.key == "body" || m.key == "body_b64") {
      absl::StatusOr<std::string> text = DecodeStringMember(m);
      if (!text.ok()) return fail(text.status());
      if (m.key == "method") r.method = *std::move(text);
      if (m.key == "path") r.path = *std::move(text);
      if (m.key == "body") r.body = *std::move(text);
      if (m.key == "body_b64") body_b64 = *std::move(text);
    } else if (m.key == "headers") {
      absl::StatusOr<HeaderList> headers = ParseHeaderPairs(m.value);
      if (!headers.ok()) return fail(headers.status());
      r.headers = *std::move(headers);
    }
    return true;
  });
  if (!s.ok()) return s;
  if (!inner.ok()) return inner;
  // "body" is lossy for bytes that are not UTF-8; the base64 copy is exact.
  if (body_b64 && !absl::Base64Unescape(*body_b64, &r.body)) {
    return absl::InvalidArgumentError("bad body_b64");
  }
  return r;
}

}  // namespace

absl::StatusOr<std::vector<RecordedRequest>> ParseRecordedRequests(std::string_view json_text) {
  std::vector<RecordedRequest> requests;
  absl::Status inner = absl::OkStatus();
  absl::Status s = json::ForEachElement(json_text, [&](std::string_view element) {
    absl::StatusOr<RecordedRequest> r = ParseRecordedRequest(element);
    if (!r.ok()) {
      inner = r.status();
      return false;
    }
    requests.push_back(*std::move(r));
    return true;
  });
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("requests JSON: ", s.message()));
  if (!inner.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("requests JSON: ", inner.message()));
  }
  return requests;
}

}  // namespace rebound::testing
