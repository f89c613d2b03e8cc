// Fuzz target: the rate-limit header parsers (codec/rate_limit_headers.h).
//
// Input: a first line "STATUS NOW" (HTTP status and the Unix time taken as
// now; defaults 429 and 1767225600 when missing), then one header per line,
// "name:value".
//
// Invariants:
//   - RetryAfterFromHeaders gives a wait in [0, kMaxHeaderWait], and
//     CapRetryAfter keeps it in [0, cap] for any cap;
//   - the wait is the largest valid value among the headers that apply
//     (checked with the individual parsers), so it is one of them;
//   - header names match case-insensitively and values ignore surrounding
//     spaces and tabs: changing either changes nothing;
//   - the individual parsers never give a negative duration, and a date they
//     accept prints back (IMF-fixdate, RFC 3339) to a text they read as the
//     same instant.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "codec/rate_limit_headers.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Leading decimal digits of `s` (at most 12), or `fallback`.
int64_t Number(std::string_view s, int64_t fallback) {
  int64_t v = 0;
  size_t n = 0;
  while (n < s.size() && n < 12 && s[n] >= '0' && s[n] <= '9') v = v * 10 + (s[n++] - '0');
  return n == 0 ? fallback : v;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool In(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (absl::EqualsIgnoreCase(std::string(name), std::string(n))) return true;
  }
  return false;
}

std::optional<absl::Duration> Until(std::optional<absl::Time> when, absl::Time now) {
  if (!when.has_value()) return std::nullopt;
  return *when <= now ? absl::ZeroDuration() : *when - now;
}

// The wait one header asks for, by the documented rules, using the exposed
// parsers directly; nullopt when it does not apply or is invalid.
std::optional<absl::Duration> ExpectedWait(const std::string& name, std::string_view value,
                                           int status, absl::Time now) {
  value = TrimOws(value);
  std::optional<absl::Duration> wait;
  if (In(name, {"retry-after"})) {
    wait = !value.empty() && value[0] >= '0' && value[0] <= '9'
               ? rebound::ParseDeltaSeconds(value)
               : Until(rebound::ParseHttpDate(value, now), now);
  } else if (In(name, {"retry-after-ms"})) {
    wait = rebound::ParseMilliseconds(value);
  } else if (status == 429 &&
             In(name, {"x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"})) {
    wait = rebound::ParseGoDuration(value);
  } else if (status == 429 &&
             In(name, {"anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset",
                       "anthropic-ratelimit-input-tokens-reset",
                       "anthropic-ratelimit-output-tokens-reset"})) {
    wait = Until(rebound::ParseRfc3339(value), now);
  }
  if (!wait.has_value() || *wait < absl::ZeroDuration() || *wait > rebound::kMaxHeaderWait) {
    return std::nullopt;
  }
  return wait;
}

void CheckParsers(std::string_view value, absl::Time now) {
  value = TrimOws(value);
  for (const auto& d : {rebound::ParseDeltaSeconds(value), rebound::ParseMilliseconds(value),
                        rebound::ParseGoDuration(value)}) {
    if (d.has_value()) FUZZ_CHECK(*d >= absl::ZeroDuration());
  }
  // Printing needs a four-digit year; the parsers accept 0000-9999.
  const auto printable = [](absl::Time t) {
    return t >= absl::FromCivil(absl::CivilSecond(0, 1, 1, 0, 0, 0), absl::UTCTimeZone()) &&
           t < absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  };
  if (const auto t = rebound::ParseHttpDate(value, now); t.has_value() && printable(*t)) {
    const std::string text =
        absl::FormatTime("%a, %d %b %E4Y %H:%M:%S GMT", *t, absl::UTCTimeZone());
    const auto again = rebound::ParseHttpDate(text, now);
    if (!again.has_value() || *again != *t) {
      std::fprintf(stderr, "HTTP-date %s printed as %s\n", std::string(value).c_str(),
                   text.c_str());
    }
    FUZZ_CHECK(again.has_value() && *again == *t);
  }
  if (const auto t = rebound::ParseRfc3339(value); t.has_value() && printable(*t)) {
    const std::string text = absl::FormatTime("%E4Y-%m-%dT%H:%M:%E*SZ", *t, absl::UTCTimeZone());
    const auto again = rebound::ParseRfc3339(text);
    if (!again.has_value() || *again != *t) {
      std::fprintf(stderr, "RFC 3339 %s printed as %s\n", std::string(value).c_str(), text.c_str());
    }
    FUZZ_CHECK(again.has_value() && *again == *t);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rebound::fuzz::FuzzInput in(data, size);
  const std::string_view first = in.Until('\n');
  const size_t space = first.find(' ');
  const int status = static_cast<int>(Number(first, 429));
  const absl::Time now = absl::FromUnixSeconds(Number(
      space == std::string_view::npos ? std::string_view() : first.substr(space + 1), 1767225600));

  Headers headers;
  Headers shouted;  // names in upper case, values padded with OWS
  while (!in.empty()) {
    const std::string_view line = in.Until('\n');
    const size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    std::string value(colon == std::string_view::npos ? std::string_view()
                                                      : line.substr(colon + 1));
    shouted.emplace_back(absl::AsciiStrToUpper(name), " \t" + value + "\t ");
    headers.emplace_back(std::move(name), std::move(value));
  }

  const std::optional<absl::Duration> wait = rebound::RetryAfterFromHeaders(headers, status, now);
  std::optional<absl::Duration> expected;
  for (const auto& [name, value] : headers) {
    CheckParsers(value, now);
    const auto w = ExpectedWait(name, value, status, now);
    if (w.has_value() && (!expected.has_value() || *w > *expected)) expected = w;
  }
  FUZZ_CHECK(wait == expected);
  FUZZ_CHECK(rebound::RetryAfterFromHeaders(shouted, status, now) == wait);
  if (wait.has_value()) {
    FUZZ_CHECK(*wait >= absl::ZeroDuration() && *wait <= rebound::kMaxHeaderWait);
    for (int64_t cap :
         {int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{300}, int64_t{1} << 40, INT64_MAX}) {
      const absl::Duration capped = rebound::CapRetryAfter(*wait, cap);
      FUZZ_CHECK(capped >= absl::ZeroDuration());
      FUZZ_CHECK(capped <= *wait);
      if (cap > 0) FUZZ_CHECK(capped <= absl::Seconds(cap));
    }
  }
  return 0;
}
