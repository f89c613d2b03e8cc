// The policy extensions end to end, with real processes: a rebound-server and
// rebound-fakeprovider instances over sockets. Escalation with the wait on the
// same model and then the failover (timed against the configured values),
// routing by the class of the provider's error in both APIs' error shapes,
// and first-token hedging, unary and streaming, with its budget.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"

namespace rebound::testing {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<FakeProvider> StartFake(std::vector<std::string> args, std::string name) {
  auto fake = FakeProvider::Start(std::move(args), std::move(name));
  EXPECT_TRUE(fake.ok()) << fake.status();
  return fake.ok() ? *std::move(fake) : nullptr;
}

std::unique_ptr<GatewayProcess> StartGateway(const std::string& yaml) {
  auto gateway = GatewayProcess::Start(yaml);
  EXPECT_TRUE(gateway.ok()) << gateway.status();
  return gateway.ok() ? *std::move(gateway) : nullptr;
}

std::string Records(const google::protobuf::RepeatedPtrField<v1::AttemptRecord>& attempts) {
  std::string out;
  for (const v1::AttemptRecord& a : attempts) {
    absl::StrAppend(&out, out.empty() ? "" : " ", a.model(), ":",
                    a.error_type().empty() ? "ok" : a.error_type(),
                    a.error_class().empty() ? "" : "/" + a.error_class(),
                    a.hedge() ? ":hedge" : "");
  }
  return out;
}

// ---------------------------------------------------------------------------
// Escalation and the same-model wait

TEST(PolicyExtensionsTest, AShortRetryAfterIsWaitedOnTheSameModelThenALongOneFailsOver) {
  constexpr int kRetryAfterS = 1;
  constexpr int kMaxWaitMs = 2000;
  auto primary = StartFake({}, "primary");
  auto secondary = StartFake({}, "secondary");
  ASSERT_TRUE(primary && secondary);
  ASSERT_TRUE(primary->SetScript({absl::StrCat("status=429;retry_after=", kRetryAfterS),
                                  "status=429;retry_after=30"}));
  auto gateway = StartGateway(absl::StrCat(
      ServerSection(), "model_providers:\n",
      ProviderEntry("openai/gpt-4o", primary->base_url(), "key-p", absl::StrCat(R"(    default: true
    retry_policy:
      on_status_codes:
        - codes: [429]
          strategy: same_model
          max_attempts: 3
          then:
            strategy: different_provider
            max_attempts: 1
      retry_after_handling:
        apply_to: request
        same_model_max_wait_ms: )",
                                                                              kMaxWaitMs, "\n")),
      ProviderEntry("mistral/mistral-large", secondary->base_url(), "key-s")));
  ASSERT_TRUE(gateway);

  const absl::Time start = absl::Now();
  client::CallResult r = gateway->client().Complete(ChatRequest("openai/gpt-4o"));
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(r.ok()) << r.status.error_message();
  EXPECT_EQ(r.response.served_model(), "mistral/mistral-large");
  EXPECT_EQ(Records(r.response.attempts()),
            "openai/gpt-4o:http_429/rate_limited openai/gpt-4o:http_429/rate_limited "
            "mistral/mistral-large:ok");

  std::vector<RecordedRequest> at_primary = primary->Requests();
  std::vector<RecordedRequest> at_secondary = secondary->Requests();
  ASSERT_EQ(at_primary.size(), 2u);
  ASSERT_EQ(at_secondary.size(), 1u);
  // The 1 s Retry-After was waited out on the same model...
  const absl::Duration waited = at_primary[1].time - at_primary[0].time;
  EXPECT_GE(waited, absl::Seconds(kRetryAfterS) - absl::Milliseconds(5));
  EXPECT_LE(waited, absl::Seconds(4 * kRetryAfterS));
  EXPECT_NEAR(r.response.attempts(1).wait_before_ms(), kRetryAfterS * 1000, 1);
  // ...and the 30 s one was not: the escalation step went elsewhere at once.
  const absl::Duration failover = at_secondary[0].time - at_primary[1].time;
  EXPECT_LT(failover, absl::Milliseconds(kMaxWaitMs)) << "waited for the long Retry-After";
  EXPECT_DOUBLE_EQ(r.response.attempts(2).wait_before_ms(), 0);
  EXPECT_LT(took, absl::Seconds(4 * kRetryAfterS));
}

// ---------------------------------------------------------------------------
// Routing by the provider's error class

TEST(PolicyExtensionsTest, AContextOverflowGoesToTheFirstLargerWindow) {
  auto small = StartFake({"--default", "error_class=context_length_exceeded"}, "small");
  auto smaller = StartFake({}, "smaller");
  auto large = StartFake({}, "large");
  ASSERT_TRUE(small && smaller && large);
  auto gateway = StartGateway(absl::StrCat(
      ServerSection(), "model_providers:\n",
      ProviderEntry("openai/gpt-4o-mini", small->base_url(), "key-a", R"(    default: true
    context_window: 16000
    retry_policy:
      fallback_models: [mistral/mistral-small, anthropic/claude-big]
      on_errors:
        - errors: [context_length_exceeded]
          strategy: larger_context
          max_attempts: 2
)"),
      ProviderEntry("mistral/mistral-small", smaller->base_url(), "key-b",
                    "    context_window: 8000\n"),
      ProviderEntry("anthropic/claude-big", large->base_url(), "key-c",
                    "    provider_interface: anthropic\n    context_window: 200000\n")));
  ASSERT_TRUE(gateway);
  client::CallResult r = gateway->client().Complete(ChatRequest("openai/gpt-4o-mini"));
  ASSERT_TRUE(r.ok()) << r.status.error_message();
  EXPECT_EQ(r.response.served_model(), "anthropic/claude-big");
  EXPECT_EQ(Records(r.response.attempts()),
            "openai/gpt-4o-mini:http_400/context_length_exceeded anthropic/claude-big:ok");
  EXPECT_EQ(smaller->RequestCount(), 0) << "a smaller window is never tried";
  EXPECT_THAT(r.response.body(), HasSubstr("chat.completion")) << "translated back";
  EXPECT_EQ(MetricValue(gateway->ScrapeMetrics(),
                        R"(rebound_provider_errors_total{class="context_length_exceeded",model="openai/gpt-4o-mini"})"),
            1);
}

TEST(PolicyExtensionsTest, AnAnthropicOverloadIsReadFromItsBodyAndFailsOver) {
  auto claude = StartFake({"--default", "error_class=overloaded"}, "claude");
  auto gpt = StartFake({}, "gpt");
  ASSERT_TRUE(claude && gpt);
  auto gateway = StartGateway(absl::StrCat(
      ServerSection(), "model_providers:\n",
      ProviderEntry("anthropic/claude-sonnet", claude->base_url(), "key-a", R"(    default: true
    provider_interface: anthropic
    retry_policy:
      on_errors:
        - errors: [overloaded]
          strategy: different_provider
          max_attempts: 2
)"),
      ProviderEntry("openai/gpt-4o", gpt->base_url(), "key-b")));
  ASSERT_TRUE(gateway);
  client::CallResult r = gateway->client().Complete(MessagesRequest("anthropic/claude-sonnet"));
  ASSERT_TRUE(r.ok()) << r.status.error_message();
  EXPECT_EQ(Records(r.response.attempts()),
            "anthropic/claude-sonnet:http_529/overloaded openai/gpt-4o:ok");
}

TEST(PolicyExtensionsTest, ASpentQuotaBlocksForLongAndTheExhaustionSaysWhy) {
  auto a = StartFake({"--default", "error_class=quota_exhausted"}, "quota-a");
  auto b = StartFake({"--default", "error_class=quota_exhausted"}, "quota-b");
  ASSERT_TRUE(a && b);
  auto gateway = StartGateway(absl::StrCat(
      ServerSection(), "model_providers:\n",
      ProviderEntry("openai/gpt-4o", a->base_url(), "key-a", R"(    default: true
    retry_policy:
      on_errors:
        - errors: [quota_exhausted]
          strategy: different_provider
          max_attempts: 3
          block_duration_seconds: 3600
          block_scope: provider
)"),
      ProviderEntry("mistral/mistral-large", b->base_url(), "key-b")));
  ASSERT_TRUE(gateway);
  client::CallResult first = gateway->client().Complete(ChatRequest("openai/gpt-4o"));
  ASSERT_EQ(first.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << first.status.error_message();
  ASSERT_TRUE(first.error_detail.has_value());
  EXPECT_THAT(first.error_detail->retry_exhausted_json(),
              HasSubstr(R"("model":"openai/gpt-4o","error_type":"http_429","error_class":"quota_exhausted")"));
  EXPECT_EQ(Records(first.error_detail->attempts()),
            "openai/gpt-4o:http_429/quota_exhausted mistral/mistral-large:http_429/quota_exhausted");
  // Both providers are blocked for an hour: the next call sends nothing and
  // says when to come back.
  client::CallResult second = gateway->client().Complete(ChatRequest("openai/gpt-4o"));
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(second.pushback_ms.has_value());
  EXPECT_GT(*second.pushback_ms, 3500 * 1000);
  EXPECT_LE(*second.pushback_ms, 3600 * 1000);
  EXPECT_EQ(a->RequestCount() + b->RequestCount(), 2);
}

// ---------------------------------------------------------------------------
// Hedging

constexpr int kHedgeAfterMs = 300;
constexpr int kSlowMs = 5000;

std::string HedgedConfig(const FakeProvider& slow, const FakeProvider& fast,
                         const std::string& server_extra = "") {
  return absl::StrCat(ServerSection(server_extra), "model_providers:\n",
                      ProviderEntry("openai/gpt-4o", slow.base_url(), "key-s",
                                    absl::StrCat("    default: true\n    retry_policy:\n"
                                                 "      hedge: {after_ms: ",
                                                 kHedgeAfterMs, "}\n")),
                      ProviderEntry("mistral/mistral-large", fast.base_url(), "key-f"));
}

TEST(PolicyExtensionsTest, AHedgeAnswersASlowFirstByte) {
  auto slow = StartFake({"--default", absl::StrCat("delay_headers_ms=", kSlowMs)}, "slow");
  auto fast = StartFake({}, "fast");
  ASSERT_TRUE(slow && fast);
  auto gateway = StartGateway(HedgedConfig(*slow, *fast));
  ASSERT_TRUE(gateway);
  const absl::Time start = absl::Now();
  client::CallResult r = gateway->client().Complete(ChatRequest("openai/gpt-4o"));
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(r.ok()) << r.status.error_message();
  EXPECT_EQ(r.response.served_model(), "mistral/mistral-large");
  EXPECT_EQ(Records(r.response.attempts()), "openai/gpt-4o:hedge_lost mistral/mistral-large:ok:hedge");
  EXPECT_GE(took, absl::Milliseconds(kHedgeAfterMs));
  EXPECT_LT(took, absl::Milliseconds(4 * kHedgeAfterMs)) << "the slow attempt was waited for";
  // The hedge was sent after_ms after the first request.
  std::vector<RecordedRequest> s = slow->Requests(), f = fast->Requests();
  ASSERT_EQ(s.size(), 1u);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_GE(f[0].time - s[0].time, absl::Milliseconds(kHedgeAfterMs - 5));
  EXPECT_LE(f[0].time - s[0].time, absl::Milliseconds(4 * kHedgeAfterMs));
  std::string metrics = gateway->ScrapeMetrics();
  EXPECT_EQ(MetricValue(metrics, R"(rebound_hedges_total{model="openai/gpt-4o",result="started"})"), 1);
  EXPECT_EQ(MetricValue(metrics, R"(rebound_hedges_total{model="openai/gpt-4o",result="won"})"), 1);
  // The loser's transfer is gone at once: no upstream call is in flight.
  EXPECT_TRUE(WaitUntil([&] {
    return MetricValue(gateway->ScrapeMetrics(),
                       R"(rebound_attempts_total{model="openai/gpt-4o",outcome="hedge_lost",provider="openai",status_class="none"})") == 1;
  })) << gateway->ScrapeMetrics();
}

TEST(PolicyExtensionsTest, AStreamingCallerSeesOnlyTheHedgesEvents) {
  auto slow = StartFake({"--default", absl::StrCat("delay_first_token_ms=", kSlowMs)}, "slow");
  auto fast = StartFake({"--default", "tokens=4"}, "fast");
  ASSERT_TRUE(slow && fast);
  auto gateway = StartGateway(HedgedConfig(*slow, *fast));
  ASSERT_TRUE(gateway);
  std::vector<v1::StreamEvent> events;
  const absl::Time start = absl::Now();
  client::CallResult r = gateway->client().StreamComplete(
      ChatRequest("openai/gpt-4o", true), absl::Seconds(30),
      [&](const v1::StreamEvent& e) { events.push_back(e); });
  ASSERT_TRUE(r.ok()) << r.status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(kSlowMs));
  int started = 0, resets = 0, data = 0;
  for (const v1::StreamEvent& e : events) {
    if (e.has_attempt_started()) {
      ++started;
      EXPECT_EQ(e.attempt_started().model(), "mistral/mistral-large");
    }
    resets += e.has_reset();
    data += e.has_data();
  }
  EXPECT_EQ(started, 1);
  EXPECT_EQ(resets, 0);
  EXPECT_GE(data, 4);
  EXPECT_EQ(r.response.served_model(), "mistral/mistral-large");
  EXPECT_EQ(Records(r.response.attempts()), "openai/gpt-4o:hedge_lost mistral/mistral-large:ok:hedge");
}

TEST(PolicyExtensionsTest, ASpentHedgeBudgetRefusesTheHedge) {
  constexpr int kDelayMs = 800;
  auto slow = StartFake({"--default", absl::StrCat("delay_headers_ms=", kDelayMs)}, "slow");
  auto fast = StartFake({}, "fast");
  ASSERT_TRUE(slow && fast);
  auto gateway = StartGateway(HedgedConfig(
      *slow, *fast, "  hedge_budget: {percent: 0, min_hedges_per_second: 0}\n"));
  ASSERT_TRUE(gateway);
  const absl::Time start = absl::Now();
  client::CallResult r = gateway->client().Complete(ChatRequest("openai/gpt-4o"));
  ASSERT_TRUE(r.ok()) << r.status.error_message();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(kDelayMs));
  EXPECT_EQ(r.response.served_model(), "openai/gpt-4o");
  EXPECT_EQ(fast->RequestCount(), 0);
  EXPECT_EQ(MetricValue(gateway->ScrapeMetrics(),
                        R"(rebound_hedges_total{model="openai/gpt-4o",result="refused"})"),
            1);
}

}  // namespace
}  // namespace rebound::testing
