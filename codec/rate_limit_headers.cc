#include "codec/rate_limit_headers.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace rebound {
namespace {

// More digits than this in an integer part cannot be a sane wait and would
// overflow int64 arithmetic.
constexpr size_t kMaxIntegerDigits = 15;

constexpr bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// A left-to-right reader over a header value; every method consumes on
// success only.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool AtEnd() const { return s_.empty(); }
  std::string_view rest() const { return s_; }

  bool Literal(std::string_view lit) {
    if (!s_.starts_with(lit)) return false;
    s_.remove_prefix(lit.size());
    return true;
  }

  // Exactly n digits.
  bool Digits(size_t n, int64_t* out) {
    if (s_.size() < n) return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!IsDigit(s_[i])) return false;
      v = v * 10 + (s_[i] - '0');
    }
    s_.remove_prefix(n);
    *out = v;
    return true;
  }

  // The index of the first entry of `words` that the input starts with.
  template <size_t N>
  bool OneOf(const std::array<std::string_view, N>& words, int* index) {
    for (size_t i = 0; i < N; ++i) {
      if (Literal(words[i])) {
        *index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }

 private:
  std::string_view s_;
};

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"Mon", "Tue", "Wed", "Thu",
                                                       "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDayNames = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

struct CivilTime {
  int64_t year = 0;
  int64_t month = 0;  // 1-12
  int64_t day = 0;
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;  // 0-60 (a leap second counts as the next second)
};

// HH:MM:SS
bool ReadTimeOfDay(Cursor* c, CivilTime* t) {
  return c->Digits(2, &t->hour) && c->Literal(":") && c->Digits(2, &t->minute) && c->Literal(":") &&
         c->Digits(2, &t->second);
}

bool ReadMonth(Cursor* c, CivilTime* t) {
  int m = 0;
  if (!c->OneOf(kMonths, &m)) return false;
  t->month = m + 1;
  return true;
}

std::optional<absl::Time> ToTime(const CivilTime& t) {
  if (t.month < 1 || t.month > 12 || t.day < 1 ||
      t.day > DaysInMonth(t.year, static_cast<int>(t.month)) || t.hour > 23 || t.minute > 59 ||
      t.second > 60) {
    return std::nullopt;
  }
  const int64_t days = DaysFromCivil(t.year, static_cast<int>(t.month), static_cast<int>(t.day));
  return absl::FromUnixSeconds(days * 86400 + t.hour * 3600 + t.minute * 60 + t.second);
}

// Parses 1*DIGIT (at most kMaxIntegerDigits) at the start of s.
bool ReadInteger(std::string_view* s, int64_t* out) {
  size_t n = 0;
  int64_t v = 0;
  while (n < s->size() && IsDigit((*s)[n])) {
    if (n == kMaxIntegerDigits) return false;
    v = v * 10 + ((*s)[n] - '0');
    ++n;
  }
  if (n == 0) return false;
  s->remove_prefix(n);
  *out = v;
  return true;
}

// Parses 1*DIGIT at the start of s as a fraction: *numerator / *denominator,
// keeping at most 9 digits (nanosecond precision for seconds).
bool ReadFraction(std::string_view* s, int64_t* numerator, int64_t* denominator) {
  size_t n = 0;
  int64_t num = 0;
  int64_t den = 1;
  while (n < s->size() && IsDigit((*s)[n])) {
    if (n < 9) {
      num = num * 10 + ((*s)[n] - '0');
      den *= 10;
    }
    ++n;
  }
  if (n == 0) return false;
  s->remove_prefix(n);
  *numerator = num;
  *denominator = den;
  return true;
}

std::optional<absl::Duration> WaitUntil(std::optional<absl::Time> when, absl::Time now) {
  if (!when.has_value()) return std::nullopt;
  return *when <= now ? absl::ZeroDuration() : *when - now;
}

std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now) {
  if (!value.empty() && IsDigit(value[0])) return ParseDeltaSeconds(value);
  return WaitUntil(ParseHttpDate(value, now), now);
}

bool IsAnthropicReset(const std::string& name) {
  static constexpr std::array<const char*, 4> kNames = {
      "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset",
      "anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-output-tokens-reset"};
  for (const char* n : kNames) {
    if (absl::EqualsIgnoreCase(name, n)) return true;
  }
  return false;
}

}  // namespace

int64_t DaysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t yoe = year - era * 400;                                          // [0, 399]
  const int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;  // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                     // [0, 146096]
  return era * 146097 + doe - 719468;
}

std::optional<absl::Duration> ParseDeltaSeconds(std::string_view value) {
  int64_t seconds = 0;
  if (!ReadInteger(&value, &seconds) || !value.empty()) return std::nullopt;
  return absl::Seconds(seconds);
}

std::optional<absl::Time> ParseHttpDate(std::string_view value, absl::Time now) {
  CivilTime t;
  int ignored = 0;
  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
  {
    Cursor c(value);
    if (c.OneOf(kDayNames, &ignored) && c.Literal(", ") && c.Digits(2, &t.day) && c.Literal(" ") &&
        ReadMonth(&c, &t) && c.Literal(" ") && c.Digits(4, &t.year) && c.Literal(" ") &&
        ReadTimeOfDay(&c, &t) && c.Literal(" GMT") && c.AtEnd()) {
      return ToTime(t);
    }
  }
  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
  {
    Cursor c(value);
    int64_t yy = 0;
    if (c.OneOf(kLongDayNames, &ignored) && c.Literal(", ") && c.Digits(2, &t.day) &&
        c.Literal("-") && ReadMonth(&c, &t) && c.Literal("-") && c.Digits(2, &yy) &&
        c.Literal(" ") && ReadTimeOfDay(&c, &t) && c.Literal(" GMT") && c.AtEnd()) {
      const int64_t now_year = absl::ToCivilYear(now, absl::UTCTimeZone()).year();
      t.year = now_year - now_year % 100 + yy;
      if (t.year > now_year + 50) t.year -= 100;
      return ToTime(t);
    }
  }
  // asctime: Sun Nov  6 08:49:37 1994
  {
    Cursor c(value);
    if (c.OneOf(kDayNames, &ignored) && c.Literal(" ") && ReadMonth(&c, &t) && c.Literal(" ") &&
        (c.Digits(2, &t.day) || (c.Literal(" ") && c.Digits(1, &t.day))) && c.Literal(" ") &&
        ReadTimeOfDay(&c, &t) && c.Literal(" ") && c.Digits(4, &t.year) && c.AtEnd()) {
      return ToTime(t);
    }
  }
  return std::nullopt;
}

std::optional<absl::Duration> ParseMilliseconds(std::string_view value) {
  int64_t ms = 0;
  if (!ReadInteger(&value, &ms)) return std::nullopt;
  absl::Duration d = absl::Milliseconds(ms);
  if (!value.empty()) {
    if (value[0] != '.') return std::nullopt;
    value.remove_prefix(1);
    int64_t num = 0;
    int64_t den = 1;
    if (!ReadFraction(&value, &num, &den) || !value.empty()) return std::nullopt;
    d += absl::Milliseconds(1) * num / den;
  }
  return d;
}

std::optional<absl::Duration> ParseGoDuration(std::string_view value) {
  if (value == "0") return absl::ZeroDuration();
  if (value.empty()) return std::nullopt;
  // Longer units first so that "ms" is not read as "m".
  static constexpr std::array<std::pair<std::string_view, absl::Duration>, 8> kUnits = {{
      {"ns", absl::Nanoseconds(1)},
      {"us", absl::Microseconds(1)},
      {"\xC2\xB5s", absl::Microseconds(1)},  // U+00B5 micro sign
      {"\xCE\xBCs", absl::Microseconds(1)},  // U+03BC Greek mu
      {"ms", absl::Milliseconds(1)},
      {"s", absl::Seconds(1)},
      {"m", absl::Minutes(1)},
      {"h", absl::Hours(1)},
  }};
  absl::Duration total = absl::ZeroDuration();
  while (!value.empty()) {
    int64_t whole = 0;
    int64_t num = 0;
    int64_t den = 1;
    const bool has_whole = ReadInteger(&value, &whole);
    bool has_fraction = false;
    if (!value.empty() && value[0] == '.') {
      value.remove_prefix(1);
      has_fraction = ReadFraction(&value, &num, &den);
    }
    if (!has_whole && !has_fraction) return std::nullopt;
    const absl::Duration* unit = nullptr;
    for (const auto& [name, size] : kUnits) {
      if (value.starts_with(name)) {
        value.remove_prefix(name.size());
        unit = &size;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;
    total += *unit * whole + *unit * num / den;
  }
  return total;
}

std::optional<absl::Time> ParseRfc3339(std::string_view value) {
  CivilTime t;
  Cursor c(value);
  if (!(c.Digits(4, &t.year) && c.Literal("-") && c.Digits(2, &t.month) && c.Literal("-") &&
        c.Digits(2, &t.day) && (c.Literal("T") || c.Literal("t") || c.Literal(" ")) &&
        ReadTimeOfDay(&c, &t))) {
    return std::nullopt;
  }
  // The rest: [ "." 1*DIGIT ] ( "Z" / "z" / ("+" / "-") HH ":" MM )
  std::string_view rest = c.rest();
  int64_t num = 0;
  int64_t den = 1;
  if (!rest.empty() && rest[0] == '.') {
    rest.remove_prefix(1);
    if (!ReadFraction(&rest, &num, &den)) return std::nullopt;
  }
  absl::Duration offset = absl::ZeroDuration();
  if (rest == "Z" || rest == "z") {
    // UTC
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    Cursor oc(rest.substr(1));
    int64_t oh = 0;
    int64_t om = 0;
    if (!(oc.Digits(2, &oh) && oc.Literal(":") && oc.Digits(2, &om) && oc.AtEnd()) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset = absl::Hours(oh) + absl::Minutes(om);
    if (rest[0] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  const std::optional<absl::Time> base = ToTime(t);
  if (!base.has_value()) return std::nullopt;
  return *base + absl::Nanoseconds(num * (1000000000 / den)) - offset;
}

std::optional<absl::Duration> RetryAfterFromHeaders(
    const std::vector<std::pair<std::string, std::string>>& headers, int http_status,
    absl::Time now) {
  std::optional<absl::Duration> best;
  for (const auto& [name, raw_value] : headers) {
    const std::string_view value = TrimOws(raw_value);
    std::optional<absl::Duration> wait;
    if (absl::EqualsIgnoreCase(name, "retry-after")) {
      wait = ParseRetryAfter(value, now);
    } else if (absl::EqualsIgnoreCase(name, "retry-after-ms")) {
      wait = ParseMilliseconds(value);
    } else if (http_status == 429 && (absl::EqualsIgnoreCase(name, "x-ratelimit-reset-requests") ||
                                      absl::EqualsIgnoreCase(name, "x-ratelimit-reset-tokens"))) {
      wait = ParseGoDuration(value);
    } else if (http_status == 429 && IsAnthropicReset(name)) {
      wait = WaitUntil(ParseRfc3339(value), now);
    } else {
      continue;
    }
    if (!wait.has_value() || *wait < absl::ZeroDuration() || *wait > kMaxHeaderWait) continue;
    if (!best.has_value() || *wait > *best) best = wait;
  }
  return best;
}

absl::Duration CapRetryAfter(absl::Duration wait, int64_t max_seconds) {
  if (max_seconds <= 0 || wait <= absl::ZeroDuration()) return absl::ZeroDuration();
  return std::min(wait, absl::Seconds(max_seconds));
}

}  // namespace rebound
