// The fake provider's pure parts, without sockets: the fault language, the
// script format, HTTP request parsing and the response plan of each fault.
#include "tests/fakeprovider/fault_spec.h"

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakeprovider/error_bodies.h"
#include "tests/fakeprovider/fake_provider.h"
#include "tests/fakeprovider/fault_response.h"
#include "tests/fakeprovider/http_request.h"
#include "tests/fakeprovider/json_text.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;

FaultSpec ParseOk(std::string_view text) {
  absl::StatusOr<FaultSpec> spec = ParseFaultSpec(text);
  EXPECT_TRUE(spec.ok()) << text << ": " << spec.status();
  return spec.ok() ? *spec : FaultSpec{};
}

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<FaultSpec> spec = ParseFaultSpec(text);
  EXPECT_FALSE(spec.ok()) << text << " parsed but should not";
  return spec.ok() ? "" : std::string(spec.status().message());
}

TEST(FaultSpecTest, EmptySpecMeansHealthySuccess) {
  FaultSpec spec = ParseOk("");
  EXPECT_FALSE(spec.status);
  EXPECT_FALSE(spec.body);
  EXPECT_EQ(spec.tokens, kDefaultTokens);
  EXPECT_EQ(spec.delay_headers_ms, 0);
  EXPECT_FALSE(spec.stall || spec.echo || spec.no_done || spec.reset_before_headers);
  EXPECT_TRUE(spec.headers.empty());
}

TEST(FaultSpecTest, StatusWithRetryAfter) {
  FaultSpec spec = ParseOk("status=429;retry_after=2");
  EXPECT_EQ(spec.status, 429);
  EXPECT_EQ(spec.retry_after, "2");
}

TEST(FaultSpecTest, RetryAfterKeepsAnHttpDateVerbatim) {
  FaultSpec spec = ParseOk("status=503;retry_after=Wed, 21 Oct 2015 07:28:00 GMT");
  EXPECT_EQ(spec.retry_after, "Wed, 21 Oct 2015 07:28:00 GMT");
}

TEST(FaultSpecTest, RetryAfterDateTakesSignedSeconds) {
  EXPECT_EQ(ParseOk("retry_after_date=+30").retry_after_date_s, 30);
  EXPECT_EQ(ParseOk("retry_after_date=30").retry_after_date_s, 30);
  EXPECT_EQ(ParseOk("retry_after_date=-5").retry_after_date_s, -5);
  EXPECT_THAT(ErrorOf("retry_after_date=soon"), HasSubstr("retry_after_date"));
}

TEST(FaultSpecTest, RetryAfterMs) {
  EXPECT_EQ(ParseOk("retry_after_ms=1500").retry_after_ms, 1500);
}

TEST(FaultSpecTest, WhitespaceAroundItemsKeysAndValuesIsIgnored) {
  FaultSpec spec = ParseOk("  status = 429 ;  retry_after= 7 ; ");
  EXPECT_EQ(spec.status, 429);
  EXPECT_EQ(spec.retry_after, "7");
}

TEST(FaultSpecTest, EmptyItemsAreSkipped) { EXPECT_EQ(ParseOk(";;status=500;;").status, 500); }

TEST(FaultSpecTest, HeadersAreRepeatableAndKeepOrder) {
  FaultSpec spec = ParseOk(
      "header=x-ratelimit-reset-requests:6m0s;header=anthropic-ratelimit-requests-reset: "
      "2030-01-01T00:00:00Z");
  EXPECT_THAT(spec.headers,
              ElementsAre(Pair("x-ratelimit-reset-requests", "6m0s"),
                          Pair("anthropic-ratelimit-requests-reset", "2030-01-01T00:00:00Z")));
}

TEST(FaultSpecTest, HeaderValueMayContainColons) {
  FaultSpec spec = ParseOk("header=x-when:12:30:00");
  EXPECT_THAT(spec.headers, ElementsAre(Pair("x-when", "12:30:00")));
}

TEST(FaultSpecTest, BodyUnescapesSemicolonBackslashAndNewline) {
  FaultSpec spec = ParseOk(R"(status=400;body={"a":1\;"b":"c\\d"}\n)");
  EXPECT_EQ(spec.status, 400);
  EXPECT_EQ(spec.body, "{\"a\":1;\"b\":\"c\\d\"}\n");
}

TEST(FaultSpecTest, BodyValueMayContainEquals) { EXPECT_EQ(ParseOk("body=a=b").body, "a=b"); }

TEST(FaultSpecTest, BodyB64GivesExactBytes) {
  // "; \x00\xff" in base64.
  FaultSpec spec = ParseOk("body_b64=OyAA/w==");
  ASSERT_TRUE(spec.body);
  EXPECT_EQ(*spec.body, std::string("; \0\xff", 4));
  EXPECT_THAT(ErrorOf("body_b64=***"), HasSubstr("base64"));
}

TEST(FaultSpecTest, TimingAndShape) {
  FaultSpec spec = ParseOk(
      "delay_headers_ms=10;delay_first_token_ms=20;token_interval_ms=30;tokens=7;"
      "response_bytes=4096");
  EXPECT_EQ(spec.delay_headers_ms, 10);
  EXPECT_EQ(spec.delay_first_token_ms, 20);
  EXPECT_EQ(spec.token_interval_ms, 30);
  EXPECT_EQ(spec.tokens, 7);
  EXPECT_EQ(spec.response_bytes, 4096);
}

TEST(FaultSpecTest, StreamFaults) {
  EXPECT_EQ(ParseOk("stall_after_events=3").stall_after_events, 3);
  EXPECT_EQ(ParseOk("cut_after_events=0").cut_after_events, 0);
  EXPECT_EQ(ParseOk("malformed_event_at=2").malformed_event_at, 2);
}

TEST(FaultSpecTest, BareFlags) {
  EXPECT_FALSE(ParseOk("").lenient);
  FaultSpec spec =
      ParseOk("reset_before_headers;close_before_headers;stall;no_done;echo;lenient");
  EXPECT_TRUE(spec.reset_before_headers);
  EXPECT_TRUE(spec.close_before_headers);
  EXPECT_TRUE(spec.stall);
  EXPECT_TRUE(spec.no_done);
  EXPECT_TRUE(spec.echo);
  EXPECT_TRUE(spec.lenient);
}

TEST(FaultSpecTest, AnswerShapes) {
  FaultSpec spec = ParseOk(
      R"(tool_call=get_weather;tool_args={"city":"Par\;is","n":1};stop=pause_turn;)"
      "cache_read=30;cache_write=12");
  EXPECT_EQ(spec.tool_call, "get_weather");
  EXPECT_EQ(spec.tool_args, R"({"city":"Par;is","n":1})");
  EXPECT_EQ(spec.stop, "pause_turn");
  EXPECT_EQ(spec.cache_read, 30);
  EXPECT_EQ(spec.cache_write, 12);
  FaultSpec plain = ParseOk("");
  EXPECT_FALSE(plain.tool_call);
  EXPECT_EQ(plain.tool_args, "{}");
  EXPECT_FALSE(plain.stop);
  for (std::string_view reason : kStopReasons) {
    EXPECT_EQ(ParseOk(absl::StrCat("stop=", ToAbsl(reason))).stop, reason);
  }
}

TEST(FaultSpecTest, RejectsBadAnswerShapes) {
  EXPECT_THAT(ErrorOf("tool_call=get weather"), HasSubstr("tool_call=get weather"));
  EXPECT_THAT(ErrorOf("tool_call="), HasSubstr("tool_call="));
  EXPECT_THAT(ErrorOf("tool_args=[1]"), HasSubstr("tool_args: must be a JSON object"));
  EXPECT_THAT(ErrorOf("tool_args={not json"), HasSubstr("tool_args: must be a JSON object"));
  EXPECT_THAT(ErrorOf("stop=finished"), HasSubstr("stop=finished: unknown reason (known: end_turn"));
  EXPECT_THAT(ErrorOf("cache_read=-1"), HasSubstr("cache_read"));
}

TEST(FaultSpecTest, ErrorClassNamesATableRow) {
  FaultSpec spec = ParseOk("error_class=quota_exhausted;retry_after=30");
  ASSERT_TRUE(spec.error_class);
  EXPECT_EQ(spec.error_class->name, "quota_exhausted");
  EXPECT_EQ(spec.error_class->openai_status, 429);
  EXPECT_EQ(spec.retry_after, "30");
  EXPECT_FALSE(spec.status);  // the class's own status applies
  EXPECT_FALSE(ParseOk("").error_class);
  for (const ErrorShape& shape : ErrorShapes()) {
    FaultSpec s = ParseOk(absl::StrCat("error_class=", ToAbsl(shape.name)));
    ASSERT_TRUE(s.error_class) << shape.name;
    EXPECT_EQ(s.error_class->name, shape.name);
  }
}

TEST(FaultSpecTest, UnknownErrorClassSaysWhichAreKnown) {
  EXPECT_EQ(ErrorOf("error_class=overload"),
            "error_class=overload: unknown class (known: context_length_exceeded, "
            "content_filter, quota_exhausted, rate_limited, overloaded, server_error, "
            "invalid_request, authentication, not_found)");
  EXPECT_THAT(ErrorOf("error_class="), HasSubstr("error_class=: unknown class"));
  EXPECT_THAT(ErrorOf("error_class=Rate_Limited"), HasSubstr("unknown class"));
  EXPECT_THAT(ErrorOf("error_class"), HasSubstr("'error_class': unknown flag"));
}

TEST(FaultSpecTest, LaterValueWins) { EXPECT_EQ(ParseOk("status=429;status=503").status, 503); }

TEST(FaultSpecTest, ErrorsNameTheOffendingItem) {
  EXPECT_THAT(ErrorOf("status=429;colour=blue"), HasSubstr("'colour': unknown key"));
  EXPECT_THAT(ErrorOf("status=abc"), HasSubstr("status=abc: expected an integer"));
  EXPECT_THAT(ErrorOf("status=99"), HasSubstr("must be in [200, 599]"));
  EXPECT_THAT(ErrorOf("status=600"), HasSubstr("must be in [200, 599]"));
  EXPECT_THAT(ErrorOf("tokens=-1"), HasSubstr("tokens=-1"));
  EXPECT_THAT(ErrorOf("delay_headers_ms=99999999999"), HasSubstr("delay_headers_ms"));
  EXPECT_THAT(ErrorOf("malformed_event_at=0"), HasSubstr("malformed_event_at"));
  EXPECT_THAT(ErrorOf("explode"), HasSubstr("'explode': unknown flag"));
  EXPECT_THAT(ErrorOf("stall=1"), HasSubstr("stall is a flag"));
  EXPECT_THAT(ErrorOf("lenient=1"), HasSubstr("lenient is a flag"));
  EXPECT_THAT(ErrorOf("=5"), HasSubstr("missing key"));
  EXPECT_THAT(ErrorOf("status"), HasSubstr("unknown flag"));
}

TEST(FaultSpecTest, RejectsBadHeaders) {
  EXPECT_THAT(ErrorOf("header=novalue"), HasSubstr("expected Name:Value"));
  EXPECT_THAT(ErrorOf("header=:v"), HasSubstr("expected Name:Value"));
  EXPECT_THAT(ErrorOf("header=bad name:v"), HasSubstr("invalid character"));
  EXPECT_THAT(ErrorOf(R"(header=x:a\nb)"), HasSubstr("CR, LF or NUL"));
  EXPECT_THAT(ErrorOf("header=Content-Length:5"), HasSubstr("framing headers"));
  EXPECT_THAT(ErrorOf("header=transfer-encoding:chunked"), HasSubstr("framing headers"));
  EXPECT_THAT(ErrorOf(R"(retry_after=1\r\nx: y)"), HasSubstr("CR, LF or NUL"));
}

TEST(FaultSpecTest, RejectsBadEscapes) {
  EXPECT_THAT(ErrorOf(R"(body=a\qb)"), HasSubstr("unknown escape"));
  EXPECT_THAT(ErrorOf("body=abc\\"), HasSubstr("dangling"));
}

TEST(FaultSpecTest, StallAndCutExcludeEachOther) {
  EXPECT_THAT(ErrorOf("stall_after_events=1;cut_after_events=2"), HasSubstr("exclude"));
}

TEST(FaultSpecTest, NeverCrashesOnArbitraryBytes) {
  std::string junk;
  for (int i = 0; i < 256; ++i) junk.push_back(static_cast<char>(i));
  (void)ParseFaultSpec(junk);
  (void)ParseFaultSpec("=;=;\\;\\");
  (void)ParseFaultSpec(std::string(1 << 16, ';'));
}

TEST(ScriptTest, OneSpecPerLineWithEmptyLinesMeaningSuccess) {
  absl::StatusOr<std::deque<FaultSpec>> script = ParseScript("status=429\n\nstatus=503\n");
  ASSERT_TRUE(script.ok()) << script.status();
  ASSERT_EQ(script->size(), 3u);
  EXPECT_EQ((*script)[0].status, 429);
  EXPECT_FALSE((*script)[1].status);
  EXPECT_EQ((*script)[2].status, 503);
}

TEST(ScriptTest, FinalTerminatorAddsNoEntryButAFinalEmptyLineDoes) {
  EXPECT_EQ(ParseScript("status=429").value().size(), 1u);
  EXPECT_EQ(ParseScript("status=429\n").value().size(), 1u);
  EXPECT_EQ(ParseScript("status=429\n\n").value().size(), 2u);
  EXPECT_EQ(ParseScript("\n").value().size(), 1u);
  EXPECT_EQ(ParseScript("").value().size(), 0u);
}

TEST(ScriptTest, AcceptsCrlf) {
  absl::StatusOr<std::deque<FaultSpec>> script = ParseScript("status=429\r\nstatus=500\r\n");
  ASSERT_TRUE(script.ok()) << script.status();
  ASSERT_EQ(script->size(), 2u);
  EXPECT_EQ((*script)[1].status, 500);
}

TEST(ScriptTest, ErrorNamesTheLine) {
  absl::StatusOr<std::deque<FaultSpec>> script = ParseScript("status=429\nstatus=x\n");
  ASSERT_FALSE(script.ok());
  EXPECT_THAT(std::string(script.status().message()), HasSubstr("script line 2"));
}

// ---------------------------------------------------------------- HTTP parsing

ParseResult Parse(std::string_view bytes, HttpRequest& request, ParseLimits limits = {}) {
  return ParseRequest(bytes, limits, request);
}

TEST(HttpRequestParseTest, CompleteRequestWithBody) {
  std::string bytes =
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: h\r\nX-Api-Key:  k  \r\n"
      "Content-Length: 2\r\n\r\n{}";
  HttpRequest r;
  ParseResult p = Parse(bytes, r);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.consumed, bytes.size());
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/chat/completions?x=1");
  EXPECT_EQ(r.body, "{}");
  EXPECT_TRUE(r.keep_alive);
  ASSERT_EQ(r.headers.size(), 3u);
  EXPECT_EQ(r.headers[1].name, "X-Api-Key");  // original case
  EXPECT_EQ(r.headers[1].value, "k");         // OWS trimmed
  EXPECT_EQ(r.FindHeader("x-api-key"), "k");
  EXPECT_FALSE(r.FindHeader("authorization"));
}

TEST(HttpRequestParseTest, PipelinedRequestsAreTakenOneAtATime) {
  std::string first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string second = "GET /b HTTP/1.1\r\n\r\n";
  std::string both = first + second;  // the request's views point into it
  HttpRequest r;
  ParseResult p = Parse(both, r);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.consumed, first.size());
  EXPECT_EQ(r.target, "/a");
  p = Parse(second, r);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(r.target, "/b");
}

TEST(HttpRequestParseTest, IncompleteHeadOrBody) {
  HttpRequest r;
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: h\r\n", r).status, ParseStatus::kIncomplete);
  ParseResult p = Parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", r);
  EXPECT_EQ(p.status, ParseStatus::kIncomplete);
  EXPECT_FALSE(p.expects_continue);
  p = Parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", r);
  EXPECT_EQ(p.status, ParseStatus::kIncomplete);
  EXPECT_TRUE(p.expects_continue);
}

TEST(HttpRequestParseTest, LeadingEmptyLinesAreIgnored) {
  HttpRequest r;
  ParseResult p = Parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n", r);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.consumed, 22u);
}

TEST(HttpRequestParseTest, KeepAliveRules) {
  HttpRequest r;
  Parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", r);
  EXPECT_FALSE(r.keep_alive);
  Parse("GET / HTTP/1.1\r\nConnection: Keep-Alive, Upgrade\r\n\r\n", r);
  EXPECT_TRUE(r.keep_alive);
  Parse("GET / HTTP/1.0\r\n\r\n", r);
  EXPECT_FALSE(r.keep_alive);
  Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", r);
  EXPECT_TRUE(r.keep_alive);
}

int ErrorStatus(std::string_view bytes, ParseLimits limits = {}) {
  HttpRequest r;
  ParseResult p = Parse(bytes, r, limits);
  EXPECT_EQ(p.status, ParseStatus::kError) << bytes;
  return p.error_status;
}

TEST(HttpRequestParseTest, MalformedRequestsAre400) {
  EXPECT_EQ(ErrorStatus("GARBAGE\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET  / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("G(T / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / FTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nName : x\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nA: b\rC: d\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus(std::string("GET / HTTP/1.1\r\nA: \0\r\n\r\n", 24)), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
}

TEST(HttpRequestParseTest, UnsupportedFramingAndLimits) {
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
  EXPECT_EQ(ErrorStatus("GET / HTTP/2.0\r\n\r\n"), 505);
  ParseLimits small{.max_header_bytes = 64, .max_body_bytes = 10};
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", small), 413);
  EXPECT_EQ(ErrorStatus(absl::StrCat("GET / HTTP/1.1\r\nA: ", std::string(100, 'a')), small), 431);
  EXPECT_EQ(
      ErrorStatus(absl::StrCat("GET / HTTP/1.1\r\nA: ", std::string(100, 'a'), "\r\n\r\n"), small),
      431);
}

TEST(HttpRequestParseTest, NeverCrashesOnRandomInput) {
  std::mt19937 rng(42);
  const std::string alphabet = "GET POST/ HTTP/1.01\r\n:Content-Length: 0123456789ab\x00\xff";
  HttpRequest r;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    size_t n = rng() % 120;
    for (size_t j = 0; j < n; ++j) bytes.push_back(alphabet[rng() % alphabet.size()]);
    ParseResult p = Parse(bytes, r, {.max_header_bytes = 80, .max_body_bytes = 50});
    if (p.status == ParseStatus::kComplete) {
      EXPECT_LE(p.consumed, bytes.size());
    }
  }
}

// ---------------------------------------------------------------- response plans

class FaultResponseTest : public ::testing::Test {
 protected:
  ResponsePlan Build(std::string_view spec_text, bool stream = false, Api api = Api::kOpenAi) {
    request_.method = "POST";
    request_.target = api == Api::kOpenAi ? "/v1/chat/completions" : "/v1/messages";
    request_.body = R"({"model":"m"})";
    request_.received_unix_us = 1'700'000'000'000'000;
    ResponsePlan plan;
    BuildFaultResponse(ParseOk(spec_text),
                       {.http = request_,
                        .api = api,
                        .model = "m",
                        .stream = stream,
                        .id = 7,
                        .facts = {}},
                       plan);
    return plan;
  }

  static std::vector<ResponseStep::Kind> Kinds(const ResponsePlan& plan) {
    std::vector<ResponseStep::Kind> kinds;
    for (const ResponseStep& s : plan.steps()) kinds.push_back(s.kind);
    return kinds;
  }

  HttpRequest request_;
};

using Kind = ResponseStep::Kind;

TEST_F(FaultResponseTest, HealthyAnswerIsOneWrite) {
  ResponsePlan plan = Build("");
  ASSERT_THAT(Kinds(plan), ElementsAre(Kind::kWrite));
  const std::string& bytes = plan.steps()[0].data;
  EXPECT_THAT(bytes, ::testing::StartsWith("HTTP/1.1 200 OK\r\n"));
  std::string body = bytes.substr(bytes.find("\r\n\r\n") + 4);
  EXPECT_THAT(bytes, HasSubstr(absl::StrCat("Content-Length: ", body.size(), "\r\n")));
  EXPECT_THAT(body, HasSubstr(R"("created":1700000000)"));
  EXPECT_THAT(bytes, Not(HasSubstr("Connection: close")));
}

TEST_F(FaultResponseTest, ClosingClientGetsConnectionClose) {
  request_.keep_alive = false;
  EXPECT_THAT(Build("").steps()[0].data, HasSubstr("Connection: close\r\n"));
}

TEST_F(FaultResponseTest, DelaysBecomeWaitsAroundTheHead) {
  ResponsePlan plan = Build("delay_headers_ms=100;delay_first_token_ms=50");
  ASSERT_THAT(Kinds(plan), ElementsAre(Kind::kWait, Kind::kWrite, Kind::kWait, Kind::kWrite));
  EXPECT_EQ(plan.steps()[0].wait_ms, 100);
  EXPECT_THAT(plan.steps()[1].data, ::testing::EndsWith("\r\n\r\n"));
  EXPECT_EQ(plan.steps()[2].wait_ms, 50);
}

TEST_F(FaultResponseTest, StreamSpacesEveryEventAndEndsWithTheLastChunk) {
  ResponsePlan plan = Build("tokens=2;delay_first_token_ms=30;token_interval_ms=10", true);
  // head, then 4 events (2 tokens, finish, [DONE]) each after a wait.
  ASSERT_THAT(Kinds(plan),
              ElementsAre(Kind::kWrite, Kind::kWait, Kind::kWrite, Kind::kWait, Kind::kWrite,
                          Kind::kWait, Kind::kWrite, Kind::kWait, Kind::kWrite));
  EXPECT_EQ(plan.steps()[1].wait_ms, 30);
  EXPECT_EQ(plan.steps()[3].wait_ms, 10);
  EXPECT_THAT(plan.steps()[0].data, HasSubstr("Transfer-Encoding: chunked\r\n"));
  EXPECT_THAT(plan.steps()[8].data, HasSubstr("data: [DONE]\n\n\r\n0\r\n\r\n"));
}

TEST_F(FaultResponseTest, CutAndStallEndTheStreamEarly) {
  ResponsePlan cut = Build("cut_after_events=2;token_interval_ms=5", true);
  EXPECT_EQ(Kinds(cut).back(), Kind::kClose);
  EXPECT_THAT(cut.steps()[cut.steps().size() - 2].data, Not(HasSubstr("0\r\n\r\n")));
  ResponsePlan stall = Build("stall_after_events=0", true);
  EXPECT_THAT(Kinds(stall), ElementsAre(Kind::kWrite, Kind::kStall));
}

TEST_F(FaultResponseTest, ConnectionFaults) {
  EXPECT_THAT(Kinds(Build("reset_before_headers")), ElementsAre(Kind::kReset));
  EXPECT_THAT(Kinds(Build("delay_headers_ms=5;reset_before_headers")),
              ElementsAre(Kind::kWait, Kind::kReset));
  EXPECT_THAT(Kinds(Build("close_before_headers")), ElementsAre(Kind::kClose));
  EXPECT_THAT(Kinds(Build("stall;status=500")), ElementsAre(Kind::kStall));
}

TEST_F(FaultResponseTest, ErrorsIgnoreStreamingAndCarryRetryHeaders) {
  ResponsePlan plan = Build("status=429;retry_after_date=+30;retry_after_ms=250", true);
  ASSERT_THAT(Kinds(plan), ElementsAre(Kind::kWrite));
  const std::string& bytes = plan.steps()[0].data;
  EXPECT_THAT(bytes, ::testing::StartsWith("HTTP/1.1 429 Too Many Requests\r\n"));
  // 1'700'000'030 s after the epoch.
  EXPECT_THAT(bytes, HasSubstr("Retry-After: Tue, 14 Nov 2023 22:13:50 GMT\r\n"));
  EXPECT_THAT(bytes, HasSubstr("retry-after-ms: 250\r\n"));
  EXPECT_THAT(bytes, ::testing::EndsWith(ErrorBody(429)));
}

// The body of a single-write answer.
std::string BodyOf(const ResponsePlan& plan) {
  const std::string& bytes = plan.steps()[0].data;
  return bytes.substr(bytes.find("\r\n\r\n") + 4);
}

TEST_F(FaultResponseTest, ErrorClassAnswersInTheRequestsApiShape) {
  const ErrorShape overloaded = *FindErrorShape("overloaded");
  ResponsePlan openai = Build("error_class=overloaded");
  ASSERT_THAT(Kinds(openai), ElementsAre(Kind::kWrite));
  EXPECT_THAT(openai.steps()[0].data, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_EQ(BodyOf(openai), ErrorAnswerBody(overloaded, Api::kOpenAi));
  EXPECT_THAT(BodyOf(openai), StartsWith(R"({"error":{"message":"That model is )"));

  ResponsePlan anthropic = Build("error_class=overloaded", false, Api::kAnthropic);
  EXPECT_THAT(anthropic.steps()[0].data, StartsWith("HTTP/1.1 529 Site Overloaded\r\n"));
  EXPECT_EQ(BodyOf(anthropic),
            R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},)"
            R"("request_id":"req_011CFakeProviderError"})");
}

TEST_F(FaultResponseTest, ErrorClassIgnoresStreamingWithoutErrorEventAt) {
  ResponsePlan plan = Build("error_class=rate_limited;retry_after=7", true, Api::kAnthropic);
  ASSERT_THAT(Kinds(plan), ElementsAre(Kind::kWrite));
  EXPECT_THAT(plan.steps()[0].data, StartsWith("HTTP/1.1 429 Too Many Requests\r\n"));
  EXPECT_THAT(plan.steps()[0].data, HasSubstr("Retry-After: 7\r\n"));
  EXPECT_THAT(plan.steps()[0].data, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_THAT(BodyOf(plan), HasSubstr(R"("type":"rate_limit_error")"));
}

TEST_F(FaultResponseTest, StatusAndBodyOverrideTheErrorClass) {
  ResponsePlan status = Build("error_class=context_length_exceeded;status=413");
  EXPECT_THAT(status.steps()[0].data, StartsWith("HTTP/1.1 413 "));
  EXPECT_EQ(BodyOf(status), ErrorAnswerBody(*FindErrorShape("context_length_exceeded"),
                                            Api::kOpenAi));
  // status=200: a provider that answers its errors with 200.
  ResponsePlan ok = Build("error_class=server_error;status=200");
  EXPECT_THAT(ok.steps()[0].data, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(BodyOf(ok), ErrorAnswerBody(*FindErrorShape("server_error"), Api::kOpenAi));
  ResponsePlan body = Build("error_class=not_found;body=gone");
  EXPECT_THAT(body.steps()[0].data, StartsWith("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_EQ(BodyOf(body), "gone");
}

TEST_F(FaultResponseTest, ErrorEventAtCarriesTheErrorClass) {
  const ErrorShape filter = *FindErrorShape("content_filter");
  for (Api api : {Api::kOpenAi, Api::kAnthropic}) {
    ResponsePlan plan = Build("tokens=3;error_event_at=2;error_class=content_filter", true, api);
    EXPECT_THAT(plan.steps()[0].data, StartsWith("HTTP/1.1 200 OK\r\n"));
    std::string all;
    for (const ResponseStep& step : plan.steps()) all += step.data;
    std::string event = ErrorEventOf(filter, api);
    EXPECT_THAT(all, HasSubstr(event));
    // The stream ends at the error event, cleanly.
    EXPECT_THAT(all, EndsWith(absl::StrCat(ToAbsl(event), "\r\n0\r\n\r\n")));
  }
  EXPECT_EQ(ErrorEventOf(filter, Api::kAnthropic),
            "event: error\n"
            R"(data: {"type":"error","error":{"type":"invalid_request_error",)"
            R"("message":"Output blocked by content filtering policy"}})"
            "\n\n");
  // Without a class the event stays the generic one.
  ResponsePlan plain = Build("tokens=3;error_event_at=2", true, Api::kAnthropic);
  std::string all;
  for (const ResponseStep& step : plain.steps()) all += step.data;
  EXPECT_THAT(all, HasSubstr(ErrorEvent(Api::kAnthropic)));
}

TEST_F(FaultResponseTest, AnErrorStatusBeatsErrorEventAt) {
  ResponsePlan plan = Build("error_class=overloaded;error_event_at=2;status=500", true);
  ASSERT_THAT(Kinds(plan), ElementsAre(Kind::kWrite));
  EXPECT_THAT(plan.steps()[0].data, StartsWith("HTTP/1.1 500 "));
  EXPECT_EQ(BodyOf(plan), ErrorAnswerBody(*FindErrorShape("overloaded"), Api::kOpenAi));
  // A non-stream request has no events: the class is the answer.
  ResponsePlan unary = Build("error_class=overloaded;error_event_at=2", false, Api::kAnthropic);
  EXPECT_THAT(unary.steps()[0].data, StartsWith("HTTP/1.1 529 "));
}

TEST(JsonTextTest, ScanFindsTopLevelMembersOnly) {
  RequestFields f =
      ScanRequestFields(R"( {"metadata":{"model":"inner","stream":true},"messages":[{"a":"}"}],)"
                        R"("model":"gpt-\u00e9\"x","stream":true} )");
  EXPECT_EQ(f.model, "gpt-\xc3\xa9\"x");
  EXPECT_TRUE(f.stream);
  EXPECT_FALSE(ScanRequestFields(R"({"stream":false,"model":1})").stream);
  EXPECT_EQ(ScanRequestFields(R"({"stream":false,"model":1})").model, "");
  EXPECT_EQ(ScanRequestFields("not json").model, "");
  EXPECT_EQ(ScanRequestFields(R"({"model":"a","model":"b"})").model, "a");
}

TEST(JsonTextTest, EscapingKeepsUtf8AndReplacesInvalidBytes) {
  std::string out;
  AppendJsonString(out, std::string("a\"\\\n\x01 caf\xc3\xa9 \xff", 13));
  EXPECT_EQ(out, "\"a\\\"\\\\\\n\\u0001 caf\xc3\xa9 \\ufffd\"");
}

TEST(FaultSpecTest, ATailIsAPercentAndADelay) {
  absl::StatusOr<FaultSpec> spec = ParseFaultSpec("tail_percent=10;tail_delay_ms=3000");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->tail_percent, 10);
  EXPECT_EQ(spec->tail_delay_ms, 3000);
  EXPECT_FALSE(ParseFaultSpec("tail_percent=101").ok());
  EXPECT_FALSE(ParseFaultSpec("tail_delay_ms=-1").ok());
}

}  // namespace
}  // namespace rebound::fake
