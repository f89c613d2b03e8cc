// The retry engine's extensions of plano's policy language, as pure decision
// sequences: escalation (`then:`), waiting out a short Retry-After on the
// same model (retry_after_handling.same_model_max_wait_ms), routing by the
// provider's error class (`on_errors`, larger_context) and hedging
// (`hedge`, server.hedge_budget). Time is simulated; nothing sleeps.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "retry/retry_budget.h"
#include "retry/retry_state.h"
#include "tests/unit/retry_state_harness.h"

namespace rebound {
namespace {

AttemptResult WithError(AttemptResult r, ProviderErrorClass error) {
  r.provider_error = error;
  return r;
}

// ===========================================================================
// Escalation: `then:`

TEST(StepStrategyTest, ClassStrategyThenEscalationThenNothing) {
  ClassPolicy p{Strategy::kSameModel, 2, EscalationStep{Strategy::kDifferentProvider, 2}};
  EXPECT_EQ(StepStrategy(p, 1), Strategy::kSameModel);
  EXPECT_EQ(StepStrategy(p, 2), Strategy::kDifferentProvider);
  EXPECT_EQ(StepStrategy(p, 3), Strategy::kDifferentProvider);
  EXPECT_EQ(StepStrategy(p, 4), std::nullopt);
  ClassPolicy plain{Strategy::kSameProvider, 3};
  EXPECT_EQ(StepStrategy(plain, 2), Strategy::kSameProvider);
  EXPECT_EQ(StepStrategy(plain, 3), std::nullopt) << "without then: plano's budget";
}

constexpr char kRetryOnceThenFailOver[] = R"(on_status_codes:
  - codes: [500]
    strategy: same_model
    max_attempts: 2
    then:
      strategy: different_provider
      max_attempts: 1
)";

TEST(EscalationTest, RetriesTheSameModelThenFailsOver) {
  Gateway gw(ScenarioYaml(kRetryOnceThenFailOver));
  auto s = gw.Request();
  EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 500), Ms(10)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 500), Ms(20)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  Decision d = s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 500), Ms(30));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kClassBudget, absl::StatusCode::kUnavailable));
  EXPECT_THAT(d.message, HasSubstr("allows 3 attempts (2 + then 1)"));
  EXPECT_THAT(Models(*s), ElementsAre("openai/gpt-4o", "openai/gpt-4o",
                                      "anthropic/claude-3-5-sonnet"));
}

TEST(EscalationTest, AnotherClassKeepsItsOwnCount) {
  Gateway gw(ScenarioYaml(absl::StrCat(kRetryOnceThenFailOver,
                                       "on_timeout:\n  strategy: same_model\n  max_attempts: 3\n")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 500), Ms(10)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Timeout("openai/gpt-4o", 100), Ms(120)),
              AttemptAt("openai/gpt-4o", 0))
      << "a timeout is its own class: the 500 class is still in its first step";
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 500), Ms(130)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(EscalationTest, TheCallersAttemptCapBindsTheChain) {
  Gateway gw(ScenarioYaml(kRetryOnceThenFailOver));
  Gateway::RequestOptions o;
  o.narrowing.max_attempts = 2;
  auto s = gw.Request(std::move(o));
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 500), Ms(10));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 500), Ms(20)),
              ExhaustedWith(EndReason::kAttemptCap, absl::StatusCode::kUnavailable));
}

TEST(EscalationTest, MaxRetryDurationBindsTheChain) {
  Gateway gw(ScenarioYaml(absl::StrCat(kRetryOnceThenFailOver, R"(backoff:
  apply_to: global
  base_ms: 400
  max_ms: 1000
  jitter: false
max_retry_duration_ms: 500
)")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  // The first failure starts the budget at 10 ms; a 400 ms backoff fits.
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 500), Ms(10)),
              AttemptAt("openai/gpt-4o", 400));
  // At 420 ms the next backoff (800 ms) passes 510 ms: the escalation never runs.
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 500), Ms(420)),
              ExhaustedWith(EndReason::kRetryBudget, absl::StatusCode::kUnavailable));
}

// ===========================================================================
// retry_after_handling.same_model_max_wait_ms

std::string ShortRetryAfterPolicy(absl::string_view strategy, absl::string_view extra = "") {
  return absl::StrCat(R"(on_status_codes:
  - codes: [429]
    strategy: )",
                      strategy, R"(
    max_attempts: 3
retry_after_handling:
  same_model_max_wait_ms: 3000
)",
                      extra);
}

TEST(SameModelWaitTest, AShortRetryAfterIsWaitedOutOnTheSameModel) {
  Gateway gw(ScenarioYaml(ShortRetryAfterPolicy("different_provider")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("2")), Ms(10));
  EXPECT_THAT(d, AttemptAt("openai/gpt-4o", 2000));
  EXPECT_EQ(d.block_wait, absl::Milliseconds(2000));
}

TEST(SameModelWaitTest, AWaitExactlyAtTheThresholdIsWaited) {
  Gateway gw(ScenarioYaml(ShortRetryAfterPolicy("different_provider")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("3")), Ms(10)),
              AttemptAt("openai/gpt-4o", 3000));
}

TEST(SameModelWaitTest, ALongRetryAfterFailsOverAtOnce) {
  Gateway gw(ScenarioYaml(ShortRetryAfterPolicy("different_provider")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("60")), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(SameModelWaitTest, AFailureWithoutRetryAfterFollowsTheStrategy) {
  Gateway gw(ScenarioYaml(ShortRetryAfterPolicy("different_provider")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(SameModelWaitTest, WithoutTheKeyPlanoFailsOver) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("2")), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(SameModelWaitTest, AWaitPastMaxRetryDurationFailsOverInstead) {
  Gateway gw(ScenarioYaml(ShortRetryAfterPolicy("different_provider",
                                                "max_retry_duration_ms: 1500\n")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("2")), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0))
      << "waiting 2 s would pass the 1.5 s budget; another provider answers now";
}

TEST(SameModelWaitTest, AWaitPastTheDeadlineFailsOverInstead) {
  Gateway gw(ScenarioYaml(ShortRetryAfterPolicy("different_provider")));
  Gateway::RequestOptions o;
  o.deadline = Ms(1000);
  auto s = gw.Request(std::move(o));
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("2")), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(SameModelWaitTest, SameModelTooLongToWaitEscalatesToThen) {
  Gateway gw(ScenarioYaml(R"(on_status_codes:
  - codes: [429]
    strategy: same_model
    max_attempts: 3
    then:
      strategy: different_provider
      max_attempts: 1
retry_after_handling:
  same_model_max_wait_ms: 3000
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("1")), Ms(10)),
              AttemptAt("openai/gpt-4o", 1000));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("30")), Ms(1020)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0))
      << "30 s is not worth waiting for: the escalation step runs at once";
}

TEST(SameModelWaitTest, BeginWaitsForAShortBlockOnThePrimary) {
  Gateway gw(ScenarioYaml(ShortRetryAfterPolicy("different_provider")));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(1500));
  EXPECT_THAT(gw.Request()->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 1500));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(10'000));
  EXPECT_THAT(gw.Request()->Begin(Ms(0)), AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

// ===========================================================================
// on_errors: routing by what the provider said

std::string WindowedYaml(std::string_view policy) {
  return "model_providers:\n" +
         Provider("openai/gpt-4o-mini", policy, "default: true\ncontext_window: 8000") +
         Provider("anthropic/claude-small", "", "provider_interface: openai\ncontext_window: 4000") +
         Provider("openai/gpt-4o", "", "context_window: 128000") +
         Provider("anthropic/claude-big", "", "provider_interface: openai\ncontext_window: 200000") +
         Provider("mistral/mistral-large");
}

constexpr char kContextOverflow[] = R"(fallback_models: [anthropic/claude-small, anthropic/claude-big]
on_errors:
  - errors: [context_length_exceeded]
    strategy: larger_context
    max_attempts: 3
)";

TEST(OnErrorsTest, ContextOverflowGoesOnlyToALargerWindow) {
  Gateway gw(WindowedYaml(kContextOverflow));
  auto s = gw.Request("openai/gpt-4o-mini");
  s->Begin(Ms(0));
  // claude-small comes first in fallback_models, but its window is smaller.
  EXPECT_THAT(s->OnAttemptDone(WithError(gw.Http("openai/gpt-4o-mini", 400),
                                         ProviderErrorClass::kContextLengthExceeded),
                               Ms(10)),
              AttemptAt("anthropic/claude-big", 0));
  Decision d = s->OnAttemptDone(WithError(gw.Http("anthropic/claude-big", 400),
                                          ProviderErrorClass::kContextLengthExceeded),
                                Ms(20));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kInvalidArgument))
      << "nothing is larger than 200000";
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("error_type":"http_400","error_class":"context_length_exceeded")"));
}

TEST(OnErrorsTest, WithoutOnErrorsAContextOverflowIsFinalAsInPlano) {
  Gateway gw(WindowedYaml("{}"));
  auto s = gw.Request("openai/gpt-4o-mini");
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(WithError(gw.Http("openai/gpt-4o-mini", 400),
                                         ProviderErrorClass::kContextLengthExceeded),
                               Ms(10)),
              Delivers());
}

constexpr char kQuota[] = R"(on_status_codes:
  - codes: [429]
    strategy: same_model
    max_attempts: 3
on_errors:
  - errors: [quota_exhausted]
    strategy: different_provider
    max_attempts: 2
    block_duration_seconds: 3600
    block_scope: provider
)";

TEST(OnErrorsTest, AnErrorClassTakesPrecedenceOverItsStatusAndBlocks) {
  Gateway gw(ScenarioYaml(kQuota));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(WithError(gw.Http("openai/gpt-4o", 429),
                                         ProviderErrorClass::kQuotaExhausted),
                               Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  std::vector<std::pair<BlockKey, Block>> blocks = gw.blocks.Snapshot(Ms(10));
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].first, BlockKey::Provider("openai"));
  EXPECT_EQ(blocks[0].second.until, Ms(10) + absl::Seconds(3600));
  // A later call is routed around the spent quota from its first attempt.
  EXPECT_THAT(gw.Request()->Begin(Ms(20)), AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(OnErrorsTest, AnotherClassOfTheSameStatusKeepsItsStatusRule) {
  Gateway gw(ScenarioYaml(kQuota));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(WithError(gw.Http("openai/gpt-4o", 429),
                                         ProviderErrorClass::kRateLimited),
                               Ms(10)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_TRUE(gw.blocks.Snapshot(Ms(10)).empty());
}

constexpr char kRefusals[] = R"(on_errors:
  - errors: [content_filter]
    strategy: different_provider
    max_attempts: 2
)";

TEST(OnErrorsTest, ARefusalFailsOverAndTheLastRefusalIsDelivered) {
  Gateway gw(ScenarioYaml(kRefusals));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(WithError(gw.Ok("openai/gpt-4o"), ProviderErrorClass::kContentFilter),
                               Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(WithError(gw.Ok("anthropic/claude-3-5-sonnet"),
                                         ProviderErrorClass::kContentFilter),
                               Ms(20)),
              Delivers())
      << "no model is left to ask: the refusal is the answer";
}

TEST(OnErrorsTest, ASuccessWithoutARefusalIsNeverRouted) {
  Gateway gw(ScenarioYaml(kRefusals));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Ok("openai/gpt-4o"), Ms(10)), Delivers());
}

TEST(OnErrorsTest, ClassifyNamesTheRule) {
  RetryPolicy p;
  ErrorRule rule;
  rule.errors = {ProviderErrorClass::kOverloaded};
  rule.policy = {Strategy::kSameProvider, 4};
  p.on_errors = {rule};
  AttemptResult r;
  r.kind = AttemptResult::Kind::kStreamInterrupted;
  r.provider_error = ProviderErrorClass::kOverloaded;
  Classification c = ClassifyAttempt(p, r);
  EXPECT_EQ(c.outcome, Outcome::kRetriable);
  EXPECT_EQ(ErrorClassName(c.error_class), "on_errors[0]");
  EXPECT_EQ(c.policy.max_attempts, 4);
  r.kind = AttemptResult::Kind::kResponseTooLarge;
  EXPECT_EQ(ClassifyAttempt(p, r).outcome, Outcome::kFinal) << "never retried, whatever it says";
}

// ===========================================================================
// Hedging

constexpr char kHedge[] = R"(hedge:
  after_ms: 300
)";

TEST(HedgeTest, NoPolicyNoHedge) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_EQ(s->HedgeDelay(), std::nullopt);
}

TEST(HedgeTest, HedgesOnceOnAnotherProvider) {
  Gateway gw(ScenarioYaml(kHedge));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_EQ(s->HedgeDelay(), absl::Milliseconds(300));
  RetryState::HedgeDecision h = s->Hedge(*gw.M("openai/gpt-4o"), Ms(300));
  ASSERT_NE(h.target, nullptr);
  EXPECT_EQ(h.target->model_id, "anthropic/claude-3-5-sonnet");
  EXPECT_EQ(s->HedgeDelay(), std::nullopt) << "max_hedges 1 is spent";
  EXPECT_EQ(s->Hedge(*gw.M("openai/gpt-4o"), Ms(301)).target, nullptr);
}

TEST(HedgeTest, TheLoserIsRecordedButNeverCounted) {
  Gateway gw(ScenarioYaml(absl::StrCat(kHedge, "default_max_attempts: 2\n")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  ASSERT_NE(s->Hedge(*gw.M("openai/gpt-4o"), Ms(300)).target, nullptr);
  AttemptResult lost;
  lost.kind = AttemptResult::Kind::kHedgeLost;
  lost.target = gw.M("openai/gpt-4o");
  s->OnRacerDone(lost, Ms(400));
  EXPECT_THAT(ErrorTypes(*s), ElementsAre("hedge_lost"));
  // The hedge's failure is the class's first: one more attempt is allowed,
  // and the model that lost the race was attempted already.
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 503), Ms(500)),
              AttemptAt("mistral/mistral-large", 0));
}

TEST(HedgeTest, ARacersFailureCountsAndItsRetryAfterBlocks) {
  Gateway gw(ScenarioYaml(absl::StrCat(kHedge, "default_max_attempts: 2\n")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  ASSERT_NE(s->Hedge(*gw.M("openai/gpt-4o"), Ms(300)).target, nullptr);
  AttemptResult failed = gw.Http("anthropic/claude-3-5-sonnet", 503, RetryAfter("30"));
  failed.hedge = true;
  s->OnRacerDone(failed, Ms(350));
  EXPECT_EQ(gw.blocks.Snapshot(Ms(350)).size(), 1u);
  // Its failure and the survivor's are two of the default class: spent.
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(500)),
              ExhaustedWith(EndReason::kClassBudget, absl::StatusCode::kUnavailable));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(500)).exhausted_json,
              HasSubstr(R"("hedge":true)"));
}

TEST(HedgeTest, TheBudgetRefusesHedgesPastItsShare) {
  Gateway gw(ScenarioYaml(kHedge));
  RetryBudget budget(RetryBudgetSettings{true, 10, 0, 10});
  Gateway::RequestOptions o;
  o.hedge_budget = &budget;
  std::vector<std::unique_ptr<RetryState>> calls;
  int granted = 0, refused = 0;
  for (int i = 0; i < 20; ++i) {
    Gateway::RequestOptions each = o;
    calls.push_back(gw.Request(std::move(each)));
    calls.back()->Begin(Ms(i));
    RetryState::HedgeDecision h = calls.back()->Hedge(*gw.M("openai/gpt-4o"), Ms(i));
    granted += h.target != nullptr;
    refused += h.refused_by_budget;
  }
  EXPECT_EQ(granted, 2) << "10% of 20 calls";
  EXPECT_EQ(refused, 18);
}

TEST(HedgeTest, SameModelHedgesTheRunningModelUnlessItIsBlocked) {
  Gateway gw(ScenarioYaml("hedge:\n  after_ms: 300\n  strategy: same_model\n  max_hedges: 2\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  RetryState::HedgeDecision h = s->Hedge(*gw.M("openai/gpt-4o"), Ms(300));
  ASSERT_NE(h.target, nullptr);
  EXPECT_EQ(h.target->model_id, "openai/gpt-4o");
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(5000));
  EXPECT_EQ(s->Hedge(*gw.M("openai/gpt-4o"), Ms(400)).target, nullptr) << "a hedge never waits";
}

TEST(HedgeTest, NoRoomUnderTheAttemptCapNoHedge) {
  Gateway gw(ScenarioYaml(kHedge));
  Gateway::RequestOptions o;
  o.narrowing.disable_retries = true;
  auto s = gw.Request(std::move(o));
  s->Begin(Ms(0));
  EXPECT_EQ(s->HedgeDelay(), std::nullopt);
}

TEST(HedgeTest, TheHedgeEndsWithTheCall) {
  Gateway gw(ScenarioYaml(kHedge));
  Gateway::RequestOptions o;
  o.deadline = Ms(2000);
  auto s = gw.Request(std::move(o));
  s->Begin(Ms(0));
  RetryState::HedgeDecision h = s->Hedge(*gw.M("openai/gpt-4o"), Ms(300));
  EXPECT_EQ(h.attempt_end, Ms(2000));
  EXPECT_EQ(h.attempt_end_kind, TimeoutKind::kDeadline);
}

}  // namespace
}  // namespace rebound
