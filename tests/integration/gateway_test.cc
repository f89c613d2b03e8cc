// End-to-end tests of the Foundation data plane: real rebound-server and
// rebound-fakeprovider processes, a real gRPC client. One attempt per call
// here; retries and failover are covered by the scenario tests.
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <grpcpp/create_channel.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/grpc_probes.h"

namespace rebound::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A model_providers entry pointing at a fake.
std::string Provider(const std::string& model, const FakeProvider& fake, const std::string& key,
                     const std::string& extra = "") {
  return absl::StrCat("  - model: ", model, "\n    base_url: ", fake.base_url(),
                      "\n    access_key: ", key, "\n", extra);
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto primary = FakeProvider::Start({}, "primary");
    ASSERT_TRUE(primary.ok()) << primary.status();
    primary_ = *std::move(primary);
    auto secondary = FakeProvider::Start({}, "secondary");
    ASSERT_TRUE(secondary.ok()) << secondary.status();
    secondary_ = *std::move(secondary);
  }

  // Starts the gateway with the two fakes as openai/gpt-4o (default) and
  // anthropic/claude-3-5-sonnet (Anthropic interface), plus `server_extra`
  // inside `server:` and `primary_extra` inside the primary's entry.
  void StartGateway(const std::string& server_extra = "", const std::string& primary_extra = "") {
    std::string yaml = absl::StrCat(
        ServerSection(server_extra), "model_providers:\n",
        Provider("openai/gpt-4o", *primary_, "key-primary",
                 absl::StrCat("    default: true\n", primary_extra)),
        Provider("anthropic/claude-3-5-sonnet", *secondary_, "key-secondary"));
    auto gateway = GatewayProcess::Start(yaml);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
  }

  client::CallResult Complete(const v1::CompletionRequest& request,
                              absl::Duration timeout = absl::Seconds(10)) {
    return gateway_->client().Complete(request, timeout);
  }

  std::unique_ptr<FakeProvider> primary_;
  std::unique_ptr<FakeProvider> secondary_;
  std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(GatewayTest, UnaryCallReturnsTheProvidersAnswer) {
  StartGateway();
  client::CallResult result = Complete(ChatRequest("openai/gpt-4o"));
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.http_status(), 200);
  EXPECT_THAT(result.response.body(), HasSubstr("\"chat.completion\""));
  EXPECT_THAT(result.response.body(), HasSubstr("\"model\":\"gpt-4o\""));
  EXPECT_EQ(result.response.served_model(), "openai/gpt-4o");
  EXPECT_EQ(result.response.served_provider(), "openai");
  ASSERT_EQ(result.response.attempts_size(), 1);
  EXPECT_EQ(result.response.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_SUCCESS);
  EXPECT_GT(result.response.attempts(0).duration_ms(), 0);
  EXPECT_FALSE(result.response.request_id().empty());
  EXPECT_THAT(HeaderValue(result.response.headers(), "content-type"), HasSubstr("json"));

  std::vector<RecordedRequest> received = primary_->Requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "POST");
  EXPECT_EQ(received[0].path, "/v1/chat/completions");
  EXPECT_EQ(Header(received[0], "x-request-id"), result.response.request_id());
  EXPECT_EQ(secondary_->RequestCount(), 0);
}

TEST_F(GatewayTest, EmptyModelUsesTheDefaultProviderAndCallerRequestIdIsKept) {
  StartGateway();
  v1::CompletionRequest request = ChatRequest("");
  request.set_request_id("caller-chosen-id-42");
  client::CallResult result = Complete(request);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), "openai/gpt-4o");
  EXPECT_EQ(result.response.request_id(), "caller-chosen-id-42");
  std::vector<RecordedRequest> received = primary_->Requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(Header(received[0], "x-request-id"), "caller-chosen-id-42");
}

TEST_F(GatewayTest, StreamEventsArriveOneByOneAsTheProviderSendsThem) {
  StartGateway();
  constexpr int kTokens = 5;
  constexpr int kIntervalMs = 150;
  ASSERT_TRUE(primary_->SetScript({absl::StrCat("tokens=", kTokens, ";token_interval_ms=",
                                                kIntervalMs)}));
  std::vector<absl::Time> data_times;
  std::vector<std::string> kinds;
  // An OpenAI stream reports usage only when the request asks for it.
  v1::CompletionRequest request;
  request.set_model("openai/gpt-4o");
  request.set_body(
      R"({"model":"placeholder","stream":true,"stream_options":{"include_usage":true},)"
      R"("messages":[{"role":"user","content":"hi"}]})");
  client::CallResult result = gateway_->client().StreamComplete(
      request, absl::Seconds(10),
      [&](const v1::StreamEvent& event) {
        switch (event.event_case()) {
          case v1::StreamEvent::kAttemptStarted:
            kinds.push_back("started");
            EXPECT_EQ(event.attempt_started().model(), "openai/gpt-4o");
            EXPECT_EQ(event.attempt_started().http_status(), 200);
            break;
          case v1::StreamEvent::kData:
            kinds.push_back("data");
            data_times.push_back(absl::Now());
            break;
          case v1::StreamEvent::kReset: kinds.push_back("reset"); break;
          case v1::StreamEvent::kEnd:
            kinds.push_back("end");
            EXPECT_EQ(event.end().served_model(), "openai/gpt-4o");
            EXPECT_THAT(event.end().usage(), HasSubstr("total_tokens"));
            break;
          default: break;
        }
      });
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  ASSERT_GE(kinds.size(), 3u);
  EXPECT_EQ(kinds.front(), "started");
  EXPECT_EQ(kinds.back(), "end");
  // kTokens content chunks + the finish_reason chunk + the usage chunk + [DONE].
  ASSERT_GE(data_times.size(), static_cast<size_t>(kTokens));
  // Consecutive token events are spaced by the provider's interval: had the
  // gateway buffered, they would arrive together at the end.
  for (int i = 1; i < kTokens; ++i) {
    absl::Duration gap = data_times[i] - data_times[i - 1];
    EXPECT_GE(gap, absl::Milliseconds(kIntervalMs * 0.6)) << "gap before event " << i;
    EXPECT_LE(gap, absl::Milliseconds(kIntervalMs * 4)) << "gap before event " << i;
  }
}

TEST_F(GatewayTest, BodyIsForwardedByteForByteExceptTheTopLevelModel) {
  StartGateway();
  const std::string body =
      "{ \"metadata\" : {\"model\": \"keep-me\", \"n\": [1, 2.50, {\"model\":null}]},\n"
      "  \"messages\":[{\"role\":\"user\",\"content\":\"say \\\"model\\\": x \\u00e9\"}],\n"
      "  \"max_tokens\": 64,\n"
      "\t\"model\"  :   \"whatever-the-caller-wrote\" ,  \"temperature\":0.70 }";
  const std::string expected = absl::StrReplaceAll(
      body, {{"\"whatever-the-caller-wrote\"", "\"claude-3-5-sonnet\""}});
  v1::CompletionRequest request;
  request.set_model("anthropic/claude-3-5-sonnet");
  request.set_path("/v1/messages");
  request.set_body(body);
  client::CallResult result = Complete(request);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  std::vector<RecordedRequest> received = secondary_->Requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].path, "/v1/messages");
  EXPECT_EQ(received[0].body, expected);
}

TEST_F(GatewayTest, EachProviderGetsItsOwnCredentialAndNoCallerKeyLeaks) {
  StartGateway();
  auto with_caller_keys = [](v1::CompletionRequest request) {
    for (auto [name, value] : {std::pair{"Authorization", "Bearer caller-secret-1"},
                               std::pair{"x-api-key", "caller-secret-2"},
                               std::pair{"X-Custom-Trace", "trace-7"}}) {
      v1::Header* h = request.add_headers();
      h->set_name(name);
      h->set_value(value);
    }
    return request;
  };
  ASSERT_TRUE(Complete(with_caller_keys(ChatRequest("openai/gpt-4o"))).ok());
  v1::CompletionRequest anthropic =
      with_caller_keys(MessagesRequest("anthropic/claude-3-5-sonnet"));
  ASSERT_TRUE(Complete(anthropic).ok());

  std::vector<RecordedRequest> openai = primary_->Requests();
  ASSERT_EQ(openai.size(), 1u);
  EXPECT_EQ(Header(openai[0], "authorization"), "Bearer key-primary");
  EXPECT_EQ(Header(openai[0], "x-api-key"), std::nullopt);
  EXPECT_EQ(Header(openai[0], "x-custom-trace"), "trace-7");

  std::vector<RecordedRequest> claude = secondary_->Requests();
  ASSERT_EQ(claude.size(), 1u);
  EXPECT_EQ(Header(claude[0], "x-api-key"), "key-secondary");
  EXPECT_EQ(Header(claude[0], "anthropic-version"), "2023-06-01");
  EXPECT_EQ(Header(claude[0], "authorization"), std::nullopt);

  for (const auto& received : {openai[0], claude[0]}) {
    for (const auto& [name, value] : received.headers) {
      EXPECT_THAT(value, Not(HasSubstr("caller-secret"))) << name;
      if (&received == &openai[0]) {
        EXPECT_THAT(value, Not(HasSubstr("key-secondary")));
      }
    }
  }
}

// Issue 10 item 7: a provider's 401 that echoes the key (as OpenAI's
// "Incorrect API key provided: sk-..." does) used to reach the caller's
// ErrorDetail and the info log's error_preview. secret_scan_test also
// searches every output of this test for the configured keys.
TEST_F(GatewayTest, UpstreamErrorBodiesNeverCarryAKey) {
  StartGateway();
  ASSERT_TRUE(primary_->SetScript(
      {R"(status=401;body={"error":{"message":"Incorrect API key provided: key-primary. )"
       R"(Not key-secondary either, nor sk-proj-abcdefghijklmnop0123.","type":"invalid_request_error"}})"}));
  client::CallResult result = Complete(ChatRequest("openai/gpt-4o"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(result.error_detail.has_value());
  const std::string& body = result.error_detail->upstream_body();
  EXPECT_THAT(body, HasSubstr("Incorrect API key provided: [redacted]."));
  for (const char* secret : {"key-primary", "key-secondary", "sk-proj-abcdefghijklmnop0123"}) {
    EXPECT_THAT(body, Not(HasSubstr(secret)));
    EXPECT_THAT(result.status.error_message(), Not(HasSubstr(secret)));
  }
  // The info log line of the attempt shows the redacted preview.
  ASSERT_TRUE(gateway_->process().WaitForStderrLine("error_preview", absl::Seconds(5)).ok());
  std::string log = gateway_->process().Stderr();
  EXPECT_THAT(log, HasSubstr("[redacted]"));
  EXPECT_THAT(log, Not(HasSubstr("key-primary")));
  EXPECT_THAT(log, Not(HasSubstr("sk-proj-abcdefghijklmnop0123")));
}

// Issue 10 item 11: the CLI sent /v1/chat/completions, with a body lacking
// max_tokens, to Anthropic-interface models. It now asks the gateway which
// API the model speaks.
TEST_F(GatewayTest, TheCliDefaultsFollowTheModelsInterface) {
  StartGateway();
  auto cli = [&](const std::string& model) {
    auto process = Subprocess::Start({.binary = BinaryPath("rebound"),
                                      .args = {"complete", "--addr", gateway_->address(),
                                               "--model", model},
                                      .name = "cli"});
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? (*process)->Wait(absl::Seconds(30)) : -1;
  };
  EXPECT_EQ(cli("anthropic/claude-3-5-sonnet"), 0);
  std::vector<RecordedRequest> claude = secondary_->Requests();
  ASSERT_EQ(claude.size(), 1u);
  EXPECT_EQ(claude[0].path, "/v1/messages");
  EXPECT_THAT(claude[0].body, HasSubstr(R"("max_tokens":256)"));
  EXPECT_THAT(claude[0].body, HasSubstr(R"("model":"claude-3-5-sonnet")"));

  EXPECT_EQ(cli("openai/gpt-4o"), 0);
  std::vector<RecordedRequest> openai = primary_->Requests();
  ASSERT_EQ(openai.size(), 1u);
  EXPECT_EQ(openai[0].path, "/v1/chat/completions");
  EXPECT_THAT(openai[0].body, Not(HasSubstr("max_tokens")));
}

TEST_F(GatewayTest, PassthroughAuthForwardsTheCallersCredentialInsteadOfTheKey) {
  StartGateway("", "    passthrough_auth: true\n");
  v1::CompletionRequest request = ChatRequest("openai/gpt-4o");
  v1::Header* h = request.add_headers();
  h->set_name("Authorization");
  h->set_value("Bearer caller-own-key");
  ASSERT_TRUE(Complete(request).ok());
  std::vector<RecordedRequest> received = primary_->Requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(Header(received[0], "authorization"), "Bearer caller-own-key");
}

TEST_F(GatewayTest, ProviderErrorsPassThroughWithTheirBodyAndMappedStatus) {
  StartGateway();
  struct Case {
    int http;
    grpc::StatusCode code;
  };
  for (Case c : {Case{400, grpc::StatusCode::INVALID_ARGUMENT},
                 Case{401, grpc::StatusCode::UNAUTHENTICATED},
                 Case{403, grpc::StatusCode::PERMISSION_DENIED},
                 Case{404, grpc::StatusCode::NOT_FOUND},
                 Case{422, grpc::StatusCode::INVALID_ARGUMENT},
                 Case{429, grpc::StatusCode::RESOURCE_EXHAUSTED},
                 Case{503, grpc::StatusCode::UNAVAILABLE}}) {
    SCOPED_TRACE(c.http);
    std::string body = absl::StrCat(R"({"error":{"message":"provider says )", c.http,
                                    R"(","type":"invalid_request_error"}})");
    ASSERT_TRUE(primary_->SetScript({absl::StrCat("status=", c.http, ";body=",
                                                  absl::StrReplaceAll(body, {{";", "\\;"}}))}));
    client::CallResult result = Complete(ChatRequest("openai/gpt-4o"));
    EXPECT_EQ(result.status.error_code(), c.code);
    ASSERT_TRUE(result.error_detail.has_value());
    EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_UPSTREAM_ERROR);
    EXPECT_EQ(result.error_detail->upstream_http_status(), c.http);
    EXPECT_EQ(result.error_detail->upstream_body(), body);
    ASSERT_EQ(result.error_detail->attempts_size(), 1);
    EXPECT_EQ(result.error_detail->attempts(0).error_type(), absl::StrCat("http_", c.http));
  }
  EXPECT_EQ(secondary_->RequestCount(), 0);
}

TEST_F(GatewayTest, RetryAfterHeaderIsReturnedInTheDetail) {
  StartGateway();
  ASSERT_TRUE(primary_->SetScript({"status=429;retry_after=7"}));
  client::CallResult result = Complete(ChatRequest("openai/gpt-4o"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(HeaderValue(result.error_detail->upstream_headers(), "retry-after"), "7");
}

// Measures how long a failing call took and checks both sides of the bound.
void ExpectElapsedBetween(absl::Time start, absl::Duration low, absl::Duration high) {
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_GE(elapsed, low);
  EXPECT_LE(elapsed, high);
}

TEST_F(GatewayTest, FirstByteTimeoutEndsTheCallWithDeadlineExceeded) {
  constexpr int kFirstByteMs = 400;
  StartGateway("", absl::StrCat("    timeouts: {first_byte_ms: ", kFirstByteMs, "}\n"));
  ASSERT_TRUE(primary_->SetScript({"delay_headers_ms=5000"}));
  absl::Time start = absl::Now();
  client::CallResult result = Complete(ChatRequest("openai/gpt-4o"));
  ExpectElapsedBetween(start, absl::Milliseconds(kFirstByteMs),
                       absl::Milliseconds(kFirstByteMs + 1000));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("first_byte timeout"));
  ASSERT_TRUE(result.error_detail.has_value());
  ASSERT_EQ(result.error_detail->attempts_size(), 1);
  EXPECT_EQ(result.error_detail->attempts(0).outcome(), v1::ATTEMPT_OUTCOME_TIMEOUT);
  EXPECT_EQ(result.error_detail->attempts(0).error_type(),
            absl::StrCat("timeout_", kFirstByteMs, "ms"));
}

TEST_F(GatewayTest, IdleTimeoutEndsAStalledBody) {
  constexpr int kIdleMs = 400;
  StartGateway("", absl::StrCat("    timeouts: {idle_ms: ", kIdleMs, "}\n"));
  ASSERT_TRUE(primary_->SetScript({"stall_after_events=2"}));
  absl::Time start = absl::Now();
  // Unary call with a streaming body: the body stalls after two events.
  client::CallResult result = Complete(ChatRequest("openai/gpt-4o", /*stream=*/true));
  ExpectElapsedBetween(start, absl::Milliseconds(kIdleMs), absl::Milliseconds(kIdleMs + 1000));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("idle timeout"));
}

TEST_F(GatewayTest, TotalTimeoutBoundsASlowButSteadyBody) {
  constexpr int kTotalMs = 600;
  StartGateway("", absl::StrCat("    timeouts: {total_ms: ", kTotalMs, "}\n"));
  ASSERT_TRUE(primary_->SetScript({"tokens=20;token_interval_ms=100"}));
  absl::Time start = absl::Now();
  client::CallResult result = Complete(ChatRequest("openai/gpt-4o", /*stream=*/true));
  ExpectElapsedBetween(start, absl::Milliseconds(kTotalMs), absl::Milliseconds(kTotalMs + 1000));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("total timeout"));
}

// A loopback listener that never accepts, with its accept queue full, so
// that further connection attempts hang in SYN_SENT.
class BlackHoleListener {
 public:
  BlackHoleListener() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    for (int i = 0; i < 4; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
      fillers_.push_back(fd);
    }
  }
  ~BlackHoleListener() {
    for (int fd : fillers_) close(fd);
    close(listen_fd_);
  }
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<int> fillers_;
};

TEST_F(GatewayTest, ConnectTimeoutEndsTheCallWithDeadlineExceeded) {
  constexpr int kConnectMs = 400;
  BlackHoleListener black_hole;
  std::string yaml = absl::StrCat(
      ServerSection(), "model_providers:\n  - model: openai/gpt-4o\n", "    base_url: http://127.0.0.1:",
      black_hole.port(), "\n    access_key: sk-test-gw-unused-7d3a\n    timeouts: {connect_ms: ", kConnectMs, "}\n");
  auto gateway = GatewayProcess::Start(yaml);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  absl::Time start = absl::Now();
  client::CallResult result = (*gateway)->client().Complete(ChatRequest("openai/gpt-4o"),
                                                            absl::Seconds(10));
  ExpectElapsedBetween(start, absl::Milliseconds(kConnectMs),
                       absl::Milliseconds(kConnectMs + 1000));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("connect timeout"));
}

TEST_F(GatewayTest, ConnectionRefusedIsAnUnavailableUpstreamError) {
  int port;
  {
    // Bind and close: nothing listens on the port afterwards.
    BlackHoleListener closed;
    port = closed.port();
  }
  std::string yaml = absl::StrCat(ServerSection(), "model_providers:\n  - model: openai/gpt-4o\n",
                                  "    base_url: http://127.0.0.1:", port, "\n    access_key: sk-test-gw-unused-7d3a\n");
  auto gateway = GatewayProcess::Start(yaml);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  client::CallResult result = (*gateway)->client().Complete(ChatRequest("openai/gpt-4o"),
                                                            absl::Seconds(10));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(result.error_detail.has_value());
  ASSERT_EQ(result.error_detail->attempts_size(), 1);
  EXPECT_EQ(result.error_detail->attempts(0).error_type(), "connection_refused");
}

TEST_F(GatewayTest, CutStreamEndsWithAnErrorStatusNeverOk) {
  StartGateway();
  ASSERT_TRUE(primary_->SetScript({"cut_after_events=3"}));
  int data_events = 0;
  bool saw_end = false;
  client::CallResult result = gateway_->client().StreamComplete(
      ChatRequest("openai/gpt-4o", /*stream=*/true), absl::Seconds(10),
      [&](const v1::StreamEvent& event) {
        if (event.has_data()) ++data_events;
        if (event.has_end()) saw_end = true;
      });
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(data_events, 3);
  EXPECT_FALSE(saw_end);
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_STREAM_INTERRUPTED);
}

TEST_F(GatewayTest, StreamWithoutTerminalMarkerIsNotOk) {
  StartGateway();
  ASSERT_TRUE(primary_->SetScript({"no_done"}));
  client::CallResult result = gateway_->client().StreamComplete(
      ChatRequest("openai/gpt-4o", /*stream=*/true), absl::Seconds(10),
      [](const v1::StreamEvent&) {});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayTest, MalformedEventIsDroppedAndTheRestArrives) {
  StartGateway();
  ASSERT_TRUE(primary_->SetScript({"tokens=4;malformed_event_at=2"}));
  std::vector<std::string> data;
  client::CallResult result = gateway_->client().StreamComplete(
      ChatRequest("openai/gpt-4o", /*stream=*/true), absl::Seconds(10),
      [&](const v1::StreamEvent& event) {
        if (event.has_data()) data.push_back(event.data().data());
      });
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  for (const std::string& d : data) EXPECT_THAT(d, Not(HasSubstr("{not json")));
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(data.back(), "[DONE]");
  EXPECT_THAT(gateway_->ScrapeMetrics(),
              HasSubstr("rebound_sse_malformed_events_total{model=\"openai/gpt-4o\"} 1"));
}

TEST_F(GatewayTest, OversizedBodyIsRejectedWithAClearMessage) {
  StartGateway("  max_body_bytes: 1024\n");
  v1::CompletionRequest request = ChatRequest("openai/gpt-4o");
  request.set_body(absl::StrCat(R"({"model":"m","pad":")", std::string(2000, 'x'), "\"}"));
  client::CallResult result = Complete(request);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(),
              HasSubstr(absl::StrCat("request body is ", request.body().size(),
                                     " bytes; the limit is 1024")));
  EXPECT_EQ(primary_->RequestCount(), 0);
}

TEST_F(GatewayTest, MalformedRequestsGetInvalidArgument) {
  StartGateway();
  v1::CompletionRequest not_json = ChatRequest("openai/gpt-4o");
  not_json.set_body("[1,2");
  client::CallResult r1 = Complete(not_json);
  EXPECT_EQ(r1.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r1.status.error_message(), HasSubstr("JSON"));

  v1::CompletionRequest bad_path = ChatRequest("openai/gpt-4o");
  bad_path.set_path("//evil.example/v1");
  EXPECT_EQ(Complete(bad_path).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::CompletionRequest injected = ChatRequest("openai/gpt-4o");
  v1::Header* h = injected.add_headers();
  h->set_name("x-test");
  h->set_value("a\r\nx-api-key: stolen");
  EXPECT_EQ(Complete(injected).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(primary_->RequestCount(), 0);
}

TEST_F(GatewayTest, UnknownModelGetsAClearError) {
  StartGateway();
  client::CallResult result = Complete(ChatRequest("openai/gpt-17"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("not configured"));
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_UNKNOWN_MODEL);
  EXPECT_EQ(primary_->RequestCount() + secondary_->RequestCount(), 0);
}

TEST_F(GatewayTest, MetricsAreExposedWithBoundedLabels) {
  StartGateway();
  ASSERT_TRUE(Complete(ChatRequest("openai/gpt-4o")).ok());
  Complete(ChatRequest("attacker/\"injected\nlabel"));
  // The gauge drops when gRPC reports the call done, just after the client
  // has its answer: poll briefly for it to return to zero.
  std::string metrics;
  WaitUntil(
      [&] {
        metrics = gateway_->ScrapeMetrics();
        return absl::StrContains(metrics, "rebound_in_flight_requests 0");
      },
      absl::Seconds(2), absl::Milliseconds(20));
  EXPECT_THAT(metrics, HasSubstr("# TYPE rebound_requests_total counter"));
  EXPECT_THAT(metrics, HasSubstr("# TYPE rebound_attempts_total counter"));
  EXPECT_THAT(metrics, HasSubstr("# TYPE rebound_upstream_ttfb_seconds histogram"));
  EXPECT_THAT(metrics, HasSubstr("# TYPE rebound_upstream_duration_seconds histogram"));
  EXPECT_THAT(metrics, HasSubstr("# TYPE rebound_gateway_overhead_seconds histogram"));
  EXPECT_THAT(metrics, HasSubstr("# TYPE rebound_in_flight_requests gauge"));
  EXPECT_THAT(metrics, HasSubstr(R"(rebound_requests_total{api="grpc",model="openai/gpt-4o",outcome="ok"} 1)"));
  EXPECT_THAT(metrics, HasSubstr(
      R"(rebound_attempts_total{model="openai/gpt-4o",outcome="success",provider="openai",status_class="2xx"} 1)"));
  EXPECT_THAT(metrics, HasSubstr(R"(rebound_requests_total{api="grpc",model="unknown",outcome="unknown_model"} 1)"));
  EXPECT_THAT(metrics, HasSubstr("rebound_in_flight_requests 0"));
  EXPECT_THAT(metrics, Not(HasSubstr("attacker")));
  EXPECT_THAT(metrics, Not(HasSubstr("key-primary")));
}

TEST_F(GatewayTest, HealthAndReflectionAreServed) {
  StartGateway();
  auto channel = grpc::CreateChannel(gateway_->address(), grpc::InsecureChannelCredentials());
  EXPECT_TRUE(HealthServing(channel));
  EXPECT_THAT(ReflectedServices(channel), ::testing::Contains("rebound.v1.Gateway"));
}

TEST_F(GatewayTest, SigtermDrainsInFlightCallsThenExitsZero) {
  StartGateway();
  constexpr int kDelayMs = 1200;
  ASSERT_TRUE(primary_->SetScript({absl::StrCat("delay_headers_ms=", kDelayMs)}));
  client::CallResult in_flight;
  std::thread caller([&] { in_flight = Complete(ChatRequest("openai/gpt-4o")); });
  // Wait until the provider has the request, so the call is truly in flight.
  WaitUntil([&] { return primary_->RequestCount() != 0; }, absl::Seconds(5));
  ASSERT_EQ(primary_->RequestCount(), 1);
  gateway_->process().Signal(SIGTERM);
  caller.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.status.error_message();
  EXPECT_EQ(gateway_->process().Wait(absl::Seconds(10)), 0);
}

TEST(GatewayConfigTest, InvalidConfigExitsOneAndNamesTheLines) {
  std::string path = WriteTempFile("bad.yaml",
                                   "model_providers:\n"
                                   "  - model: openai/gpt-4o\n"
                                   "    base_url: http://127.0.0.1:1\n"
                                   "    access_key: sk-test-gw-unused-7d3a\n"
                                   "    retry_policy:\n"
                                   "      backoff: {base_ms: 100}\n"
                                   "      on_status_codes: [{codes: [700]}]\n");
  for (const char* flag : {"--config", "--check"}) {
    SubprocessOptions options;
    options.binary = BinaryPath("rebound-server");
    options.args = {flag, path};
    auto process = Subprocess::Start(options);
    ASSERT_TRUE(process.ok());
    EXPECT_EQ((*process)->Wait(absl::Seconds(10)), 1) << flag;
    std::string err = (*process)->Stderr();
    EXPECT_THAT(err, HasSubstr("bad.yaml:6:")) << err;
    EXPECT_THAT(err, HasSubstr("apply_to")) << err;
    EXPECT_THAT(err, HasSubstr("bad.yaml:7:")) << err;
    EXPECT_THAT((*process)->Stdout(), Not(HasSubstr("ready")));
  }
}

}  // namespace
}  // namespace rebound::testing

namespace rebound::testing {
namespace {

TEST_F(GatewayTest, PythonExampleClientWorksAgainstARealServer) {
  StartGateway();
  SubprocessOptions options;
  options.binary = "/usr/bin/python3";
  options.args = {std::string(REBOUND_SOURCE_DIR) + "/tests/python/example_client.py",
                  "--addr", gateway_->address(), "--model", "openai/gpt-4o",
                  "--expect-model", "openai/gpt-4o"};
  options.env = {{"PYTHONPATH", REBOUND_PYTHON_STUBS_DIR}};
  auto python = Subprocess::Start(options);
  ASSERT_TRUE(python.ok()) << python.status();
  int code = (*python)->Wait(absl::Seconds(60));
  EXPECT_EQ(code, 0) << (*python)->Stdout() << (*python)->Stderr();
  // Both the unary and the streaming call reached the provider.
  EXPECT_EQ(primary_->RequestCount(), 2);
}

}  // namespace
}  // namespace rebound::testing

namespace rebound::testing {
namespace {

TEST_F(GatewayTest, InFlightLimitFailsFastWithPushback) {
  StartGateway("  max_in_flight: 1\n");
  ASSERT_TRUE(primary_->SetScript({"delay_headers_ms=1500"}));
  client::CallResult slow;
  std::thread caller([&] { slow = Complete(ChatRequest("openai/gpt-4o")); });
  // (EXPECT, not ASSERT: `caller` must be joined.)
  EXPECT_TRUE(WaitUntil([&] { return primary_->RequestCount() != 0; }, absl::Seconds(5)))
      << "the slow call never reached the provider";
  absl::Time start = absl::Now();
  client::CallResult refused = Complete(ChatRequest("openai/gpt-4o"));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500)) << "must fail fast, not queue";
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(refused.error_detail.has_value());
  EXPECT_EQ(refused.error_detail->reason(), v1::ERROR_REASON_OVERLOADED);
  EXPECT_GT(refused.pushback_ms.value_or(0), 0);
  caller.join();
  EXPECT_TRUE(slow.ok()) << slow.status.error_message();
  EXPECT_EQ(primary_->RequestCount(), 1);
}

TEST_F(GatewayTest, ProviderConnectionLimitFailsFast) {
  StartGateway("  max_connections_per_provider: 1\n");
  ASSERT_TRUE(primary_->SetScript({"delay_headers_ms=1500"}));
  client::CallResult slow;
  std::thread caller([&] { slow = Complete(ChatRequest("openai/gpt-4o")); });
  // (EXPECT, not ASSERT: `caller` must be joined.)
  EXPECT_TRUE(WaitUntil([&] { return primary_->RequestCount() != 0; }, absl::Seconds(5)))
      << "the slow call never reached the provider";
  absl::Time start = absl::Now();
  client::CallResult refused = Complete(ChatRequest("openai/gpt-4o"));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500)) << "must fail fast, not queue";
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(refused.error_detail.has_value());
  EXPECT_EQ(refused.error_detail->reason(), v1::ERROR_REASON_OVERLOADED);
  EXPECT_EQ(refused.pushback_ms.value_or(0), 100);
  // Another provider is not affected by the first one's limit.
  v1::CompletionRequest other = MessagesRequest("anthropic/claude-3-5-sonnet");
  EXPECT_TRUE(Complete(other).ok());
  caller.join();
  EXPECT_TRUE(slow.ok()) << slow.status.error_message();
  EXPECT_EQ(primary_->RequestCount(), 1);
}

TEST_F(GatewayTest, CallerDeadlineCancelsTheUpstreamTransfer) {
  // One connection per provider: if the cancelled transfer kept running,
  // the follow-up call would be refused as over the limit.
  StartGateway("  max_connections_per_provider: 1\n");
  ASSERT_TRUE(primary_->SetScript({"delay_headers_ms=5000", ""}));
  constexpr absl::Duration kDeadline = absl::Milliseconds(400);
  absl::Time start = absl::Now();
  client::CallResult expired = Complete(ChatRequest("openai/gpt-4o"), kDeadline);
  // rebound ends the call itself a tenth of the allowed time early (40 ms).
  ExpectElapsedBetween(start, kDeadline - kDeadline / 10, kDeadline + absl::Milliseconds(700));
  EXPECT_EQ(expired.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server notices the cancellation on its own schedule; give it a
  // bounded moment, then the provider's only connection slot must be free.
  client::CallResult next;
  WaitUntil(
      [&] {
        next = Complete(ChatRequest("openai/gpt-4o"));
        return next.ok();
      },
      absl::Seconds(2), absl::Milliseconds(50));
  EXPECT_TRUE(next.ok()) << next.status.error_message();
}

TEST_F(GatewayTest, SighupReloadsAValidConfigAndKeepsTheOldOneOnErrors) {
  StartGateway();
  const std::string path = gateway_->config_path();
  auto write = [&](const std::string& yaml) {
    std::string tmp = path + ".tmp";
    FILE* f = fopen(tmp.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fwrite(yaml.data(), 1, yaml.size(), f);
    fclose(f);
    ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0);
  };
  // An invalid config: the reload is rejected and the old one keeps serving.
  write("model_providers:\n  - model: broken\n");
  gateway_->process().Signal(SIGHUP);
  ASSERT_TRUE(gateway_->process()
                  .WaitForStderrLine("config_reload_rejected", absl::Seconds(5))
                  .ok());
  EXPECT_TRUE(Complete(ChatRequest("openai/gpt-4o")).ok());

  // A valid config with a new model: served after the reload.
  write(absl::StrCat(ServerSection(), "model_providers:\n",
                     Provider("mistral/mistral-large", *secondary_, "sk-test-mistral-3b9e",
                              "    default: true\n")));
  gateway_->process().Signal(SIGHUP);
  ASSERT_TRUE(gateway_->process().WaitForStderrLine("config_reloaded", absl::Seconds(5)).ok());
  client::CallResult result = Complete(ChatRequest("mistral/mistral-large"));
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), "mistral/mistral-large");
  EXPECT_EQ(Complete(ChatRequest("openai/gpt-4o")).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // SIGHUP and the file watcher may both have seen the broken file.
  EXPECT_THAT(gateway_->ScrapeMetrics(),
              ::testing::ContainsRegex(R"(rebound_config_loads_total\{result="rejected"\} [12]\b)"));
}

}  // namespace
}  // namespace rebound::testing
