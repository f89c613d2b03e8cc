// The acceptance scenarios 1-23 of SCENARIOS.md, end to end: the real
// rebound-server, one real rebound-fakeprovider per provider, a real gRPC
// client. Each test is named after its scenario (Scenario07_... is number 7)
// and asserts what the scenario names: calls per provider, the answer's
// status and ErrorDetail, the retry_exhausted JSON, the bytes a provider
// received, and timings bounded on both sides.
//
// Timings: a wait's lower bound is the configured value (rebound must never
// start an attempt early); its upper bound adds a margin for a loaded 2-core
// machine. Gaps between attempts are measured on the fakes' own clocks (the
// time each request was fully received), so client-side scheduling noise does
// not enter them. Where SCENARIOS.md allows it, values are scaled down with
// their ratios kept.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "codec/json_scan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"

namespace rebound::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kPrimary[] = "openai/gpt-4o";
constexpr char kSecondary[] = "anthropic/claude-3-5-sonnet";
constexpr char kTertiary[] = "mistral/mistral-large";

// The body of the fake's error answers (tests/fakeprovider: ErrorBody).
std::string FakeErrorBody(int status) {
  return absl::StrCat(R"({"error":{"message":"fake )", status, R"(","type":"fake_error","code":)",
                      status, "}}");
}

// A retry_policy block for a model_providers entry; `lines` are its fields,
// indented by six spaces.
std::string RetryPolicy(const std::string& lines) {
  return absl::StrCat("    retry_policy:\n", lines);
}

// SCENARIOS.md's "P429", plus `extra` policy lines.
std::string P429(const std::string& extra = "") {
  return RetryPolicy(absl::StrCat(
      "      default_strategy: different_provider\n"
      "      default_max_attempts: 2\n"
      "      on_status_codes: [{codes: [429], strategy: different_provider, max_attempts: 2}]\n",
      extra));
}

// A same_model retry loop of `attempts` attempts for every class, plus `extra`.
std::string SameModel(int attempts, const std::string& extra = "") {
  return RetryPolicy(absl::StrCat("      default_strategy: same_model\n",
                                  "      default_max_attempts: ", attempts, "\n",
                                  "      on_status_codes: [{codes: [429], strategy: same_model, "
                                  "max_attempts: ",
                                  attempts, "}]\n", extra));
}

// A loopback port nothing listens on (bound, then closed).
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// The retry_exhausted JSON body, parsed with the project's JSON scanner.
// Numbers and literals are kept as their raw text ("60", "1.5", "null").
struct ExhaustedJson {
  struct Attempt {
    std::string model;
    std::string error_type;
    std::string attempt;
  };
  std::string type;
  std::string message;
  std::vector<Attempt> attempts;
  std::string total_attempts;
  std::string observed_max_retry_after_seconds;
  std::string shortest_remaining_block_seconds;
  std::string retry_budget_exhausted;
};

std::string RawMember(std::string_view object, std::string_view key) {
  std::optional<std::string_view> v = json::FindMember(object, key);
  return v ? std::string(*v) : std::string("<absent>");
}

std::string StringMember(std::string_view object, std::string_view key) {
  std::optional<std::string_view> v = json::FindMember(object, key);
  if (!v) return "<absent>";
  absl::StatusOr<std::string> s = json::DecodeString(*v);
  return s.ok() ? *s : std::string("<not a string>");
}

ExhaustedJson ParseExhausted(std::string_view text) {
  ExhaustedJson out;
  EXPECT_TRUE(json::Validate(text).ok()) << text;
  std::optional<std::string_view> error = json::FindMember(text, "error");
  if (!error) {
    ADD_FAILURE() << "no \"error\" member: " << text;
    return out;
  }
  out.type = StringMember(*error, "type");
  out.message = StringMember(*error, "message");
  out.total_attempts = RawMember(*error, "total_attempts");
  out.observed_max_retry_after_seconds = RawMember(*error, "observed_max_retry_after_seconds");
  out.shortest_remaining_block_seconds = RawMember(*error, "shortest_remaining_block_seconds");
  out.retry_budget_exhausted = RawMember(*error, "retry_budget_exhausted");
  if (std::optional<std::string_view> attempts = json::FindMember(*error, "attempts")) {
    absl::Status s = json::ForEachElement(*attempts, [&](std::string_view a) {
      out.attempts.push_back(
          {StringMember(a, "model"), StringMember(a, "error_type"), RawMember(a, "attempt")});
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
  }
  return out;
}

// "model error_type attempt" per attempt, joined by " | ", for one-line comparisons.
std::string Summary(const ExhaustedJson& j) {
  std::string out;
  for (const ExhaustedJson::Attempt& a : j.attempts) {
    if (!out.empty()) out += " | ";
    absl::StrAppend(&out, a.model, " ", a.error_type, " ", a.attempt);
  }
  return out;
}

// The same summary from the attempt records of a response or an error.
std::string Summary(const google::protobuf::RepeatedPtrField<v1::AttemptRecord>& attempts) {
  std::string out;
  for (const v1::AttemptRecord& a : attempts) {
    if (!out.empty()) out += " | ";
    absl::StrAppend(&out, a.model(), " ", a.error_type().empty() ? "ok" : a.error_type(), " ",
                    a.attempt());
  }
  return out;
}

void ExpectBetween(absl::Duration d, absl::Duration low, absl::Duration high,
                   const std::string& what) {
  EXPECT_GE(d, low) << what << " = " << d;
  EXPECT_LT(d, high) << what << " = " << d;
}

// Everything a streaming call delivered, with arrival times.
struct StreamLog {
  struct Item {
    absl::Time at;
    v1::StreamEvent event;
  };
  std::vector<Item> items;
  client::CallResult result;

  // One letter per event: S attempt_started, D data, R reset, E end.
  std::string Kinds() const {
    std::string out;
    for (const Item& i : items) {
      switch (i.event.event_case()) {
        case v1::StreamEvent::kAttemptStarted: out += 'S'; break;
        case v1::StreamEvent::kData: out += 'D'; break;
        case v1::StreamEvent::kReset: out += 'R'; break;
        case v1::StreamEvent::kEnd: out += 'E'; break;
        default: out += '?'; break;
      }
    }
    return out;
  }
  std::vector<const Item*> Of(v1::StreamEvent::EventCase kind) const {
    std::vector<const Item*> out;
    for (const Item& i : items) {
      if (i.event.event_case() == kind) out.push_back(&i);
    }
    return out;
  }
};

// n data events, for building the expected Kinds() of a stream.
std::string Ds(int n) { return std::string(static_cast<size_t>(n), 'D'); }

// The events of a complete OpenAI stream from the fake with `tokens` tokens:
// one chunk per token, the finish_reason chunk, [DONE].
int CompleteStreamEvents(int tokens) { return tokens + 2; }

class ScenarioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [fake, name] : {std::pair{&primary_, "primary"}, std::pair{&secondary_, "secondary"},
                              std::pair{&tertiary_, "tertiary"}}) {
      auto started = FakeProvider::Start({}, name);
      ASSERT_TRUE(started.ok()) << started.status();
      *fake = *std::move(started);
    }
  }

  struct Topology {
    bool three_providers = true;      // false: the primary alone
    std::string primary_base_url{};   // empty: the primary fake
  };

  // Starts the gateway with the scenario providers: the primary (default,
  // with `primary_extra` inside its entry: retry_policy, timeouts), the
  // secondary (OpenAI interface, as its fake speaks it) and the tertiary.
  void StartGateway(const std::string& primary_extra, Topology topology) {
    auto entry = [](const std::string& model, const std::string& base_url, const std::string& key,
                    const std::string& extra) {
      return absl::StrCat("  - model: ", model, "\n    base_url: ", base_url,
                          "\n    access_key: ", key, "\n", extra);
    };
    std::string yaml = absl::StrCat(
        ServerSection(), "model_providers:\n",
        entry(kPrimary,
              topology.primary_base_url.empty() ? primary_->base_url() : topology.primary_base_url,
              "key-primary", absl::StrCat("    default: true\n", primary_extra)));
    if (topology.three_providers) {
      absl::StrAppend(&yaml,
                      entry(kSecondary, secondary_->base_url(), "key-secondary",
                            "    provider_interface: openai\n"),
                      entry(kTertiary, tertiary_->base_url(), "key-tertiary", ""));
    }
    auto gateway = GatewayProcess::Start(yaml);
    ASSERT_TRUE(gateway.ok()) << gateway.status() << "\n" << yaml;
    gateway_ = *std::move(gateway);
  }
  void StartGateway(const std::string& primary_extra) { StartGateway(primary_extra, Topology{}); }

  client::CallResult Complete(const v1::CompletionRequest& request,
                              absl::Duration timeout = absl::Seconds(10)) {
    if (gateway_ == nullptr) return NoGateway();
    return gateway_->client().Complete(request, timeout);
  }
  client::CallResult Complete(absl::Duration timeout = absl::Seconds(10)) {
    return Complete(ChatRequest(kPrimary), timeout);
  }

  StreamLog Stream(absl::Duration timeout = absl::Seconds(10)) {
    StreamLog log;
    if (gateway_ == nullptr) {
      log.result = NoGateway();
      return log;
    }
    log.result = gateway_->client().StreamComplete(
        ChatRequest(kPrimary, /*stream=*/true), timeout,
        [&](const v1::StreamEvent& event) { log.items.push_back({absl::Now(), event}); });
    return log;
  }

  // The answer when StartGateway failed (already reported): tests then fail
  // on their expectations instead of crashing.
  static client::CallResult NoGateway() {
    client::CallResult r;
    r.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway did not start");
    return r;
  }

  // Calls per provider as "primary/secondary/tertiary".
  std::string Counts() {
    return absl::StrCat(primary_->RequestCount(), "/", secondary_->RequestCount(), "/",
                        tertiary_->RequestCount());
  }

  std::unique_ptr<FakeProvider> primary_;
  std::unique_ptr<FakeProvider> secondary_;
  std::unique_ptr<FakeProvider> tertiary_;
  std::unique_ptr<GatewayProcess> gateway_;
};

// ---------------------------------------------------------------------------
// 1, 2: a retriable status on the primary fails over to the secondary, which
// gets its own credential and nothing of the primary's.

void ExpectFailoverWithOwnCredentials(const client::CallResult& result, FakeProvider& primary,
                                      FakeProvider& secondary, int status) {
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kSecondary);
  EXPECT_EQ(result.response.served_provider(), "anthropic");
  EXPECT_EQ(result.response.http_status(), 200);
  EXPECT_THAT(result.response.body(), HasSubstr("\"model\":\"claude-3-5-sonnet\""));
  EXPECT_EQ(Summary(result.response.attempts()),
            absl::StrCat(kPrimary, " http_", status, " 1 | ", kSecondary, " ok 2"));
  EXPECT_EQ(result.response.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_HTTP_ERROR);
  EXPECT_EQ(result.response.attempts(0).http_status(), status);

  std::vector<RecordedRequest> first = primary.Requests();
  std::vector<RecordedRequest> second = secondary.Requests();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(Header(first[0], "authorization"), "Bearer key-primary");
  EXPECT_EQ(Header(second[0], "authorization"), "Bearer key-secondary");
  for (const auto& [name, value] : second[0].headers) {
    EXPECT_THAT(value, Not(HasSubstr("key-primary"))) << name;
  }
  EXPECT_THAT(second[0].body, Not(HasSubstr("key-primary")));
  EXPECT_THAT(second[0].body, HasSubstr("\"model\":\"claude-3-5-sonnet\""));
  // One request, one id, on every attempt.
  EXPECT_EQ(Header(first[0], "x-request-id"), result.response.request_id());
  EXPECT_EQ(Header(second[0], "x-request-id"), result.response.request_id());
}

TEST_F(ScenarioTest, Scenario01_429FailsOver) {
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"status=429"}));
  client::CallResult result = Complete();
  ExpectFailoverWithOwnCredentials(result, *primary_, *secondary_, 429);
  EXPECT_EQ(Counts(), "1/1/0");
}

TEST_F(ScenarioTest, Scenario02_503FailsOver) {
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"status=503"}));
  client::CallResult result = Complete();
  ExpectFailoverWithOwnCredentials(result, *primary_, *secondary_, 503);
  EXPECT_EQ(Counts(), "1/1/0");
}

// ---------------------------------------------------------------------------

TEST_F(ScenarioTest, Scenario03_AllExhausted) {
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"status=429"}));
  ASSERT_TRUE(secondary_->SetScript({"status=429"}));
  client::CallResult result = Complete();
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(result.error_detail.has_value());
  const v1::ErrorDetail& detail = *result.error_detail;
  EXPECT_EQ(detail.reason(), v1::ERROR_REASON_RETRY_EXHAUSTED);
  EXPECT_EQ(detail.upstream_http_status(), 429);
  EXPECT_EQ(detail.upstream_body(), FakeErrorBody(429));  // the last upstream body
  EXPECT_EQ(Summary(detail.attempts()),
            absl::StrCat(kPrimary, " http_429 1 | ", kSecondary, " http_429 2"));
  ExhaustedJson j = ParseExhausted(detail.retry_exhausted_json());
  EXPECT_EQ(j.type, "retry_exhausted");
  EXPECT_EQ(j.total_attempts, "2");
  EXPECT_EQ(Summary(j), absl::StrCat(kPrimary, " http_429 1 | ", kSecondary, " http_429 2"));
  EXPECT_EQ(j.retry_budget_exhausted, "false");
  EXPECT_EQ(j.observed_max_retry_after_seconds, "null");  // no Retry-After was sent
  EXPECT_EQ(j.shortest_remaining_block_seconds, "null");
  EXPECT_FALSE(result.pushback_ms.has_value());
  EXPECT_EQ(Counts(), "1/1/0");
}

TEST_F(ScenarioTest, Scenario04_NoPolicyNoRetry) {
  StartGateway("");  // no retry_policy
  // Odd spacing and key order: the body must come back untouched.
  const std::string body = R"({ "error" : {"type":"rate_limit",  "message":"slow down, caller"} })";
  ASSERT_TRUE(primary_->SetScript({absl::StrCat("status=429;body=", body)}));
  client::CallResult result = Complete();
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_UPSTREAM_ERROR);
  EXPECT_EQ(result.error_detail->upstream_http_status(), 429);
  EXPECT_EQ(result.error_detail->upstream_body(), body);
  EXPECT_EQ(result.error_detail->retry_exhausted_json(), "");
  EXPECT_EQ(Summary(result.error_detail->attempts()), absl::StrCat(kPrimary, " http_429 1"));
  EXPECT_EQ(Counts(), "1/0/0");
}

// Without a policy, not even the transport re-sends: a connection reset on
// a kept-alive connection reaches the caller, and the provider saw the
// request once.
TEST_F(ScenarioTest, Scenario04_NoPolicyNoHiddenResendOnAReusedConnection) {
  StartGateway("");
  ASSERT_TRUE(primary_->SetScript({"", "reset_before_headers", ""}));
  ASSERT_TRUE(Complete().ok());  // opens the connection the next call reuses
  client::CallResult result = Complete();
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_UPSTREAM_ERROR);
  EXPECT_EQ(Summary(result.error_detail->attempts()), absl::StrCat(kPrimary, " connection_reset 1"));
  std::vector<RecordedRequest> calls = primary_->Requests();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(Header(calls[1], "x-request-id"), result.error_detail->request_id());
  EXPECT_EQ(Counts(), "2/0/0");
}

TEST_F(ScenarioTest, Scenario05_MaxAttemptsOneMeansNoRetry) {
  StartGateway(RetryPolicy(
      "      default_strategy: different_provider\n"
      "      default_max_attempts: 1\n"
      "      fallback_models: [anthropic/claude-3-5-sonnet, mistral/mistral-large]\n"
      "      on_status_codes: [{codes: [429], strategy: different_provider, max_attempts: 1}]\n"
      "      on_timeout: {strategy: different_provider, max_attempts: 1}\n"));
  ASSERT_TRUE(primary_->SetScript({"status=429"}));
  client::CallResult result = Complete();
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_RETRY_EXHAUSTED);
  ExhaustedJson j = ParseExhausted(result.error_detail->retry_exhausted_json());
  EXPECT_EQ(j.type, "retry_exhausted");
  EXPECT_EQ(j.total_attempts, "1");
  EXPECT_EQ(Summary(j), absl::StrCat(kPrimary, " http_429 1"));
  EXPECT_EQ(Counts(), "1/0/0");
}

// ---------------------------------------------------------------------------

TEST_F(ScenarioTest, Scenario06_BackoffTiming) {
  constexpr int kBaseMs = 500;
  StartGateway(SameModel(3, absl::StrCat("      backoff: {apply_to: same_model, base_ms: ", kBaseMs,
                                         ", max_ms: 5000, jitter: false}\n")),
               Topology{.three_providers = false});
  ASSERT_TRUE(primary_->SetScript({"status=429", "status=429", ""}));
  client::CallResult result = Complete();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(Summary(result.response.attempts()),
            absl::StrCat(kPrimary, " http_429 1 | ", kPrimary, " http_429 2 | ", kPrimary, " ok 3"));
  std::vector<RecordedRequest> calls = primary_->Requests();
  ASSERT_EQ(calls.size(), 3u);
  const absl::Duration tolerance = absl::Milliseconds(150);
  for (int i = 1; i <= 2; ++i) {
    absl::Duration expected = absl::Milliseconds(kBaseMs << (i - 1));  // 500, then 1000
    absl::Duration gap = calls[i].time - calls[i - 1].time;
    ExpectBetween(gap, expected - tolerance, expected + tolerance,
                  absl::StrCat("gap before call ", i + 1));
    // The server's own record of the wait is exact.
    EXPECT_EQ(result.response.attempts(i).wait_before_ms(), absl::ToDoubleMilliseconds(expected));
  }
}

TEST_F(ScenarioTest, Scenario07_FallbackOrder) {
  StartGateway(RetryPolicy(
      "      fallback_models: [anthropic/claude-3-5-sonnet, mistral/mistral-large]\n"
      "      default_max_attempts: 3\n"
      "      on_status_codes: [{codes: [429], strategy: different_provider, max_attempts: 3}]\n"));
  ASSERT_TRUE(primary_->SetScript({"status=429"}));
  ASSERT_TRUE(secondary_->SetScript({"status=429"}));
  client::CallResult result = Complete();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kTertiary);
  EXPECT_EQ(Summary(result.response.attempts()),
            absl::StrCat(kPrimary, " http_429 1 | ", kSecondary, " http_429 2 | ", kTertiary,
                         " ok 3"));
  EXPECT_EQ(Counts(), "1/1/1");
  std::vector<RecordedRequest> p = primary_->Requests(), s = secondary_->Requests(),
                               t = tertiary_->Requests();
  ASSERT_EQ(p.size() + s.size() + t.size(), 3u);
  EXPECT_LT(p[0].time, s[0].time);
  EXPECT_LT(s[0].time, t[0].time);
  EXPECT_EQ(Header(t[0], "authorization"), "Bearer key-tertiary");
}

// fallback_models, not the configuration order, decides: reversed here.
TEST_F(ScenarioTest, Scenario07_FallbackModelsOrderBeatsConfigurationOrder) {
  StartGateway(RetryPolicy(
      "      fallback_models: [mistral/mistral-large, anthropic/claude-3-5-sonnet]\n"
      "      default_max_attempts: 3\n"
      "      on_status_codes: [{codes: [429], strategy: different_provider, max_attempts: 3}]\n"));
  ASSERT_TRUE(primary_->SetScript({"status=429"}));
  ASSERT_TRUE(tertiary_->SetScript({"status=429"}));
  client::CallResult result = Complete();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(Summary(result.response.attempts()),
            absl::StrCat(kPrimary, " http_429 1 | ", kTertiary, " http_429 2 | ", kSecondary,
                         " ok 3"));
  EXPECT_EQ(Counts(), "1/1/1");
  EXPECT_LT(tertiary_->Requests()[0].time, secondary_->Requests()[0].time);
}

TEST_F(ScenarioTest, Scenario08_RetryAfterHonoured) {
  StartGateway(SameModel(2, "      retry_after_handling: {scope: model, apply_to: request}\n"),
               Topology{.three_providers = false});
  ASSERT_TRUE(primary_->SetScript({"status=429;retry_after=2", ""}));
  client::CallResult result = Complete();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  std::vector<RecordedRequest> calls = primary_->Requests();
  ASSERT_EQ(calls.size(), 2u);
  ExpectBetween(calls[1].time - calls[0].time, absl::Seconds(2), absl::Milliseconds(2500),
                "gap between the calls");
  ASSERT_EQ(result.response.attempts_size(), 2);
  EXPECT_EQ(result.response.attempts(1).wait_before_ms(), 2000);
}

TEST_F(ScenarioTest, Scenario09_RetryAfterBlocksLaterRequests) {
  StartGateway(P429("      fallback_models: [anthropic/claude-3-5-sonnet]\n"
                    "      retry_after_handling: {scope: model, apply_to: global}\n"));
  ASSERT_TRUE(primary_->SetScript({"status=429;retry_after=60"}));
  absl::Time start = absl::Now();
  client::CallResult first = Complete();
  absl::Duration elapsed = absl::Now() - start;
  ASSERT_TRUE(first.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.served_model(), kSecondary);
  // The failover does not wait for the primary's Retry-After.
  EXPECT_LT(elapsed, absl::Seconds(1));
  ASSERT_EQ(first.response.attempts_size(), 2);
  EXPECT_EQ(first.response.attempts(1).wait_before_ms(), 0);
  EXPECT_EQ(Counts(), "1/1/0");

  client::CallResult second = Complete();
  ASSERT_TRUE(second.ok()) << second.status.error_message();
  EXPECT_EQ(second.response.served_model(), kSecondary);
  EXPECT_EQ(Summary(second.response.attempts()), absl::StrCat(kSecondary, " ok 1"));
  EXPECT_EQ(Counts(), "1/2/0");  // the primary was not called again
}

TEST_F(ScenarioTest, Scenario10_TimeoutFailsOver) {
  constexpr int kFirstByteMs = 1000;
  StartGateway(absl::StrCat(
      P429("      on_timeout: {strategy: different_provider, max_attempts: 2}\n"),
      "    timeouts: {first_byte_ms: ", kFirstByteMs, "}\n"));
  ASSERT_TRUE(primary_->SetScript({"delay_headers_ms=30000"}));
  absl::Time start = absl::Now();
  client::CallResult result = Complete();
  absl::Duration elapsed = absl::Now() - start;
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kSecondary);
  ExpectBetween(elapsed, absl::Milliseconds(kFirstByteMs), absl::Milliseconds(kFirstByteMs + 1000),
                "call duration");
  EXPECT_EQ(Summary(result.response.attempts()),
            absl::StrCat(kPrimary, " timeout_", kFirstByteMs, "ms 1 | ", kSecondary, " ok 2"));
  EXPECT_EQ(result.response.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_TIMEOUT);
  EXPECT_EQ(Counts(), "1/1/0");
}

TEST_F(ScenarioTest, Scenario11_HighLatencyBlocksLaterRequests) {
  constexpr int kThresholdMs = 1000;
  constexpr int kSlowMs = 1500;
  StartGateway(P429(absl::StrCat(
      "      on_high_latency: {threshold_ms: ", kThresholdMs,
      ", measure: total, min_triggers: 1, block_duration_seconds: 60, scope: model, "
      "apply_to: global}\n")));
  ASSERT_TRUE(primary_->SetScript({absl::StrCat("delay_headers_ms=", kSlowMs)}));
  absl::Time start = absl::Now();
  client::CallResult first = Complete();
  absl::Duration elapsed = absl::Now() - start;
  ASSERT_TRUE(first.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.served_model(), kPrimary);  // slow, but delivered
  ExpectBetween(elapsed, absl::Milliseconds(kSlowMs), absl::Milliseconds(kSlowMs + 1000),
                "slow call");
  ASSERT_EQ(first.response.attempts_size(), 1);
  EXPECT_THAT(first.response.attempts(0).error_type(),
              ::testing::MatchesRegex(absl::StrCat("high_latency_[0-9]+ms_threshold_",
                                                   kThresholdMs, "ms")));
  EXPECT_EQ(Counts(), "1/0/0");

  client::CallResult second = Complete();
  ASSERT_TRUE(second.ok()) << second.status.error_message();
  EXPECT_EQ(second.response.served_model(), kSecondary);
  EXPECT_EQ(Summary(second.response.attempts()), absl::StrCat(kSecondary, " ok 1"));
  EXPECT_EQ(Counts(), "1/1/0");
}

TEST_F(ScenarioTest, Scenario12_StreamingFailover) {
  // SCENARIOS.md says 50 ms apart (a minimum). On a loaded 2-core machine the
  // client's own reading of arrival times jitters by 20+ ms, so the events
  // are spaced 100 ms and each gap must be at least 60% of that.
  constexpr int kTokens = 5;
  constexpr int kIntervalMs = 100;
  constexpr int kMinGapMs = kIntervalMs * 6 / 10;
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"status=429"}));
  ASSERT_TRUE(secondary_->SetScript(
      {absl::StrCat("tokens=", kTokens, ";token_interval_ms=", kIntervalMs)}));
  StreamLog log = Stream();
  ASSERT_TRUE(log.result.ok()) << log.result.status.error_message();
  // The failover happened before any event: invisible, no reset.
  EXPECT_EQ(log.Kinds(), absl::StrCat("S", Ds(CompleteStreamEvents(kTokens)), "E"));
  ASSERT_EQ(log.Kinds().size(), static_cast<size_t>(CompleteStreamEvents(kTokens) + 2));
  EXPECT_EQ(log.items.front().event.attempt_started().attempt(), 2u);
  EXPECT_EQ(log.items.front().event.attempt_started().model(), kSecondary);
  EXPECT_EQ(log.items.back().event.end().served_model(), kSecondary);
  EXPECT_EQ(Summary(log.items.back().event.end().attempts()),
            absl::StrCat(kPrimary, " http_429 1 | ", kSecondary, " ok 2"));
  std::vector<const StreamLog::Item*> data = log.Of(v1::StreamEvent::kData);
  EXPECT_EQ(data.back()->event.data().data(), "[DONE]");
  // Each event arrives as the fake produces it, kIntervalMs after the
  // previous one; a buffering gateway would deliver them all at once.
  for (size_t i = 1; i < data.size(); ++i) {
    EXPECT_GE(data[i]->at - data[i - 1]->at, absl::Milliseconds(kMinGapMs))
        << "gap before event " << i;
  }
  ExpectBetween(data.back()->at - data.front()->at,
                absl::Milliseconds(kMinGapMs * (data.size() - 1)),
                absl::Milliseconds(kIntervalMs * (data.size() - 1) + 1000), "stream span");
  EXPECT_EQ(Counts(), "1/1/0");
}

TEST_F(ScenarioTest, Scenario13_BodyPreserved) {
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"status=429"}));
  ASSERT_TRUE(secondary_->SetScript({"echo"}));
  const std::string body =
      "{\"temperature\" :0.70,  \"metadata\": { \"model\" : \"keep-me\",\"n\":[1, 2.50 ]},\n"
      "\t\"model\"   :  \"caller-model\" , \"messages\":[{\"content\":\"say \\\"model\\\": x\","
      "\"role\":\"user\"}]   }";
  v1::CompletionRequest request = ChatRequest(kPrimary);
  request.set_body(body);
  client::CallResult result = Complete(request);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kSecondary);
  std::vector<RecordedRequest> p = primary_->Requests(), s = secondary_->Requests();
  ASSERT_EQ(p.size(), 1u);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(p[0].body, absl::StrReplaceAll(body, {{"\"caller-model\"", "\"gpt-4o\""}}));
  EXPECT_EQ(s[0].body, absl::StrReplaceAll(body, {{"\"caller-model\"", "\"claude-3-5-sonnet\""}}));
  EXPECT_THAT(s[0].body, HasSubstr("\"model\" : \"keep-me\""));
  // The echo answer carries the same bytes back.
  EXPECT_THAT(result.response.body(), HasSubstr("claude-3-5-sonnet"));
}

// ---------------------------------------------------------------------------
// 14: Retry-After in its other forms, each on a same_model retry.

class RetryAfterFormsTest : public ScenarioTest {
 protected:
  // One same_model retry after `spec` (a 429 with some Retry-After form);
  // returns the gap between the two calls and the server's recorded wait.
  std::pair<absl::Duration, double> RetryAfter(const std::string& spec,
                                               const std::string& retry_after_handling,
                                               std::vector<RecordedRequest>* calls_out = nullptr) {
    StartGateway(SameModel(2, absl::StrCat("      retry_after_handling: ", retry_after_handling,
                                           "\n")),
                 Topology{.three_providers = false});
    if (!primary_->SetScript({spec, ""})) return {};
    client::CallResult result = Complete();
    EXPECT_TRUE(result.ok()) << result.status.error_message();
    std::vector<RecordedRequest> calls = primary_->Requests();
    EXPECT_EQ(calls.size(), 2u);
    if (calls.size() != 2 || result.response.attempts_size() != 2) return {};
    if (calls_out != nullptr) *calls_out = calls;
    return {calls[1].time - calls[0].time, result.response.attempts(1).wait_before_ms()};
  }
};

TEST_F(RetryAfterFormsTest, Scenario14_RetryAfterAsHttpDate) {
  std::vector<RecordedRequest> calls;
  auto [gap, waited_ms] = RetryAfter("status=429;retry_after_date=+2",
                                     "{scope: model, apply_to: request}", &calls);
  ASSERT_EQ(calls.size(), 2u);
  // The fake writes "received + 2 s" as an IMF-fixdate, which has whole
  // seconds: the wait ends at that second, between 1 and 2 s after the
  // first call. The lower bound is exact.
  absl::Time date = absl::FromUnixSeconds(absl::ToUnixSeconds(calls[0].time + absl::Seconds(2)));
  ExpectBetween(gap, date - calls[0].time, date - calls[0].time + absl::Milliseconds(500),
                "gap after an HTTP-date Retry-After");
  EXPECT_GT(waited_ms, 900);
  EXPECT_LE(waited_ms, 2000);
}

TEST_F(RetryAfterFormsTest, Scenario14_RetryAfterMs) {
  auto [gap, waited_ms] =
      RetryAfter("status=429;retry_after_ms=1500", "{scope: model, apply_to: request}");
  ExpectBetween(gap, absl::Milliseconds(1500), absl::Milliseconds(2000), "gap after retry-after-ms");
  EXPECT_EQ(waited_ms, 1500);
}

TEST_F(RetryAfterFormsTest, Scenario14_RetryAfterAboveTheCapIsCapped) {
  auto [gap, waited_ms] =
      RetryAfter("status=429;retry_after=30",
                 "{scope: model, apply_to: request, max_retry_after_seconds: 1}");
  ExpectBetween(gap, absl::Seconds(1), absl::Milliseconds(1500), "gap after a capped Retry-After");
  EXPECT_EQ(waited_ms, 1000);
}

TEST_F(RetryAfterFormsTest, Scenario14_UnparseableRetryAfterIsIgnored) {
  auto [gap, waited_ms] =
      RetryAfter("status=429;retry_after=in a little while", "{scope: model, apply_to: request}");
  ExpectBetween(gap, absl::ZeroDuration(), absl::Milliseconds(500),
                "gap after an unparseable Retry-After");
  EXPECT_EQ(waited_ms, 0);
}

// ---------------------------------------------------------------------------

TEST_F(ScenarioTest, Scenario15_FinalStatusesPassThroughWithoutRetry) {
  StartGateway(P429());
  struct Case {
    int http;
    grpc::StatusCode code;
  };
  int calls = 0;
  for (Case c : {Case{400, grpc::StatusCode::INVALID_ARGUMENT},
                 Case{401, grpc::StatusCode::UNAUTHENTICATED},
                 Case{404, grpc::StatusCode::NOT_FOUND},
                 Case{422, grpc::StatusCode::INVALID_ARGUMENT}}) {
    SCOPED_TRACE(c.http);
    const std::string body = absl::StrCat(R"({"error": {"message": "provider says )", c.http,
                                          R"(", "type":"invalid_request_error"}})");
    ASSERT_TRUE(primary_->SetScript({absl::StrCat("status=", c.http, ";body=", body)}));
    client::CallResult result = Complete();
    ++calls;
    EXPECT_EQ(result.status.error_code(), c.code);
    ASSERT_TRUE(result.error_detail.has_value());
    EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_UPSTREAM_ERROR);
    EXPECT_EQ(result.error_detail->upstream_http_status(), c.http);
    EXPECT_EQ(result.error_detail->upstream_body(), body);
    EXPECT_EQ(result.error_detail->retry_exhausted_json(), "");
    EXPECT_EQ(Summary(result.error_detail->attempts()),
              absl::StrCat(kPrimary, " http_", c.http, " 1"));
    EXPECT_EQ(Counts(), absl::StrCat(calls, "/0/0"));
  }
}

TEST_F(ScenarioTest, Scenario16_RetryBudgetEndsASameModelLoopEarly) {
  // Backoff 300 ms, then 600 ms; the budget (700 ms from the first failure)
  // allows the first wait but not the second, so the call ends right after
  // the second attempt, without waiting out the budget.
  constexpr int kBaseMs = 300;
  constexpr int kBudgetMs = 700;
  StartGateway(SameModel(5, absl::StrCat("      backoff: {apply_to: same_model, base_ms: ", kBaseMs,
                                         ", max_ms: 5000, jitter: false}\n",
                                         "      max_retry_duration_ms: ", kBudgetMs, "\n")),
               Topology{.three_providers = false});
  ASSERT_TRUE(primary_->SetScript(std::vector<std::string>(5, "status=503")));
  absl::Time start = absl::Now();
  client::CallResult result = Complete();
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_RETRY_EXHAUSTED);
  EXPECT_EQ(result.error_detail->upstream_http_status(), 503);
  ExhaustedJson j = ParseExhausted(result.error_detail->retry_exhausted_json());
  EXPECT_EQ(j.type, "retry_exhausted");
  EXPECT_EQ(j.retry_budget_exhausted, "true");
  EXPECT_EQ(j.total_attempts, "2");
  EXPECT_EQ(Summary(j), absl::StrCat(kPrimary, " http_503 1 | ", kPrimary, " http_503 2"));
  ExpectBetween(elapsed, absl::Milliseconds(kBaseMs), absl::Milliseconds(kBudgetMs),
                "call duration");
  std::vector<RecordedRequest> calls = primary_->Requests();
  ASSERT_EQ(calls.size(), 2u);
  ExpectBetween(calls[1].time - calls[0].time, absl::Milliseconds(kBaseMs),
                absl::Milliseconds(kBaseMs + 150), "backoff gap");
}

// ---------------------------------------------------------------------------
// 17: min_triggers 2 within trigger_window_seconds. Scaled down: threshold
// 300 ms, slow answers 450 ms (the ratio of scenario 11), window 1 s.

constexpr int kLatencyThresholdMs = 300;
constexpr int kSlowMs = 450;
constexpr int kWindowSeconds = 1;

std::string TwoTriggerPolicy() {
  return P429(absl::StrCat("      on_high_latency: {threshold_ms: ", kLatencyThresholdMs,
                           ", measure: total, min_triggers: 2, trigger_window_seconds: ",
                           kWindowSeconds,
                           ", block_duration_seconds: 60, scope: model, apply_to: global}\n"));
}

TEST_F(ScenarioTest, Scenario17_SecondSlowAnswerInsideTheWindowBlocks) {
  StartGateway(TwoTriggerPolicy());
  const std::string slow = absl::StrCat("delay_headers_ms=", kSlowMs);
  ASSERT_TRUE(primary_->SetScript({slow, slow}));
  client::CallResult first = Complete();
  ASSERT_TRUE(first.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.served_model(), kPrimary);
  client::CallResult second = Complete();  // one slow answer blocked nothing
  ASSERT_TRUE(second.ok()) << second.status.error_message();
  EXPECT_EQ(second.response.served_model(), kPrimary);
  EXPECT_THAT(second.response.attempts(0).error_type(), StartsWith("high_latency_"));
  // Precondition: the two slow answers ended inside the window.
  std::vector<RecordedRequest> calls = primary_->Requests();
  ASSERT_EQ(calls.size(), 2u);
  ASSERT_LT(calls[1].time - calls[0].time, absl::Seconds(kWindowSeconds));

  client::CallResult third = Complete();
  ASSERT_TRUE(third.ok()) << third.status.error_message();
  EXPECT_EQ(third.response.served_model(), kSecondary);
  EXPECT_EQ(Counts(), "2/1/0");
}

TEST_F(ScenarioTest, Scenario17_SecondSlowAnswerOutsideTheWindowDoesNotBlock) {
  StartGateway(TwoTriggerPolicy());
  const std::string slow = absl::StrCat("delay_headers_ms=", kSlowMs);
  ASSERT_TRUE(primary_->SetScript({slow, slow, ""}));
  ASSERT_TRUE(Complete().ok());
  // The second slow answer must end just outside the window the first one
  // opened. The first was measured before this test had its answer, and
  // the second cannot end earlier than kSlowMs after it is sent: sending it
  // at `first_answered` + window - kSlowMs + margin puts the two at least
  // window + margin apart. The test waits the window out; the server never
  // waits for it.
  const absl::Time first_answered = absl::Now();
  const absl::Duration margin = absl::Milliseconds(100);
  absl::SleepFor(std::max(first_answered + absl::Seconds(kWindowSeconds) -
                              absl::Milliseconds(kSlowMs) + margin - absl::Now(),
                          absl::ZeroDuration()));
  client::CallResult second = Complete();
  ASSERT_TRUE(second.ok()) << second.status.error_message();
  // Precondition, both sides: outside the window, and near its edge (a
  // window longer than configured by more than the gap's excess would
  // block, and this test would not see it).
  std::vector<RecordedRequest> calls = primary_->Requests();
  ASSERT_EQ(calls.size(), 2u);
  ASSERT_GE(calls[1].time - calls[0].time, absl::Seconds(kWindowSeconds) + margin);
  ASSERT_LT(calls[1].time - calls[0].time,
            absl::Seconds(kWindowSeconds) + margin + absl::Milliseconds(400))
      << "too slow to test the window's edge";
  EXPECT_EQ(second.response.served_model(), kPrimary);
  EXPECT_THAT(second.response.attempts(0).error_type(), StartsWith("high_latency_"));
  client::CallResult third = Complete();
  ASSERT_TRUE(third.ok()) << third.status.error_message();
  EXPECT_EQ(third.response.served_model(), kPrimary);
  EXPECT_EQ(third.response.attempts(0).error_type(), "");
  EXPECT_EQ(Counts(), "3/0/0");
}

// ---------------------------------------------------------------------------

TEST_F(ScenarioTest, Scenario18_ShorterRetryAfterNeverShortensABlock) {
  // Call A gets Retry-After: 2 s (after 400 ms); call B, sent while A is in
  // flight, gets retry-after-ms: 300 later (after 700 ms). A's block must
  // survive B's shorter signal.
  constexpr int kLongDelayMs = 400, kLongSeconds = 2;
  constexpr int kShortDelayMs = 700, kShortMs = 300;
  const absl::Duration margin = absl::Milliseconds(300);
  StartGateway(P429("      retry_after_handling: {scope: model, apply_to: global}\n"));
  ASSERT_TRUE(primary_->SetScript(
      {absl::StrCat("status=429;retry_after=", kLongSeconds, ";delay_headers_ms=", kLongDelayMs),
       absl::StrCat("status=429;retry_after_ms=", kShortMs, ";delay_headers_ms=", kShortDelayMs),
       ""}));
  client::CallResult a;
  std::thread call_a([&] { a = Complete(); });
  // (EXPECT, not ASSERT: `call_a` must be joined.)
  EXPECT_TRUE(WaitUntil([&] { return primary_->RequestCount() >= 1; }, absl::Seconds(5),
                        absl::Milliseconds(5)))
      << "A never reached the primary";
  client::CallResult b = Complete();
  call_a.join();
  ASSERT_TRUE(a.ok()) << a.status.error_message();
  ASSERT_TRUE(b.ok()) << b.status.error_message();
  EXPECT_EQ(Summary(a.response.attempts()),
            absl::StrCat(kPrimary, " http_429 1 | ", kSecondary, " ok 2"));
  EXPECT_EQ(Summary(b.response.attempts()),
            absl::StrCat(kPrimary, " http_429 1 | ", kSecondary, " ok 2"));
  std::vector<RecordedRequest> calls = primary_->Requests();
  ASSERT_EQ(calls.size(), 2u) << "B must reach the primary before A's block exists";
  const absl::Time long_block_end =
      calls[0].time + absl::Milliseconds(kLongDelayMs) + absl::Seconds(kLongSeconds);
  const absl::Time short_block_end =
      calls[1].time + absl::Milliseconds(kShortDelayMs + kShortMs);
  // Precondition: B's answer came after A's block existed.
  ASSERT_GT(calls[1].time + absl::Milliseconds(kShortDelayMs),
            calls[0].time + absl::Milliseconds(kLongDelayMs));

  // C: after B's block would have ended, before A's ends.
  absl::SleepFor(std::max(short_block_end + margin - absl::Now(), absl::ZeroDuration()));
  absl::Time c_sent = absl::Now();
  client::CallResult c = Complete();
  ASSERT_TRUE(c.ok()) << c.status.error_message();
  ASSERT_LT(c_sent, long_block_end - margin) << "too slow to observe the block";
  EXPECT_EQ(Summary(c.response.attempts()), absl::StrCat(kSecondary, " ok 1"));
  EXPECT_EQ(Counts(), "2/3/0");

  // D: after A's block, the primary serves again (the block was A's, bounded).
  // Sent between one and two margins after the end: a block that outlived
  // A's by more than that would still cover D.
  absl::SleepFor(std::max(long_block_end + margin - absl::Now(), absl::ZeroDuration()));
  absl::Time d_sent = absl::Now();
  ASSERT_LT(d_sent, long_block_end + 2 * margin) << "too slow to bound the block's end";
  client::CallResult d = Complete();
  ASSERT_TRUE(d.ok()) << d.status.error_message();
  EXPECT_EQ(Summary(d.response.attempts()), absl::StrCat(kPrimary, " ok 1"));
  EXPECT_EQ(Counts(), "3/3/0");
}

TEST_F(ScenarioTest, Scenario19_DeadlineEndsAtOnceWithPushback) {
  constexpr int kRetryAfterSeconds = 60;
  StartGateway(SameModel(3), Topology{.three_providers = false});
  ASSERT_TRUE(primary_->SetScript({absl::StrCat("status=429;retry_after=", kRetryAfterSeconds)}));
  absl::Time start = absl::Now();
  client::CallResult result = Complete(absl::Seconds(2));
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_LT(elapsed, absl::Milliseconds(500));  // not 2 s of waiting
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(result.pushback_ms.has_value());
  EXPECT_GT(*result.pushback_ms, 55000);
  EXPECT_LE(*result.pushback_ms, kRetryAfterSeconds * 1000);
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_RETRY_EXHAUSTED);
  EXPECT_EQ(result.error_detail->retry_pushback_ms(), *result.pushback_ms);
  EXPECT_EQ(result.error_detail->upstream_http_status(), 429);
  ExhaustedJson j = ParseExhausted(result.error_detail->retry_exhausted_json());
  EXPECT_EQ(j.total_attempts, "1");
  EXPECT_EQ(j.observed_max_retry_after_seconds, absl::StrCat(kRetryAfterSeconds));
  EXPECT_EQ(j.retry_budget_exhausted, "false");
  double shortest = std::stod(j.shortest_remaining_block_seconds);
  EXPECT_GT(shortest, 55);
  EXPECT_LE(shortest, kRetryAfterSeconds);
  EXPECT_THAT(j.message, HasSubstr("deadline"));
  EXPECT_EQ(primary_->RequestCount(), 1);
}

// ---------------------------------------------------------------------------
// 20, 21: a stream interrupted after events reached the caller.

constexpr int kSecondaryTokens = 5;  // the fake's default

// A reset, then the secondary's complete stream, and OK.
void ExpectResetThenSecondaryStream(const StreamLog& log, int primary_events) {
  ASSERT_TRUE(log.result.ok()) << log.result.status.error_message();
  ASSERT_EQ(log.Kinds(), absl::StrCat("S", Ds(primary_events), "RS",
                                      Ds(CompleteStreamEvents(kSecondaryTokens)), "E"));
  const v1::StreamEvent& first = log.items[0].event;
  EXPECT_EQ(first.attempt_started().attempt(), 1u);
  EXPECT_EQ(first.attempt_started().model(), kPrimary);
  const v1::StreamEvent& reset = log.items[primary_events + 1].event;
  EXPECT_EQ(reset.reset().next_attempt(), 2u);
  EXPECT_THAT(reset.reset().reason(), HasSubstr("stream_interrupted"));
  const v1::StreamEvent& second = log.items[primary_events + 2].event;
  EXPECT_EQ(second.attempt_started().attempt(), 2u);
  EXPECT_EQ(second.attempt_started().model(), kSecondary);
  EXPECT_EQ(log.items[log.items.size() - 2].event.data().data(), "[DONE]");
  const v1::StreamEnd& end = log.items.back().event.end();
  EXPECT_EQ(end.served_model(), kSecondary);
  EXPECT_EQ(Summary(end.attempts()),
            absl::StrCat(kPrimary, " stream_interrupted 1 | ", kSecondary, " ok 2"));
}

// No attempt left: the events, no reset, no end, an error status.
void ExpectInterruptedError(const StreamLog& log, int primary_events) {
  EXPECT_FALSE(log.result.ok());
  EXPECT_EQ(log.result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(log.Kinds(), absl::StrCat("S", Ds(primary_events)));
  ASSERT_TRUE(log.result.error_detail.has_value());
  EXPECT_EQ(log.result.error_detail->reason(), v1::ERROR_REASON_STREAM_INTERRUPTED);
  EXPECT_EQ(Summary(log.result.error_detail->attempts()),
            absl::StrCat(kPrimary, " stream_interrupted 1"));
  ExhaustedJson j = ParseExhausted(log.result.error_detail->retry_exhausted_json());
  EXPECT_EQ(Summary(j), absl::StrCat(kPrimary, " stream_interrupted 1"));
}

TEST_F(ScenarioTest, Scenario20_CutStreamResetsThenStreamsTheSecondary) {
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"tokens=20;cut_after_events=10"}));
  StreamLog log = Stream();
  ExpectResetThenSecondaryStream(log, 10);
  EXPECT_EQ(Counts(), "1/1/0");
}

TEST_F(ScenarioTest, Scenario20_CutStreamWithNoAttemptLeftIsAnError) {
  StartGateway(RetryPolicy(
      "      default_strategy: different_provider\n"
      "      default_max_attempts: 1\n"));
  ASSERT_TRUE(primary_->SetScript({"tokens=20;cut_after_events=10"}));
  StreamLog log = Stream();
  ExpectInterruptedError(log, 10);
  EXPECT_EQ(Counts(), "1/0/0");
}

TEST_F(ScenarioTest, Scenario20_CutOnEveryAttemptNeverEndsOk) {
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"tokens=20;cut_after_events=10"}));
  ASSERT_TRUE(secondary_->SetScript({"tokens=20;cut_after_events=4"}));
  StreamLog log = Stream();
  EXPECT_EQ(log.result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(log.Kinds(), absl::StrCat("S", Ds(10), "RS", Ds(4)));
  ASSERT_TRUE(log.result.error_detail.has_value());
  EXPECT_EQ(log.result.error_detail->reason(), v1::ERROR_REASON_STREAM_INTERRUPTED);
  EXPECT_EQ(Summary(log.result.error_detail->attempts()),
            absl::StrCat(kPrimary, " stream_interrupted 1 | ", kSecondary,
                         " stream_interrupted 2"));
  EXPECT_EQ(Counts(), "1/1/0");
}

constexpr int kIdleMs = 300;

std::string StallPolicy(int default_max_attempts) {
  return absl::StrCat(RetryPolicy(absl::StrCat("      default_strategy: different_provider\n",
                                               "      default_max_attempts: ",
                                               default_max_attempts, "\n")),
                      "    timeouts: {idle_ms: ", kIdleMs, "}\n");
}

TEST_F(ScenarioTest, Scenario21_StalledStreamResetsThenStreamsTheSecondary) {
  StartGateway(StallPolicy(2));
  ASSERT_TRUE(primary_->SetScript({"tokens=20;stall_after_events=3"}));
  StreamLog log = Stream();
  ExpectResetThenSecondaryStream(log, 3);
  EXPECT_EQ(Counts(), "1/1/0");
  // The fake sends its 3 events at once and goes silent: the failover comes
  // when idle_ms of silence has passed, not before. Measured on the fakes'
  // clocks (the client's own reading of event times adds delivery jitter).
  std::vector<RecordedRequest> p = primary_->Requests(), s = secondary_->Requests();
  ASSERT_EQ(p.size() + s.size(), 2u);
  ExpectBetween(s[0].time - p[0].time, absl::Milliseconds(kIdleMs),
                absl::Milliseconds(kIdleMs + 500), "primary call to secondary call");
  ASSERT_GE(log.items.size(), 5u);
  EXPECT_GE(log.items[4].at - p[0].time, absl::Milliseconds(kIdleMs)) << "reset came early";
}

TEST_F(ScenarioTest, Scenario21_StalledStreamWithNoAttemptLeftIsAnError) {
  StartGateway(StallPolicy(1));
  ASSERT_TRUE(primary_->SetScript({"tokens=20;stall_after_events=3"}));
  absl::Time start = absl::Now();
  StreamLog log = Stream();
  ExpectBetween(absl::Now() - start, absl::Milliseconds(kIdleMs),
                absl::Milliseconds(kIdleMs + 1000), "call duration");
  ExpectInterruptedError(log, 3);
  EXPECT_EQ(Counts(), "1/0/0");
}

TEST_F(ScenarioTest, Scenario22_MalformedEventIsDroppedAndTheServerStaysHealthy) {
  constexpr int kTokens = 5;
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({absl::StrCat("tokens=", kTokens, ";malformed_event_at=2")}));
  StreamLog log = Stream();
  ASSERT_TRUE(log.result.ok()) << log.result.status.error_message();
  EXPECT_EQ(log.Kinds(), absl::StrCat("S", Ds(CompleteStreamEvents(kTokens) - 1), "E"));
  std::vector<const StreamLog::Item*> data = log.Of(v1::StreamEvent::kData);
  for (const StreamLog::Item* d : data) {
    EXPECT_THAT(d->event.data().data(), Not(HasSubstr("{not json")));
  }
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(data.back()->event.data().data(), "[DONE]");
  EXPECT_THAT(gateway_->ScrapeMetrics(),
              HasSubstr("rebound_sse_malformed_events_total{model=\"openai/gpt-4o\"} 1"));
  EXPECT_EQ(Counts(), "1/0/0");  // a dropped event is no reason to retry

  // Still healthy: a unary and a streaming call both work.
  EXPECT_TRUE(gateway_->process().Running());
  client::CallResult unary = Complete();
  ASSERT_TRUE(unary.ok()) << unary.status.error_message();
  EXPECT_EQ(unary.response.served_model(), kPrimary);
  StreamLog again = Stream();
  ASSERT_TRUE(again.result.ok()) << again.result.status.error_message();
  EXPECT_EQ(again.Kinds(), absl::StrCat("S", Ds(CompleteStreamEvents(kSecondaryTokens)), "E"));
  EXPECT_EQ(Counts(), "3/0/0");
}

// ---------------------------------------------------------------------------
// 23: transport failures before any header are retriable, class default,
// exactly like a 503.

TEST_F(ScenarioTest, Scenario23_ConnectionRefusedIsRetriedLike503) {
  StartGateway(P429(), Topology{.primary_base_url = absl::StrCat("http://127.0.0.1:", ClosedPort())});
  client::CallResult result = Complete();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kSecondary);
  EXPECT_EQ(Summary(result.response.attempts()),
            absl::StrCat(kPrimary, " connection_refused 1 | ", kSecondary, " ok 2"));
  EXPECT_EQ(result.response.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_TRANSPORT_ERROR);
  EXPECT_EQ(Counts(), "0/1/0");
}

TEST_F(ScenarioTest, Scenario23_ResetBeforeHeadersIsRetriedLike503) {
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"reset_before_headers"}));
  client::CallResult result = Complete();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kSecondary);
  EXPECT_EQ(Summary(result.response.attempts()),
            absl::StrCat(kPrimary, " connection_reset 1 | ", kSecondary, " ok 2"));
  EXPECT_EQ(result.response.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_TRANSPORT_ERROR);
  EXPECT_EQ(Counts(), "1/1/0");
}

// The same on a kept-alive connection: one upstream request, one visible
// attempt. (libcurl by itself re-sends a request on a fresh connection when
// a reused one dies before any response byte; the provider then gets the
// request twice and the retry engine never knows.)
TEST_F(ScenarioTest, Scenario23_ResetOnAReusedConnectionIsOneVisibleAttempt) {
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"", "reset_before_headers", ""}));
  ASSERT_TRUE(Complete().ok());  // opens the connection the next call reuses
  client::CallResult result = Complete();
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(Summary(result.response.attempts()),
            absl::StrCat(kPrimary, " connection_reset 1 | ", kSecondary, " ok 2"));
  EXPECT_EQ(Counts(), "2/1/0");
}

// A reset and a 503 draw on the same budget (class default, 2 attempts):
// after both, the tertiary is not tried.
TEST_F(ScenarioTest, Scenario23_ResetAnd503ShareTheDefaultClassBudget) {
  StartGateway(P429());
  ASSERT_TRUE(primary_->SetScript({"reset_before_headers"}));
  ASSERT_TRUE(secondary_->SetScript({"status=503"}));
  client::CallResult result = Complete();
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->reason(), v1::ERROR_REASON_RETRY_EXHAUSTED);
  EXPECT_EQ(result.error_detail->upstream_http_status(), 503);
  EXPECT_EQ(result.error_detail->upstream_body(), FakeErrorBody(503));
  ExhaustedJson j = ParseExhausted(result.error_detail->retry_exhausted_json());
  EXPECT_EQ(j.total_attempts, "2");
  EXPECT_EQ(Summary(j), absl::StrCat(kPrimary, " connection_reset 1 | ", kSecondary, " http_503 2"));
  EXPECT_EQ(Counts(), "1/1/0");
}

}  // namespace
}  // namespace rebound::testing
