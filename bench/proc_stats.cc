#include "bench/proc_stats.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace rebound::bench {
namespace {

// The KiB value of `field` ("VmRSS:") in /proc/<pid>/status.
absl::StatusOr<double> StatusKib(pid_t pid, absl::string_view field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, field)) {
      rest = absl::StripAsciiWhitespace(rest);
      absl::ConsumeSuffix(&rest, " kB");
      double kib = 0;
      if (absl::SimpleAtod(rest, &kib)) return kib;
    }
  }
  return absl::NotFoundError(absl::StrCat("no ", field, " for pid ", pid));
}

}  // namespace

absl::StatusOr<double> ProcessCpuSeconds(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string stat = text.str();
  // The command name (field 2) may hold spaces and parentheses: the fields
  // that follow start after its last ')'.
  size_t close = stat.rfind(')');
  if (!in || close == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  std::istringstream fields(stat.substr(close + 1));
  // Fields 3..13, then utime (14) and stime (15), in clock ticks.
  std::string skip;
  for (int i = 3; i <= 13; ++i) fields >> skip;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  if (!(fields >> utime >> stime)) {
    return absl::InternalError(absl::StrCat("cannot parse ", path));
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

absl::StatusOr<double> ResidentKib(pid_t pid) { return StatusKib(pid, "VmRSS:"); }

absl::StatusOr<double> PeakResidentKib(pid_t pid) { return StatusKib(pid, "VmHWM:"); }

}  // namespace rebound::bench
