// The HTTP/1.1 request parser: framing, limits and the smuggling defences,
// fed whole and byte by byte (a connection may deliver any split).
#include "http/request_parser.h"
#include "http/response.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::http {
namespace {

using State = RequestParser::State;
using namespace std::string_literals;

// Feeds `wire` in pieces of `step` bytes (0: all at once) and returns the
// bytes consumed in total.
size_t FeedInSteps(RequestParser& parser, std::string_view wire, size_t step) {
  size_t used = 0;
  if (step == 0) step = wire.size();
  while (used < wire.size()) {
    size_t n = parser.Feed(wire.substr(used, std::min(step, wire.size() - used)));
    used += n;
    if (parser.state() == State::kComplete || parser.state() == State::kError) break;
    if (n == 0) break;
  }
  return used;
}

class SplitTest : public ::testing::TestWithParam<size_t> {};

TEST_P(SplitTest, ContentLengthRequest) {
  RequestParser parser{ParserLimits{}};
  std::string wire =
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n"
      "Content-Type: application/json\r\n\r\n{\"a\":\"bcd\"}";
  EXPECT_EQ(FeedInSteps(parser, wire, GetParam()), wire.size());
  ASSERT_EQ(parser.state(), State::kComplete);
  Request r = parser.TakeRequest();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/chat/completions?x=1");
  EXPECT_EQ(r.path(), "/v1/chat/completions");
  EXPECT_EQ(r.body, "{\"a\":\"bcd\"}");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(FindHeader(r.headers, "content-type"), "application/json");
  EXPECT_EQ(parser.state(), State::kIdle);
}

TEST_P(SplitTest, ChunkedRequestWithExtensionsAndTrailers) {
  RequestParser parser{ParserLimits{}};
  std::string wire =
      "POST /v1/messages HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=v\r\nhello\r\n1A\r\n abcdefghijklmnopqrstuvwxy\r\n0\r\nX-Trailer: t\r\n\r\n";
  EXPECT_EQ(FeedInSteps(parser, wire, GetParam()), wire.size());
  ASSERT_EQ(parser.state(), State::kComplete) << parser.error_message();
  EXPECT_EQ(parser.TakeRequest().body, "hello abcdefghijklmnopqrstuvwxy");
}

INSTANTIATE_TEST_SUITE_P(Splits, SplitTest, ::testing::Values(0, 1, 2, 3, 7));

TEST(RequestParserTest, PipelinedRequestsStopAtEachEnd) {
  RequestParser parser{ParserLimits{}};
  std::string first = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string second = "POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok";
  std::string wire = first + second;
  size_t used = parser.Feed(wire);
  EXPECT_EQ(used, first.size());
  ASSERT_EQ(parser.state(), State::kComplete);
  EXPECT_EQ(parser.TakeRequest().target, "/healthz");
  EXPECT_EQ(parser.Feed(std::string_view(wire).substr(used)), second.size());
  ASSERT_EQ(parser.state(), State::kComplete);
  EXPECT_EQ(parser.TakeRequest().body, "ok");
}

TEST(RequestParserTest, LeadingEmptyLinesAreIgnored) {
  RequestParser parser{ParserLimits{}};
  parser.Feed("\r\n\r\n");
  EXPECT_FALSE(parser.in_request());
  parser.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(parser.state(), State::kComplete);
}

TEST(RequestParserTest, KeepAliveRules) {
  struct Case {
    std::string wire;
    bool keep_alive;
  };
  std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, Close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (const Case& c : cases) {
    RequestParser parser{ParserLimits{}};
    parser.Feed(c.wire);
    ASSERT_EQ(parser.state(), State::kComplete) << c.wire;
    EXPECT_EQ(parser.TakeRequest().keep_alive, c.keep_alive) << c.wire;
  }
}

TEST(RequestParserTest, HigherMinorVersionIsServedAsHttp11) {
  RequestParser parser{ParserLimits{}};
  parser.Feed("GET / HTTP/1.7\r\nHost: a\r\n\r\n");
  ASSERT_EQ(parser.state(), State::kComplete) << parser.error_message();
  Request r = parser.TakeRequest();
  EXPECT_EQ(r.minor_version, 1);
  EXPECT_TRUE(r.keep_alive);
}

TEST(RequestParserTest, ExpectContinue) {
  RequestParser parser{ParserLimits{}};
  parser.Feed("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(parser.state(), State::kBody);
  EXPECT_TRUE(parser.wants_continue());
  parser.ContinueSent();
  EXPECT_FALSE(parser.wants_continue());
  parser.Feed("abc");
  EXPECT_EQ(parser.state(), State::kComplete);
}

TEST(RequestParserTest, ExpectContinueWithoutBodyNeedsNoContinue) {
  RequestParser parser{ParserLimits{}};
  parser.Feed("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(parser.state(), State::kComplete);
  EXPECT_FALSE(parser.wants_continue());
}

struct BadCase {
  const char* name;
  std::string wire;
  int status;
};

class BadRequestTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadRequestTest, IsRefusedWithStatus) {
  const BadCase& c = GetParam();
  for (size_t step : {size_t{0}, size_t{1}}) {
    RequestParser parser{ParserLimits{.max_header_bytes = 1024, .max_headers = 8,
                                      .max_body_bytes = 100}};
    FeedInSteps(parser, c.wire, step);
    ASSERT_EQ(parser.state(), State::kError) << c.name << " step " << step;
    EXPECT_EQ(parser.error_status(), c.status) << c.name << ": " << parser.error_message();
    EXPECT_FALSE(parser.error_message().empty());
  }
}

std::string ManyHeaders(int n) {
  std::string out = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < n; ++i) out += "X-" + std::to_string(i) + ": v\r\n";
  return out + "\r\n";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadRequestTest,
    ::testing::Values(
        BadCase{"bare_lf_lines", "GET / HTTP/1.1\nHost: a\n\n\r\n\r\n", 400},
        BadCase{"bare_lf_field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},
        BadCase{"obs_fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n  c\r\n\r\n", 400},
        BadCase{"space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
        BadCase{"nul_in_value", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"s, 400},
        BadCase{"missing_host", "GET / HTTP/1.1\r\n\r\n", 400},
        BadCase{"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        BadCase{"absolute_target", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadCase{"three_spaces", "GET / x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadCase{"bad_method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadCase{"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
        BadCase{"http2_version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        BadCase{"te_and_cl",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                "Content-Length: 3\r\n\r\n0\r\n\r\n",
                400},
        BadCase{"te_gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        BadCase{"te_gzip_chunked",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
        BadCase{"te_twice",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                "Transfer-Encoding: chunked\r\n\r\n",
                400},
        BadCase{"te_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        BadCase{"conflicting_cl",
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                400},
        BadCase{"signed_cl", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", 400},
        BadCase{"list_cl", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", 400},
        BadCase{"huge_cl",
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
        BadCase{"cl_over_limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", 413},
        BadCase{"chunks_over_limit",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                "40\r\n" + std::string(64, 'a') + "\r\n40\r\n",
                413},
        BadCase{"chunk_size_not_hex",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        BadCase{"chunk_size_negative",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400},
        BadCase{"chunk_size_overflow",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                "ffffffffffffffffff\r\n",
                400},
        BadCase{"chunk_data_not_followed_by_crlf",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabcX\r\n",
                400},
        BadCase{"chunk_line_bare_lf",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n", 400},
        BadCase{"chunk_line_too_long",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                    std::string(2000, 'x'),
                400},
        BadCase{"bad_trailer",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnocolon\r\n",
                400},
        BadCase{"expect_other", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417},
        BadCase{"headers_too_large",
                "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'v') + "\r\n\r\n", 431},
        BadCase{"headers_never_end", "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'v'),
                431},
        BadCase{"too_many_headers", ManyHeaders(8), 431}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(RequestParserTest, HeaderBlockExactlyAtTheLimitIsAccepted) {
  // The request line and fields are exactly max_header_bytes long; the
  // final CRLF CRLF does not count.
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  const size_t limit = 200;
  head += std::string(limit - head.size(), 'v');
  ASSERT_EQ(head.size(), limit);
  RequestParser parser{ParserLimits{.max_header_bytes = limit}};
  parser.Feed(head + "\r\n\r\n");
  EXPECT_EQ(parser.state(), State::kComplete) << parser.error_message();

  RequestParser over{ParserLimits{.max_header_bytes = limit - 1}};
  over.Feed(head + "\r\n\r\n");
  EXPECT_EQ(over.state(), State::kError);
  EXPECT_EQ(over.error_status(), 431);
}

TEST(RequestParserTest, BodyExactlyAtTheLimitIsAccepted) {
  RequestParser parser{ParserLimits{.max_body_bytes = 4}};
  parser.Feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n");
  EXPECT_EQ(parser.state(), State::kComplete) << parser.error_message();
  EXPECT_EQ(parser.TakeRequest().body, "abcd");
}

TEST(RequestParserTest, ErrorStopsConsuming) {
  RequestParser parser{ParserLimits{}};
  std::string wire = "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  parser.Feed(wire);
  ASSERT_EQ(parser.state(), State::kError);
  EXPECT_EQ(parser.Feed("more"), 0u);
}

TEST(ResponseTest, HeadWithLengthAndClose) {
  std::string out;
  AppendResponseHead(429, {{"Retry-After", "2"}}, 7, /*keep_alive=*/false, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 7\r\n"
            "Connection: close\r\n\r\n");
}

TEST(ResponseTest, ChunkedHeadDropsHeadersThatWouldSplitTheResponse) {
  std::string out;
  AppendResponseHead(200, {{"X-Ok", "1"}, {"X-Bad", "a\r\nSet-Cookie: x"}, {"X:Bad", "b"}},
                     std::nullopt, /*keep_alive=*/true, &out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nX-Ok: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST(ResponseTest, ChunksRoundTripThroughTheParser) {
  std::string body;
  AppendChunk("", &body);  // appends nothing: an empty chunk would end the body
  EXPECT_EQ(body, "");
  AppendChunk(std::string(300, 'z'), &body);
  AppendChunk("tail", &body);
  EXPECT_THAT(body, ::testing::StartsWith("12c\r\n"));
  body += kLastChunk;
  RequestParser parser{ParserLimits{}};
  parser.Feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
  ASSERT_EQ(parser.state(), State::kComplete) << parser.error_message();
  EXPECT_EQ(parser.TakeRequest().body, std::string(300, 'z') + "tail");
}

}  // namespace
}  // namespace rebound::http
