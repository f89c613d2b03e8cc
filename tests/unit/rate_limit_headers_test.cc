#include "codec/rate_limit_headers.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

using ::testing::Optional;
using Headers = std::vector<std::pair<std::string, std::string>>;

// 2026-11-27T22:15:30Z
const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 27, 22, 15, 30), absl::UTCTimeZone());

std::optional<absl::Duration> Wait(const Headers& headers, int status = 429) {
  return RetryAfterFromHeaders(headers, status, kNow);
}

// ------------------------------------------------------------ delta-seconds

TEST(RetryAfterTest, DeltaSeconds) {
  EXPECT_THAT(Wait({{"retry-after", "120"}}), Optional(absl::Seconds(120)));
  EXPECT_THAT(Wait({{"retry-after", "0"}}), Optional(absl::ZeroDuration()));
  EXPECT_THAT(Wait({{"retry-after", "007"}}), Optional(absl::Seconds(7)));
  EXPECT_THAT(Wait({{"retry-after", " \t30 "}}), Optional(absl::Seconds(30)));
}

TEST(RetryAfterTest, AppliesToEveryStatusNotOnly429) {
  EXPECT_THAT(Wait({{"retry-after", "5"}}, 503), Optional(absl::Seconds(5)));
  EXPECT_THAT(Wait({{"retry-after-ms", "5"}}, 500), Optional(absl::Milliseconds(5)));
}

TEST(RetryAfterTest, HeaderNamesAreCaseInsensitive) {
  EXPECT_THAT(Wait({{"Retry-After", "3"}}), Optional(absl::Seconds(3)));
  EXPECT_THAT(Wait({{"RETRY-AFTER-MS", "4"}}), Optional(absl::Milliseconds(4)));
  EXPECT_THAT(Wait({{"X-RateLimit-Reset-Tokens", "5s"}}), Optional(absl::Seconds(5)));
  EXPECT_THAT(Wait({{"Anthropic-RateLimit-Tokens-Reset", "2026-11-27T22:15:36Z"}}),
              Optional(absl::Seconds(6)));
}

TEST(RetryAfterTest, RejectsMalformedDeltaSeconds) {
  for (const char* bad : {"", " ", "-1", "+1", "1.5", "1e3", "0x10", "abc", "12abc", "1 2",
                          "99999999999999999999", "１"}) {
    EXPECT_EQ(Wait({{"retry-after", bad}}), std::nullopt) << bad;
  }
}

TEST(RetryAfterTest, WaitsAboveOneYearAreIgnoredAsInvalid) {
  EXPECT_THAT(Wait({{"retry-after", "31536000"}}), Optional(absl::Hours(24 * 365)));
  EXPECT_EQ(Wait({{"retry-after", "31536001"}}), std::nullopt);
  EXPECT_EQ(Wait({{"retry-after", "999999999999999"}}), std::nullopt);
  EXPECT_THAT(Wait({{"retry-after", "999999999999999"}, {"retry-after-ms", "10"}}),
              Optional(absl::Milliseconds(10)));
}

// --------------------------------------------------------------- HTTP-date

TEST(RetryAfterTest, ImfFixdate) {
  EXPECT_THAT(Wait({{"retry-after", "Fri, 27 Nov 2026 22:17:00 GMT"}}),
              Optional(absl::Seconds(90)));
}

TEST(RetryAfterTest, ObsoleteRfc850Date) {
  EXPECT_THAT(Wait({{"retry-after", "Friday, 27-Nov-26 22:17:00 GMT"}}),
              Optional(absl::Seconds(90)));
}

TEST(RetryAfterTest, ObsoleteAsctimeDate) {
  EXPECT_THAT(Wait({{"retry-after", "Fri Nov 27 22:17:00 2026"}}), Optional(absl::Seconds(90)));
  const absl::Time dec1 =
      absl::FromCivil(absl::CivilSecond(2026, 12, 1, 0, 0, 0), absl::UTCTimeZone());
  EXPECT_THAT(Wait({{"retry-after", "Tue Dec  1 00:00:00 2026"}}), Optional(dec1 - kNow));
}

TEST(RetryAfterTest, APastDateIsAValidZeroWait) {
  EXPECT_THAT(Wait({{"retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"}}),
              Optional(absl::ZeroDuration()));
  EXPECT_THAT(Wait({{"retry-after", "Fri, 27 Nov 2026 22:15:30 GMT"}}),
              Optional(absl::ZeroDuration()));
  EXPECT_THAT(Wait({{"retry-after", "Sun Nov  6 08:49:37 1994"}}), Optional(absl::ZeroDuration()));
}

TEST(RetryAfterTest, RejectsMalformedDates) {
  for (const char* bad : {
           "Fri, 27 Nov 2026 22:17:00 UTC",  // only GMT
           "Fri, 27 Nov 2026 22:17:00",      // no zone
           "fri, 27 Nov 2026 22:17:00 GMT",  // case-sensitive names
           "Fri, 27 nov 2026 22:17:00 GMT",
           "Fri, 27 Nov 2026 22:17:00 GMT x",  // trailing garbage
           "Fri, 7 Nov 2026 22:17:00 GMT",     // day needs two digits
           "Fri, 27 Nov 26 22:17:00 GMT",      // year needs four digits
           "Fri, 31 Nov 2026 22:17:00 GMT",    // no such day
           "Sun, 29 Feb 2027 00:00:00 GMT",    // not a leap year
           "Fri, 27 Nov 2026 24:00:00 GMT",    // hour
           "Fri, 27 Nov 2026 22:60:00 GMT",    // minute
           "Fri, 27 Nov 2026 22:17:61 GMT",    // second
           "Fri, 00 Nov 2026 22:17:00 GMT",    // day zero
           "Fri,27 Nov 2026 22:17:00 GMT",     // spacing
           "Fri  27 Nov 2026 22:17:00 GMT",
           "Fri, 27 Nov 2026 22:17 GMT",
           "Xyz, 27 Nov 2026 22:17:00 GMT",
           "Fri, 27-Nov-26 22:17:00 GMT",       // RFC 850 needs the long day name
           "Friday, 27 Nov 2026 22:17:00 GMT",  // IMF needs the short one
           "Fri Nov 27 22:17:00 26",            // asctime needs four digits
           "Fri Nov 7 22:17:00 2026",           // asctime pads with a space
           "2026-11-27T22:17:00Z",              // RFC 3339 is not an HTTP-date
       }) {
    EXPECT_EQ(Wait({{"retry-after", bad}}), std::nullopt) << bad;
  }
}

TEST(RetryAfterTest, AcceptsALeapDayAndALeapSecond) {
  EXPECT_TRUE(ParseHttpDate("Tue, 29 Feb 2028 00:00:00 GMT", kNow).has_value());
  EXPECT_TRUE(ParseHttpDate("Sat, 29 Feb 2000 00:00:00 GMT", kNow).has_value());
  EXPECT_FALSE(ParseHttpDate("Thu, 29 Feb 2100 00:00:00 GMT", kNow).has_value());
  EXPECT_EQ(ParseHttpDate("Sat, 31 Dec 2016 23:59:60 GMT", kNow),
            absl::FromCivil(absl::CivilSecond(2017, 1, 1, 0, 0, 0), absl::UTCTimeZone()));
}

TEST(RetryAfterTest, Rfc850TwoDigitYearsResolveWithinFiftyYears) {
  const auto year = [](const char* date) {
    return absl::ToCivilYear(*ParseHttpDate(date, kNow), absl::UTCTimeZone()).year();
  };
  EXPECT_EQ(year("Sunday, 06-Nov-94 08:49:37 GMT"), 1994);
  EXPECT_EQ(year("Friday, 27-Nov-26 22:17:00 GMT"), 2026);
  EXPECT_EQ(year("Monday, 01-Jan-76 00:00:00 GMT"), 2076);  // exactly 50 years ahead
  EXPECT_EQ(year("Monday, 01-Jan-77 00:00:00 GMT"), 1977);  // more than 50: last century
}

// ---------------------------------------------------------- retry-after-ms

TEST(RetryAfterMsTest, IntegerAndDecimalMilliseconds) {
  EXPECT_THAT(Wait({{"retry-after-ms", "1500"}}), Optional(absl::Milliseconds(1500)));
  EXPECT_THAT(Wait({{"retry-after-ms", "2.5"}}), Optional(absl::Microseconds(2500)));
  EXPECT_THAT(Wait({{"retry-after-ms", "0.001"}}), Optional(absl::Microseconds(1)));
  EXPECT_THAT(Wait({{"retry-after-ms", "0"}}), Optional(absl::ZeroDuration()));
  EXPECT_THAT(Wait({{"retry-after-ms", "1234.5678901234"}}),
              Optional(absl::Nanoseconds(1234567890)));
}

TEST(RetryAfterMsTest, RejectsMalformedValues) {
  for (const char* bad : {"", "-5", "+5", "1.", ".5", "1e3", "1,5", "abc", "5ms", "1.2.3"}) {
    EXPECT_EQ(Wait({{"retry-after-ms", bad}}), std::nullopt) << bad;
  }
}

// ------------------------------------------------------- OpenAI reset headers

TEST(OpenAiResetTest, GoDurations) {
  EXPECT_THAT(ParseGoDuration("1s"), Optional(absl::Seconds(1)));
  EXPECT_THAT(ParseGoDuration("6m0s"), Optional(absl::Minutes(6)));
  EXPECT_THAT(ParseGoDuration("250ms"), Optional(absl::Milliseconds(250)));
  EXPECT_THAT(ParseGoDuration("1h2m3.5s"),
              Optional(absl::Hours(1) + absl::Minutes(2) + absl::Milliseconds(3500)));
  EXPECT_THAT(ParseGoDuration("0.5s"), Optional(absl::Milliseconds(500)));
  EXPECT_THAT(ParseGoDuration(".5s"), Optional(absl::Milliseconds(500)));
  EXPECT_THAT(ParseGoDuration("1m30s"), Optional(absl::Seconds(90)));
  EXPECT_THAT(ParseGoDuration("17ms"), Optional(absl::Milliseconds(17)));
  EXPECT_THAT(ParseGoDuration("1.5h"), Optional(absl::Minutes(90)));
  EXPECT_THAT(ParseGoDuration("100us"), Optional(absl::Microseconds(100)));
  EXPECT_THAT(ParseGoDuration("3\xC2\xB5s"), Optional(absl::Microseconds(3)));
  EXPECT_THAT(ParseGoDuration("3\xCE\xBCs"), Optional(absl::Microseconds(3)));
  EXPECT_THAT(ParseGoDuration("42ns"), Optional(absl::Nanoseconds(42)));
  EXPECT_THAT(ParseGoDuration("0"), Optional(absl::ZeroDuration()));
  EXPECT_THAT(ParseGoDuration("0s"), Optional(absl::ZeroDuration()));
}

TEST(OpenAiResetTest, RejectsMalformedDurations) {
  for (const char* bad : {"", "1", "s", ".s", "1x", "-1s", "+1s", "1 s", "1s ", "1h-1m", "1.5",
                          "ms", "1sm", "1S", "00", "9999999999999999s"}) {
    EXPECT_EQ(ParseGoDuration(bad), std::nullopt) << bad;
  }
}

TEST(OpenAiResetTest, ReadOn429Only) {
  const Headers h = {{"x-ratelimit-reset-requests", "1s"}, {"x-ratelimit-reset-tokens", "6m0s"}};
  EXPECT_THAT(Wait(h, 429), Optional(absl::Minutes(6)));
  EXPECT_EQ(Wait(h, 503), std::nullopt);
  EXPECT_EQ(Wait(h, 200), std::nullopt);
}

TEST(OpenAiResetTest, OtherRateLimitHeadersAreNotWaits) {
  EXPECT_EQ(Wait({{"x-ratelimit-limit-requests", "60"},
                  {"x-ratelimit-remaining-tokens", "0"},
                  {"x-ratelimit-reset", "5s"}}),
            std::nullopt);
}

// ---------------------------------------------------- Anthropic reset headers

TEST(AnthropicResetTest, Rfc3339TimesMinusNow) {
  EXPECT_THAT(Wait({{"anthropic-ratelimit-requests-reset", "2026-11-27T22:15:37Z"}}),
              Optional(absl::Seconds(7)));
  EXPECT_THAT(Wait({{"anthropic-ratelimit-tokens-reset", "2026-11-27T22:15:31.250Z"}}),
              Optional(absl::Milliseconds(1250)));
  EXPECT_THAT(Wait({{"anthropic-ratelimit-input-tokens-reset", "2026-11-27T23:16:30+01:00"}}),
              Optional(absl::Minutes(1)));
  EXPECT_THAT(Wait({{"anthropic-ratelimit-output-tokens-reset", "2026-11-27T16:46:30-05:30"}}),
              Optional(absl::Minutes(1)));
  EXPECT_THAT(Wait({{"anthropic-ratelimit-tokens-reset", "2026-11-27t22:15:40z"}}),
              Optional(absl::Seconds(10)));
}

TEST(AnthropicResetTest, APastResetIsAValidZeroWait) {
  EXPECT_THAT(Wait({{"anthropic-ratelimit-requests-reset", "2026-11-27T22:15:00Z"}}),
              Optional(absl::ZeroDuration()));
}

TEST(AnthropicResetTest, ReadOn429Only) {
  EXPECT_EQ(Wait({{"anthropic-ratelimit-requests-reset", "2026-11-27T22:15:37Z"}}, 529),
            std::nullopt);
  EXPECT_EQ(Wait({{"anthropic-ratelimit-requests-reset", "2026-11-27T22:15:37Z"}}, 200),
            std::nullopt);
}

TEST(AnthropicResetTest, RejectsMalformedTimes) {
  for (const char* bad : {
           "",
           "2026-11-27T22:15:37",
           "2026-11-27 22:15:37",
           "2026-11-27T22:15Z",
           "2026-13-01T00:00:00Z",
           "2026-02-29T00:00:00Z",
           "2026-11-27T24:00:00Z",
           "2026-11-27T22:15:37.Z",
           "2026-11-27T22:15:37+0100",
           "2026-11-27T22:15:37+24:00",
           "2026-11-27T22:15:37+01:60",
           "26-11-27T22:15:37Z",
           "2026-11-27T22:15:37ZZ",
           "2026/11/27T22:15:37Z",
           "Fri, 27 Nov 2026 22:17:00 GMT",
           "1700000000",
       }) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << bad;
  }
  // A space instead of 'T' is allowed by RFC 3339's note.
  EXPECT_TRUE(ParseRfc3339("2026-11-27 22:15:37Z").has_value());
  EXPECT_EQ(Wait({{"anthropic-ratelimit-requests-reset", "2026-11-27T22:15:37"}}), std::nullopt);
}

TEST(AnthropicResetTest, KeepsFractionsToTheNanosecond) {
  const absl::Time base =
      absl::FromCivil(absl::CivilSecond(2026, 1, 2, 3, 4, 5), absl::UTCTimeZone());
  EXPECT_EQ(ParseRfc3339("2026-01-02T03:04:05.123456789123Z"), base + absl::Nanoseconds(123456789));
  EXPECT_EQ(ParseRfc3339("2026-01-02T03:04:05.5Z"), base + absl::Milliseconds(500));
}

// ------------------------------------------------------------ combination

TEST(RetryAfterFromHeadersTest, NoHeadersOrOnlyUnrelatedOnesGiveNothing) {
  EXPECT_EQ(Wait({}), std::nullopt);
  EXPECT_EQ(Wait({{"content-type", "application/json"}, {"x-request-id", "5"}}), std::nullopt);
}

TEST(RetryAfterFromHeadersTest, TheLargestValidValueWins) {
  EXPECT_THAT(Wait({{"retry-after", "5"},
                    {"retry-after-ms", "7000"},
                    {"x-ratelimit-reset-requests", "1s"},
                    {"anthropic-ratelimit-tokens-reset", "2026-11-27T22:15:36Z"}}),
              Optional(absl::Seconds(7)));
  EXPECT_THAT(Wait({{"retry-after-ms", "7000"}, {"retry-after", "8"}}), Optional(absl::Seconds(8)));
  EXPECT_THAT(Wait({{"x-ratelimit-reset-tokens", "2m"}, {"retry-after", "8"}}),
              Optional(absl::Minutes(2)));
}

TEST(RetryAfterFromHeadersTest, InvalidValuesAreIgnoredEvenWhenTheyLookLarger) {
  EXPECT_THAT(Wait({{"retry-after", "-600"},
                    {"retry-after", "600.5"},
                    {"retry-after-ms", "9e9"},
                    {"x-ratelimit-reset-tokens", "forever"},
                    {"anthropic-ratelimit-requests-reset", "2027-99-99T00:00:00Z"},
                    {"retry-after", "2"}}),
              Optional(absl::Seconds(2)));
}

TEST(RetryAfterFromHeadersTest, AllInvalidMeansNoWait) {
  EXPECT_EQ(Wait({{"retry-after", "soon"}, {"retry-after-ms", "-1"}}), std::nullopt);
}

TEST(RetryAfterFromHeadersTest, AbsurdValuesAreIgnoredInEveryForm) {
  EXPECT_EQ(Wait({{"retry-after-ms", "31536000001"}}), std::nullopt);
  EXPECT_EQ(Wait({{"x-ratelimit-reset-tokens", "8761h"}}), std::nullopt);
  EXPECT_EQ(Wait({{"anthropic-ratelimit-tokens-reset", "2099-01-01T00:00:00Z"}}), std::nullopt);
  EXPECT_EQ(Wait({{"retry-after", "Thu, 01 Jan 2099 00:00:00 GMT"}}), std::nullopt);
}

TEST(RetryAfterFromHeadersTest, AZeroWaitIsStillAValue) {
  EXPECT_THAT(Wait({{"retry-after", "0"}}), Optional(absl::ZeroDuration()));
}

TEST(RetryAfterFromHeadersTest, KeepsMillisecondPrecision) {
  EXPECT_THAT(Wait({{"retry-after-ms", "1234"}}), Optional(absl::Milliseconds(1234)));
  EXPECT_THAT(Wait({{"x-ratelimit-reset-requests", "1.234s"}}), Optional(absl::Milliseconds(1234)));
}

// ----------------------------------------------------------- CapRetryAfter

TEST(CapRetryAfterTest, LimitsToTheConfiguredMaximum) {
  EXPECT_EQ(CapRetryAfter(absl::Seconds(10), 300), absl::Seconds(10));
  EXPECT_EQ(CapRetryAfter(absl::Seconds(3600), 300), absl::Seconds(300));
  EXPECT_EQ(CapRetryAfter(absl::Milliseconds(300001), 300), absl::Seconds(300));
  EXPECT_EQ(CapRetryAfter(absl::Milliseconds(1500), 300), absl::Milliseconds(1500));
  EXPECT_EQ(CapRetryAfter(absl::InfiniteDuration(), 5), absl::Seconds(5));
}

TEST(CapRetryAfterTest, NeverNegativeAndZeroMaxMeansNoWait) {
  EXPECT_EQ(CapRetryAfter(absl::Seconds(-5), 300), absl::ZeroDuration());
  EXPECT_EQ(CapRetryAfter(absl::Seconds(5), 0), absl::ZeroDuration());
  EXPECT_EQ(CapRetryAfter(absl::Seconds(5), -1), absl::ZeroDuration());
}

// ------------------------------------------------------------ DaysFromCivil

TEST(DaysFromCivilTest, KnownDates) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(1600, 1, 1), -135140);
}

TEST(DaysFromCivilTest, AgreesWithAbseilOnEveryDayFrom1600To2400) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  for (absl::CivilDay day(1600, 1, 1); day < absl::CivilDay(2400, 1, 1); ++day) {
    const int64_t want = absl::ToUnixSeconds(absl::FromCivil(day, utc)) / 86400;
    ASSERT_EQ(DaysFromCivil(day.year(), day.month(), day.day()), want) << day;
  }
}

}  // namespace
}  // namespace rebound
