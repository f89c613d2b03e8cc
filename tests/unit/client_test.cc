// Tests for the client library (error decoding and formatting, GatewayClient
// against an in-process fake Gateway: no sockets) and the CLI parser.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/cli_args.h"
#include "client/gateway_client.h"
#include "google/rpc/status.pb.h"
#include "rebound/v1/gateway.grpc.pb.h"

namespace rebound::client {
namespace {

using rebound::v1::AttemptRecord;
using rebound::v1::CompletionRequest;
using rebound::v1::CompletionResponse;
using rebound::v1::ErrorDetail;
using rebound::v1::StreamEvent;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

// A status as the gateway builds it: google.rpc.Status with `details` packed
// into Anys, serialized into error_details.
grpc::Status StatusWithDetails(grpc::StatusCode code, const std::string& message,
                               const std::vector<const google::protobuf::Message*>& details) {
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(message);
  for (const google::protobuf::Message* detail : details) rich.add_details()->PackFrom(*detail);
  return grpc::Status(code, message, rich.SerializeAsString());
}

AttemptRecord Attempt(uint32_t n, std::string model, std::string error_type, double ttfb,
                      double total, double waited) {
  AttemptRecord attempt;
  attempt.set_attempt(n);
  attempt.set_model(std::move(model));
  attempt.set_provider("openai");
  attempt.set_outcome(rebound::v1::ATTEMPT_OUTCOME_HTTP_ERROR);
  attempt.set_error_type(std::move(error_type));
  attempt.set_ttfb_ms(ttfb);
  attempt.set_duration_ms(total);
  attempt.set_wait_before_ms(waited);
  return attempt;
}

ErrorDetail ExhaustedDetail() {
  ErrorDetail detail;
  detail.set_reason(rebound::v1::ERROR_REASON_RETRY_EXHAUSTED);
  detail.set_upstream_http_status(429);
  detail.set_upstream_body(R"({"error":{"message":"Rate limit reached"}})");
  detail.set_retry_exhausted_json(R"({"error":{"type":"retry_exhausted","total_attempts":2}})");
  *detail.add_attempts() = Attempt(1, "openai/gpt-4o", "http_429", 3.1, 3.4, 0);
  *detail.add_attempts() = Attempt(2, "anthropic/claude-3-5-sonnet", "http_429", 2, 2.5, 120.25);
  detail.set_retry_pushback_ms(1500);
  detail.set_request_id("req-7");
  return detail;
}

// ---- DecodeErrorDetail ----

TEST(DecodeErrorDetailTest, OkStatusHasNoDetail) {
  EXPECT_EQ(DecodeErrorDetail(grpc::Status::OK), std::nullopt);
}

TEST(DecodeErrorDetailTest, ErrorWithoutDetailsHasNone) {
  EXPECT_EQ(DecodeErrorDetail(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")), std::nullopt);
}

TEST(DecodeErrorDetailTest, UnparseableDetailsGiveNoneInsteadOfGarbage) {
  grpc::Status status(grpc::StatusCode::INTERNAL, "x", std::string("\xff\xff\xff\x0f", 4));
  EXPECT_EQ(DecodeErrorDetail(status), std::nullopt);
}

TEST(DecodeErrorDetailTest, DecodesDetailAtIndexZero) {
  const ErrorDetail sent = ExhaustedDetail();
  std::optional<ErrorDetail> got = DecodeErrorDetail(
      StatusWithDetails(grpc::StatusCode::RESOURCE_EXHAUSTED, "exhausted", {&sent}));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->SerializeAsString(), sent.SerializeAsString());
}

TEST(DecodeErrorDetailTest, SkipsDetailsOfOtherTypes) {
  rebound::v1::Header other;  // any message that is not an ErrorDetail
  other.set_name("x-proxy");
  ErrorDetail sent;
  sent.set_reason(rebound::v1::ERROR_REASON_UNKNOWN_MODEL);
  std::optional<ErrorDetail> got =
      DecodeErrorDetail(StatusWithDetails(grpc::StatusCode::NOT_FOUND, "unknown", {&other, &sent}));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->reason(), rebound::v1::ERROR_REASON_UNKNOWN_MODEL);
}

TEST(DecodeErrorDetailTest, OnlyOtherTypesGiveNone) {
  rebound::v1::Header other;
  EXPECT_EQ(DecodeErrorDetail(StatusWithDetails(grpc::StatusCode::INTERNAL, "x", {&other})),
            std::nullopt);
}

// ---- FormatAttempt / SanitizeForDisplay ----

TEST(FormatAttemptTest, MatchesTheDocumentedLine) {
  EXPECT_EQ(FormatAttempt(Attempt(1, "openai/gpt-4o", "http_429", 3.1, 3.4, 0)),
            "attempt 1  openai/gpt-4o  http_429  ttfb 3.1ms  total 3.4ms  waited 0ms");
}

TEST(FormatAttemptTest, SuccessWithoutErrorTypeShowsTheHttpStatus) {
  AttemptRecord attempt = Attempt(3, "openai/gpt-4o-mini", "", 12, 250.06, 1000);
  attempt.set_outcome(rebound::v1::ATTEMPT_OUTCOME_SUCCESS);
  attempt.set_http_status(200);
  EXPECT_EQ(FormatAttempt(attempt),
            "attempt 3  openai/gpt-4o-mini  http_200  ttfb 12ms  total 250.1ms  waited 1000ms");
}

TEST(FormatAttemptTest, NoStatusFallsBackToTheOutcomeName) {
  AttemptRecord attempt = Attempt(2, "m/x", "", 0, 5, 0);
  attempt.set_outcome(rebound::v1::ATTEMPT_OUTCOME_TRANSPORT_ERROR);
  EXPECT_THAT(FormatAttempt(attempt), HasSubstr("  transport_error  "));
}

TEST(SanitizeForDisplayTest, KeepsValidUtf8NewlinesAndTabs) {
  EXPECT_EQ(SanitizeForDisplay("héllo\n\twörld ✓ 🙂", 100), "héllo\n\twörld ✓ 🙂");
}

TEST(SanitizeForDisplayTest, EscapesTerminalControlsAndInvalidBytes) {
  EXPECT_EQ(SanitizeForDisplay("\x1b[31mred\r\x7f", 100), "\\x1b[31mred\\x0d\\x7f");
  EXPECT_EQ(SanitizeForDisplay("a\xff"
                               "b",
                               100),
            "a\\xffb");
  EXPECT_EQ(SanitizeForDisplay("\xc2\x9b"
                               "2J",
                               100),
            "\\xc2\\x9b2J");                                              // C1 CSI
  EXPECT_EQ(SanitizeForDisplay("\xe2\x82", 100), "\\xe2\\x82");           // cut sequence
  EXPECT_EQ(SanitizeForDisplay("\xed\xa0\x80", 100), "\\xed\\xa0\\x80");  // surrogate
}

TEST(SanitizeForDisplayTest, TruncatesAtACharacterBoundary) {
  // "é" is two bytes and would straddle the limit: it is dropped whole.
  const std::string text = std::string(9, 'a') + "é" + "tail";
  EXPECT_EQ(SanitizeForDisplay(text, 10), "aaaaaaaaa [... 6 more bytes not shown]");
  EXPECT_EQ(SanitizeForDisplay(text, 11), "aaaaaaaaaé [... 4 more bytes not shown]");
  EXPECT_EQ(SanitizeForDisplay(text, text.size()), text);
}

// ---- DescribeError ----

TEST(DescribeErrorTest, WithoutDetailIsCodeAndMessage) {
  EXPECT_EQ(
      DescribeError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"), nullptr),
      "UNAVAILABLE: connection refused\n");
}

TEST(DescribeErrorTest, RetryExhaustedShowsEverythingOnItsOwnLine) {
  const ErrorDetail detail = ExhaustedDetail();
  const std::string text = DescribeError(
      grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "retries exhausted"), &detail);
  EXPECT_EQ(text,
            "RESOURCE_EXHAUSTED: retries exhausted\n"
            "  reason: RETRY_EXHAUSTED\n"
            "  request id: req-7\n"
            "  upstream HTTP status: 429\n"
            "  upstream body: {\"error\":{\"message\":\"Rate limit reached\"}}\n"
            "  retry_exhausted: {\"error\":{\"type\":\"retry_exhausted\",\"total_attempts\":2}}\n"
            "  attempts:\n"
            "    attempt 1  openai/gpt-4o  http_429  ttfb 3.1ms  total 3.4ms  waited 0ms\n"
            "    attempt 2  anthropic/claude-3-5-sonnet  http_429  ttfb 2ms  total 2.5ms  "
            "waited 120.2ms\n"
            "  retry after: 1500ms (pushback: a retry sooner will not succeed)\n");
}

TEST(DescribeErrorTest, UpstreamBodyIsCutAt4KiBWithoutBreakingUtf8) {
  ErrorDetail detail;
  detail.set_upstream_http_status(500);
  // 4095 ASCII bytes, then a 3-byte character across the 4 KiB line.
  detail.set_upstream_body(std::string(kMaxDisplayedBodyBytes - 1, 'x') + "€" +
                           std::string(1000, 'z'));
  const std::string text =
      DescribeError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "upstream 500"), &detail);
  EXPECT_THAT(text, HasSubstr(std::string(kMaxDisplayedBodyBytes - 1, 'x') +
                              " [... 1003 more bytes not shown]\n"));
  EXPECT_THAT(text, Not(HasSubstr("z")));
  EXPECT_THAT(text, Not(HasSubstr("\xe2")));
}

TEST(DescribeErrorTest, TrailingNewlineOfTheBodyLeavesNoBlankLine) {
  ErrorDetail detail;
  detail.set_upstream_body("bad request\r\n");
  EXPECT_EQ(DescribeError(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "x"), &detail),
            "INVALID_ARGUMENT: x\n  upstream body: bad request\n");
}

TEST(DescribeErrorTest, SaysWhenTheGatewayCutTheBody) {
  ErrorDetail detail;
  detail.set_upstream_body("{\"error\":");
  detail.set_upstream_body_truncated(true);
  EXPECT_THAT(DescribeError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "x"), &detail),
              HasSubstr("  upstream body: {\"error\": [cut short by the gateway]\n"));
}

TEST(DescribeErrorTest, MultiLineBodyStaysIndentedAndEscaped) {
  ErrorDetail detail;
  detail.set_upstream_body("{\n  \"error\": \"\x1b]0;pwned\x07\"\n}");
  const std::string text =
      DescribeError(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad"), &detail);
  EXPECT_THAT(text,
              HasSubstr("  upstream body: {\n      \"error\": \"\\x1b]0;pwned\\x07\"\n    }\n"));
}

TEST(DescribeErrorTest, UnknownCodeShowsItsNumber) {
  EXPECT_EQ(DescribeError(grpc::Status(static_cast<grpc::StatusCode>(42), "odd"), nullptr),
            "CODE_42: odd\n");
}

// ---- GatewayClient against an in-process fake Gateway ----

class FakeGateway final : public rebound::v1::Gateway::Service {
 public:
  grpc::Status Complete(grpc::ServerContext* context, const CompletionRequest* request,
                        CompletionResponse* response) override {
    Record(context, *request);
    if (request->model() == "fail/exhausted") {
      context->AddTrailingMetadata("grpc-retry-pushback-ms", "1500");
      const ErrorDetail detail = ExhaustedDetail();
      return StatusWithDetails(grpc::StatusCode::RESOURCE_EXHAUSTED, "retries exhausted",
                               {&detail});
    }
    response->set_http_status(200);
    response->set_body(R"({"choices":[{"message":{"content":"hello"}}]})");
    response->set_served_model("openai/gpt-4o");
    response->set_served_provider("openai");
    *response->add_attempts() = Attempt(1, "openai/gpt-4o", "", 1, 2, 0);
    return grpc::Status::OK;
  }

  grpc::Status StreamComplete(grpc::ServerContext* context, const CompletionRequest* request,
                              grpc::ServerWriter<StreamEvent>* writer) override {
    Record(context, *request);
    StreamEvent event;
    event.mutable_attempt_started()->set_attempt(1);
    event.mutable_attempt_started()->set_model("openai/gpt-4o");
    writer->Write(event);
    event.Clear();
    event.mutable_data()->set_data("chunk-1");
    writer->Write(event);
    event.Clear();
    event.mutable_reset()->set_next_attempt(2);
    event.mutable_reset()->set_reason("stream_interrupted");
    writer->Write(event);
    if (request->model() == "fail/no-end") return grpc::Status::OK;
    event.Clear();
    event.mutable_end()->set_served_model("anthropic/claude-3-5-sonnet");
    event.mutable_end()->set_served_provider("anthropic");
    event.mutable_end()->set_request_id("req-9");
    *event.mutable_end()->add_attempts() = Attempt(2, "anthropic/claude-3-5-sonnet", "", 1, 2, 0);
    writer->Write(event);
    return grpc::Status::OK;
  }

  std::string last_authorization;
  CompletionRequest last_request;
  absl::Time last_deadline;

 private:
  void Record(grpc::ServerContext* context, const CompletionRequest& request) {
    last_request = request;
    last_deadline = absl::FromChrono(context->deadline());
    auto it = context->client_metadata().find("authorization");
    last_authorization = it == context->client_metadata().end()
                             ? ""
                             : std::string(it->second.data(), it->second.size());
  }
};

class GatewayClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  GatewayClient MakeClient(ClientOptions options = {}) {
    return GatewayClient(server_->InProcessChannel(grpc::ChannelArguments()), std::move(options));
  }

  FakeGateway service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(GatewayClientTest, CompleteSendsTheBearerTokenAndReturnsTheResponse) {
  ClientOptions options;
  options.bearer_token = "s3cret";
  GatewayClient client = MakeClient(options);
  CompletionRequest request;
  request.set_model("openai/gpt-4o");
  CallResult result = client.Complete(request, absl::Seconds(5));
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), "openai/gpt-4o");
  EXPECT_EQ(result.error_detail, std::nullopt);
  EXPECT_EQ(result.pushback_ms, std::nullopt);
  EXPECT_EQ(service_.last_authorization, "Bearer s3cret");
  EXPECT_EQ(service_.last_request.model(), "openai/gpt-4o");
}

TEST_F(GatewayClientTest, NoTokenSendsNoAuthorization) {
  GatewayClient client = MakeClient();
  ASSERT_TRUE(client.Complete(CompletionRequest()).ok());
  EXPECT_EQ(service_.last_authorization, "");
}

TEST_F(GatewayClientTest, CompleteErrorDecodesTheDetailAndThePushbackTrailer) {
  GatewayClient client = MakeClient();
  CompletionRequest request;
  request.set_model("fail/exhausted");
  CallResult result = client.Complete(request, absl::Seconds(5));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->upstream_http_status(), 429);
  EXPECT_EQ(result.error_detail->attempts_size(), 2);
  EXPECT_EQ(result.pushback_ms, 1500);
}

TEST_F(GatewayClientTest, StreamDeliversEventsInOrderAndSummarisesTheEnd) {
  GatewayClient client = MakeClient();
  std::vector<StreamEvent::EventCase> seen;
  CallResult result =
      client.StreamComplete(CompletionRequest(), absl::Seconds(5),
                            [&](const StreamEvent& event) { seen.push_back(event.event_case()); });
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_THAT(seen, ElementsAre(StreamEvent::kAttemptStarted, StreamEvent::kData,
                                StreamEvent::kReset, StreamEvent::kEnd));
  EXPECT_EQ(result.response.served_model(), "anthropic/claude-3-5-sonnet");
  EXPECT_EQ(result.response.served_provider(), "anthropic");
  EXPECT_EQ(result.response.request_id(), "req-9");
  EXPECT_EQ(result.response.attempts_size(), 1);
}

TEST_F(GatewayClientTest, StreamThatEndsOkWithoutStreamEndIsAnError) {
  GatewayClient client = MakeClient();
  CompletionRequest request;
  request.set_model("fail/no-end");
  int events = 0;
  CallResult result =
      client.StreamComplete(request, absl::Seconds(5), [&](const StreamEvent&) { ++events; });
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(events, 3);
}

TEST_F(GatewayClientTest, TimeoutBecomesTheCallDeadline) {
  ClientOptions options;
  options.default_deadline = absl::Minutes(10);
  GatewayClient client = MakeClient(options);
  const absl::Time before = absl::Now();
  // gRPC sends the deadline as a rounded-up timeout, so allow some slack.
  const absl::Duration slack = absl::Seconds(1);

  ASSERT_TRUE(client.Complete(CompletionRequest(), absl::Seconds(5)).ok());
  EXPECT_GE(service_.last_deadline, before + absl::Seconds(4));
  EXPECT_LE(service_.last_deadline, absl::Now() + absl::Seconds(5) + slack);

  // ZeroDuration: the client's default deadline.
  ASSERT_TRUE(client.Complete(CompletionRequest()).ok());
  EXPECT_GE(service_.last_deadline, before + absl::Minutes(9));
  EXPECT_LE(service_.last_deadline, absl::Now() + absl::Minutes(10) + slack);

  // InfiniteDuration: no deadline at all.
  ASSERT_TRUE(client.Complete(CompletionRequest(), absl::InfiniteDuration()).ok());
  EXPECT_GT(service_.last_deadline, absl::Now() + absl::Hours(24 * 365));
}

// ---- CLI argument parser ----

CliEnv NoEnv() {
  return [](std::string_view) { return std::optional<std::string>(); };
}

CliEnv EnvWithAddress(std::string address) {
  return [address](std::string_view name) {
    return name == "REBOUND_ADDR" ? std::optional<std::string>(address) : std::nullopt;
  };
}

absl::StatusOr<CliArgs> Parse(std::vector<std::string> args, const CliEnv& env = NoEnv()) {
  return ParseCliArgs(args, env);
}

TEST(CliArgsTest, NoArgumentsAndHelpInAnyFormShowHelp) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{},
                                             {"help"},
                                             {"--help"},
                                             {"-h"},
                                             {"complete", "--model", "m", "--help"},
                                             {"stream", "-h"},
                                             {"check", "--help"}}) {
    absl::StatusOr<CliArgs> parsed = Parse(args);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->command, Command::kHelp);
  }
}

TEST(CliArgsTest, CompleteDefaults) {
  absl::StatusOr<CliArgs> parsed = Parse({"complete"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, Command::kComplete);
  const CallArgs& call = parsed->call;
  EXPECT_EQ(call.address, "127.0.0.1:50051");
  EXPECT_EQ(call.timeout, absl::Seconds(30));
  EXPECT_FALSE(call.body.has_value());
  EXPECT_FALSE(call.body_file.has_value());
  EXPECT_FALSE(call.no_retry);
  EXPECT_FALSE(call.quiet);
  EXPECT_EQ(call.max_attempts, 0);
}

TEST(CliArgsTest, AddressComesFromTheFlagThenTheEnvironment) {
  EXPECT_EQ(Parse({"stream"}, EnvWithAddress("gw:9000"))->call.address, "gw:9000");
  EXPECT_EQ(Parse({"stream", "--addr", "x:1"}, EnvWithAddress("gw:9000"))->call.address, "x:1");
  EXPECT_EQ(Parse({"stream"}, EnvWithAddress(""))->call.address, "127.0.0.1:50051");
}

TEST(CliArgsTest, ParsesEveryFlagInBothForms) {
  absl::StatusOr<CliArgs> parsed = Parse({"stream",
                                          "--addr=h:1",
                                          "--model",
                                          "openai/gpt-4o",
                                          "--path=/v1/messages",
                                          "--body",
                                          "{}",
                                          "--header",
                                          "X-Trace: abc ",
                                          "--header=anthropic-version:2023-06-01",
                                          "--request-id",
                                          "r1",
                                          "--timeout=1500ms",
                                          "--no-retry",
                                          "--max-attempts",
                                          "3",
                                          "--allow",
                                          "b/m",
                                          "--allow=a/m",
                                          "--quiet",
                                          "--ca-file",
                                          "ca.pem",
                                          "--token-file=tok"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, Command::kStream);
  const CallArgs& call = parsed->call;
  EXPECT_EQ(call.address, "h:1");
  EXPECT_EQ(call.model, "openai/gpt-4o");
  EXPECT_EQ(call.path, "/v1/messages");
  EXPECT_EQ(call.body, "{}");
  EXPECT_THAT(call.headers,
              ElementsAre(Pair("X-Trace", "abc"), Pair("anthropic-version", "2023-06-01")));
  EXPECT_EQ(call.request_id, "r1");
  EXPECT_EQ(call.timeout, absl::Milliseconds(1500));
  EXPECT_TRUE(call.no_retry);
  EXPECT_EQ(call.max_attempts, 3);
  EXPECT_THAT(call.allowed_models, ElementsAre("b/m", "a/m"));
  EXPECT_TRUE(call.quiet);
  EXPECT_EQ(call.ca_file, "ca.pem");
  EXPECT_TRUE(call.use_tls);  // implied by --ca-file
  EXPECT_EQ(call.token_file, "tok");
}

TEST(CliArgsTest, BodyFileDashMeansStdin) {
  EXPECT_EQ(Parse({"complete", "--body-file", "-"})->call.body_file, "-");
}

TEST(CliArgsTest, CheckTakesExactlyOneFile) {
  absl::StatusOr<CliArgs> parsed = Parse({"check", "deploy/config.yaml"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->command, Command::kCheck);
  EXPECT_EQ(parsed->check_file, "deploy/config.yaml");
  EXPECT_FALSE(Parse({"check"}).ok());
  EXPECT_FALSE(Parse({"check", "a.yaml", "b.yaml"}).ok());
  EXPECT_FALSE(Parse({"check", "--strict"}).ok());
}

struct BadCommandLine {
  std::vector<std::string> args;
  std::string error;  // a substring of the message
};

TEST(CliArgsTest, RejectsBadCommandLinesWithAMessageNamingTheProblem) {
  const std::vector<BadCommandLine> cases = {
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"complete", "--bogus"}, "unknown flag --bogus"},
      {{"complete", "positional"}, "unexpected argument 'positional'"},
      {{"complete", "--"}, "unexpected argument '--'"},
      {{"complete", "--model"}, "--model needs a value"},
      {{"complete", "--model", "--quiet"}, "--model needs a value"},
      {{"complete", "--quiet=yes"}, "--quiet takes no value"},
      {{"complete", "--timeout", "30"}, "--timeout"},
      {{"complete", "--timeout", "-1s"}, "--timeout"},
      {{"complete", "--timeout", "0s"}, "--timeout"},
      {{"complete", "--max-attempts", "0"}, "--max-attempts"},
      {{"complete", "--max-attempts", "two"}, "--max-attempts"},
      {{"complete", "--body", "{}", "--body-file", "f"}, "mutually exclusive"},
      {{"complete", "--model", "a", "--model", "b"}, "--model given more than once"},
      {{"complete", "--header", "NoColon"}, "Name: value"},
      {{"complete", "--header", "Bad Name: v"}, "not a valid header name"},
      {{"complete", "--header", "X: a\r\nInjected: 1"}, "CR or LF"},
      {{"complete", "--addr="}, "--addr must not be empty"},
      {{"complete", "--allow="}, "--allow needs a model id"},
  };
  for (const BadCommandLine& c : cases) {
    absl::StatusOr<CliArgs> parsed = Parse(c.args);
    ASSERT_FALSE(parsed.ok()) << c.args.back();
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(c.error)) << c.args.back();
  }
}

TEST(CliArgsTest, DefaultBodyIsAOneMessageChatAndStreamAddsTheFlag) {
  EXPECT_EQ(DefaultBody("openai/gpt-4o", false),
            R"({"model":"openai/gpt-4o","messages":[{"role":"user","content":"Say hello"}]})");
  EXPECT_EQ(DefaultBody("", true),
            R"({"model":"default","messages":[{"role":"user","content":"Say hello"}],)"
            R"("stream":true})");
  EXPECT_THAT(DefaultBody("we\"ird\\", false), HasSubstr(R"("model":"we\"ird\\")"));
}

TEST(CliArgsTest, BuildRequestCarriesEveryNarrowingOption) {
  absl::StatusOr<CliArgs> parsed =
      Parse({"complete", "--model", "m/a", "--path", "/p", "--header", "X-A: 1", "--request-id",
             "r", "--no-retry", "--max-attempts", "2", "--allow", "m/b"});
  ASSERT_TRUE(parsed.ok());
  const CompletionRequest request = BuildRequest(parsed->call, "{}");
  EXPECT_EQ(request.model(), "m/a");
  EXPECT_EQ(request.path(), "/p");
  EXPECT_EQ(request.body(), "{}");
  ASSERT_EQ(request.headers_size(), 1);
  EXPECT_EQ(request.headers(0).name(), "X-A");
  EXPECT_EQ(request.headers(0).value(), "1");
  EXPECT_EQ(request.request_id(), "r");
  EXPECT_TRUE(request.retry().disable_retries());
  EXPECT_EQ(request.retry().max_attempts(), 2u);
  EXPECT_THAT(request.retry().allowed_models(), ElementsAre("m/b"));
}

TEST(CliArgsTest, UsageDocumentsEveryExitCode) {
  const std::string usage(UsageText());
  for (const char* line : {"0  success", "1  the call failed", "2  usage error",
                           "3  the gateway could not be reached"}) {
    EXPECT_THAT(usage, HasSubstr(line));
  }
  EXPECT_THAT(std::string(ShortUsageText()), HasSubstr("rebound check FILE"));
}

}  // namespace
}  // namespace rebound::client
