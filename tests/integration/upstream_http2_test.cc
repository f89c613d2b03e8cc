// HTTP/2 upstreams (issue 10 item 14): a request the provider refused
// unprocessed (RST_STREAM REFUSED_STREAM, or a stream above a GOAWAY's last
// stream id; RFC 9113 section 8.7) is re-sent at once and costs no attempt,
// while a request that may have been processed (the connection reset under
// it) is never re-sent behind the retry engine's back. The provider is
// tests/integration/h2_server.py (Debian's python3-h2) over TLS.
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/test_certs.h"

namespace rebound::testing {
namespace {

class UpstreamHttp2Test : public ::testing::Test {
 protected:
  // Starts the h2 server with `fault_args` and a gateway whose only model,
  // without a retry policy, is that server: a counted failure fails the call.
  void Start(std::vector<std::string> fault_args) {
    const TestPki& pki = SharedTestPki();
    std::vector<std::string> args = {std::string(REBOUND_SOURCE_DIR) +
                                         "/tests/integration/h2_server.py",
                                     "--cert", pki.ca.server_cert, "--key", pki.ca.server_key};
    args.insert(args.end(), fault_args.begin(), fault_args.end());
    auto server = Subprocess::Start({.binary = "/usr/bin/python3", .args = args, .name = "h2"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto line = server_->WaitForLine("^listening \\d+", absl::Seconds(10));
    ASSERT_TRUE(line.ok()) << line.status();
    std::string port = line->substr(line->find(' ') + 1);
    auto gateway = GatewayProcess::Start(absl::StrCat(
        ServerSection(), "model_providers:\n",
        ProviderEntry("openai/gpt-4o", "https://127.0.0.1:" + port, "key-h2",
                      absl::StrCat("    default: true\n    tls_ca_file: ", pki.ca.cert, "\n"))));
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
  }

  client::CallResult Call() { return gateway_->client().Complete(ChatRequest("openai/gpt-4o")); }

  // The server's lines of kind `kind` ("request", "refused", ...) so far.
  int Lines(const std::string& kind) {
    std::string out = server_->Stdout();
    std::regex re("(^|\\n)" + kind + " \\d+ ");
    return static_cast<int>(
        std::distance(std::sregex_iterator(out.begin(), out.end(), re), std::sregex_iterator()));
  }

  std::unique_ptr<Subprocess> server_;
  std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(UpstreamHttp2Test, ARefusedStreamIsResentAtOnceWithoutCountingAnAttempt) {
  Start({"--refuse", "1"});
  client::CallResult result = Call();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.attempts_size(), 1);
  EXPECT_EQ(Lines("refused"), 1);
  EXPECT_EQ(Lines("request"), 1);
  EXPECT_EQ(MetricValue(gateway_->ScrapeMetrics(),
                        R"(rebound_upstream_unprocessed_resends_total{provider="openai"})"),
            1);
}

TEST_F(UpstreamHttp2Test, ARefusedStreamOnAReusedConnectionIsResentToo) {
  Start({"--refuse", "2"});
  ASSERT_TRUE(Call().ok());  // request 1 opens the connection that is reused next
  client::CallResult result = Call();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.attempts_size(), 1);
  EXPECT_EQ(Lines("refused"), 1);
  EXPECT_EQ(Lines("request"), 2);
}

TEST_F(UpstreamHttp2Test, AStreamAboveAGoawaysLastStreamIsResentAtOnce) {
  Start({"--goaway", "2"});
  ASSERT_TRUE(Call().ok());  // request 1 opens the connection that is reused next
  client::CallResult result = Call();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.attempts_size(), 1);
  EXPECT_EQ(Lines("goaway"), 1);
  EXPECT_EQ(Lines("request"), 2);
}

TEST_F(UpstreamHttp2Test, AConnectionResetUnderARequestIsNeverResentHidden) {
  Start({"--reset", "2"});
  ASSERT_TRUE(Call().ok());
  client::CallResult result = Call();
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(result.error_detail.has_value());
  ASSERT_EQ(result.error_detail->attempts_size(), 1);
  EXPECT_EQ(result.error_detail->attempts(0).outcome(), v1::ATTEMPT_OUTCOME_TRANSPORT_ERROR);
  // The server saw the second request exactly once: no hidden re-send.
  EXPECT_EQ(Lines("reset"), 1);
  EXPECT_EQ(Lines("request"), 1);
}

}  // namespace
}  // namespace rebound::testing
