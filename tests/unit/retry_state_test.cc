// The retry and failover engine (RETRY.md sections 3-7), as pure decision
// sequences: configurations are loaded from YAML like the scenarios', attempt
// results are fed in, and the decisions (target, exact wait, exhaustion
// detail) are asserted. Time is simulated; nothing sleeps.
//
// Every rule of RETRY.md has a test here that fails when the rule is broken;
// SCENARIOS 1-11, 14 and 16-19 are ported at the end as decision sequences.
#include "retry/retry_state.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/config_loader.h"
#include "retry/retry_budgets.h"
#include "tests/unit/retry_state_harness.h"

namespace rebound {
namespace {

// ===========================================================================
// Classification (3.1, 3.2)

RetryPolicy PolicyWithRules() {
  RetryPolicy p;
  p.default_strategy = Strategy::kSameProvider;
  p.default_max_attempts = 4;
  p.on_status_codes = {{{429, 503}, {Strategy::kSameModel, 3}},
                       {{503, 409}, {Strategy::kDifferentProvider, 5}}};
  p.on_timeout = {Strategy::kDifferentProvider, 7};
  return p;
}

AttemptResult Result(AttemptResult::Kind kind, int status = 0) {
  AttemptResult r;
  r.kind = kind;
  r.http_status = status;
  return r;
}

TEST(ClassifyAttemptTest, SuccessIsSuccess) {
  EXPECT_EQ(ClassifyAttempt(PolicyWithRules(), Result(AttemptResult::Kind::kSuccess, 200)).outcome,
            Outcome::kSuccess);
}

TEST(ClassifyAttemptTest, UnlistedFourHundredsAreFinal) {
  for (int status : {400, 401, 403, 404, 413, 422, 418, 301, 100}) {
    EXPECT_EQ(ClassifyAttempt(PolicyWithRules(), Result(AttemptResult::Kind::kHttpError, status))
                  .outcome,
              Outcome::kFinal)
        << status;
  }
}

TEST(ClassifyAttemptTest, BuiltInRetriableStatusesAreClassDefault) {
  for (int status : {408, 500, 502, 504, 529}) {
    Classification c =
        ClassifyAttempt(PolicyWithRules(), Result(AttemptResult::Kind::kHttpError, status));
    EXPECT_EQ(c.outcome, Outcome::kRetriable) << status;
    EXPECT_EQ(c.error_class, (ErrorClass{ErrorClass::Kind::kDefault, -1})) << status;
    EXPECT_EQ(c.policy, (ClassPolicy{Strategy::kSameProvider, 4})) << status;
  }
}

TEST(ClassifyAttemptTest, FirstOnStatusCodesEntryListingTheStatusWins) {
  Classification c = ClassifyAttempt(PolicyWithRules(), Result(AttemptResult::Kind::kHttpError, 503));
  EXPECT_EQ(c.error_class, (ErrorClass{ErrorClass::Kind::kStatusRule, 0}));
  EXPECT_EQ(c.policy, (ClassPolicy{Strategy::kSameModel, 3}));
  EXPECT_EQ(ErrorClassName(c.error_class), "on_status_codes[0]");
}

TEST(ClassifyAttemptTest, ListedStatusOutsideTheBuiltInSetIsRetriable) {
  Classification c = ClassifyAttempt(PolicyWithRules(), Result(AttemptResult::Kind::kHttpError, 409));
  EXPECT_EQ(c.outcome, Outcome::kRetriable);
  EXPECT_EQ(c.error_class, (ErrorClass{ErrorClass::Kind::kStatusRule, 1}));
  EXPECT_EQ(c.policy, (ClassPolicy{Strategy::kDifferentProvider, 5}));
}

TEST(ClassifyAttemptTest, TimeoutsAreClassTimeoutWithOnTimeout) {
  Classification c = ClassifyAttempt(PolicyWithRules(), Result(AttemptResult::Kind::kTimeout));
  EXPECT_EQ(c.outcome, Outcome::kRetriable);
  EXPECT_EQ(c.error_class.kind, ErrorClass::Kind::kTimeout);
  EXPECT_EQ(c.policy, (ClassPolicy{Strategy::kDifferentProvider, 7}));
}

TEST(ClassifyAttemptTest, InterruptedStreamsAreClassStreamWithTheDefaults) {
  Classification c =
      ClassifyAttempt(PolicyWithRules(), Result(AttemptResult::Kind::kStreamInterrupted, 200));
  EXPECT_EQ(c.error_class.kind, ErrorClass::Kind::kStream);
  EXPECT_EQ(c.policy, (ClassPolicy{Strategy::kSameProvider, 4}));
}

TEST(ClassifyAttemptTest, TransportErrorsAndGatewayOverloadAreClassDefault) {
  for (auto kind : {AttemptResult::Kind::kTransportError, AttemptResult::Kind::kOverloaded}) {
    Classification c = ClassifyAttempt(PolicyWithRules(), Result(kind));
    EXPECT_EQ(c.outcome, Outcome::kRetriable);
    EXPECT_EQ(c.error_class.kind, ErrorClass::Kind::kDefault);
    EXPECT_EQ(c.policy, (ClassPolicy{Strategy::kSameProvider, 4}));
  }
}

TEST(RetryStateTest, FinalFourHundredIsDeliveredWithoutRetry) {
  for (int status : {400, 401, 404, 422}) {
    Gateway gw(ScenarioYaml(kP429));
    auto s = gw.Request();
    EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
    EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", status, RetryAfter("5")), Ms(10)),
                Delivers())
        << status;
    EXPECT_EQ(s->attempts().size(), 1u);
    EXPECT_TRUE(gw.blocks.Snapshot(Ms(10)).empty()) << "a final answer creates no block";
  }
}

TEST(RetryStateTest, StatusListedInOnStatusCodesIsRetriedEvenIfFourHundred) {
  Gateway gw(ScenarioYaml(R"(on_status_codes:
  - codes: [400]
    strategy: different_provider
    max_attempts: 2
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 400), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(RetryStateTest, MissingErrorTypeIsFilledIn) {
  Gateway gw(ScenarioYaml("default_max_attempts: 6\ndefault_strategy: same_model\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  AttemptResult r = gw.Http("openai/gpt-4o", 503);
  r.error_type.clear();
  s->OnAttemptDone(r, Ms(1));
  AttemptResult t = gw.Timeout("openai/gpt-4o", 1500);
  t.error_type.clear();
  s->OnAttemptDone(t, Ms(2));
  AttemptResult st = gw.Stream("openai/gpt-4o");
  st.error_type.clear();
  s->OnAttemptDone(st, Ms(3));
  AttemptResult tr = gw.Transport("openai/gpt-4o", "");
  s->OnAttemptDone(tr, Ms(4));
  EXPECT_THAT(ErrorTypes(*s),
              ElementsAre("http_503", "timeout_1500ms", "stream_interrupted", "transport_error"));
}

// ===========================================================================
// Attempt budgets (3.2) and narrowing options

TEST(RetryStateTest, MaxAttemptsOneMeansNoRetry) {
  Gateway gw(ScenarioYaml(R"(default_max_attempts: 1
on_status_codes:
  - codes: [429]
    strategy: different_provider
    max_attempts: 1
on_timeout: {strategy: different_provider, max_attempts: 1}
)"));
  for (auto result : {gw.Http("openai/gpt-4o", 429), gw.Http("openai/gpt-4o", 503),
                      gw.Timeout("openai/gpt-4o", 100), gw.Transport("openai/gpt-4o"),
                      gw.Stream("openai/gpt-4o")}) {
    auto s = gw.Request();
    s->Begin(Ms(0));
    Decision d = s->OnAttemptDone(result, Ms(10));
    EXPECT_EQ(d.kind, Decision::Kind::kExhausted) << result.error_type;
    EXPECT_EQ(d.end_reason, EndReason::kClassBudget) << result.error_type;
  }
}

TEST(RetryStateTest, MaxAttemptsTwoMeansOneRetry) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\ndefault_max_attempts: 2\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(20)),
              ExhaustedWith(EndReason::kClassBudget, absl::StatusCode::kUnavailable));
}

TEST(RetryStateTest, EachClassCountsItsOwnFailures) {
  // 429 and 503 each allow 2 attempts; together they allow a third.
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 503), Ms(20)),
              AttemptAt("mistral/mistral-large", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("mistral/mistral-large", 503), Ms(30)),
              ExhaustedWith(EndReason::kClassBudget, absl::StatusCode::kUnavailable));
}

TEST(RetryStateTest, FirstMatchingOnStatusCodesEntryGivesTheBudget) {
  Gateway gw(ScenarioYaml(R"(on_status_codes:
  - codes: [503]
    strategy: same_model
    max_attempts: 1
  - codes: ["500-504"]
    strategy: same_model
    max_attempts: 5
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_EQ(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)).kind,
            Decision::Kind::kExhausted);
  auto s2 = gw.Request();
  s2->Begin(Ms(0));
  EXPECT_THAT(s2->OnAttemptDone(gw.Http("openai/gpt-4o", 504), Ms(10)),
              AttemptAt("openai/gpt-4o", 0));
}

TEST(RetryStateTest, TimeoutsUseOnTimeoutAndNotTheStatusBudgets) {
  Gateway gw(ScenarioYaml(R"(default_max_attempts: 1
on_status_codes:
  - codes: [429]
    strategy: same_model
    max_attempts: 1
on_timeout: {strategy: same_model, max_attempts: 3}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Timeout("openai/gpt-4o", 1000), Ms(1000)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Timeout("openai/gpt-4o", 1000), Ms(2000)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Timeout("openai/gpt-4o", 1000), Ms(3000)),
              ExhaustedWith(EndReason::kClassBudget, absl::StatusCode::kDeadlineExceeded));
}

TEST(RetryStateTest, InterruptedStreamsUseTheDefaultStrategyAndBudget) {
  Gateway gw(ScenarioYaml(R"(default_strategy: different_provider
default_max_attempts: 2
on_status_codes:
  - codes: [429]
    strategy: same_model
    max_attempts: 5
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Stream("openai/gpt-4o"), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Stream("anthropic/claude-3-5-sonnet"), Ms(20)),
              ExhaustedWith(EndReason::kClassBudget, absl::StatusCode::kUnavailable));
}

TEST(RetryStateTest, HardCapOfTenAttempts) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\ndefault_max_attempts: 50\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  for (int i = 1; i < 10; ++i) {
    ASSERT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(i)),
                AttemptAt("openai/gpt-4o", 0))
        << i;
  }
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              ExhaustedWith(EndReason::kAttemptCap, absl::StatusCode::kUnavailable));
  EXPECT_EQ(s->attempts().size(), 10u);
}

TEST(RetryStateTest, DisableRetriesMeansExactlyOneAttempt) {
  Gateway gw(ScenarioYaml(kP429));
  Gateway::RequestOptions o;
  o.narrowing.disable_retries = true;
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)),
              ExhaustedWith(EndReason::kAttemptCap, absl::StatusCode::kResourceExhausted));
}

TEST(RetryStateTest, CallerMaxAttemptsLowersTheCap) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\ndefault_max_attempts: 5\n"));
  Gateway::RequestOptions o;
  o.narrowing.max_attempts = 2;
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(20)),
              ExhaustedWith(EndReason::kAttemptCap, absl::StatusCode::kUnavailable));
}

TEST(RetryStateTest, CallerMaxAttemptsCannotRaiseThePolicyOrTheHardCap) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\ndefault_max_attempts: 2\n"));
  Gateway::RequestOptions o;
  o.narrowing.max_attempts = 50;
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(20)),
              ExhaustedWith(EndReason::kClassBudget, absl::StatusCode::kUnavailable));
}

TEST(RetryStateTest, AllowedModelsRestrictTheCandidates) {
  Gateway gw(ScenarioYaml(R"(fallback_models: [anthropic/claude-3-5-sonnet]
default_max_attempts: 3
)"));
  Gateway::RequestOptions o;
  o.narrowing.allowed_models = {gw.M("mistral/mistral-large")};
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("mistral/mistral-large", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("mistral/mistral-large", 503), Ms(20)),
              ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kUnavailable))
      << "the secondary is not allowed";
}

TEST(RetryStateTest, AllowedModelsReplaceTheFallbackOrder) {
  Gateway gw(ScenarioYaml(R"(fallback_models: [anthropic/claude-3-5-sonnet, mistral/mistral-large]
default_max_attempts: 3
)"));
  Gateway::RequestOptions o;
  o.narrowing.allowed_models = {gw.M("mistral/mistral-large"), nullptr,
                                gw.M("anthropic/claude-3-5-sonnet")};
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("mistral/mistral-large", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("mistral/mistral-large", 503), Ms(20)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(RetryStateTest, AllowedModelsAlwaysAllowThePrimary) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  Gateway::RequestOptions o;
  o.narrowing.allowed_models = {gw.M("mistral/mistral-large")};
  auto s = gw.Request(o);
  EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o", 0));
}

// ===========================================================================
// Selection (section 4)

// Config order: gpt-4o (primary), gpt-4o-mini, mistral, sonnet, o1.
std::string SelectionYaml(std::string_view policy) {
  return "model_providers:\n" + Provider("openai/gpt-4o", policy) +
         Provider("openai/gpt-4o-mini") + Provider("mistral/mistral-large") +
         Provider("anthropic/claude-3-5-sonnet", "", "provider_interface: openai") +
         Provider("openai/o1");
}

Decision FirstRetry(Gateway& gw, int status = 503) {
  auto s = gw.Request();
  s->Begin(Ms(0));
  return s->OnAttemptDone(gw.Http("openai/gpt-4o", status), Ms(10));
}

TEST(SelectionTest, DifferentProviderTakesTheFallbackListFirst) {
  Gateway gw(SelectionYaml("fallback_models: [openai/o1, anthropic/claude-3-5-sonnet]\n"));
  EXPECT_THAT(FirstRetry(gw), AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(SelectionTest, DifferentProviderThenTakesConfigurationOrder) {
  Gateway gw(SelectionYaml("fallback_models: [openai/o1]\n"));
  EXPECT_THAT(FirstRetry(gw), AttemptAt("mistral/mistral-large", 0));
}

TEST(SelectionTest, SameProviderTakesTheFallbackListFirst) {
  Gateway gw(SelectionYaml(
      "default_strategy: same_provider\nfallback_models: [mistral/mistral-large, openai/o1]\n"));
  EXPECT_THAT(FirstRetry(gw), AttemptAt("openai/o1", 0));
}

TEST(SelectionTest, SameProviderThenTakesConfigurationOrder) {
  Gateway gw(SelectionYaml("default_strategy: same_provider\n"));
  EXPECT_THAT(FirstRetry(gw), AttemptAt("openai/gpt-4o-mini", 0));
}

TEST(SelectionTest, SameProviderWithNoOtherModelOfTheProviderEnds) {
  Gateway gw(ScenarioYaml("default_strategy: same_provider\n"));
  EXPECT_THAT(FirstRetry(gw), ExhaustedWith(EndReason::kNoCandidate,
                                            absl::StatusCode::kUnavailable));
}

TEST(SelectionTest, SameModelRetriesTheModelThatFailed) {
  Gateway gw(SelectionYaml("default_strategy: same_model\n"));
  EXPECT_THAT(FirstRetry(gw), AttemptAt("openai/gpt-4o", 0));
}

// plano compared with the primary; the strategy is relative to the model that
// just failed.
TEST(SelectionTest, SameModelAfterAFailoverRetriesTheFallbackNotThePrimary) {
  Gateway gw(SelectionYaml(R"(fallback_models: [anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: different_provider
    max_attempts: 2
  - codes: [503]
    strategy: same_model
    max_attempts: 2
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 503), Ms(20)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(SelectionTest, DifferentProviderIsRelativeToTheModelThatJustFailed) {
  // After sonnet (anthropic) fails, an openai model is a "different provider".
  Gateway gw(SelectionYaml(R"(fallback_models: [anthropic/claude-3-5-sonnet]
default_max_attempts: 5
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 503), Ms(20)),
              AttemptAt("openai/gpt-4o-mini", 0));
}

TEST(SelectionTest, AttemptedModelsAreSkippedByFailoverStrategies) {
  Gateway gw(ScenarioYaml("default_max_attempts: 9\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 503), Ms(20)),
              AttemptAt("mistral/mistral-large", 0));
  Decision d = s->OnAttemptDone(gw.Http("mistral/mistral-large", 503), Ms(30));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kUnavailable))
      << "never back to the primary";
  EXPECT_EQ(d.pushback, absl::ZeroDuration()) << "no block or Retry-After caused the end";
}

TEST(SelectionTest, CandidateOfAnotherInterfaceIsSkipped) {
  Gateway gw("model_providers:\n" + Provider("openai/gpt-4o", R"(fallback_models: [anthropic/claude-3-haiku, mistral/mistral-large]
)") + Provider("anthropic/claude-3-haiku") + Provider("mistral/mistral-large"));
  EXPECT_EQ(gw.M("anthropic/claude-3-haiku")->interface, ProviderInterface::kAnthropic);
  EXPECT_THAT(FirstRetry(gw), AttemptAt("mistral/mistral-large", 0));
}

TEST(SelectionTest, ModelBlockedCandidateIsSkipped) {
  Gateway gw(ScenarioYaml("fallback_models: [anthropic/claude-3-5-sonnet]\n"));
  gw.blocks.Merge(BlockKey::Model("anthropic/claude-3-5-sonnet"), BlockKind::kRetryAfter, Ms(60000));
  EXPECT_THAT(FirstRetry(gw), AttemptAt("mistral/mistral-large", 0));
}

TEST(SelectionTest, ProviderBlockCoversEveryModelOfTheProvider) {
  Gateway gw(SelectionYaml("default_strategy: same_provider\n"));
  gw.blocks.Merge(BlockKey::Provider("openai"), BlockKind::kRetryAfter, Ms(60000), "replica-b");
  Decision d = FirstRetry(gw);
  EXPECT_THAT(d, ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kUnavailable));
  EXPECT_EQ(d.pushback, absl::Milliseconds(59990)) << "blocked candidates caused the end";
}

TEST(SelectionTest, ExpiredBlockSkipsNothing) {
  Gateway gw(ScenarioYaml("fallback_models: [anthropic/claude-3-5-sonnet]\n"));
  gw.blocks.Merge(BlockKey::Model("anthropic/claude-3-5-sonnet"), BlockKind::kRetryAfter, Ms(10));
  EXPECT_THAT(FirstRetry(gw), AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(SelectionTest, LatencyBlockedCandidateIsUsedOnlyAsALastResort) {
  Gateway gw(ScenarioYaml("fallback_models: [anthropic/claude-3-5-sonnet]\ndefault_max_attempts: 5\n"));
  gw.blocks.Merge(BlockKey::Model("anthropic/claude-3-5-sonnet"), BlockKind::kLatency, Ms(60000));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("mistral/mistral-large", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("mistral/mistral-large", 503), Ms(20)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0))
      << "a slow model beats none";
}

TEST(SelectionTest, RetryAfterBlockedCandidateIsNeverALastResort) {
  Gateway gw(ScenarioYaml("fallback_models: [anthropic/claude-3-5-sonnet]\ndefault_max_attempts: 5\n"));
  gw.blocks.Merge(BlockKey::Model("anthropic/claude-3-5-sonnet"), BlockKind::kRetryAfter, Ms(60000));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10));
  Decision d = s->OnAttemptDone(gw.Http("mistral/mistral-large", 503), Ms(20));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kUnavailable));
  EXPECT_EQ(d.pushback, absl::Milliseconds(59980));
}

TEST(SelectFailoverTest, PureSelectionOrder) {
  ModelProvider a = Bare("x/a");
  ModelProvider b = Bare("x/b");
  ModelProvider c = Bare("y/c");
  ModelProvider d = Bare("z/d");
  std::vector<const ModelProvider*> config = {&a, &b, &c, &d};
  auto usable = [](const ModelProvider&) { return Usability::kUsable; };
  EXPECT_EQ(SelectFailover(Strategy::kDifferentProvider, a, {&d}, config, usable).target, &d);
  EXPECT_EQ(SelectFailover(Strategy::kDifferentProvider, a, {}, config, usable).target, &c);
  EXPECT_EQ(SelectFailover(Strategy::kSameProvider, a, {&c}, config, usable).target, &b);
  EXPECT_EQ(SelectFailover(Strategy::kSameProvider, b, {}, config, usable).target, &a);
  EXPECT_EQ(SelectFailover(Strategy::kSameProvider, c, {}, config, usable).target, nullptr);

  auto c_attempted = [&](const ModelProvider& m) {
    return &m == &c ? Usability::kAttempted : Usability::kUsable;
  };
  Selection s = SelectFailover(Strategy::kDifferentProvider, a, {}, config, c_attempted);
  EXPECT_EQ(s.target, &d);
  EXPECT_FALSE(s.skipped_blocked);

  auto c_slow_d_blocked = [&](const ModelProvider& m) {
    return &m == &c ? Usability::kLatencyBlocked
                    : &m == &d ? Usability::kBlocked : Usability::kUsable;
  };
  s = SelectFailover(Strategy::kDifferentProvider, a, {&d}, config, c_slow_d_blocked);
  EXPECT_EQ(s.target, &c);
  EXPECT_TRUE(s.last_resort);
  EXPECT_TRUE(s.skipped_blocked);
}

// ===========================================================================
// The first attempt honours blocks (section 4, last paragraph)

TEST(FirstAttemptTest, UnblockedPrimaryIsAttemptedAtOnce) {
  Gateway gw(ScenarioYaml(kP429));
  EXPECT_THAT(gw.Request()->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
}

TEST(FirstAttemptTest, BlockedPrimaryWithDifferentProviderStartsAtTheFailoverTarget) {
  Gateway gw(ScenarioYaml(kP429));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(60000), "replica-b");
  EXPECT_THAT(gw.Request()->Begin(Ms(0)), AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(FirstAttemptTest, BlockedPrimaryWithSameProviderStartsAtTheSameProviderTarget) {
  Gateway gw(SelectionYaml("default_strategy: same_provider\n"));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(60000));
  EXPECT_THAT(gw.Request()->Begin(Ms(0)), AttemptAt("openai/gpt-4o-mini", 0));
}

TEST(FirstAttemptTest, BlockedPrimaryWithSameModelWaitsForTheBlock) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter,
                  Ms(1500) + absl::Microseconds(300));
  Decision d = gw.Request()->Begin(Ms(0));
  EXPECT_THAT(d, AttemptAt("openai/gpt-4o", 1501)) << "rounded up: never before the block ends";
  EXPECT_EQ(d.block_wait, absl::Milliseconds(1501));
  EXPECT_EQ(d.backoff, absl::ZeroDuration());
}

TEST(FirstAttemptTest, BlockedPrimaryWithSameModelEndsWhenTheWaitPassesTheDeadline) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(30000));
  Gateway::RequestOptions o;
  o.deadline = Ms(5000);
  Decision d = gw.Request(o)->Begin(Ms(0));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kDeadline, absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(d.pushback, absl::Seconds(30));
  EXPECT_FALSE(d.retry_budget_exhausted);
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("attempts":[],"skipped":[],"total_attempts":0,)"));
}

TEST(FirstAttemptTest, BlockedPrimaryWithSameModelEndsWhenTheWaitPassesTheRetryBudget) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\nmax_retry_duration_ms: 10000\n"));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(30000));
  Decision d = gw.Request()->Begin(Ms(0));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kRetryBudget, absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(d.retry_budget_exhausted);
  EXPECT_EQ(d.pushback, absl::Seconds(30));
}

TEST(FirstAttemptTest, BlockedPrimaryWithoutAlternativeEndsAtOnceWithPushback) {
  Gateway gw("model_providers:\n" + Provider("openai/gpt-4o", kP429));
  gw.blocks.Merge(BlockKey::Provider("openai"), BlockKind::kRetryAfter, Ms(42000));
  Decision d = gw.Request()->Begin(Ms(0));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(d.pushback, absl::Seconds(42));
  EXPECT_EQ(d.exhausted_json,
            R"({"error":{"message":"no attempt made: openai/gpt-4o is blocked and )"
            R"(different_provider finds no other model","type":"retry_exhausted","attempts":[],)"
            R"("skipped":[],"total_attempts":0,"observed_max_retry_after_seconds":null,)"
            R"("shortest_remaining_block_seconds":42,"retry_budget_exhausted":false,)"
            R"("exhausted_reason":"no_candidate"}})");
}

TEST(FirstAttemptTest, LatencyBlockedPrimaryIsReroutedWithOnHighLatencyStrategy) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
on_high_latency:
  threshold_ms: 1000
  strategy: different_provider
)"));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kLatency, Ms(300000));
  EXPECT_THAT(gw.Request()->Begin(Ms(0)), AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(FirstAttemptTest, LatencyBlockedPrimaryWithSameModelLatencyStrategyIsAttemptedWithoutWait) {
  Gateway gw(ScenarioYaml(R"(on_high_latency:
  threshold_ms: 1000
  strategy: same_model
)"));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kLatency, Ms(300000));
  EXPECT_THAT(gw.Request()->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
}

TEST(FirstAttemptTest, LatencyBlockedPrimaryWithoutAlternativeIsAttemptedAnyway) {
  Gateway gw("model_providers:\n" + Provider("openai/gpt-4o", kP429));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kLatency, Ms(300000));
  EXPECT_THAT(gw.Request()->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
}

TEST(FirstAttemptTest, WithoutAPolicyABlockedPrimaryIsStillAttempted) {
  Gateway gw(ScenarioYaml(""));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(60000));
  EXPECT_THAT(gw.Request()->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
}

TEST(FirstAttemptTest, NoAttemptStartsAtOrAfterTheDeadline) {
  Gateway gw(ScenarioYaml(kP429));
  Gateway::RequestOptions o;
  o.deadline = Ms(0);
  Decision d = gw.Request(o)->Begin(Ms(0));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kDeadline, absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(d.pushback, absl::ZeroDuration());
}

// ===========================================================================
// Backoff (section 5)

BackoffPolicy Backoff(int64_t base, int64_t max, bool jitter) {
  return {BackoffApplyTo::kGlobal, base, max, jitter};
}

TEST(ComputeBackoffTest, ExactValuesWithoutJitter) {
  std::vector<int64_t> got;
  for (int k = 0; k < 9; ++k) {
    got.push_back(absl::ToInt64Milliseconds(ComputeBackoff(Backoff(100, 5000, false), k, 0.3)));
  }
  EXPECT_THAT(got, ElementsAre(100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000));
  EXPECT_EQ(ComputeBackoff(Backoff(100, 5000, false), 1000, 0), absl::Milliseconds(5000))
      << "no overflow for any k";
  EXPECT_EQ(ComputeBackoff(Backoff(3, 1'000'000'000'000, false), 60, 0),
            absl::Milliseconds(1'000'000'000'000));
}

TEST(ComputeBackoffTest, JitterPicksWithinHalfToFullDelay) {
  EXPECT_EQ(ComputeBackoff(Backoff(500, 5000, true), 0, 0.0), absl::Milliseconds(250));
  EXPECT_EQ(ComputeBackoff(Backoff(500, 5000, true), 0, 0.999999), absl::Milliseconds(500));
  EXPECT_EQ(ComputeBackoff(Backoff(500, 5000, true), 1, 0.5), absl::Milliseconds(750));
  EXPECT_EQ(ComputeBackoff(Backoff(101, 5000, true), 0, 0.0), absl::Milliseconds(51))
      << "rounded up to whole milliseconds";
  for (double r = 0; r < 1; r += 0.01) {
    absl::Duration d = ComputeBackoff(Backoff(300, 5000, true), 2, r);
    EXPECT_GE(d, absl::Milliseconds(600));
    EXPECT_LE(d, absl::Milliseconds(1200));
  }
  EXPECT_EQ(ComputeBackoff(Backoff(500, 5000, true), 0, 7.0), absl::Milliseconds(500))
      << "out-of-range randomness is clamped";
}

TEST(ComputeBackoffTest, ScopeRelations) {
  ModelProvider a = Bare("x/a");
  ModelProvider b = Bare("x/b");
  ModelProvider c = Bare("y/c");
  EXPECT_TRUE(BackoffApplies(BackoffApplyTo::kSameModel, a, a));
  EXPECT_FALSE(BackoffApplies(BackoffApplyTo::kSameModel, a, b));
  EXPECT_TRUE(BackoffApplies(BackoffApplyTo::kSameProvider, a, b));
  EXPECT_FALSE(BackoffApplies(BackoffApplyTo::kSameProvider, a, c));
  EXPECT_TRUE(BackoffApplies(BackoffApplyTo::kGlobal, a, c));
}

TEST(BackoffTest, InjectedRandomnessSetsTheJitteredWait) {
  const std::string policy = R"(default_strategy: same_model
default_max_attempts: 3
backoff: {apply_to: same_model, base_ms: 500, max_ms: 5000}
)";
  Gateway gw(ScenarioYaml(policy));
  Gateway::RequestOptions low;
  low.random = [] { return 0.0; };
  auto s = gw.Request(low);
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o", 250));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(300)),
              AttemptAt("openai/gpt-4o", 500));

  Gateway::RequestOptions high;
  high.random = [] { return 0.9999999; };
  auto s2 = gw.Request(high);
  s2->Begin(Ms(0));
  EXPECT_THAT(s2->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o", 500));
  EXPECT_THAT(s2->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(600)),
              AttemptAt("openai/gpt-4o", 1000));
}

TEST(BackoffTest, NoBackoffSectionMeansNoWait) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\ndefault_max_attempts: 3\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o", 0));
}

TEST(BackoffTest, SameModelScopeDoesNotDelayAFailover) {
  Gateway gw(ScenarioYaml(R"(default_max_attempts: 3
backoff: {apply_to: same_model, base_ms: 500, max_ms: 5000, jitter: false}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(BackoffTest, SameProviderScopeDelaysAFailoverWithinTheProviderOnly) {
  Gateway gw(SelectionYaml(R"(default_strategy: same_provider
default_max_attempts: 5
on_status_codes:
  - codes: [429]
    strategy: different_provider
    max_attempts: 5
backoff: {apply_to: same_provider, base_ms: 100, max_ms: 5000, jitter: false}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o-mini", 100));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o-mini", 503), Ms(200)),
              AttemptAt("openai/o1", 200))
      << "k = 1: one earlier failure at provider openai";
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/o1", 429), Ms(500)),
              AttemptAt("mistral/mistral-large", 0));
}

TEST(BackoffTest, GlobalScopeDelaysEveryRetryAndCountsEveryFailure) {
  Gateway gw(ScenarioYaml(R"(default_max_attempts: 5
backoff: {apply_to: global, base_ms: 100, max_ms: 5000, jitter: false}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 100));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 503), Ms(200)),
              AttemptAt("mistral/mistral-large", 200));
}

TEST(BackoffTest, KCountsOnlyTheFailuresInsideTheScope) {
  // Two failures on the primary, a failover, then the first failure on the
  // fallback starts again at base_ms.
  Gateway gw(ScenarioYaml(R"(fallback_models: [anthropic/claude-3-5-sonnet]
on_status_codes:
  - codes: [429]
    strategy: same_model
    max_attempts: 9
  - codes: [503]
    strategy: different_provider
    max_attempts: 9
backoff: {apply_to: same_model, base_ms: 500, max_ms: 5000, jitter: false}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)),
              AttemptAt("openai/gpt-4o", 500));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(600)),
              AttemptAt("openai/gpt-4o", 1000));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(1700)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 429), Ms(1800)),
              AttemptAt("anthropic/claude-3-5-sonnet", 500));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 429), Ms(2400)),
              AttemptAt("anthropic/claude-3-5-sonnet", 1000));
}

TEST(BackoffTest, TimeoutsAndTransportErrorsCountAsFailuresInScope) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
default_max_attempts: 9
on_timeout: {strategy: same_model, max_attempts: 9}
backoff: {apply_to: same_model, base_ms: 100, max_ms: 5000, jitter: false}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Timeout("openai/gpt-4o", 50), Ms(50));
  s->OnAttemptDone(gw.Transport("openai/gpt-4o"), Ms(200));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(500)),
              AttemptAt("openai/gpt-4o", 400));
}

// ===========================================================================
// Retry-After (3.3, 5, 6)

TEST(RetryAfterTest, WaitAppliesWhenTheNextTargetIsCovered) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("2")), Ms(10));
  EXPECT_THAT(d, AttemptAt("openai/gpt-4o", 2000));
  EXPECT_EQ(d.block_wait, absl::Seconds(2));
}

TEST(RetryAfterTest, FailoverToAnUnblockedModelDoesNotWait) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("60")), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

TEST(RetryAfterTest, ProviderScopeCoversAFailoverWithinTheProvider) {
  Gateway gw(SelectionYaml(R"(default_strategy: same_provider
retry_after_handling: {scope: provider}
)"));
  Decision d = [&] {
    auto s = gw.Request();
    s->Begin(Ms(0));
    return s->OnAttemptDone(gw.Http("openai/gpt-4o", 503, RetryAfter("7")), Ms(10));
  }();
  EXPECT_THAT(d, ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kUnavailable))
      << "every openai model is blocked";
  EXPECT_EQ(d.pushback, absl::Seconds(7));
  EXPECT_TRUE(gw.blocks.Find(BlockKey::Provider("openai"), BlockKind::kRetryAfter, Ms(10)).has_value());
}

TEST(RetryAfterTest, WaitIsCappedAtMaxRetryAfterSeconds) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
retry_after_handling: {max_retry_after_seconds: 30}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("600")), Ms(10)),
              AttemptAt("openai/gpt-4o", 30000));
  EXPECT_EQ(gw.blocks.Find(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(10))->until, Ms(30010))
      << "the block is capped too";
}

TEST(RetryAfterTest, DefaultCapIsThreeHundredSeconds) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("86400")), Ms(0)),
              AttemptAt("openai/gpt-4o", 300000));
}

TEST(RetryAfterTest, LargestValidHeaderWins) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429,
                                       {{"retry-after", "2"},
                                        {"retry-after-ms", "3500"},
                                        {"x-ratelimit-reset-requests", "1s"}}),
                               Ms(0)),
              AttemptAt("openai/gpt-4o", 3500));
}

TEST(RetryAfterTest, MillisecondPrecisionIsKept) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503, {{"retry-after-ms", "1234"}}), Ms(0)),
              AttemptAt("openai/gpt-4o", 1234));
}

TEST(RetryAfterTest, WaitIsTheLargerOfBackoffAndRetryAfter) {
  const std::string policy = R"(default_strategy: same_model
default_max_attempts: 5
backoff: {apply_to: same_model, base_ms: 500, max_ms: 5000, jitter: false}
)";
  Gateway gw(ScenarioYaml(policy));
  auto s = gw.Request();
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("2")), Ms(0));
  EXPECT_THAT(d, AttemptAt("openai/gpt-4o", 2000));
  EXPECT_EQ(d.backoff, absl::Milliseconds(500));
  EXPECT_EQ(d.block_wait, absl::Milliseconds(2000));
  d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, {{"retry-after-ms", "200"}}), Ms(2100));
  EXPECT_THAT(d, AttemptAt("openai/gpt-4o", 1000)) << "backoff k=1 beats a 200 ms Retry-After";
}

TEST(RetryAfterTest, RequestScopedBlockStaysInTheRequest) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
retry_after_handling: {apply_to: request}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("2")), Ms(0)),
              AttemptAt("openai/gpt-4o", 2000));
  EXPECT_TRUE(gw.blocks.Snapshot(Ms(0)).empty());
  EXPECT_THAT(gw.Request()->Begin(Ms(100)), AttemptAt("openai/gpt-4o", 0))
      << "another request does not see it";
}

TEST(RetryAfterTest, GlobalBlockIsSeenByTheNextRequest) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("2")), Ms(0));
  EXPECT_THAT(gw.Request()->Begin(Ms(500)), AttemptAt("openai/gpt-4o", 1500));
}

TEST(RetryAfterTest, EveryRetriableStatusCreatesABlockNotOnly429) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 503, RetryAfter("9")), Ms(0));
  EXPECT_EQ(gw.blocks.Find(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(0))->until, Ms(9000));
}

TEST(RetryAfterTest, BlockIsCreatedEvenOnTheLastAttempt) {
  Gateway gw(ScenarioYaml(R"(default_max_attempts: 1
on_status_codes: [{codes: [429], strategy: same_model, max_attempts: 1}]
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("20")), Ms(0));
  EXPECT_EQ(d.kind, Decision::Kind::kExhausted);
  EXPECT_EQ(d.pushback, absl::Seconds(20)) << "the last failure carried a Retry-After";
  EXPECT_TRUE(gw.blocks.Find(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(0)).has_value());
}

TEST(RetryAfterTest, ZeroWaitCreatesNoBlock) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("0")), Ms(0)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_EQ(gw.blocks.size(), 0u);
}

TEST(RetryAfterTest, NoPolicyCreatesNoBlock) {
  Gateway gw(ScenarioYaml(""));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("60")), Ms(0)),
              Delivers());
  EXPECT_EQ(gw.blocks.size(), 0u);
}

TEST(RetryAfterTest, ABlockFromAnotherReplicaIsHonoured) {
  Gateway gw(ScenarioYaml(kP429));
  gw.blocks.Merge(BlockKey::Model("anthropic/claude-3-5-sonnet"), BlockKind::kRetryAfter,
                  Ms(60000), "replica-b");
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(0)),
              AttemptAt("mistral/mistral-large", 0));
}

TEST(RetryAfterTest, LocalBlocksReachTheListener) {
  Gateway gw(ScenarioYaml(kP429));
  std::vector<std::string> heard;
  gw.blocks.SetListener([&](const BlockKey& k, const Block& b) {
    heard.push_back(absl::StrCat(k.ToString(), " ", std::string(ToString(b.kind))));
  });
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("60")), Ms(0));
  EXPECT_THAT(heard, ElementsAre("model:openai/gpt-4o retry_after"));
}

// ===========================================================================
// same_model and blocks

TEST(SameModelTest, WaitsForABlockThatFits) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\n"));
  gw.blocks.Merge(BlockKey::Provider("openai"), BlockKind::kRetryAfter, Ms(4000), "replica-b");
  auto s = gw.Request();
  EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 4000));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(4100)),
              AttemptAt("openai/gpt-4o", 0))
      << "the block has ended";
}

TEST(SameModelTest, EndsWhenTheBlockOutlastsTheDeadline) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\ndefault_max_attempts: 3\n"));
  Gateway::RequestOptions o;
  o.deadline = Ms(10000);
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 503, RetryAfter("10")), Ms(0));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kDeadline, absl::StatusCode::kUnavailable))
      << "a wait ending exactly at the deadline leaves no time for the attempt";
  EXPECT_EQ(d.pushback, absl::Seconds(10));
}

TEST(SameModelTest, LatencyBlockReroutesWithTheLatencyStrategy) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
default_max_attempts: 3
on_high_latency: {threshold_ms: 2000, strategy: different_provider}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kLatency, Ms(60000), "replica-b");
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
}

// ===========================================================================
// max_retry_duration_ms (section 5)

TEST(RetryBudgetTest, BudgetStartsAtTheFirstFailureNotAtTheFirstAttempt) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
default_max_attempts: 3
max_retry_duration_ms: 1000
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Timeout("openai/gpt-4o", 5000), Ms(5000)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(6000)),
              ExhaustedWith(EndReason::kRetryBudget, absl::StatusCode::kUnavailable))
      << "no attempt starts at the budget's end";
}

TEST(RetryBudgetTest, AWaitEndingAtTheBudgetsEndIsNotStarted) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
default_max_attempts: 3
backoff: {apply_to: global, base_ms: 1000, max_ms: 5000, jitter: false}
max_retry_duration_ms: 1000
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kRetryBudget, absl::StatusCode::kUnavailable));
  EXPECT_TRUE(d.retry_budget_exhausted);
  EXPECT_EQ(d.pushback, absl::ZeroDuration()) << "backoff, not a block, ended it";
  EXPECT_THAT(d.exhausted_json,
              HasSubstr(R"("retry_budget_exhausted":true,"exhausted_reason":"retry_budget"}})"));
}

// ===========================================================================
// The caller's deadline (3.4)

TEST(DeadlineTest, BackoffThatCannotFinishBeforeTheDeadlineEndsAtOnce) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
backoff: {apply_to: global, base_ms: 3000, max_ms: 5000, jitter: false}
)"));
  Gateway::RequestOptions o;
  o.deadline = Ms(2000);
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kDeadline, absl::StatusCode::kUnavailable));
  EXPECT_FALSE(d.retry_budget_exhausted);
  EXPECT_EQ(d.pushback, absl::ZeroDuration());
}

TEST(DeadlineTest, ARetryThatFitsTheDeadlineIsStarted) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
backoff: {apply_to: global, base_ms: 1000, max_ms: 5000, jitter: false}
)"));
  Gateway::RequestOptions o;
  o.deadline = Ms(2000);
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o", 1000));
}

// ===========================================================================
// High latency (3.6)

std::string LatencyPolicy(std::string_view fields) {
  return absl::StrCat(kP429, "on_high_latency: {", std::string(fields), "}\n");
}

TEST(HighLatencyTest, SlowSuccessIsDeliveredAndMarked) {
  Gateway gw(ScenarioYaml(LatencyPolicy("threshold_ms: 1000, measure: total")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Milliseconds(100),
                                     absl::Milliseconds(1500)),
                               Ms(1500)),
              Delivers());
  EXPECT_THAT(ErrorTypes(*s), ElementsAre("high_latency_1500ms_threshold_1000ms"));
  EXPECT_EQ(s->attempts()[0].kind, AttemptResult::Kind::kSuccess);
}

TEST(HighLatencyTest, TtfbIsMeasuredByDefault) {
  Gateway gw(ScenarioYaml(LatencyPolicy("threshold_ms: 1000")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Milliseconds(900), absl::Milliseconds(5000)),
                   Ms(5000));
  EXPECT_THAT(ErrorTypes(*s), ElementsAre("")) << "fast first byte, slow body: not slow";
  EXPECT_EQ(gw.blocks.size(), 0u);

  auto s2 = gw.Request();
  s2->Begin(Ms(0));
  s2->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Milliseconds(1200), absl::Milliseconds(1300)),
                    Ms(1300));
  EXPECT_THAT(ErrorTypes(*s2), ElementsAre("high_latency_1200ms_threshold_1000ms"));
}

TEST(HighLatencyTest, ThresholdIsStrict) {
  Gateway gw(ScenarioYaml(LatencyPolicy("threshold_ms: 1000, measure: total")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Milliseconds(10), absl::Milliseconds(1000)),
                   Ms(1000));
  EXPECT_THAT(ErrorTypes(*s), ElementsAre(""));
  EXPECT_EQ(gw.blocks.size(), 0u);
}

TEST(HighLatencyTest, BlockDurationAndScopeFollowThePolicy) {
  Gateway gw(ScenarioYaml(LatencyPolicy(
      "threshold_ms: 1000, measure: total, block_duration_seconds: 45, scope: provider")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Milliseconds(10), absl::Milliseconds(1500)),
                   Ms(1500));
  EXPECT_EQ(gw.blocks.Find(BlockKey::Provider("openai"), BlockKind::kLatency, Ms(1500)),
            (Block{BlockKind::kLatency, Ms(46500), ""}));
}

TEST(HighLatencyTest, ASlowFallbackIsRecordedUnderItsOwnKey) {
  Gateway gw(ScenarioYaml(LatencyPolicy("threshold_ms: 1000, measure: total")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10));
  s->OnAttemptDone(gw.Ok("anthropic/claude-3-5-sonnet", absl::Milliseconds(10),
                         absl::Milliseconds(2000)),
                   Ms(2010));
  EXPECT_TRUE(gw.blocks.Find(BlockKey::Model("anthropic/claude-3-5-sonnet"), BlockKind::kLatency, Ms(2010)).has_value());
  EXPECT_FALSE(gw.blocks.Find(BlockKey::Model("openai/gpt-4o"), BlockKind::kLatency, Ms(2010)).has_value());
}

TEST(HighLatencyTest, RequestScopedLatencyNeverBlocksOtherRequests) {
  Gateway gw(ScenarioYaml(LatencyPolicy("threshold_ms: 1000, measure: total, apply_to: request")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Milliseconds(10), absl::Milliseconds(1500)),
                   Ms(1500));
  EXPECT_THAT(ErrorTypes(*s), ElementsAre("high_latency_1500ms_threshold_1000ms"));
  EXPECT_EQ(gw.blocks.size(), 0u);
  EXPECT_THAT(gw.Request()->Begin(Ms(1600)), AttemptAt("openai/gpt-4o", 0));
}

TEST(HighLatencyTest, WithoutOnHighLatencyNothingIsMeasured) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Seconds(50), absl::Seconds(60)), Ms(60000));
  EXPECT_THAT(ErrorTypes(*s), ElementsAre(""));
  EXPECT_EQ(gw.blocks.size(), 0u);
}

// Issue 10 item 1, the reviewer's reproduction: one slow 200 creates a 300 s
// latency block on the only model; a 429 with Retry-After: 30 on it must
// then be waited for (same_model), later requests must honour the
// Retry-After block, and the pushback is the Retry-After's (30 s), never the
// latency block's (300 s). The table used to keep one entry per key, so the
// later-ending latency block swallowed the Retry-After block.
constexpr char kSameModel429WithLatency[] = R"(on_status_codes: [{codes: [429], strategy: same_model, max_attempts: 3}]
on_high_latency: {threshold_ms: 1000}
)";

TEST(BlockKindsTest, RetryAfterIsWaitedForWhileALatencyBlockCoversTheModel) {
  Gateway gw("model_providers:\n" +
             Provider("openai/gpt-4o", kSameModel429WithLatency, "default: true"));
  auto slow = gw.Request();
  slow->Begin(Ms(0));
  EXPECT_THAT(slow->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Milliseconds(1500),
                                        absl::Milliseconds(1600)),
                                  Ms(1600)),
              Delivers());
  auto s = gw.Request();
  EXPECT_THAT(s->Begin(Ms(2000)), AttemptAt("openai/gpt-4o", 0))
      << "latency-blocked, but no other model: a slow answer beats none";
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("30")), Ms(2000)),
              AttemptAt("openai/gpt-4o", 30000));
  // The next request finds the Retry-After block; default_strategy
  // (different_provider) has nowhere else to go.
  Decision later = gw.Request()->Begin(Ms(12000));
  EXPECT_THAT(later, ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(later.pushback, absl::Seconds(20));
}

TEST(BlockKindsTest, PushbackIgnoresALongerLatencyBlock) {
  Gateway gw("model_providers:\n" +
             Provider("openai/gpt-4o", kSameModel429WithLatency, "default: true"));
  gw.blocks.Merge(BlockKey::Model("openai/gpt-4o"), BlockKind::kLatency, Ms(300000));
  Gateway::RequestOptions o;
  o.deadline = Ms(2000);
  auto s = gw.Request(std::move(o));
  EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("30")), Ms(10));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kDeadline, absl::StatusCode::kResourceExhausted))
      << "a 30 s wait does not fit a 2 s deadline";
  EXPECT_EQ(d.pushback, absl::Seconds(30));
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("shortest_remaining_block_seconds":30)"));
}

// Issue 10 item 5: every attempt carries the time it must end by, the earlier
// of the caller's deadline and the end of max_retry_duration_ms, and an
// attempt cut there ends the call with the usual exhaustion.
constexpr char kTimeoutLoop[] = R"(on_timeout: {strategy: same_model, max_attempts: 3}
max_retry_duration_ms: 2000
)";

TEST(AttemptCapTest, TheFirstAttemptIsCappedByTheDeadlineOnly) {
  Gateway gw(ScenarioYaml(kTimeoutLoop));
  Decision none = gw.Request()->Begin(Ms(0));
  EXPECT_EQ(none.attempt_end, absl::InfiniteFuture());
  EXPECT_EQ(none.attempt_end_kind, TimeoutKind::kNone);
  Gateway::RequestOptions o;
  o.deadline = Ms(5000);
  Decision first = gw.Request(std::move(o))->Begin(Ms(0));
  EXPECT_EQ(first.attempt_end, Ms(5000)) << "max_retry_duration_ms starts at the first failure";
  EXPECT_EQ(first.attempt_end_kind, TimeoutKind::kDeadline);
}

TEST(AttemptCapTest, RetriesEndByTheEarlierOfDeadlineAndRetryBudget) {
  Gateway gw(ScenarioYaml(kTimeoutLoop));
  Gateway::RequestOptions far;
  far.deadline = Ms(60000);
  auto s = gw.Request(std::move(far));
  s->Begin(Ms(0));
  Decision retry = s->OnAttemptDone(gw.Timeout("openai/gpt-4o", 1000), Ms(1000));
  EXPECT_THAT(retry, AttemptAt("openai/gpt-4o", 0));
  EXPECT_EQ(retry.attempt_end, Ms(3000));
  EXPECT_EQ(retry.attempt_end_kind, TimeoutKind::kRetryBudget);

  Gateway::RequestOptions near;
  near.deadline = Ms(2500);
  auto t = gw.Request(std::move(near));
  t->Begin(Ms(0));
  Decision capped = t->OnAttemptDone(gw.Timeout("openai/gpt-4o", 1000), Ms(1000));
  EXPECT_EQ(capped.attempt_end, Ms(2500));
  EXPECT_EQ(capped.attempt_end_kind, TimeoutKind::kDeadline);
}

TEST(AttemptCapTest, AnAttemptCutByTheRetryBudgetEndsTheCall) {
  Gateway gw(ScenarioYaml(kTimeoutLoop));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Timeout("openai/gpt-4o", 1000), Ms(1000));
  Decision d = s->OnAttemptDone(gw.Cut("openai/gpt-4o", TimeoutKind::kRetryBudget, 2000), Ms(3000));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kRetryBudget, absl::StatusCode::kDeadlineExceeded))
      << "a third attempt is allowed by on_timeout, but no time is left";
  EXPECT_TRUE(d.retry_budget_exhausted);
  EXPECT_THAT(ErrorTypes(*s), ElementsAre("timeout_1000ms", "timeout_2000ms"));
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("exhausted_reason":"retry_budget")"));
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("total_attempts":2)"));
}

TEST(AttemptCapTest, AnAttemptCutByTheDeadlineEndsTheCall) {
  Gateway gw(ScenarioYaml(kP429));
  Gateway::RequestOptions o;
  o.deadline = Ms(1900);
  auto s = gw.Request(std::move(o));
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10));
  Decision d =
      s->OnAttemptDone(gw.Cut("anthropic/claude-3-5-sonnet", TimeoutKind::kDeadline, 1890), Ms(1900));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kDeadline, absl::StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(d.retry_budget_exhausted);
  EXPECT_EQ(d.last_http_status, 0);
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("exhausted_reason":"deadline")"));
}

TEST(AttemptCapTest, WithoutAPolicyTheDeadlineStillCapsTheOneAttempt) {
  Gateway gw(ScenarioYaml(""));
  Gateway::RequestOptions o;
  o.deadline = Ms(2000);
  auto s = gw.Request(std::move(o));
  Decision d = s->Begin(Ms(0));
  EXPECT_EQ(d.attempt_end, Ms(2000));
  EXPECT_EQ(d.attempt_end_kind, TimeoutKind::kDeadline);
  EXPECT_THAT(s->OnAttemptDone(gw.Cut("openai/gpt-4o", TimeoutKind::kDeadline, 2000), Ms(2000)),
              Delivers());
}

// Issue 10 item 6: an answer over server.max_response_bytes is final.
TEST(ClassificationTest, AnAnswerTooLargeIsFinalAndNeverRetried) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.TooLarge("openai/gpt-4o"), Ms(10)), Delivers());
  EXPECT_THAT(ErrorTypes(*s), ElementsAre("response_too_large"));
}

// ===========================================================================
// Exhaustion (section 7)

TEST(ExhaustionTest, GrpcCodeFollowsTheLastFailure) {
  struct Case {
    AttemptResult result;
    absl::StatusCode code;
    int http_status;
  };
  Gateway gw(ScenarioYaml(R"(default_max_attempts: 1
on_timeout: {max_attempts: 1}
on_status_codes: [{codes: [409], strategy: same_model, max_attempts: 1}]
)"));
  std::vector<Case> cases = {
      {gw.Http("openai/gpt-4o", 429), absl::StatusCode::kResourceExhausted, 429},
      {gw.Http("openai/gpt-4o", 503), absl::StatusCode::kUnavailable, 503},
      {gw.Http("openai/gpt-4o", 500), absl::StatusCode::kUnavailable, 500},
      {gw.Http("openai/gpt-4o", 529), absl::StatusCode::kUnavailable, 529},
      {gw.Http("openai/gpt-4o", 408), absl::StatusCode::kDeadlineExceeded, 408},
      {gw.Http("openai/gpt-4o", 409), absl::StatusCode::kAborted, 409},
      {gw.Timeout("openai/gpt-4o", 100), absl::StatusCode::kDeadlineExceeded, 0},
      {gw.Transport("openai/gpt-4o"), absl::StatusCode::kUnavailable, 0},
      {gw.Stream("openai/gpt-4o"), absl::StatusCode::kUnavailable, 200},
      {gw.Overloaded("openai/gpt-4o"), absl::StatusCode::kResourceExhausted, 0},
  };
  for (const Case& c : cases) {
    auto s = gw.Request();
    s->Begin(Ms(0));
    Decision d = s->OnAttemptDone(c.result, Ms(10));
    EXPECT_EQ(d.kind, Decision::Kind::kExhausted) << c.result.error_type;
    EXPECT_EQ(d.code, c.code) << c.result.error_type;
    EXPECT_EQ(d.last_http_status, c.http_status) << c.result.error_type;
  }
}

TEST(ExhaustionTest, JsonWithRetryAfterAndBlocks) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, {{"retry-after-ms", "2500"}}), Ms(0));
  Decision d = s->OnAttemptDone(
      gw.Http("anthropic/claude-3-5-sonnet", 429, RetryAfter("1")), Ms(250));
  EXPECT_EQ(d.exhausted_json,
            R"({"error":{"message":"retries exhausted after 2 attempts: class on_status_codes[0] )"
            R"(allows 2 attempts; last: anthropic/claude-3-5-sonnet http_429",)"
            R"("type":"retry_exhausted","attempts":[)"
            R"({"model":"openai/gpt-4o","error_type":"http_429","attempt":1},)"
            R"({"model":"anthropic/claude-3-5-sonnet","error_type":"http_429","attempt":2}],)"
            R"("skipped":[],"total_attempts":2,"observed_max_retry_after_seconds":2.5,)"
            R"("shortest_remaining_block_seconds":1,"retry_budget_exhausted":false,)"
            R"("exhausted_reason":"class_budget"}})");
  EXPECT_EQ(d.pushback, absl::Seconds(1)) << "the sooner of the two blocks";
  EXPECT_EQ(d.message,
            "retries exhausted after 2 attempts: class on_status_codes[0] allows 2 attempts; "
            "last: anthropic/claude-3-5-sonnet http_429");
}

TEST(ExhaustionTest, PushbackIsZeroWithoutBlocksOrRetryAfter) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 429), Ms(10));
  EXPECT_EQ(d.pushback, absl::ZeroDuration());
}

TEST(ExhaustionTest, StringsAreJsonEscaped) {
  Gateway gw(ScenarioYaml("default_max_attempts: 1\n"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Transport("openai/gpt-4o", "tls \"bad\"\\\n\x01"), Ms(0));
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("error_type":"tls \"bad\"\\\n\u0001")"));
}

TEST(FormatJsonSecondsTest, IntegersWhenWholeElseMilliseconds) {
  EXPECT_EQ(FormatJsonSeconds(absl::Seconds(60)), "60");
  EXPECT_EQ(FormatJsonSeconds(absl::ZeroDuration()), "0");
  EXPECT_EQ(FormatJsonSeconds(absl::Milliseconds(1500)), "1.5");
  EXPECT_EQ(FormatJsonSeconds(absl::Milliseconds(250)), "0.25");
  EXPECT_EQ(FormatJsonSeconds(absl::Milliseconds(1)), "0.001");
  EXPECT_EQ(FormatJsonSeconds(absl::Microseconds(1)), "0.001") << "rounded up";
  EXPECT_EQ(FormatJsonSeconds(absl::Milliseconds(12034)), "12.034");
}

TEST(NoPolicyTest, OneAttemptAndTheAnswerAsItIs) {
  Gateway gw(ScenarioYaml(""));
  for (auto result : {gw.Http("openai/gpt-4o", 429), gw.Http("openai/gpt-4o", 503),
                      gw.Timeout("openai/gpt-4o", 10), gw.Ok("openai/gpt-4o")}) {
    auto s = gw.Request();
    EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
    EXPECT_THAT(s->OnAttemptDone(result, Ms(10)), Delivers()) << result.error_type;
  }
}

// ===========================================================================
// SCENARIOS.md, as decision sequences

TEST(ScenarioTest, S01_429FailsOver) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Ok("anthropic/claude-3-5-sonnet"), Ms(20)), Delivers());
  EXPECT_THAT(Models(*s), ElementsAre("openai/gpt-4o", "anthropic/claude-3-5-sonnet"));
}

TEST(ScenarioTest, S02_503FailsOver) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Ok("anthropic/claude-3-5-sonnet"), Ms(20)), Delivers());
}

TEST(ScenarioTest, S03_AllExhausted) {
  Gateway gw(ScenarioYaml(kP429));
  auto s = gw.Request();
  s->Begin(Ms(0));
  s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10));
  Decision d = s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 429), Ms(20));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kClassBudget, absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(d.last_http_status, 429);
  EXPECT_FALSE(d.retry_budget_exhausted);
  EXPECT_EQ(d.exhausted_json,
            R"({"error":{"message":"retries exhausted after 2 attempts: class on_status_codes[0] )"
            R"(allows 2 attempts; last: anthropic/claude-3-5-sonnet http_429",)"
            R"("type":"retry_exhausted","attempts":[)"
            R"({"model":"openai/gpt-4o","error_type":"http_429","attempt":1},)"
            R"({"model":"anthropic/claude-3-5-sonnet","error_type":"http_429","attempt":2}],)"
            R"("skipped":[],"total_attempts":2,"observed_max_retry_after_seconds":null,)"
            R"("shortest_remaining_block_seconds":null,"retry_budget_exhausted":false,)"
            R"("exhausted_reason":"class_budget"}})");
}

TEST(ScenarioTest, S04_NoPolicyNoRetry) {
  Gateway gw(ScenarioYaml(""));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)), Delivers());
  EXPECT_THAT(Models(*s), ElementsAre("openai/gpt-4o"));
}

TEST(ScenarioTest, S05_MaxAttemptsOneMeansNoRetry) {
  Gateway gw(ScenarioYaml(R"(fallback_models: [anthropic/claude-3-5-sonnet, mistral/mistral-large]
default_max_attempts: 1
on_status_codes: [{codes: [429], strategy: different_provider, max_attempts: 1}]
on_timeout: {max_attempts: 1}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_EQ(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)).kind,
            Decision::Kind::kExhausted);
  EXPECT_EQ(s->attempts().size(), 1u);
}

TEST(ScenarioTest, S06_BackoffTiming) {
  Gateway gw("model_providers:\n" + Provider("openai/gpt-4o", R"(default_strategy: same_model
default_max_attempts: 3
on_status_codes: [{codes: [429], strategy: same_model, max_attempts: 3}]
backoff: {apply_to: same_model, base_ms: 500, max_ms: 5000, jitter: false}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(5)),
              AttemptAt("openai/gpt-4o", 500));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(510)),
              AttemptAt("openai/gpt-4o", 1000));
  EXPECT_THAT(s->OnAttemptDone(gw.Ok("openai/gpt-4o"), Ms(1515)), Delivers());
}

TEST(ScenarioTest, S07_FallbackOrder) {
  Gateway gw(ScenarioYaml(R"(fallback_models: [anthropic/claude-3-5-sonnet, mistral/mistral-large]
default_max_attempts: 3
on_status_codes: [{codes: [429], strategy: different_provider, max_attempts: 3}]
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 429), Ms(20)),
              AttemptAt("mistral/mistral-large", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Ok("mistral/mistral-large"), Ms(30)), Delivers());
  EXPECT_THAT(Models(*s), ElementsAre("openai/gpt-4o", "anthropic/claude-3-5-sonnet",
                                      "mistral/mistral-large"));
}

TEST(ScenarioTest, S08_RetryAfterHonoured) {
  Gateway gw("model_providers:\n" + Provider("openai/gpt-4o", R"(default_strategy: same_model
default_max_attempts: 2
on_status_codes: [{codes: [429], strategy: same_model, max_attempts: 2}]
retry_after_handling: {scope: model, apply_to: request}
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("2")), Ms(5)),
              AttemptAt("openai/gpt-4o", 2000));
  EXPECT_THAT(s->OnAttemptDone(gw.Ok("openai/gpt-4o"), Ms(2010)), Delivers());
}

TEST(ScenarioTest, S09_RetryAfterBlocksLaterRequests) {
  Gateway gw(ScenarioYaml(absl::StrCat(kP429, R"(fallback_models: [anthropic/claude-3-5-sonnet]
retry_after_handling: {scope: model, apply_to: global}
)")));
  auto r1 = gw.Request();
  EXPECT_THAT(r1->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(r1->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("60")), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0))
      << "served by the secondary without waiting";
  EXPECT_THAT(r1->OnAttemptDone(gw.Ok("anthropic/claude-3-5-sonnet"), Ms(20)), Delivers());

  auto r2 = gw.Request();
  EXPECT_THAT(r2->Begin(Ms(100)), AttemptAt("anthropic/claude-3-5-sonnet", 0))
      << "straight to the secondary";
  // After the block, the primary is used again.
  EXPECT_THAT(gw.Request()->Begin(Ms(60010)), AttemptAt("openai/gpt-4o", 0));
}

TEST(ScenarioTest, S10_TimeoutFailsOver) {
  Gateway gw(ScenarioYaml(absl::StrCat(
      kP429, "on_timeout: {strategy: different_provider, max_attempts: 2}\n")));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Timeout("openai/gpt-4o", 1000), Ms(1000)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Ok("anthropic/claude-3-5-sonnet"), Ms(1100)), Delivers());
}

TEST(ScenarioTest, S11_HighLatencyBlocksLaterRequests) {
  Gateway gw(ScenarioYaml(LatencyPolicy(
      "threshold_ms: 1000, measure: total, min_triggers: 1, block_duration_seconds: 60, "
      "scope: model, apply_to: global")));
  auto r1 = gw.Request();
  r1->Begin(Ms(0));
  EXPECT_THAT(r1->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Milliseconds(1400),
                                      absl::Milliseconds(1500)),
                                Ms(1500)),
              Delivers())
      << "the slow answer is delivered";
  auto r2 = gw.Request();
  EXPECT_THAT(r2->Begin(Ms(1600)), AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_THAT(r2->OnAttemptDone(gw.Ok("anthropic/claude-3-5-sonnet"), Ms(1700)), Delivers());
  EXPECT_THAT(gw.Request()->Begin(Ms(61500)), AttemptAt("openai/gpt-4o", 0))
      << "the block lasts block_duration_seconds";
}

TEST(ScenarioTest, S14_RetryAfterForms) {
  const std::string policy = R"(default_strategy: same_model
default_max_attempts: 2
retry_after_handling: {max_retry_after_seconds: 10, apply_to: request}
)";
  Gateway gw(ScenarioYaml(policy));  // request-scoped blocks: the cases stay apart
  auto wait_for = [&](HttpHeaders headers) {
    auto s = gw.Request();
    s->Begin(Ms(0));
    return s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, std::move(headers)), Ms(0));
  };
  std::string date = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", kT0 + absl::Seconds(3),
                                      absl::UTCTimeZone());
  EXPECT_THAT(wait_for(RetryAfter(date)), AttemptAt("openai/gpt-4o", 3000)) << date;
  EXPECT_THAT(wait_for({{"retry-after-ms", "750"}}), AttemptAt("openai/gpt-4o", 750));
  EXPECT_THAT(wait_for(RetryAfter("3600")), AttemptAt("openai/gpt-4o", 10000)) << "capped";
  EXPECT_THAT(wait_for(RetryAfter("soon")), AttemptAt("openai/gpt-4o", 0)) << "ignored";
}

TEST(ScenarioTest, S16_RetryBudgetEndsASameModelLoop) {
  Gateway gw(ScenarioYaml(R"(default_strategy: same_model
default_max_attempts: 5
backoff: {apply_to: same_model, base_ms: 500, max_ms: 5000, jitter: false}
max_retry_duration_ms: 1200
)"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o", 500));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(520));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kRetryBudget, absl::StatusCode::kUnavailable))
      << "1000 ms more would end after the 1200 ms budget";
  EXPECT_TRUE(d.retry_budget_exhausted);
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("total_attempts":2,)"));
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("retry_budget_exhausted":true)"));
}

TEST(ScenarioTest, S17_MinTriggersTwoWithAWindow) {
  Gateway gw(ScenarioYaml(LatencyPolicy(
      "threshold_ms: 1000, measure: total, min_triggers: 2, trigger_window_seconds: 10")));
  auto slow = [&](int64_t at_ms) {
    auto s = gw.Request();
    EXPECT_THAT(s->Begin(Ms(at_ms)), AttemptAt("openai/gpt-4o", 0));
    s->OnAttemptDone(gw.Ok("openai/gpt-4o", absl::Milliseconds(10), absl::Milliseconds(1500)),
                     Ms(at_ms + 1500));
  };
  slow(0);
  EXPECT_THAT(gw.Request()->Begin(Ms(2000)), AttemptAt("openai/gpt-4o", 0))
      << "one slow answer blocks nothing";
  slow(20000);  // outside the window of the first
  EXPECT_THAT(gw.Request()->Begin(Ms(22000)), AttemptAt("openai/gpt-4o", 0))
      << "a second outside the window does not block";
  slow(25000);  // inside the window of the previous one
  EXPECT_THAT(gw.Request()->Begin(Ms(27000)), AttemptAt("anthropic/claude-3-5-sonnet", 0))
      << "a second inside the window blocks";
}

TEST(ScenarioTest, S18_LaterShorterRetryAfterNeverShortensABlock) {
  Gateway gw("model_providers:\n" + Provider("openai/gpt-4o", R"(default_strategy: same_model
default_max_attempts: 3
)"));
  auto r1 = gw.Request();
  auto r2 = gw.Request();
  r1->Begin(Ms(0));
  r2->Begin(Ms(0));
  EXPECT_THAT(r1->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("60")), Ms(0)),
              AttemptAt("openai/gpt-4o", 60000));
  EXPECT_THAT(r2->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("5")), Ms(10000)),
              AttemptAt("openai/gpt-4o", 50000))
      << "r2's 5 s does not shorten r1's 60 s block";
  EXPECT_EQ(gw.blocks.Find(BlockKey::Model("openai/gpt-4o"), BlockKind::kRetryAfter, Ms(10000))->until, Ms(60000));
}

TEST(ScenarioTest, S19_DeadlineEndsAtOnceWithPushback) {
  // No alternative: one provider, failover strategy.
  Gateway gw("model_providers:\n" + Provider("openai/gpt-4o", kP429));
  Gateway::RequestOptions o;
  o.deadline = Ms(2000);
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 429, RetryAfter("60")), Ms(20));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(d.pushback, absl::Seconds(60));

  // Same with same_model: the 60 s wait does not fit the 2 s deadline.
  Gateway gw2("model_providers:\n" + Provider("openai/gpt-4o", "default_strategy: same_model\n"));
  auto s2 = gw2.Request(o);
  s2->Begin(Ms(0));
  d = s2->OnAttemptDone(gw2.Http("openai/gpt-4o", 429, RetryAfter("60")), Ms(20));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kDeadline, absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(d.pushback, absl::Seconds(60));
  EXPECT_THAT(d.exhausted_json, HasSubstr(R"("observed_max_retry_after_seconds":60,)"
                                          R"("shortest_remaining_block_seconds":60,)"));
}

// ===========================================================================
// Retry budget (server.retry_budget): what RetryState asks the injected
// RetryBudgetGate, and what it does when a retry is refused.

// Records every question; a provider may take as many retries as its
// allowance says (none by default).
class FakeBudget : public RetryBudgetGate {
 public:
  void RecordFirstAttempt(std::string_view provider, absl::Time) override {
    log.push_back(absl::StrCat("first ", std::string(provider)));
  }
  bool TryWithdrawRetry(std::string_view provider, absl::Time) override {
    int& left = allowance[std::string(provider)];
    if (left <= 0) {
      log.push_back(absl::StrCat("refused ", std::string(provider)));
      return false;
    }
    --left;
    log.push_back(absl::StrCat("retry ", std::string(provider)));
    return true;
  }

  std::map<std::string, int> allowance;
  std::vector<std::string> log;
};

std::vector<std::string> Denials(const RetryState& s) {
  std::vector<std::string> out;
  for (const ModelProvider* m : s.budget_denials()) out.push_back(m->model_id);
  return out;
}

TEST(RetryBudgetStateTest, SameModelRetryWithdrawsAndARefusalEndsTheCall) {
  Gateway gw(ScenarioYaml("default_strategy: same_model\ndefault_max_attempts: 3\n"));
  FakeBudget budget;
  budget.allowance["openai"] = 1;
  Gateway::RequestOptions o;
  o.retry_budget = &budget;
  auto s = gw.Request(o);
  EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("openai/gpt-4o", 0));
  EXPECT_TRUE(s->budget_denials().empty());

  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(20));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kProviderBudget, absl::StatusCode::kUnavailable));
  EXPECT_EQ(ToString(d.end_reason), "provider_retry_budget");
  EXPECT_THAT(Denials(*s), ElementsAre("openai/gpt-4o"));
  EXPECT_THAT(budget.log, ElementsAre("first openai", "retry openai", "refused openai"));
  EXPECT_EQ(d.message,
            "retries exhausted after 2 attempts: the retry budget (server.retry_budget) of "
            "provider openai is spent and same_model finds no other model to try after "
            "openai/gpt-4o; last: openai/gpt-4o http_503");
  EXPECT_EQ(d.pushback, absl::ZeroDuration()) << "no block or Retry-After was involved";
  EXPECT_FALSE(d.retry_budget_exhausted) << "plano's field is about max_retry_duration_ms";
  EXPECT_THAT(d.exhausted_json,
              HasSubstr(R"("total_attempts":2,"observed_max_retry_after_seconds":null,)"
                        R"("shortest_remaining_block_seconds":null,)"
                        R"("retry_budget_exhausted":false,)"
                        R"("exhausted_reason":"provider_retry_budget"}})"));
}

TEST(RetryBudgetStateTest, FailoverToAnotherProviderIsAFirstAttemptNeverRefused) {
  Gateway gw(ScenarioYaml(kP429));
  FakeBudget budget;  // no retry allowed anywhere
  Gateway::RequestOptions o;
  o.retry_budget = &budget;
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  EXPECT_TRUE(s->budget_denials().empty());
  EXPECT_THAT(budget.log, ElementsAre("first openai", "first anthropic"));
}

std::string FourModelYaml(std::string_view policy) {
  return "model_providers:\n" + Provider("openai/gpt-4o", policy, "default: true") +
         Provider("anthropic/claude-3-5-sonnet", "", "provider_interface: openai") +
         Provider("openai/gpt-4o-mini") + Provider("mistral/mistral-large");
}

TEST(RetryBudgetStateTest, RefusedCandidateIsSkippedForTheNextOne) {
  Gateway gw(FourModelYaml("default_strategy: different_provider\ndefault_max_attempts: 4\n"));
  FakeBudget budget;
  Gateway::RequestOptions o;
  o.retry_budget = &budget;
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              AttemptAt("anthropic/claude-3-5-sonnet", 0));
  // From anthropic: openai/gpt-4o-mini comes first in configuration order,
  // but openai was already tried, so it would be a retry there: refused.
  EXPECT_THAT(s->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 503), Ms(20)),
              AttemptAt("mistral/mistral-large", 0));
  EXPECT_THAT(Denials(*s), ElementsAre("openai/gpt-4o-mini"));
  EXPECT_THAT(budget.log,
              ElementsAre("first openai", "first anthropic", "refused openai", "first mistral"));

  // Nothing fresh is left: the refusal is now what ends the call.
  Decision d = s->OnAttemptDone(gw.Http("mistral/mistral-large", 503), Ms(30));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kProviderBudget, absl::StatusCode::kUnavailable));
  EXPECT_THAT(Denials(*s), ElementsAre("openai/gpt-4o-mini")) << "one entry per decision";

  // With budget left, the same call takes gpt-4o-mini.
  FakeBudget generous;
  generous.allowance["openai"] = 1;
  o.retry_budget = &generous;
  auto s2 = gw.Request(o);
  s2->Begin(Ms(0));
  s2->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10));
  EXPECT_THAT(s2->OnAttemptDone(gw.Http("anthropic/claude-3-5-sonnet", 503), Ms(20)),
              AttemptAt("openai/gpt-4o-mini", 0));
  EXPECT_THAT(generous.log, ElementsAre("first openai", "first anthropic", "retry openai"));
}

TEST(RetryBudgetStateTest, SameProviderWithEveryCandidateRefusedEndsWithTheBudgetReason) {
  Gateway gw(FourModelYaml("default_strategy: same_provider\ndefault_max_attempts: 3\n"));
  FakeBudget budget;
  Gateway::RequestOptions o;
  o.retry_budget = &budget;
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kProviderBudget, absl::StatusCode::kUnavailable));
  EXPECT_THAT(Denials(*s), ElementsAre("openai/gpt-4o-mini"));
}

TEST(RetryBudgetStateTest, ARetryTheDeadlineStopsCostsNothing) {
  Gateway gw(ScenarioYaml(
      "default_strategy: same_model\ndefault_max_attempts: 3\n"
      "backoff: {apply_to: same_model, base_ms: 1000, max_ms: 2000, jitter: false}\n"));
  FakeBudget budget;
  budget.allowance["openai"] = 5;
  Gateway::RequestOptions o;
  o.retry_budget = &budget;
  o.deadline = Ms(500);
  auto s = gw.Request(o);
  s->Begin(Ms(0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)),
              ExhaustedWith(EndReason::kDeadline, absl::StatusCode::kUnavailable));
  EXPECT_THAT(budget.log, ElementsAre("first openai"));
  EXPECT_EQ(budget.allowance["openai"], 5);
}

TEST(RetryBudgetStateTest, CallWithoutPolicyRecordsItsFirstAttempt) {
  Gateway gw("model_providers:\n" + Provider("openai/gpt-4o"));
  FakeBudget budget;
  Gateway::RequestOptions o;
  o.retry_budget = &budget;
  auto s = gw.Request(o);
  EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), Ms(10)), Delivers());
  EXPECT_THAT(budget.log, ElementsAre("first openai"));
}

// The storm the budget exists for, with the real RetryBudgets: 50 calls to
// a provider that always fails, same_model with 5 attempts each. Without a
// budget that is 250 attempts; with 20% and a floor of 1/s over 10 s it is
// the 50 first attempts plus exactly 10 + 0.2 x 50 = 20 retries.
TEST(RetryBudgetStateTest, RealBudgetCapsAStormExactly) {
  Gateway gw("server:\n  retry_budget: {percent: 20, min_retries_per_second: 1, "
             "window_seconds: 10}\n" +
             ScenarioYaml("default_strategy: same_model\ndefault_max_attempts: 5\n"));
  std::shared_ptr<RetryBudgets> budgets = RetryBudgets::Build(*gw.config_, nullptr);
  ASSERT_NE(budgets, nullptr);
  int attempts = 0;
  int by_budget = 0;
  int by_class = 0;
  int denials = 0;
  for (int call = 0; call < 50; ++call) {
    Gateway::RequestOptions o;
    o.retry_budget = budgets.get();
    auto s = gw.Request(o);
    absl::Time now = Ms(call * 10);  // all inside one second, one window
    Decision d = s->Begin(now);
    while (d.kind == Decision::Kind::kAttempt) {
      ++attempts;
      d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 503), now);
      denials += static_cast<int>(s->budget_denials().size());
    }
    ASSERT_EQ(d.kind, Decision::Kind::kExhausted);
    if (d.end_reason == EndReason::kProviderBudget) ++by_budget;
    if (d.end_reason == EndReason::kClassBudget) ++by_class;
  }
  EXPECT_EQ(attempts, 50 + 20);
  EXPECT_EQ(by_budget + by_class, 50);
  EXPECT_EQ(denials, by_budget) << "one skipped retry per call the budget ended";
  EXPECT_GE(by_class, 2) << "the floor lets the first calls retry fully";
}

// ---------------------------------------------------------------------------
// The candidate filter (the gateway's translation check).

TEST(CandidateFilterTest, ARefusedCandidateIsPassedOverAndRecordedOnceWithItsReason) {
  Gateway gw(ScenarioYaml(kP429));
  std::vector<std::string> asked;
  Gateway::RequestOptions o;
  o.candidate_filter = [&](const ModelProvider& m) {
    asked.push_back(m.model_id);
    return m.model_id == "anthropic/claude-3-5-sonnet" ? std::string("not_translatable: n")
                                                       : std::string();
  };
  auto s = gw.Request(std::move(o));
  EXPECT_THAT(s->Begin(Ms(0)), AttemptAt("openai/gpt-4o", 0));
  EXPECT_THAT(asked, IsEmpty()) << "the first attempt asks nothing: the happy path pays nothing";
  EXPECT_THAT(s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10)),
              AttemptAt("mistral/mistral-large", 0));
  EXPECT_THAT(asked, ElementsAre("anthropic/claude-3-5-sonnet", "mistral/mistral-large"));
  Decision d = s->OnAttemptDone(gw.Http("mistral/mistral-large", 429), Ms(20));
  EXPECT_EQ(d.kind, Decision::Kind::kExhausted);
  EXPECT_THAT(asked, ElementsAre("anthropic/claude-3-5-sonnet", "mistral/mistral-large"))
      << "each model is asked once";
  ASSERT_EQ(s->skipped().size(), 1u);
  EXPECT_EQ(s->skipped()[0].model->model_id, "anthropic/claude-3-5-sonnet");
  EXPECT_THAT(d.exhausted_json,
              HasSubstr(R"("skipped":[{"model":"anthropic/claude-3-5-sonnet",)"
                        R"("reason":"not_translatable: n"}],"total_attempts":2)"));
}

TEST(CandidateFilterTest, WithoutAFilterAnotherInterfaceIsSkipped) {
  Gateway gw("model_providers:\n" + Provider("openai/gpt-4o", kP429) +
             Provider("anthropic/claude-3-5-sonnet", "", "provider_interface: anthropic"));
  auto s = gw.Request();
  s->Begin(Ms(0));
  Decision d = s->OnAttemptDone(gw.Http("openai/gpt-4o", 429), Ms(10));
  EXPECT_THAT(d, ExhaustedWith(EndReason::kNoCandidate, absl::StatusCode::kResourceExhausted));
  ASSERT_EQ(s->skipped().size(), 1u);
  EXPECT_EQ(s->skipped()[0].reason, "provider_interface differs");
}

}  // namespace
}  // namespace rebound
