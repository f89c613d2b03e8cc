// How long an upstream asked us to wait (RETRY.md 3.3): Retry-After in both
// of its forms, retry-after-ms, and on 429 the OpenAI and Anthropic rate-limit
// reset headers. Pure functions; "now" is passed in.
#ifndef REBOUND_CODEC_RATE_LIMIT_HEADERS_H_
#define REBOUND_CODEC_RATE_LIMIT_HEADERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace rebound {

// A wait longer than this is not a rate-limit signal but garbage (or an
// attack on the block table); such values are ignored as invalid.
inline constexpr absl::Duration kMaxHeaderWait = absl::Hours(24 * 365);

// The wait the response headers ask for, or nullopt when none of them
// carries a valid value. Header names match case-insensitively; values may
// have surrounding spaces or tabs. Read:
//   retry-after        delta-seconds (digits only: no sign, fraction or
//                      exponent) or an HTTP-date (IMF-fixdate, and the
//                      obsolete RFC 850 and asctime forms); a date in the past
//                      is a valid zero wait
//   retry-after-ms     milliseconds, integer or decimal ("1500", "2.5")
//   only when http_status is 429:
//   x-ratelimit-reset-requests, x-ratelimit-reset-tokens
//                      (OpenAI) Go-style durations: "1s", "6m0s", "250ms",
//                      "1h2m3.5s", "0.5s"
//   anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset
//                      (Anthropic) RFC 3339 times, minus now; past = zero
// The largest valid value wins. Invalid values, negative ones and values
// above kMaxHeaderWait are ignored. Sub-second precision is kept. Capping to
// max_retry_after_seconds is the caller's job (CapRetryAfter).
std::optional<absl::Duration> RetryAfterFromHeaders(
    const std::vector<std::pair<std::string, std::string>>& headers, int http_status,
    absl::Time now);

// `wait` limited to [0, max_seconds] (max_seconds <= 0 gives zero).
absl::Duration CapRetryAfter(absl::Duration wait, int64_t max_seconds);

// The individual parsers, exposed for tests and reuse. Each takes the value
// without surrounding whitespace and returns nullopt when it is malformed;
// none applies the kMaxHeaderWait limit.

// RFC 9110 delta-seconds: 1*DIGIT.
std::optional<absl::Duration> ParseDeltaSeconds(std::string_view value);
// RFC 9110 HTTP-date in any of its three forms. `now` resolves the two-digit
// year of the RFC 850 form (a year more than 50 years ahead is taken from the
// previous century).
std::optional<absl::Time> ParseHttpDate(std::string_view value, absl::Time now);
// 1*DIGIT [ "." 1*DIGIT ] milliseconds.
std::optional<absl::Duration> ParseMilliseconds(std::string_view value);
// Go's time.Duration text without a sign: one or more <decimal><unit> with
// units h, m, s, ms, us (or µs), ns; "0" alone is zero.
std::optional<absl::Duration> ParseGoDuration(std::string_view value);
// RFC 3339 date-time: 2026-11-27T22:15:37Z, optional fraction, "Z" or a
// numeric offset. 't', 'z' and a space instead of 'T' are accepted.
std::optional<absl::Time> ParseRfc3339(std::string_view value);

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31;
// not validated). Howard Hinnant's days_from_civil.
int64_t DaysFromCivil(int64_t year, int month, int day);

}  // namespace rebound

#endif  // REBOUND_CODEC_RATE_LIMIT_HEADERS_H_
