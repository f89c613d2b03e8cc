// rebound-fakeprovider over real sockets: every fault kind as a plain HTTP
// client (libcurl, or raw TCP for protocol edge cases) observes it, the
// control API, and the timing of delays and streamed events.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "codec/json_scan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/integration/test_harness.h"

namespace rebound::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kChatBody[] = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})";
constexpr char kChatStreamBody[] =
    R"({"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]})";
constexpr char kMessagesBody[] =
    R"({"model":"claude-3-5-sonnet","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";
constexpr char kMessagesStreamBody[] =
    R"({"model":"claude-3-5-sonnet","max_tokens":10,"stream":true,)"
    R"("messages":[{"role":"user","content":"hi"}]})";
// Valid in both APIs, for tests where the path alone decides.
constexpr char kEitherApiBody[] =
    R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";

// A raw JSON member value decoded as a string ("" when absent or not one).
std::string StringMember(std::string_view object, std::string_view key) {
  std::optional<std::string_view> raw = json::FindMember(object, key);
  if (!raw) return "";
  absl::StatusOr<std::string> s = json::DecodeString(*raw);
  return s.ok() ? *s : "";
}

std::string RawMember(std::string_view object, std::string_view key) {
  return std::string(json::FindMember(object, key).value_or(""));
}

// One SSE event of a response body and when its last byte arrived.
struct Event {
  std::string text;  // without the terminating blank line
  absl::Time arrived;
};

std::vector<Event> SplitEvents(const HttpResult& r) {
  std::vector<Event> events;
  size_t start = 0;
  for (;;) {
    size_t end = r.body.find("\n\n", start);
    if (end == std::string::npos) break;
    size_t last_byte = end + 1;
    size_t seen = 0;
    absl::Time arrived = absl::InfinitePast();
    for (const auto& [time, data] : r.chunks) {
      seen += data.size();
      if (seen > last_byte) {
        arrived = time;
        break;
      }
    }
    events.push_back({r.body.substr(start, end - start), arrived});
    start = end + 2;
  }
  return events;
}

std::string DataOf(const Event& e) {
  size_t at = e.text.find("data: ");
  return at == std::string::npos ? "" : e.text.substr(at + 6);
}

std::string EventNameOf(const Event& e) {
  if (!absl::StartsWith(e.text, "event: ")) return "";
  return e.text.substr(7, e.text.find('\n') - 7);
}

// Sends `bytes` over a fresh TCP connection and reads until the server
// closes or `timeout` passes.
std::string RawExchange(int port, std::string_view bytes,
                        absl::Duration timeout = absl::Seconds(5)) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ADD_FAILURE() << "connect: " << strerror(errno);
    close(fd);
    return "";
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  absl::Time deadline = absl::Now() + timeout;
  char buf[65536];
  for (;;) {
    int remaining = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (remaining <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, remaining) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

class FakeProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeProvider>> fake = FakeProvider::Start();
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
  }

  HttpResult Post(std::string_view path, std::string body, std::vector<std::string> headers = {},
                  absl::Duration timeout = absl::Seconds(10)) {
    return HttpFetch({.method = "POST",
                      .url = absl::StrCat(fake_->base_url(), ToAbsl(path)),
                      .body = std::move(body),
                      .headers = std::move(headers),
                      .timeout = timeout});
  }

  HttpResult PostWithFault(std::string_view path, std::string body, std::string_view spec,
                           absl::Duration timeout = absl::Seconds(10)) {
    return Post(path, std::move(body), {absl::StrCat("x-fake-fault: ", ToAbsl(spec))}, timeout);
  }

  static absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

  std::unique_ptr<FakeProvider> fake_;
};

// ---------------------------------------------------------------- success

TEST_F(FakeProviderTest, OpenAiChatCompletion) {
  HttpResult r = Post("/v1/chat/completions", kChatBody);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.Header("content-type").value_or(""), HasSubstr("application/json"));
  ASSERT_TRUE(json::Validate(r.body).ok()) << r.body;
  EXPECT_EQ(StringMember(r.body, "object"), "chat.completion");
  EXPECT_EQ(StringMember(r.body, "model"), "gpt-4o");
  EXPECT_THAT(StringMember(r.body, "id"), StartsWith("chatcmpl-"));
  EXPECT_FALSE(RawMember(r.body, "created").empty());
  std::string choice;
  ASSERT_TRUE(json::ForEachElement(RawMember(r.body, "choices"), [&](std::string_view c) {
                choice = std::string(c);
                return false;
              }).ok());
  EXPECT_EQ(StringMember(choice, "finish_reason"), "stop");
  EXPECT_EQ(StringMember(RawMember(choice, "message"), "content"), "Hello from the fake provider");
  EXPECT_EQ(RawMember(RawMember(r.body, "usage"), "completion_tokens"), "5");
}

TEST_F(FakeProviderTest, AnthropicMessage) {
  HttpResult r = Post("/v1/messages", kMessagesBody);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(json::Validate(r.body).ok()) << r.body;
  EXPECT_EQ(StringMember(r.body, "type"), "message");
  EXPECT_EQ(StringMember(r.body, "role"), "assistant");
  EXPECT_EQ(StringMember(r.body, "model"), "claude-3-5-sonnet");
  EXPECT_EQ(StringMember(r.body, "stop_reason"), "end_turn");
  EXPECT_EQ(RawMember(RawMember(r.body, "usage"), "output_tokens"), "5");
}

TEST_F(FakeProviderTest, PathDecidesTheApi) {
  EXPECT_EQ(StringMember(Post("/anything/else", kEitherApiBody).body, "object"),
            "chat.completion");
  EXPECT_EQ(StringMember(Post("/proxy/v1/messages", kEitherApiBody).body, "type"), "message");
}

TEST_F(FakeProviderTest, TokensAndResponseBytesShapeTheAnswer) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, "tokens=2");
  EXPECT_EQ(RawMember(RawMember(r.body, "usage"), "completion_tokens"), "2");
  r = PostWithFault("/v1/chat/completions", kChatBody, "response_bytes=100000");
  EXPECT_EQ(r.body.size(), 100000u);
  EXPECT_TRUE(json::Validate(r.body).ok());
}

TEST_F(FakeProviderTest, LargeRequestBodyWithExpectContinueIsNotDelayed) {
  // libcurl sends "Expect: 100-continue" for big bodies and waits up to 1 s
  // for the interim answer: the fake must give it at once.
  std::string big = absl::StrCat(R"({"model":"m","messages":[{"role":"user","content":")",
                                 std::string(2 << 20, 'x'), R"("}]})");
  absl::Time start = absl::Now();
  HttpResult r = Post("/v1/chat/completions", big);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(800));
  std::vector<RecordedRequest> recorded = fake_->Requests();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].body, big);
}

// ---------------------------------------------------------------- streams

TEST_F(FakeProviderTest, OpenAiStreamEventsArriveSpacedByTokenInterval) {
  constexpr absl::Duration kInterval = absl::Milliseconds(100);
  constexpr absl::Duration kFirst = absl::Milliseconds(200);
  HttpResult r = PostWithFault("/v1/chat/completions", kChatStreamBody,
                               "delay_first_token_ms=200;token_interval_ms=100");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.Header("content-type").value_or(""), HasSubstr("text/event-stream"));
  EXPECT_EQ(r.Header("transfer-encoding"), "chunked");
  std::vector<Event> events = SplitEvents(r);
  ASSERT_EQ(events.size(), 7u);  // 5 tokens, the finish chunk, [DONE]

  // The first event waits for delay_first_token_ms after the head...
  absl::Duration first = events[0].arrived - r.head_received;
  EXPECT_GE(first, kFirst - absl::Milliseconds(5));
  EXPECT_LT(first, kFirst + absl::Milliseconds(150));
  // ...and each later one follows its predecessor by token_interval_ms: not
  // all at the end, not faster than configured.
  for (size_t i = 1; i < events.size(); ++i) {
    absl::Duration gap = events[i].arrived - events[i - 1].arrived;
    EXPECT_GE(gap, kInterval - absl::Milliseconds(30)) << "event " << i;
    EXPECT_LT(gap, kInterval + absl::Milliseconds(150)) << "event " << i;
  }
  absl::Duration span = events.back().arrived - events.front().arrived;
  EXPECT_GE(span, 6 * kInterval - absl::Milliseconds(5));
  EXPECT_LT(span, 6 * kInterval + absl::Milliseconds(300));

  std::string content;
  for (size_t i = 0; i < 5; ++i) {
    std::string data = DataOf(events[i]);
    ASSERT_TRUE(json::Validate(data).ok()) << data;
    EXPECT_EQ(StringMember(data, "object"), "chat.completion.chunk");
    EXPECT_EQ(StringMember(data, "model"), "gpt-4o");
    json::ForEachElement(RawMember(data, "choices"), [&](std::string_view c) {
      EXPECT_EQ(RawMember(c, "finish_reason"), "null");
      content += StringMember(RawMember(c, "delta"), "content");
      return true;
    }).IgnoreError();
  }
  EXPECT_EQ(content, "Hello from the fake provider");
  std::string last = DataOf(events[5]);
  EXPECT_THAT(last, HasSubstr(R"("finish_reason":"stop")"));
  // Usage comes only when stream_options.include_usage asked for it.
  EXPECT_TRUE(RawMember(last, "usage").empty());
  EXPECT_EQ(DataOf(events[6]), "[DONE]");
}

TEST_F(FakeProviderTest, AnthropicStreamEventSequence) {
  HttpResult r = PostWithFault("/v1/messages", kMessagesStreamBody, "tokens=3");
  ASSERT_TRUE(r.ok()) << r.error;
  std::vector<std::string> names;
  for (const Event& e : SplitEvents(r)) {
    names.push_back(EventNameOf(e));
    std::string data = DataOf(e);
    EXPECT_TRUE(json::Validate(data).ok()) << data;
    EXPECT_EQ(StringMember(data, "type"), names.back());
  }
  EXPECT_THAT(names, ElementsAre("message_start", "content_block_start", "content_block_delta",
                                 "content_block_delta", "content_block_delta", "content_block_stop",
                                 "message_delta", "message_stop"));
  EXPECT_THAT(r.body, HasSubstr(R"("stop_reason":"end_turn")"));
}

TEST_F(FakeProviderTest, MalformedEventReplacesExactlyTheNthEvent) {
  HttpResult r =
      PostWithFault("/v1/chat/completions", kChatStreamBody, "malformed_event_at=2;tokens=4");
  ASSERT_TRUE(r.ok()) << r.error;
  std::vector<Event> events = SplitEvents(r);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[1].text, "data: {not json");
  for (size_t i : {0u, 2u, 3u, 4u}) {
    EXPECT_TRUE(json::Validate(DataOf(events[i])).ok()) << events[i].text;
  }
  EXPECT_EQ(DataOf(events[5]), "[DONE]");

  r = PostWithFault("/v1/messages", kMessagesStreamBody, "malformed_event_at=3");
  events = SplitEvents(r);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[2].text, "event: content_block_delta\ndata: {not json");
}

TEST_F(FakeProviderTest, NoDoneEndsTheBodyCleanlyWithoutTerminalMarker) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatStreamBody, "no_done");
  ASSERT_TRUE(r.ok()) << r.error;  // the chunked body itself is complete
  EXPECT_EQ(SplitEvents(r).size(), 5u);
  EXPECT_THAT(r.body, Not(HasSubstr("[DONE]")));
  EXPECT_THAT(r.body, Not(HasSubstr(R"("finish_reason":"stop")")));

  r = PostWithFault("/v1/messages", kMessagesStreamBody, "no_done");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_THAT(r.body, Not(HasSubstr("message_stop")));
  EXPECT_THAT(r.body, Not(HasSubstr("end_turn")));
}

TEST_F(FakeProviderTest, CutAfterEventsBreaksTheChunkedTransfer) {
  HttpResult r =
      PostWithFault("/v1/chat/completions", kChatStreamBody, "cut_after_events=3;tokens=10");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(SplitEvents(r).size(), 3u);
}

TEST_F(FakeProviderTest, StallAfterEventsKeepsTheConnectionSilent) {
  absl::Time start = absl::Now();
  HttpResult r = PostWithFault("/v1/chat/completions", kChatStreamBody, "stall_after_events=2",
                               absl::Milliseconds(500));
  EXPECT_EQ(r.curl_code, CURLE_OPERATION_TIMEDOUT) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(SplitEvents(r).size(), 2u);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(490));
}

TEST_F(FakeProviderTest, StallSendsNothingAtAll) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, "stall", absl::Milliseconds(300));
  EXPECT_EQ(r.curl_code, CURLE_OPERATION_TIMEDOUT) << r.error;
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.body.empty());
  // The fake is still healthy afterwards.
  EXPECT_EQ(Post("/v1/chat/completions", kChatBody).status, 200);
}

TEST_F(FakeProviderTest, NonStreamPartialFaults) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, "cut_after_events=1");
  EXPECT_EQ(r.curl_code, CURLE_PARTIAL_FILE) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.body.empty());
  r = PostWithFault("/v1/chat/completions", kChatBody, "stall_after_events=0",
                    absl::Milliseconds(300));
  EXPECT_EQ(r.curl_code, CURLE_OPERATION_TIMEDOUT) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
}

// ---------------------------------------------------------------- timing

TEST_F(FakeProviderTest, DelayHeadersHoldsTheWholeResponse) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, "delay_headers_ms=300");
  ASSERT_TRUE(r.ok()) << r.error;
  absl::Duration ttfb = r.head_received - r.started;
  EXPECT_GE(ttfb, absl::Milliseconds(300));
  EXPECT_LT(ttfb, absl::Milliseconds(450));
}

TEST_F(FakeProviderTest, DelayFirstTokenSendsTheHeadFirst) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, "delay_first_token_ms=300");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_LT(r.head_received - r.started, absl::Milliseconds(150));
  ASSERT_FALSE(r.chunks.empty());
  absl::Duration body_wait = r.chunks[0].first - r.head_received;
  EXPECT_GE(body_wait, absl::Milliseconds(295));
  EXPECT_LT(body_wait, absl::Milliseconds(450));
}

TEST_F(FakeProviderTest, ConcurrentDelaysDoNotSerialise) {
  // Delays are loop timers: ten slow requests at once take one delay, not ten.
  std::vector<std::thread> threads;
  std::vector<int64_t> statuses(10);
  absl::Time start = absl::Now();
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&, i] {
      statuses[i] = PostWithFault("/v1/chat/completions", kChatBody, "delay_headers_ms=300").status;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(900));
  for (int64_t s : statuses) EXPECT_EQ(s, 200);
}

// ---------------------------------------------------------------- errors

TEST_F(FakeProviderTest, StatusWithRetryAfterSeconds) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, "status=429;retry_after=2");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("retry-after"), "2");
  EXPECT_EQ(r.body, R"({"error":{"message":"fake 429","type":"fake_error","code":429}})");
}

TEST_F(FakeProviderTest, StatusWithoutRetryAfterHasNone) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatStreamBody, "status=503");
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(r.Header("retry-after"));
  EXPECT_THAT(r.Header("content-type").value_or(""), HasSubstr("application/json"));
}

TEST_F(FakeProviderTest, RetryAfterAsHttpDate) {
  absl::Time now = absl::Now();
  HttpResult r =
      PostWithFault("/v1/chat/completions", kChatBody, "status=503;retry_after_date=+60");
  EXPECT_EQ(r.status, 503);
  std::string date = r.Header("retry-after").value_or("");
  absl::Time at;
  std::string error;
  ASSERT_TRUE(absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", date, absl::UTCTimeZone(), &at, &error))
      << date << ": " << error;
  EXPECT_GE(at, now + absl::Seconds(58));
  EXPECT_LE(at, now + absl::Seconds(62));
  EXPECT_TRUE(absl::EndsWith(date, " GMT"));
}

TEST_F(FakeProviderTest, RetryAfterVerbatimAndMsAndRateLimitHeaders) {
  HttpResult r =
      PostWithFault("/v1/chat/completions", kChatBody,
                    "status=429;retry_after=Wed, 21 Oct 2015 07:28:00 GMT;retry_after_ms=1500;"
                    "header=x-ratelimit-reset-requests:6m0s;header=X-Mixed-Case:Value");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("retry-after"), "Wed, 21 Oct 2015 07:28:00 GMT");
  EXPECT_EQ(r.Header("retry-after-ms"), "1500");
  EXPECT_EQ(r.Header("x-ratelimit-reset-requests"), "6m0s");
  bool exact_case = false;
  for (const auto& [name, value] : r.headers) exact_case |= (name == "X-Mixed-Case");
  EXPECT_TRUE(exact_case);
}

TEST_F(FakeProviderTest, LiteralBodies) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody,
                               R"(status=400;body={"error":{"message":"bad\; really"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"message":"bad; really"}})");
  r = PostWithFault("/v1/chat/completions", kChatBody,
                    "body_b64=aGVsbG8=;header=Content-Type:text/plain");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.Header("content-type"), "text/plain");
}

// What each error_class= answers, as the providers answer it: OpenAI's
// status and error.code (raw JSON: a string or null) and error.type,
// Anthropic's status, error.type and the start of error.message.
struct ClassAnswer {
  std::string_view name;
  int openai_status;
  std::string_view openai_code;
  std::string_view openai_type;
  int anthropic_status;
  std::string_view anthropic_type;
  std::string_view anthropic_message;
};
constexpr ClassAnswer kClassAnswers[] = {
    {"context_length_exceeded", 400, R"("context_length_exceeded")", "invalid_request_error", 400,
     "invalid_request_error", "prompt is too long: "},
    {"content_filter", 400, R"("content_filter")", "", 400, "invalid_request_error",
     "Output blocked by content filtering policy"},
    {"quota_exhausted", 429, R"("insufficient_quota")", "insufficient_quota", 400,
     "invalid_request_error", "Your credit balance is too low"},
    {"rate_limited", 429, R"("rate_limit_exceeded")", "requests", 429, "rate_limit_error",
     "This request would exceed your account's rate limit"},
    {"overloaded", 503, "null", "server_error", 529, "overloaded_error", "Overloaded"},
    {"server_error", 500, "null", "server_error", 500, "api_error", "Internal server error"},
    {"invalid_request", 400, R"("decimal_above_max_value")", "invalid_request_error", 400,
     "invalid_request_error", "max_tokens: Field required"},
    {"authentication", 401, R"("invalid_api_key")", "invalid_request_error", 401,
     "authentication_error", "invalid x-api-key"},
    {"not_found", 404, R"("model_not_found")", "invalid_request_error", 404, "not_found_error",
     "model: "},
};

TEST_F(FakeProviderTest, ErrorClassAnswersOpenAisErrorShape) {
  for (const ClassAnswer& want : kClassAnswers) {
    const std::string spec = absl::StrCat("error_class=", ToAbsl(want.name));
    HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, spec);
    ASSERT_TRUE(r.ok()) << want.name << ": " << r.error;
    EXPECT_EQ(r.status, want.openai_status) << want.name;
    EXPECT_THAT(r.Header("content-type").value_or(""), HasSubstr("application/json"));
    ASSERT_TRUE(json::Validate(r.body).ok()) << r.body;
    EXPECT_EQ(StringMember(r.body, "type"), "") << "no Anthropic envelope: " << r.body;
    const std::string error = RawMember(r.body, "error");
    EXPECT_FALSE(StringMember(error, "message").empty()) << r.body;
    EXPECT_EQ(RawMember(error, "code"), want.openai_code) << r.body;
    // Azure's content filter has "type": null.
    EXPECT_EQ(StringMember(error, "type"), want.openai_type) << r.body;
    EXPECT_TRUE(json::FindMember(error, "param").has_value()) << r.body;
  }
}

TEST_F(FakeProviderTest, ErrorClassAnswersAnthropicsErrorShape) {
  for (const ClassAnswer& want : kClassAnswers) {
    const std::string spec = absl::StrCat("error_class=", ToAbsl(want.name));
    HttpResult r = PostWithFault("/v1/messages", kMessagesBody, spec);
    ASSERT_TRUE(r.ok()) << want.name << ": " << r.error;
    EXPECT_EQ(r.status, want.anthropic_status) << want.name;
    ASSERT_TRUE(json::Validate(r.body).ok()) << r.body;
    EXPECT_EQ(StringMember(r.body, "type"), "error") << r.body;
    EXPECT_THAT(StringMember(r.body, "request_id"), StartsWith("req_")) << r.body;
    const std::string error = RawMember(r.body, "error");
    EXPECT_EQ(StringMember(error, "type"), want.anthropic_type) << r.body;
    EXPECT_THAT(StringMember(error, "message"), StartsWith(std::string(want.anthropic_message)))
        << r.body;
  }
}

TEST_F(FakeProviderTest, ErrorClassKeepsRetryAfterAndYieldsToStatusAndBody) {
  HttpResult r = PostWithFault("/v1/messages", kMessagesStreamBody,
                               "error_class=rate_limited;retry_after=3");
  EXPECT_EQ(r.status, 429);  // an error ignores the request's stream flag
  EXPECT_EQ(r.Header("retry-after"), "3");
  EXPECT_EQ(StringMember(RawMember(r.body, "error"), "type"), "rate_limit_error");
  r = PostWithFault("/v1/chat/completions", kChatBody, "error_class=overloaded;status=502");
  EXPECT_EQ(r.status, 502);
  EXPECT_THAT(StringMember(RawMember(r.body, "error"), "message"),
              HasSubstr("currently overloaded"));
  r = PostWithFault("/v1/chat/completions", kChatBody, "error_class=not_found;body=gone");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "gone");
  r = PostWithFault("/v1/chat/completions", kChatBody, "error_class=overload");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("error_class=overload: unknown class (known: "));
}

TEST_F(FakeProviderTest, ErrorEventAtCarriesTheErrorClass) {
  HttpResult r = PostWithFault("/v1/messages", kMessagesStreamBody,
                               "tokens=3;error_event_at=2;error_class=overloaded");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  std::vector<Event> events = SplitEvents(r);
  ASSERT_EQ(events.size(), 2u) << r.body;
  EXPECT_EQ(EventNameOf(events[1]), "error");
  EXPECT_EQ(StringMember(DataOf(events[1]), "type"), "error");
  EXPECT_EQ(StringMember(RawMember(DataOf(events[1]), "error"), "type"), "overloaded_error");

  r = PostWithFault("/v1/chat/completions", kChatStreamBody,
                    "error_event_at=1;error_class=context_length_exceeded");
  ASSERT_TRUE(r.ok()) << r.error;
  events = SplitEvents(r);
  ASSERT_EQ(events.size(), 1u) << r.body;
  EXPECT_EQ(EventNameOf(events[0]), "");
  EXPECT_EQ(RawMember(RawMember(DataOf(events[0]), "error"), "code"),
            R"("context_length_exceeded")");
}

TEST_F(FakeProviderTest, ResetBeforeHeadersIsATransportError) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, "reset_before_headers");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.curl_code == CURLE_RECV_ERROR || r.curl_code == CURLE_GOT_NOTHING) << r.error;
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(fake_->RequestCount(), 1);  // it was read and recorded first
}

TEST_F(FakeProviderTest, CloseBeforeHeadersIsAnEmptyReply) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, "close_before_headers");
  EXPECT_EQ(r.curl_code, CURLE_GOT_NOTHING) << r.error;
}

TEST_F(FakeProviderTest, InvalidSpecsAnswer400SayingWhy) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, "status=429;bogus=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("'bogus': unknown key"));
  r = Post("/v1/chat/completions", R"({"model":"fault:status=abc"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("model fault spec"));
  HttpResult put = HttpFetch(
      {.method = "PUT", .url = fake_->base_url() + "/_fake/script", .body = "status=1\n"});
  EXPECT_EQ(put.status, 400);
  EXPECT_THAT(put.body, HasSubstr("script line 1"));
}

TEST_F(FakeProviderTest, EchoReturnsExactlyWhatWasReceived) {
  // Odd whitespace, key order, a nested "model", UTF-8 and escapes survive.
  std::string body =
      "{ \"messages\" : [ {\"content\":\"hi\", \"role\":\"user\"} ],\n\t\"model\":\"gpt-4o\", "
      "\"metadata\":{\"model\":\"x\"}, \"t\":\"caf\xc3\xa9 \\\"q\\\" \\u00e9\" }";
  HttpResult r = Post("/v1/chat/completions?beta=true", body,
                      {"x-fake-fault: echo", "X-Custom-Header: Some Value",
                       "Authorization: Bearer sk-test-echo-never-reflected"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(json::Validate(r.body).ok()) << r.body;
  EXPECT_EQ(StringMember(r.body, "method"), "POST");
  EXPECT_EQ(StringMember(r.body, "path"), "/v1/chat/completions?beta=true");
  EXPECT_EQ(StringMember(r.body, "body"), body);
  EXPECT_THAT(RawMember(r.body, "headers"), HasSubstr(R"(["X-Custom-Header","Some Value"])"));
  // Credentials are never reflected (the request records keep them).
  EXPECT_THAT(RawMember(r.body, "headers"), HasSubstr(R"(["Authorization","[redacted]"])"));
  EXPECT_THAT(r.body, Not(HasSubstr("sk-test-echo-never-reflected")));
}

// ---------------------------------------------------------------- strict API

TEST_F(FakeProviderTest, InvalidRequestsGetTheVendors400) {
  HttpResult r = Post("/v1/messages",
                      R"({"model":"claude-3-5-sonnet","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.body,
            R"({"type":"error","error":{"type":"invalid_request_error",)"
            R"("message":"max_tokens: Field required"}})");
  r = Post("/v1/chat/completions",
           R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"},)"
           R"({"role":"tool","tool_call_id":"call_1","content":"sunny"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"error":{"message":"Invalid parameter: messages with role 'tool' must be a )"
            R"(response to a preceeding message with 'tool_calls'.","type":"invalid_request_error",)"
            R"("param":"messages.[1].role","code":null}})");
  // Validation comes before the fault: a request scripted to fail must
  // still be one the vendor would have taken.
  r = PostWithFault("/v1/messages", R"({"model":"c","max_tokens":0,"messages":[]})", "status=429");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("max_tokens: Input should be greater than or equal to 1"));
  EXPECT_EQ(fake_->RequestCount(), 3);  // refused requests are recorded too
  EXPECT_EQ(PostWithFault("/v1/messages", R"({"model":"c"})", "lenient").status, 200);
  EXPECT_EQ(Post("/v1/embeddings", "not json").status, 200);  // only chat and messages are checked
}

// The parsed data of every event but a final [DONE].
std::vector<rapidjson::Document> EventData(const HttpResult& r) {
  std::vector<rapidjson::Document> out;
  for (const Event& e : SplitEvents(r)) {
    std::string data = DataOf(e);
    if (data == "[DONE]") continue;
    rapidjson::Document doc;
    doc.Parse(data.data(), data.size());
    EXPECT_FALSE(doc.HasParseError()) << data;
    out.push_back(std::move(doc));
  }
  return out;
}

std::string Str(const rapidjson::Value& v) {
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : "<not a string>";
}

constexpr char kToolSpec[] = R"(tool_call=get_weather;tool_args={"city":"Paris"};cache_read=7)";
constexpr char kToolArgs[] = R"({"city":"Paris"})";

TEST_F(FakeProviderTest, OpenAiToolCallJsonAndStream) {
  HttpResult r = PostWithFault("/v1/chat/completions", kChatBody, kToolSpec);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  ASSERT_FALSE(doc.HasParseError()) << r.body;
  const rapidjson::Value& choice = doc["choices"][0];
  EXPECT_EQ(Str(choice["finish_reason"]), "tool_calls");
  const rapidjson::Value& call = choice["message"]["tool_calls"][0];
  EXPECT_THAT(Str(call["id"]), StartsWith("call_"));
  EXPECT_EQ(Str(call["function"]["name"]), "get_weather");
  EXPECT_EQ(Str(call["function"]["arguments"]), kToolArgs);
  EXPECT_EQ(doc["usage"]["prompt_tokens_details"]["cached_tokens"].GetInt(), 7);

  r = PostWithFault("/v1/chat/completions",
                    R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},)"
                    R"("messages":[{"role":"user","content":"hi"}]})",
                    kToolSpec);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::EndsWith(r.body, "data: [DONE]\n\n"));
  std::vector<rapidjson::Document> chunks = EventData(r);
  std::string args;
  std::string name;
  std::string finish;
  int fragments = 0;
  for (const rapidjson::Document& c : chunks) {
    if (c["choices"].Empty()) continue;  // the usage chunk
    const rapidjson::Value& delta = c["choices"][0]["delta"];
    if (c["choices"][0]["finish_reason"].IsString()) finish = Str(c["choices"][0]["finish_reason"]);
    if (!delta.HasMember("tool_calls")) continue;
    const rapidjson::Value& f = delta["tool_calls"][0]["function"];
    if (f.HasMember("name")) name = Str(f["name"]);
    if (!f.HasMember("name")) ++fragments;
    args += Str(f["arguments"]);
  }
  EXPECT_EQ(name, "get_weather");
  EXPECT_GE(fragments, 2);
  EXPECT_EQ(args, kToolArgs);
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_FALSE(chunks.empty());
  EXPECT_TRUE(chunks.back()["choices"].Empty());
  EXPECT_EQ(chunks.back()["usage"]["prompt_tokens_details"]["cached_tokens"].GetInt(), 7);
}

TEST_F(FakeProviderTest, AnthropicToolUseJsonAndStream) {
  HttpResult r = PostWithFault("/v1/messages", kMessagesBody, kToolSpec);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  ASSERT_FALSE(doc.HasParseError()) << r.body;
  EXPECT_EQ(Str(doc["stop_reason"]), "tool_use");
  const rapidjson::Value& block = doc["content"][doc["content"].Size() - 1];
  EXPECT_EQ(Str(block["type"]), "tool_use");
  EXPECT_THAT(Str(block["id"]), StartsWith("toolu_"));
  EXPECT_EQ(Str(block["input"]["city"]), "Paris");
  EXPECT_EQ(doc["usage"]["cache_read_input_tokens"].GetInt(), 7);

  r = PostWithFault("/v1/messages", kMessagesStreamBody, absl::StrCat(kToolSpec, ";tokens=0"));
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> names;
  for (const Event& e : SplitEvents(r)) names.push_back(EventNameOf(e));
  EXPECT_THAT(names, ElementsAre("message_start", "content_block_start", "content_block_delta",
                                 "content_block_delta", "content_block_delta",
                                 "content_block_stop", "message_delta", "message_stop"));
  std::vector<rapidjson::Document> events = EventData(r);
  EXPECT_EQ(Str(events[1]["content_block"]["type"]), "tool_use");
  std::string args;
  for (size_t i = 2; i < 5; ++i) args += Str(events[i]["delta"]["partial_json"]);
  EXPECT_EQ(args, kToolArgs);
  EXPECT_EQ(Str(events[6]["delta"]["stop_reason"]), "tool_use");
}

TEST_F(FakeProviderTest, ImagesAreAcknowledgedAndStopReasonsChosen) {
  HttpResult r = PostWithFault(
      "/v1/chat/completions",
      R"({"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"see"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}}]}]})",
      "stop=content_filter");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("content":"saw 1 image(s). Hello)"));
  EXPECT_THAT(r.body, HasSubstr(R"("finish_reason":"content_filter")"));
}

// ---------------------------------------------------------------- fault sources

TEST_F(FakeProviderTest, ScriptIsConsumedInOrderThenDefaultReturns) {
  ASSERT_TRUE(fake_->SetScript({"status=429", "", "status=503;retry_after=1"}));
  EXPECT_EQ(Post("/v1/chat/completions", kChatBody).status, 429);
  EXPECT_EQ(Post("/v1/chat/completions", kChatBody).status, 200);
  HttpResult third = Post("/v1/messages", kMessagesBody);
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.Header("retry-after"), "1");
  EXPECT_EQ(Post("/v1/chat/completions", kChatBody).status, 200);
}

TEST_F(FakeProviderTest, HeaderBeatsScriptWhichBeatsModel) {
  ASSERT_TRUE(fake_->SetScript({"status=503"}));
  // The header wins and leaves the script entry for the next request.
  EXPECT_EQ(PostWithFault("/v1/chat/completions", kChatBody, "status=418").status, 418);
  constexpr char kModelFault[] =
      R"({"model":"fault:status=429","messages":[{"role":"user","content":"hi"}]})";
  EXPECT_EQ(Post("/v1/chat/completions", kModelFault).status, 503);
  EXPECT_EQ(Post("/v1/chat/completions", kModelFault).status, 429);
  HttpResult ok =
      Post("/v1/chat/completions", R"({"model":"fault:","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(StringMember(ok.body, "model"), "fault:");
}

TEST_F(FakeProviderTest, ModelFaultOnlyFromTopLevelModel) {
  HttpResult r =
      Post("/v1/chat/completions", R"({"metadata":{"model":"fault:status=500"},"model":"gpt-4o",)"
                                   R"("messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.status, 200);
}

TEST(FakeProviderDefaultTest, DefaultSpecAppliesWhenNothingElseDoes) {
  absl::StatusOr<std::unique_ptr<FakeProvider>> fake =
      FakeProvider::Start({"--default", "status=503;retry_after=5"});
  ASSERT_TRUE(fake.ok()) << fake.status();
  HttpResult r = HttpFetch({.method = "POST",
                            .url = (*fake)->base_url() + "/v1/chat/completions",
                            .body = std::string(kChatBody)});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("retry-after"), "5");
  r = HttpFetch({.method = "POST",
                 .url = (*fake)->base_url() + "/v1/chat/completions",
                 .body = std::string(kChatBody),
                 .headers = {"x-fake-fault;"}});  // curl's syntax for an empty value
  EXPECT_EQ(r.status, 200);                       // an empty header spec means success
}

TEST(FakeProviderDefaultTest, InvalidDefaultFailsAtStartup) {
  absl::StatusOr<std::unique_ptr<Subprocess>> p =
      Subprocess::Start({.binary = BinaryPath("rebound-fakeprovider"),
                         .args = {"--listen", "127.0.0.1:0", "--default", "status=nope"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->Wait(absl::Seconds(5)), 2);
  EXPECT_THAT((*p)->Stderr(), HasSubstr("--default"));
}

// ---------------------------------------------------------------- record

TEST_F(FakeProviderTest, RecordsProviderRequestsExactly) {
  absl::Time before = absl::Now();
  std::string odd_body = std::string("{\"model\":\"m\",\"raw\":\"\xff\xfe\x01\"}");
  ASSERT_EQ(Post("/v1/chat/completions", kChatBody, {"Authorization: Bearer key-primary"}).status,
            200);
  // Not valid UTF-8 on purpose (the record keeps exact bytes): lenient.
  ASSERT_EQ(
      Post("/v1/messages", odd_body, {"x-api-key: key-secondary", "x-fake-fault: lenient"}).status,
      200);
  EXPECT_EQ(HttpGet(fake_->base_url() + "/_fake/health"), "ok");  // not recorded
  absl::Time after = absl::Now();

  std::vector<RecordedRequest> requests = fake_->Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].seq, 1);
  EXPECT_EQ(requests[1].seq, 2);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/v1/chat/completions");
  EXPECT_EQ(requests[0].body, kChatBody);
  EXPECT_EQ(Header(requests[0], "authorization"), "Bearer key-primary");
  EXPECT_FALSE(Header(requests[0], "x-api-key"));
  bool original_case = false;
  for (const auto& [name, value] : requests[0].headers) original_case |= (name == "Authorization");
  EXPECT_TRUE(original_case);
  EXPECT_EQ(requests[1].path, "/v1/messages");
  EXPECT_EQ(requests[1].body, odd_body);  // exact bytes, even when not UTF-8
  EXPECT_EQ(Header(requests[1], "X-API-KEY"), "key-secondary");
  for (const RecordedRequest& r : requests) {
    EXPECT_GE(r.time, before - absl::Milliseconds(5));
    EXPECT_LE(r.time, after + absl::Milliseconds(5));
  }
  EXPECT_LE(requests[0].time, requests[1].time);

  ASSERT_TRUE(fake_->ClearRequests());
  EXPECT_EQ(fake_->RequestCount(), 0);
  Post("/v1/chat/completions", kChatBody);
  requests = fake_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].seq, 1);
}

TEST_F(FakeProviderTest, ControlApiErrors) {
  EXPECT_EQ(HttpFetch({.url = fake_->base_url() + "/_fake/nope"}).status, 404);
  EXPECT_EQ(
      HttpFetch(
          {.method = "POST", .url = fake_->base_url() + "/_fake/requests", .body = std::string()})
          .status,
      405);
  EXPECT_EQ(fake_->RequestCount(), 0);
}

// ---------------------------------------------------------------- HTTP/1.1

TEST_F(FakeProviderTest, PipelinedRequestsAreAnsweredInOrder) {
  std::string request = absl::StrCat(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-fake-fault: status=429\r\n"
      "Content-Length: ",
      sizeof kChatBody - 1, "\r\n\r\n", kChatBody,
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-fake-fault: delay_headers_ms=50\r\n"
      "Content-Length: ",
      sizeof kChatBody - 1, "\r\n\r\n", kChatBody,
      "GET /_fake/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string response = RawExchange(fake_->port(), request);
  // Bodies carry no line terminator, so status lines are found by search.
  std::vector<std::string> statuses;
  for (size_t at = response.find("HTTP/1.1 "); at != std::string::npos;
       at = response.find("HTTP/1.1 ", at + 1)) {
    statuses.push_back(response.substr(at + 9, 3));
  }
  EXPECT_THAT(statuses, ElementsAre("429", "200", "200"));
  EXPECT_TRUE(absl::EndsWith(response, "ok"));
}

TEST_F(FakeProviderTest, MalformedInputGets400AndAClose) {
  for (std::string_view bad :
       {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\n folded: x\r\n\r\n"}) {
    std::string response = RawExchange(fake_->port(), bad);
    EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 400 ")) << bad << " -> " << response;
  }
  EXPECT_TRUE(
      absl::StartsWith(RawExchange(fake_->port(), "GET / HTTP/2.0\r\n\r\n"), "HTTP/1.1 505 "));
  EXPECT_EQ(Post("/v1/chat/completions", kChatBody).status, 200);  // still healthy
}

TEST_F(FakeProviderTest, ChunkedRequestBodiesAreRefused) {
  std::string response = RawExchange(
      fake_->port(),
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\n{}\r\n0\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 411 ")) << response;
  EXPECT_THAT(response, HasSubstr("Connection: close"));
}

TEST_F(FakeProviderTest, OversizedHeadersAndBodiesAreRefused) {
  std::string huge_header =
      absl::StrCat("GET / HTTP/1.1\r\nX-Big: ", std::string(70 << 10, 'a'), "\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(RawExchange(fake_->port(), huge_header), "HTTP/1.1 431 "));
  EXPECT_TRUE(absl::StartsWith(
      RawExchange(fake_->port(), "POST / HTTP/1.1\r\nContent-Length: 16777217\r\n\r\n"),
      "HTTP/1.1 413 "));
  EXPECT_EQ(fake_->RequestCount(), 0);
}

TEST_F(FakeProviderTest, Http10ClosesAfterTheResponse) {
  std::string response =
      RawExchange(fake_->port(), "GET /_fake/health HTTP/1.0\r\n\r\n", absl::Seconds(2));
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 ")) << response;
  EXPECT_TRUE(absl::EndsWith(response, "ok"));
}

// ---------------------------------------------------------------- process

TEST_F(FakeProviderTest, SigtermExitsZeroPromptlyEvenWithStalledClients) {
  std::thread stalled(
      [&] { PostWithFault("/v1/chat/completions", kChatBody, "stall", absl::Seconds(3)); });
  // The fake records a request before it stalls: from then on a client is
  // stalled on it (a fixed sleep would signal before it, on a slow machine).
  // (EXPECT, not ASSERT: the thread must be joined.)
  EXPECT_TRUE(WaitUntil([&] { return fake_->RequestCount() == 1; }, absl::Seconds(2)))
      << "the stalled request never reached the fake";
  absl::Time start = absl::Now();
  fake_->process().Signal(SIGTERM);
  EXPECT_EQ(fake_->process().Wait(absl::Seconds(2)), 0);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  stalled.join();
}

TEST(FakeProviderThreadsTest, SeveralLoopsShareScriptAndRecord) {
  absl::StatusOr<std::unique_ptr<FakeProvider>> fake = FakeProvider::Start({"--threads", "4"});
  ASSERT_TRUE(fake.ok()) << fake.status();
  std::vector<std::string> script(20, "status=429");
  ASSERT_TRUE((*fake)->SetScript(script));
  std::vector<std::thread> threads;
  std::vector<int64_t> statuses(40);
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      statuses[i] = HttpFetch({.method = "POST",
                               .url = (*fake)->base_url() + "/v1/chat/completions",
                               .body = std::string(kChatBody)})
                        .status;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 20);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 20);
  std::vector<RecordedRequest> requests = (*fake)->Requests();
  ASSERT_EQ(requests.size(), 40u);
  for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(requests[i].seq, int64_t(i + 1));
}

}  // namespace
}  // namespace rebound::testing
