// The HTTP front door (server.http_listen, issue 13) end to end: a real
// rebound-server, real fake providers (an OpenAI one and an Anthropic one),
// libcurl as a well-behaved client and raw sockets as hostile ones. The
// official SDKs run against the same setup in tests/sdk/front_door.mjs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/test_certs.h"

namespace rebound::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

rapidjson::Document Json(absl::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

std::string Str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return "<missing>";
  return v[key].GetString();
}

// A blocking TCP client that sends exactly the bytes a test gives it.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool closed_by_peer() const { return eof_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  bool Send(absl::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads what arrives until the peer closes or `timeout` passes.
  std::string ReadUntilClosed(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (!eof_ && ReadSome(deadline)) {
    }
    return std::exchange(buffer_, "");
  }

  // One whole response (Content-Length or chunked), or what arrived before
  // the peer closed or `timeout` passed.
  std::string ReadResponse(absl::Duration timeout = absl::Seconds(10)) {
    absl::Time deadline = absl::Now() + timeout;
    while (true) {
      if (std::optional<size_t> end = ResponseEnd(); end) {
        std::string out = buffer_.substr(0, *end);
        buffer_.erase(0, *end);
        return out;
      }
      if (eof_ || !ReadSome(deadline)) return std::exchange(buffer_, "");
    }
  }

 private:
  bool ReadSome(absl::Time deadline) {
    int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (wait_ms <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) return false;
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  std::optional<size_t> ResponseEnd() const {
    size_t head_end = buffer_.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::nullopt;
    std::string head = absl::AsciiStrToLower(buffer_.substr(0, head_end));
    size_t body_start = head_end + 4;
    if (absl::StartsWith(head, "http/1.1 100")) return body_start;
    if (head.find("transfer-encoding: chunked") != std::string::npos) {
      size_t last = buffer_.find("\r\n0\r\n\r\n", head_end);
      if (last == std::string::npos) return std::nullopt;
      return last + 7;
    }
    size_t at = head.find("content-length: ");
    size_t length = 0;
    if (at != std::string::npos) {
      size_t eol = head.find("\r\n", at);
      if (!absl::SimpleAtoi(head.substr(at + 16, eol - at - 16), &length)) return std::nullopt;
    }
    if (buffer_.size() < body_start + length) return std::nullopt;
    return body_start + length;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
};

int StatusOf(absl::string_view response) {
  int status = 0;
  if (response.size() < 12 || !absl::StartsWith(response, "HTTP/1.1 ") ||
      !absl::SimpleAtoi(response.substr(9, 3), &status)) {
    return 0;
  }
  return status;
}

std::string BodyOf(absl::string_view response) {
  size_t at = response.find("\r\n\r\n");
  return at == absl::string_view::npos ? "" : std::string(response.substr(at + 4));
}

constexpr char kChatBody[] =
    R"({"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]})";
constexpr char kMessagesBody[] =
    R"({"model":"anthropic/claude-sonnet","max_tokens":64,"messages":[{"role":"user","content":"hi"}]})";

// `body` (a JSON object) with "stream": true.
std::string Streaming(absl::string_view body) {
  return absl::StrCat(body.substr(0, body.size() - 1), R"(,"stream":true})");
}

std::string Post(absl::string_view path, absl::string_view body, absl::string_view extra = "") {
  return absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: rebound\r\nContent-Type: application/json\r\n",
                      extra, "Content-Length: ", body.size(), "\r\n\r\n", body);
}

// Gateway with the front door on, an OpenAI primary that fails over to an
// Anthropic model and the reverse.
class FrontDoorTest : public ::testing::Test {
 protected:
  static constexpr int kRequestTimeoutMs = 1000;

  void SetUp() override { Start(""); }

  void Start(absl::string_view server_extra, absl::string_view provider_extra = "") {
    for (auto [fake, name] : {std::pair{&openai_, "openai"}, std::pair{&anthropic_, "anthropic"}}) {
      auto started = FakeProvider::Start({}, name);
      ASSERT_TRUE(started.ok()) << started.status();
      *fake = *std::move(started);
    }
    auto gateway = GatewayProcess::Start(absl::StrCat(
        ServerSection(absl::StrCat("  http_listen: 127.0.0.1:0\n  http_request_timeout_ms: ",
                                   kRequestTimeoutMs, "\n  max_body_bytes: 65536\n",
                                   server_extra)),
        "model_providers:\n",
        ProviderEntry("openai/gpt-4o", openai_->base_url(), "key-openai",
                      absl::StrCat("    default: true\n"
                                   "    retry_policy: {fallback_models: [anthropic/claude-sonnet]}\n",
                                   provider_extra)),
        ProviderEntry("anthropic/claude-sonnet", anthropic_->base_url(), "key-anthropic",
                      "    provider_interface: anthropic\n"
                      "    retry_policy: {fallback_models: [openai/gpt-4o]}\n")));
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    ASSERT_GT(gateway_->http_port(), 0) << "no http= in the ready line";
  }

  std::string Url(absl::string_view path) const {
    return absl::StrCat("http://127.0.0.1:", gateway_->http_port(), path);
  }

  HttpResult Call(absl::string_view path, absl::string_view body,
                  std::vector<std::string> headers = {}) {
    HttpOptions options;
    options.method = "POST";
    options.url = Url(path);
    options.body = std::string(body);
    headers.push_back("Content-Type: application/json");
    options.headers = std::move(headers);
    return HttpFetch(options);
  }

  std::optional<double> Metric(const std::string& line) {
    return MetricValue(gateway_->ScrapeMetrics(), line);
  }

  // The server still answers: the check after every hostile client.
  void ExpectHealthy() {
    HttpResult health = HttpFetch({.url = Url("/healthz")});
    EXPECT_EQ(health.status, 200) << health.error;
    EXPECT_EQ(health.body, R"({"status":"SERVING"})");
  }

  std::unique_ptr<FakeProvider> openai_;
  std::unique_ptr<FakeProvider> anthropic_;
  std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(FrontDoorTest, ChatCompletionRoundTrip) {
  HttpResult r = Call("/v1/chat/completions", kChatBody);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.Header("content-type").value_or(""), HasSubstr("application/json"));
  EXPECT_EQ(r.Header("x-rebound-served-model"), "openai/gpt-4o");
  EXPECT_EQ(r.Header("x-rebound-attempts"), "1");
  EXPECT_FALSE(r.Header("x-request-id").value_or("").empty());
  rapidjson::Document d = Json(r.body);
  ASSERT_TRUE(d.HasMember("choices") && d["choices"].IsArray()) << r.body;
  EXPECT_EQ(Str(d["choices"][0]["message"], "role"), "assistant");

  std::vector<RecordedRequest> got = openai_->Requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/v1/chat/completions");
  EXPECT_EQ(Header(got[0], "authorization"), "Bearer key-openai");
  EXPECT_EQ(Metric(R"(rebound_requests_total{api="http",model="openai/gpt-4o",outcome="ok"})"),
            1);
}

TEST_F(FrontDoorTest, BareModelNameAndDefaultModelResolve) {
  HttpResult bare = Call("/v1/messages",
                         R"({"model":"claude-sonnet","max_tokens":8,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(bare.status, 200) << bare.body;
  EXPECT_EQ(bare.Header("x-rebound-served-model"), "anthropic/claude-sonnet");
  HttpResult unnamed = Call("/v1/chat/completions", R"({"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(unnamed.status, 200) << unnamed.body;
  EXPECT_EQ(unnamed.Header("x-rebound-served-model"), "openai/gpt-4o");
}

TEST_F(FrontDoorTest, MessagesStreamIsServerSentEvents) {
  const std::string body = Streaming(kMessagesBody);
  HttpResult r = Call("/v1/messages", body);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/event-stream");
  EXPECT_EQ(r.Header("transfer-encoding"), "chunked");
  EXPECT_THAT(r.body, StartsWith("event: message_start\ndata: {"));
  EXPECT_THAT(r.body, HasSubstr("event: message_stop\ndata: "));
  EXPECT_EQ(r.Header("x-rebound-served-model"), "anthropic/claude-sonnet");
}

TEST_F(FrontDoorTest, ChatFailsOverToAnthropicAndStaysOpenAiShaped) {
  ASSERT_TRUE(openai_->SetScript({"status=429"}));
  HttpResult r = Call("/v1/chat/completions", kChatBody);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("x-rebound-served-model"), "anthropic/claude-sonnet");
  EXPECT_EQ(r.Header("x-rebound-attempts"), "2");
  rapidjson::Document d = Json(r.body);
  EXPECT_EQ(Str(d, "object"), "chat.completion") << r.body;
  ASSERT_EQ(anthropic_->Requests().size(), 1u);
  EXPECT_EQ(anthropic_->Requests()[0].path, "/v1/messages");
}

TEST_F(FrontDoorTest, MessagesStreamFailsOverToOpenAiAndStaysAnthropicShaped) {
  ASSERT_TRUE(anthropic_->SetScript({"status=529"}));
  const std::string body = Streaming(kMessagesBody);
  HttpResult r = Call("/v1/messages", body);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("x-rebound-served-model"), "openai/gpt-4o");
  EXPECT_THAT(r.body, StartsWith("event: message_start\n"));
  EXPECT_THAT(r.body, HasSubstr("event: message_stop\n"));
  EXPECT_THAT(r.body, Not(HasSubstr("[DONE]")));
}

TEST_F(FrontDoorTest, ExhaustionIs429WithRetryAfterInEachApisShape) {
  ASSERT_TRUE(openai_->SetScript({"status=429;retry_after=3", "status=429;retry_after=3"}));
  ASSERT_TRUE(anthropic_->SetScript({"status=429;retry_after=3", "status=429;retry_after=3"}));
  HttpResult chat = Call("/v1/chat/completions", kChatBody);
  EXPECT_EQ(chat.status, 429) << chat.body;
  int retry_after = 0;
  ASSERT_TRUE(absl::SimpleAtoi(chat.Header("retry-after").value_or(""), &retry_after))
      << chat.body;
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 3);
  EXPECT_FALSE(chat.Header("retry-after-ms").value_or("").empty());
  rapidjson::Document c = Json(chat.body);
  EXPECT_EQ(Str(c["error"], "type"), "retry_exhausted") << chat.body;
  ASSERT_TRUE(c["error"].HasMember("attempts")) << chat.body;
  EXPECT_EQ(c["error"]["attempts"].Size(), 2u);

  HttpResult messages = Call("/v1/messages", kMessagesBody);
  EXPECT_EQ(messages.status, 429) << messages.body;
  EXPECT_TRUE(messages.Header("retry-after").has_value());
  rapidjson::Document m = Json(messages.body);
  EXPECT_EQ(Str(m, "type"), "error") << messages.body;
  EXPECT_EQ(Str(m["error"], "type"), "rate_limit_error");
}

TEST_F(FrontDoorTest, ProviderErrorIsPassedThrough) {
  ASSERT_TRUE(openai_->SetScript(
      {R"(status=400;body={"error":{"message":"bad prompt","type":"invalid_request_error"}})"}));
  HttpResult r = Call("/v1/chat/completions", kChatBody);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"message":"bad prompt","type":"invalid_request_error"}})");
  EXPECT_TRUE(anthropic_->Requests().empty()) << "a 400 is not retried";
}

TEST_F(FrontDoorTest, StreamFailureAfterEventsEndsWithTheApisErrorEvent) {
  // Both models cut their streams after two events: the first cut is
  // invisible only before anything reached the caller, so here the caller
  // sees the events, then the error event, never [DONE].
  ASSERT_TRUE(openai_->SetScript({"token_interval_ms=20;cut_after_events=3"}));
  const std::string body = Streaming(kChatBody);
  HttpResult chat = Call("/v1/chat/completions", body);
  ASSERT_TRUE(chat.ok()) << chat.error << " (the terminating chunk must still arrive)";
  EXPECT_EQ(chat.status, 200);
  EXPECT_THAT(chat.body, StartsWith("data: {"));
  EXPECT_THAT(chat.body, HasSubstr(R"("type":"stream_interrupted")"));
  EXPECT_THAT(chat.body, Not(HasSubstr("[DONE]")));

  ASSERT_TRUE(anthropic_->SetScript({"token_interval_ms=20;cut_after_events=4"}));
  const std::string mbody = Streaming(kMessagesBody);
  HttpResult messages = Call("/v1/messages", mbody);
  ASSERT_TRUE(messages.ok()) << messages.error;
  EXPECT_THAT(messages.body, HasSubstr("event: error\ndata: {\"type\":\"error\""));
  EXPECT_THAT(messages.body, Not(HasSubstr("event: message_stop")));
}

TEST_F(FrontDoorTest, RequestErrorsInTheCallersShape) {
  HttpResult unknown = Call("/v1/chat/completions", R"({"model":"gpt-9","messages":[]})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Str(Json(unknown.body)["error"], "code"), "model_not_found") << unknown.body;

  HttpResult unknown_anthropic = Call("/v1/messages", R"({"model":"gpt-9","messages":[]})");
  EXPECT_EQ(unknown_anthropic.status, 404);
  EXPECT_EQ(Str(Json(unknown_anthropic.body)["error"], "type"), "not_found_error");

  HttpResult not_json = Call("/v1/chat/completions", "{not json");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(Str(Json(not_json.body)["error"], "type"), "invalid_request_error");

  HttpResult number = Call("/v1/chat/completions", R"({"model":5,"messages":[]})");
  EXPECT_EQ(number.status, 400);
  EXPECT_EQ(Str(Json(number.body)["error"], "param"), "model") << number.body;

  HttpResult no_route = HttpFetch({.url = Url("/v2/whatever")});
  EXPECT_EQ(no_route.status, 404);
  HttpResult wrong_method = HttpFetch({.url = Url("/v1/chat/completions")});
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_TRUE(openai_->Requests().empty());
  EXPECT_TRUE(anthropic_->Requests().empty());
}

TEST_F(FrontDoorTest, ModelListNamesTheConfiguredModels) {
  HttpResult r = HttpFetch({.url = Url("/v1/models")});
  EXPECT_EQ(r.status, 200);
  rapidjson::Document d = Json(r.body);
  EXPECT_EQ(Str(d, "object"), "list");
  ASSERT_TRUE(d["data"].IsArray());
  ASSERT_EQ(d["data"].Size(), 2u);
  EXPECT_EQ(Str(d["data"][0], "id"), "openai/gpt-4o");
  EXPECT_EQ(Str(d["data"][1], "id"), "anthropic/claude-sonnet");
}

TEST_F(FrontDoorTest, KeepAliveAndPipelinedRequestsAnswerInOrder) {
  RawClient client(gateway_->http_port());
  ASSERT_TRUE(client.connected());
  // Three requests in one write: a call, a model list, a health check.
  ASSERT_TRUE(client.Send(absl::StrCat(Post("/v1/chat/completions", kChatBody),
                                       "GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n",
                                       "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")));
  std::string first = client.ReadResponse();
  std::string second = client.ReadResponse();
  std::string third = client.ReadResponse();
  EXPECT_EQ(StatusOf(first), 200) << first;
  EXPECT_THAT(BodyOf(first), HasSubstr("chat.completion"));
  EXPECT_EQ(StatusOf(second), 200) << second;
  EXPECT_THAT(BodyOf(second), HasSubstr(R"("object":"list")"));
  EXPECT_EQ(StatusOf(third), 200) << third;
  EXPECT_EQ(BodyOf(third), R"({"status":"SERVING"})");
  // The connection stays open for a fourth.
  ASSERT_TRUE(client.Send(Post("/v1/chat/completions", kChatBody)));
  EXPECT_EQ(StatusOf(client.ReadResponse()), 200);
  EXPECT_EQ(openai_->RequestCount(), 2);
}

TEST_F(FrontDoorTest, ChunkedRequestBodyAndExpectContinue) {
  RawClient client(gateway_->http_port());
  ASSERT_TRUE(client.Send(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
      "Expect: 100-continue\r\n\r\n"));
  std::string interim = client.ReadResponse();
  EXPECT_THAT(interim, StartsWith("HTTP/1.1 100 Continue\r\n"));
  std::string body = kChatBody;
  ASSERT_TRUE(client.Send(absl::StrCat("10\r\n", body.substr(0, 16), "\r\n",
                                       absl::Hex(body.size() - 16), "\r\n", body.substr(16),
                                       "\r\n0\r\n\r\n")));
  std::string answer = client.ReadResponse();
  EXPECT_EQ(StatusOf(answer), 200) << answer;
  ASSERT_EQ(openai_->Requests().size(), 1u);
  EXPECT_EQ(Json(openai_->Requests()[0].body)["messages"][0]["content"].GetString(),
            std::string("hi"));
}

TEST_F(FrontDoorTest, OversizedHeadersAre431AndTheConnectionCloses) {
  RawClient client(gateway_->http_port());
  ASSERT_TRUE(client.connected());
  client.Send(absl::StrCat("GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ",
                           std::string(70 << 10, 'b'), "\r\n\r\n"));
  std::string answer = client.ReadUntilClosed(absl::Seconds(10));
  EXPECT_EQ(StatusOf(answer), 431) << answer.substr(0, 200);
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_EQ(Metric(R"(rebound_http_rejects_total{reason="headers_too_large"})"), 1);
  ExpectHealthy();
}

TEST_F(FrontDoorTest, OversizedBodiesAre413BeforeTheBodyIsRead) {
  // Declared too large: refused from the headers alone.
  RawClient declared(gateway_->http_port());
  declared.Send("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n");
  std::string answer = declared.ReadUntilClosed(absl::Seconds(10));
  EXPECT_EQ(StatusOf(answer), 413) << answer;
  EXPECT_THAT(BodyOf(answer), HasSubstr("max_body_bytes"));
  // Chunked past the limit: refused at the chunk that crosses it.
  RawClient chunked(gateway_->http_port());
  chunked.Send("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; ++i) {
    chunked.Send(absl::StrCat("8000\r\n", std::string(0x8000, 'x'), "\r\n"));
  }
  EXPECT_EQ(StatusOf(chunked.ReadUntilClosed(absl::Seconds(10))), 413);
  EXPECT_EQ(Metric(R"(rebound_http_rejects_total{reason="body_too_large"})"), 2);
  EXPECT_TRUE(openai_->Requests().empty());
  ExpectHealthy();
}

TEST_F(FrontDoorTest, MalformedFramingIs400AndCloses) {
  for (std::string wire : {
           std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
           std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n"),
           std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15),  // TLS to plain
       }) {
    RawClient client(gateway_->http_port());
    client.Send(wire);
    std::string answer = client.ReadUntilClosed(absl::Seconds(10));
    EXPECT_EQ(StatusOf(answer), 400) << absl::CEscape(wire);
    EXPECT_TRUE(client.closed_by_peer());
  }
  EXPECT_EQ(Metric(R"(rebound_http_rejects_total{reason="bad_request"})"), 4);
  ExpectHealthy();
}

// Slowloris: headers dripped a byte at a time never complete a request, so
// the request timeout (from the first byte) closes the connection with 408,
// and other clients are served meanwhile.
TEST_F(FrontDoorTest, SlowClientIsCutAtTheRequestTimeout) {
  RawClient slow(gateway_->http_port());
  ASSERT_TRUE(slow.connected());
  const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nX-Drip: ";
  const absl::Time first_byte = absl::Now();
  ASSERT_TRUE(slow.Send(head));
  bool cut = false;
  for (int i = 0; i < 200 && !cut; ++i) {
    // The client's pacing, not a timer under test.
    absl::SleepFor(absl::Milliseconds(50));
    if (i == 4) {
      HttpResult other = Call("/v1/chat/completions", kChatBody);
      EXPECT_EQ(other.status, 200) << "a slow client held up another";
    }
    cut = !slow.Send("x");
  }
  std::string answer = slow.ReadUntilClosed(absl::Milliseconds(kRequestTimeoutMs) * 4);
  const absl::Duration held = absl::Now() - first_byte;
  EXPECT_TRUE(slow.closed_by_peer());
  EXPECT_EQ(StatusOf(answer), 408) << answer;
  EXPECT_GE(held, absl::Milliseconds(kRequestTimeoutMs) * 0.6);
  EXPECT_LE(held, absl::Milliseconds(kRequestTimeoutMs) * 4);
  EXPECT_EQ(Metric(R"(rebound_http_rejects_total{reason="request_timeout"})"), 1);
}

// Empty lines before a request line are allowed (RFC 9112 2.2) but start no
// request: a client that sends only those must not push the timeout back.
TEST_F(FrontDoorTest, EmptyLinesDoNotHoldAConnectionPastTheRequestTimeout) {
  RawClient blank(gateway_->http_port());
  ASSERT_TRUE(blank.connected());
  const absl::Time opened = absl::Now();
  bool cut = false;
  for (int i = 0; i < 80 && !cut; ++i) {
    cut = !blank.Send("\r\n");
    // The client's pacing, not a timer under test.
    absl::SleepFor(absl::Milliseconds(50));
  }
  blank.ReadUntilClosed(absl::Milliseconds(kRequestTimeoutMs) * 4);
  const absl::Duration held = absl::Now() - opened;
  EXPECT_TRUE(blank.closed_by_peer());
  EXPECT_GE(held, absl::Milliseconds(kRequestTimeoutMs) * 0.6);
  EXPECT_LE(held, absl::Milliseconds(kRequestTimeoutMs) * 4);
}

TEST_F(FrontDoorTest, ConnectionThatSendsNothingIsClosedAtTheRequestTimeout) {
  RawClient silent(gateway_->http_port());
  ASSERT_TRUE(silent.connected());
  const absl::Time opened = absl::Now();
  std::string got = silent.ReadUntilClosed(absl::Milliseconds(kRequestTimeoutMs) * 4);
  const absl::Duration held = absl::Now() - opened;
  EXPECT_TRUE(silent.closed_by_peer());
  EXPECT_EQ(got, "") << "nothing to answer: no request started";
  EXPECT_GE(held, absl::Milliseconds(kRequestTimeoutMs) * 0.6);
  EXPECT_LE(held, absl::Milliseconds(kRequestTimeoutMs) * 4);
}

TEST_F(FrontDoorTest, HealthzIs503WhileDrainingAndInFlightStreamsFinish) {
  ASSERT_TRUE(openai_->SetScript({"tokens=15;token_interval_ms=100"}));
  RawClient streaming(gateway_->http_port());
  const std::string body = Streaming(kChatBody);
  ASSERT_TRUE(streaming.Send(Post("/v1/chat/completions", body)));
  ASSERT_TRUE(WaitUntil([&] { return openai_->RequestCount() == 1; }));
  RawClient idle(gateway_->http_port());  // keep-alive, between requests
  ASSERT_TRUE(idle.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(StatusOf(idle.ReadResponse()), 200);

  // A request half sent when the drain starts is still answered: 503.
  // (The first request proves the connection was accepted.)
  RawClient arriving(gateway_->http_port());
  ASSERT_TRUE(arriving.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(StatusOf(arriving.ReadResponse()), 200);
  ASSERT_TRUE(arriving.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n"));

  gateway_->process().Signal(SIGTERM);
  ASSERT_TRUE(gateway_->process().WaitForStderrLine("draining", absl::Seconds(10)).ok());
  ASSERT_TRUE(arriving.Send("\r\n"));
  std::string health = arriving.ReadResponse();
  EXPECT_EQ(StatusOf(health), 503) << health;
  EXPECT_THAT(health, HasSubstr("Connection: close"));
  EXPECT_EQ(BodyOf(health), R"({"status":"NOT_SERVING"})");
  // The idle keep-alive connection is closed; new connections are refused.
  idle.ReadUntilClosed(absl::Seconds(5));
  EXPECT_TRUE(idle.closed_by_peer());
  EXPECT_TRUE(WaitUntil([&] { return !RawClient(gateway_->http_port()).connected(); }));
  // The stream in flight completes, then its connection closes.
  std::string streamed = streaming.ReadUntilClosed(absl::Seconds(15));
  EXPECT_EQ(StatusOf(streamed), 200);
  EXPECT_THAT(streamed, HasSubstr("data: [DONE]"));
  EXPECT_THAT(streamed, ::testing::EndsWith("\r\n0\r\n\r\n"));
  EXPECT_EQ(gateway_->process().Wait(absl::Seconds(15)), 0);
}

// A limit of its own: http_max_connections and a short stream pause bound.
class FrontDoorLimitsTest : public FrontDoorTest {
 protected:
  static constexpr int kMaxConnections = 4;
  static constexpr int kPauseMs = 1000;
  void SetUp() override {
    Start(absl::StrCat("  http_max_connections: ", kMaxConnections,
                       "\n  stream_pause_timeout_ms: ", kPauseMs, "\n"));
  }
};

TEST_F(FrontDoorLimitsTest, ConnectionsPastTheLimitAreClosedAndCounted) {
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < kMaxConnections; ++i) {
    // Each asks once and stays open, idle between requests (a connection
    // that sends nothing would meet the request timeout first).
    held.push_back(std::make_unique<RawClient>(gateway_->http_port()));
    ASSERT_TRUE(held.back()->Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_EQ(StatusOf(held.back()->ReadResponse()), 200);
  }
  ASSERT_TRUE(WaitUntil([&] { return Metric("rebound_http_connections") == kMaxConnections; }))
      << gateway_->ScrapeMetrics();
  RawClient extra(gateway_->http_port());
  extra.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(extra.ReadUntilClosed(absl::Seconds(5)), "");
  EXPECT_TRUE(extra.closed_by_peer());
  EXPECT_EQ(Metric(R"(rebound_http_rejects_total{reason="too_many_connections"})"), 1);
  // A slot freed is a slot usable.
  held.pop_back();
  ASSERT_TRUE(WaitUntil([&] { return Metric("rebound_http_connections") == kMaxConnections - 1; }));
  ExpectHealthy();
}

// A client that asks for a long stream and reads nothing: the upstream is
// paused at the high-water mark, and after stream_pause_timeout_ms the call
// is cancelled and the connection cut, without the terminating chunk.
TEST_F(FrontDoorLimitsTest, StreamingClientThatStopsReadingIsCut) {
  ASSERT_TRUE(openai_->SetScript({"tokens=60000"}));
  RawClient reader(gateway_->http_port());
  const std::string body = Streaming(kChatBody);
  ASSERT_TRUE(reader.Send(Post("/v1/chat/completions", body)));
  ASSERT_TRUE(WaitUntil([&] { return openai_->RequestCount() == 1; }));
  const absl::Time sent = openai_->Requests()[0].time;
  ASSERT_TRUE(WaitUntil([&] { return Metric("rebound_in_flight_requests") == 0; },
                        absl::Milliseconds(kPauseMs) * 4 + absl::Seconds(5)))
      << gateway_->ScrapeMetrics();
  EXPECT_GE(absl::Now() - sent, absl::Milliseconds(kPauseMs) * 0.6);
  EXPECT_EQ(Metric(R"(rebound_stream_pause_timeouts_total{model="openai/gpt-4o"})"), 1);
  std::string got = reader.ReadUntilClosed(absl::Seconds(20));
  EXPECT_TRUE(reader.closed_by_peer());
  EXPECT_EQ(StatusOf(got), 200);
  EXPECT_THAT(got, Not(HasSubstr("[DONE]")));
  EXPECT_THAT(got, Not(::testing::EndsWith("\r\n0\r\n\r\n")));
  ExpectHealthy();
}

// Caller tokens (server.auth_token_file) and TLS on the HTTP listener.
class FrontDoorSecurityTest : public FrontDoorTest {
 protected:
  static constexpr char kToken[] = "front-door-token-5a7c";
  void SetUp() override {
    const TestPki& pki = SharedTestPki();
    ca_file_ = pki.ca.cert;
    std::string tokens = WriteTempFile("http-tokens", absl::StrCat(kToken, "\n"));
    Start(absl::StrCat("  auth_token_file: ", tokens, "\n  tls:\n    cert_file: ",
                       pki.ca.server_cert, "\n    key_file: ", pki.ca.server_key, "\n"));
  }
  HttpResult SecureCall(absl::string_view path, absl::string_view body,
                        std::vector<std::string> headers) {
    HttpOptions options;
    options.method = "POST";
    options.url = absl::StrCat("https://localhost:", gateway_->http_port(), path);
    options.body = std::string(body);
    headers.push_back("Content-Type: application/json");
    options.headers = std::move(headers);
    options.ca_file = ca_file_;
    return HttpFetch(options);
  }
  std::string ca_file_;
};

TEST_F(FrontDoorSecurityTest, TokensAreCheckedAndNeverForwarded) {
  HttpResult none = SecureCall("/v1/chat/completions", kChatBody, {});
  ASSERT_TRUE(none.ok()) << none.error;
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(Str(Json(none.body)["error"], "code"), "invalid_api_key") << none.body;
  HttpResult wrong = SecureCall("/v1/messages", kMessagesBody, {"x-api-key: nope"});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Str(Json(wrong.body)["error"], "type"), "authentication_error") << wrong.body;
  EXPECT_TRUE(openai_->Requests().empty());

  HttpResult bearer = SecureCall("/v1/chat/completions", kChatBody,
                                 {absl::StrCat("Authorization: Bearer ", kToken)});
  EXPECT_EQ(bearer.status, 200) << bearer.body;
  HttpResult api_key =
      SecureCall("/v1/messages", kMessagesBody, {absl::StrCat("x-api-key: ", kToken)});
  EXPECT_EQ(api_key.status, 200) << api_key.body;
  for (const auto* fake : {openai_.get(), anthropic_.get()}) {
    for (const RecordedRequest& r : const_cast<FakeProvider*>(fake)->Requests()) {
      for (const auto& [name, value] : r.headers) {
        EXPECT_THAT(value, Not(HasSubstr(kToken))) << name << " forwarded the caller token";
      }
    }
  }
  // The health check needs no token; plain HTTP on the TLS port is refused.
  HttpOptions health;
  health.url = absl::StrCat("https://localhost:", gateway_->http_port(), "/healthz");
  health.ca_file = ca_file_;
  EXPECT_EQ(HttpFetch(health).status, 200);
  HttpResult plain = HttpFetch({.url = Url("/healthz")});
  EXPECT_NE(plain.status, 200);
}

// The official SDKs as real clients of the front door, over TLS with a
// caller token: every case of tests/sdk/front_door.mjs (unary, streams,
// tools, failover across vendors both ways, exhaustion, a stream cut
// mid-way, 401, 404, the model list).
TEST_F(FrontDoorSecurityTest, OfficialSdksUseTheFrontDoor) {
  auto node = Subprocess::Start(
      {.binary = "/bin/sh",
       .args = {"-c", "exec node \"$0\" \"$1\" \"$2\" \"$3\" \"$4\"",
                std::string(REBOUND_SOURCE_DIR) + "/tests/sdk/front_door.mjs",
                absl::StrCat("https://localhost:", gateway_->http_port()), kToken,
                openai_->base_url(), anthropic_->base_url()},
       .env = {{"NODE_EXTRA_CA_CERTS", ca_file_}},
       .name = "front_door_sdk"});
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ((*node)->Wait(absl::Seconds(120)), 0)
      << (*node)->Stdout() << (*node)->Stderr()
      << "(node and the SDKs come from deploy/run.sh: npm ci --prefix tests/sdk)";
  EXPECT_THAT(absl::StrCat(gateway_->process().Stdout(), gateway_->process().Stderr(),
                           gateway_->ScrapeMetrics()),
              Not(HasSubstr(kToken)));
}

}  // namespace
}  // namespace rebound::testing
