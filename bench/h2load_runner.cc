#include "bench/h2load_runner.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/integration/test_harness.h"

namespace rebound::bench {
namespace {

double ChildCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// "798us", "51.10ms", "1.2s" -> milliseconds.
bool ParseDurationMs(absl::string_view text, double* ms) {
  double scale = 0;
  if (absl::ConsumeSuffix(&text, "us")) {
    scale = 1e-3;
  } else if (absl::ConsumeSuffix(&text, "ms")) {
    scale = 1;
  } else if (absl::ConsumeSuffix(&text, "s")) {
    scale = 1e3;
  } else {
    return false;
  }
  double value = 0;
  if (!absl::SimpleAtod(text, &value)) return false;
  *ms = value * scale;
  return true;
}

// The number before `label` in "..., 40000 done, ..." (comma-separated).
bool CountBefore(absl::string_view line, absl::string_view label, int64_t* out) {
  for (absl::string_view item : absl::StrSplit(line, ',')) {
    item = absl::StripAsciiWhitespace(item);
    std::vector<absl::string_view> words = absl::StrSplit(item, ' ', absl::SkipEmpty());
    if (words.size() == 2 && words[1] == label) return absl::SimpleAtoi(words[0], out);
  }
  return false;
}

std::string WholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string GrpcFrame(const std::string& serialized) {
  std::string frame(5, '\0');
  uint32_t n = static_cast<uint32_t>(serialized.size());
  for (int i = 0; i < 4; ++i) frame[1 + i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
  frame += serialized;
  return frame;
}

absl::StatusOr<H2loadResult> ParseH2loadSummary(const std::string& text) {
  H2loadResult r;
  bool have_rate = false;
  bool have_requests = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "finished in ")) {
      // "finished in 5.50s, 8000.00 req/s, 17.00MB/s"
      std::vector<absl::string_view> parts = absl::StrSplit(line, ", ");
      if (parts.size() >= 2 && absl::ConsumeSuffix(&parts[1], " req/s")) {
        have_rate = absl::SimpleAtod(parts[1], &r.requests_per_s);
      }
    } else if (absl::ConsumePrefix(&line, "requests: ")) {
      have_requests = CountBefore(line, "done", &r.done) &&
                      CountBefore(line, "succeeded", &r.succeeded) &&
                      CountBefore(line, "failed", &r.failed);
    } else if (absl::ConsumePrefix(&line, "time for request:")) {
      std::vector<absl::string_view> cells = absl::StrSplit(line, ' ', absl::SkipEmpty());
      // min max mean sd +/-sd
      if (cells.size() >= 3) ParseDurationMs(cells[2], &r.mean_ms);
    }
  }
  if (!have_rate || !have_requests) {
    return absl::InternalError("h2load printed no summary (finished/requests lines)");
  }
  return r;
}

absl::StatusOr<LatencySummary> ParseH2loadLog(const std::string& text) {
  LatencyRecorder recorder;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> cells = absl::StrSplit(line, '\t');
    int64_t us = 0;
    if (cells.size() < 3 || !absl::SimpleAtoi(cells[2], &us) || us < 0) {
      return absl::InternalError(absl::StrCat("unexpected h2load log line: ", line));
    }
    recorder.Add(us * 1000);
  }
  if (recorder.count() == 0) return absl::InternalError("the h2load log is empty");
  return recorder.Summarize();
}

absl::StatusOr<H2loadResult> RunH2load(const H2loadOptions& options) {
  std::vector<std::string> args = {
      "-D", absl::StrCat(absl::ToInt64Milliseconds(options.duration), "ms"),
      "--warm-up-time", absl::StrCat(absl::ToInt64Milliseconds(options.warmup), "ms"),
      "-c", absl::StrCat(options.connections),
      "-t", "1",
      "-d", options.body_file,
  };
  if (options.http1) {
    args.push_back("--h1");
  } else {
    args.insert(args.end(), {"-m", absl::StrCat(options.streams_per_connection)});
  }
  if (options.rps_per_connection > 0) {
    args.push_back(absl::StrCat("--rps=", options.rps_per_connection));
  }
  std::string log_file;
  if (options.per_request_log) {
    log_file = testing::WriteTempFile("h2load-requests.log", "");
    args.push_back(absl::StrCat("--log-file=", log_file));
  }
  for (const std::string& h : options.headers) args.insert(args.end(), {"-H", h});
  args.push_back(options.url);

  double cpu_before = ChildCpuSeconds();
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> proc =
      testing::Subprocess::Start({.binary = options.binary, .args = std::move(args)});
  if (!proc.ok()) return proc.status();
  absl::Duration limit = options.duration + options.warmup + absl::Seconds(30);
  int code = (*proc)->Wait(limit);
  // Reaped by Wait: its CPU time is now in RUSAGE_CHILDREN.
  double cpu = ChildCpuSeconds() - cpu_before;
  std::string out = (*proc)->Stdout();
  if (code != 0) {
    return absl::InternalError(absl::StrCat("h2load exited with ", code, ": ",
                                            (*proc)->Stderr().substr(0, 500)));
  }
  absl::StatusOr<H2loadResult> r = ParseH2loadSummary(out);
  if (!r.ok()) return r.status();
  r->cpu_seconds = cpu;
  if (options.per_request_log) {
    absl::StatusOr<LatencySummary> latency = ParseH2loadLog(WholeFile(log_file));
    if (!latency.ok()) return latency.status();
    r->latency = *latency;
  }
  return r;
}

}  // namespace rebound::bench
