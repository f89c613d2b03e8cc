// Policy versioning and persistence: the counter only grows, the hash is the
// content's, identical pushes are `unchanged`, a rejected push changes
// nothing, and the state survives a restart (or a corrupt file does not
// crash one).
#include "controlplane/policy_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "controlplane/policy_check.h"
#include "controlplane/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::controlplane {
namespace {

using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kPolicyA[] =
    "model_providers:\n"
    "  - model: openai/gpt-4o\n"
    "    base_url: https://api.openai.com\n"
    "    access_key: $OPENAI_API_KEY\n"
    "    retry_policy:\n"
    "      fallback_models: [anthropic/claude-3-5-sonnet]\n"
    "  - model: anthropic/claude-3-5-sonnet\n"
    "    base_url: https://api.anthropic.com\n"
    "    access_key: ${ANTHROPIC_API_KEY}\n";

constexpr char kPolicyB[] =
    "version: v0.1\n"
    "llm_providers:\n"
    "  - model: openai/gpt-4o\n"
    "    base_url: https://api.openai.com\n"
    "    access_key: $SOME_KEY_ONLY_REPLICAS_HAVE\n"
    "    retry_policy: {}\n";

// A fresh state directory per test.
std::string StateDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/rebound-cp-policy-" +
                    std::to_string(::getpid()) + "-" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::string cmd = "rm -rf '" + dir + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return dir;
}

std::unique_ptr<PolicyStore> OpenStore(const std::string& dir, std::string* error = nullptr) {
  std::string ignored;
  auto store = PolicyStore::Open(dir, error ? error : &ignored);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PolicyStoreTest, CounterGrowsAndHashIsTheContentsSha256) {
  auto store = OpenStore(StateDir());
  EXPECT_FALSE(store->Current().has_value());
  PushOutcome first = store->Push(kPolicyA, false);
  EXPECT_TRUE(first.accepted);
  EXPECT_FALSE(first.unchanged);
  EXPECT_EQ(first.result, PushOutcome::Result::kAccepted);
  EXPECT_EQ(first.counter, 1u);
  EXPECT_EQ(first.hash, Sha256Hex(kPolicyA));
  EXPECT_EQ(first.hash.size(), 64u);
  PushOutcome second = store->Push(kPolicyB, false);
  EXPECT_EQ(second.counter, 2u);
  EXPECT_EQ(second.hash, Sha256Hex(kPolicyB));
  // Going back to an earlier text is a new version: counters never reuse.
  PushOutcome third = store->Push(kPolicyA, false);
  EXPECT_EQ(third.counter, 3u);
  EXPECT_EQ(third.hash, first.hash);
  EXPECT_EQ(store->Current()->yaml, kPolicyA);
}

TEST(PolicyStoreTest, Sha256MatchesAKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(PolicyStoreTest, IdenticalPushIsUnchangedAndKeepsTheVersion) {
  auto store = OpenStore(StateDir());
  store->Push(kPolicyA, false);
  PushOutcome again = store->Push(kPolicyA, false);
  EXPECT_TRUE(again.accepted);
  EXPECT_TRUE(again.unchanged);
  EXPECT_EQ(again.result, PushOutcome::Result::kUnchanged);
  EXPECT_EQ(again.counter, 1u);
  EXPECT_EQ(store->Current()->counter, 1u);
}

TEST(PolicyStoreTest, DryRunReportsTheWouldBeVersionAndChangesNothing) {
  std::string dir = StateDir();
  auto store = OpenStore(dir);
  store->Push(kPolicyA, false);
  PushOutcome dry = store->Push(kPolicyB, true);
  EXPECT_TRUE(dry.accepted);
  EXPECT_EQ(dry.result, PushOutcome::Result::kDryRun);
  EXPECT_EQ(dry.counter, 2u);
  EXPECT_EQ(store->Current()->counter, 1u);
  EXPECT_EQ(store->Current()->yaml, kPolicyA);
  EXPECT_EQ(OpenStore(dir)->Current()->counter, 1u);
}

TEST(PolicyStoreTest, RejectedPushChangesNothingAndListsEveryErrorWithItsLine) {
  std::string dir = StateDir();
  auto store = OpenStore(dir);
  store->Push(kPolicyA, false);
  std::string before = ReadAll(dir + "/policy.state");
  PushOutcome bad = store->Push(
      "model_providers:\n"
      "  - model: openai/gpt-4o\n"
      "    access_key: $K\n"
      "    retry_policy:\n"
      "      default_max_attempts: 0\n"
      "      backoff: {base_ms: 0, apply_to: global}\n",
      false);
  EXPECT_FALSE(bad.accepted);
  EXPECT_EQ(bad.result, PushOutcome::Result::kRejected);
  EXPECT_EQ(bad.counter, 0u);
  EXPECT_THAT(bad.diagnostics,
              ::testing::Contains(AllOf(Field(&Diagnostic::line, 5),
                                        Field(&Diagnostic::severity, Diagnostic::Severity::kError))));
  EXPECT_THAT(bad.diagnostics,
              ::testing::Contains(AllOf(Field(&Diagnostic::line, 6),
                                        Field(&Diagnostic::severity, Diagnostic::Severity::kError))));
  EXPECT_EQ(store->Current()->counter, 1u);
  EXPECT_EQ(ReadAll(dir + "/policy.state"), before);
  // The next accepted push continues from the published counter.
  EXPECT_EQ(store->Push(kPolicyB, false).counter, 2u);
}

TEST(PolicyStoreTest, NonPolicySectionsAreRejectedWithTheirLines) {
  PolicyCheck check = CheckPolicy(
      "server:\n"
      "  listen: 0.0.0.0:1\n"
      "model_providers:\n"
      "  - model: openai/gpt-4o\n"
      "    access_key: $K\n"
      "control_plane: {}\n"
      "tracing: {}\n");
  EXPECT_FALSE(check.ok);
  auto error_at = [](int line, std::string key) {
    return ::testing::Contains(AllOf(Field(&Diagnostic::line, line), Field(&Diagnostic::key, key),
                                     Field(&Diagnostic::message, HasSubstr("model_providers only")),
                                     Field(&Diagnostic::severity, Diagnostic::Severity::kError)));
  };
  EXPECT_THAT(check.diagnostics, error_at(1, "server"));
  EXPECT_THAT(check.diagnostics, error_at(6, "control_plane"));
  EXPECT_THAT(check.diagnostics, error_at(7, "tracing"));
}

TEST(PolicyStoreTest, VariablesAreLeftToTheReplicas) {
  // No environment at the control plane: $VARs validate with a placeholder.
  PolicyCheck check = CheckPolicy(kPolicyB);
  EXPECT_TRUE(check.ok);
  for (const Diagnostic& d : check.diagnostics) {
    EXPECT_THAT(d.message, ::testing::Not(HasSubstr("placeholder")));
  }
}

// Issue 10 item 8: a variable outside access_key can never be applied by a
// replica, so the push is refused with the key and the variable.
TEST(PolicyStoreTest, AVariableOutsideAccessKeyIsAnErrorAtPushTime) {
  PolicyCheck check = CheckPolicy(
      "model_providers:\n"
      "  - model: openai/gpt-4o\n"
      "    base_url: https://collector.example/${AWS_SECRET_ACCESS_KEY}\n"
      "    access_key: $OPENAI_API_KEY\n"
      "    headers: {X-Org: $ORG}\n");
  EXPECT_FALSE(check.ok);
  EXPECT_THAT(check.diagnostics,
              ::testing::Contains(AllOf(Field(&Diagnostic::line, 3),
                                        Field(&Diagnostic::key, "model_providers[0].base_url"),
                                        Field(&Diagnostic::message,
                                              HasSubstr("AWS_SECRET_ACCESS_KEY")),
                                        Field(&Diagnostic::severity,
                                              Diagnostic::Severity::kError))));
  EXPECT_THAT(check.diagnostics,
              ::testing::Contains(AllOf(Field(&Diagnostic::line, 5),
                                        Field(&Diagnostic::key, "model_providers[0].headers.X-Org"),
                                        Field(&Diagnostic::severity,
                                              Diagnostic::Severity::kError))));
  // access_key may name any variable here: each replica checks its own list.
  for (const Diagnostic& d : check.diagnostics) {
    EXPECT_NE(d.key, "model_providers[0].access_key") << d.ToString();
  }
}

TEST(PolicyStoreTest, EmptyOrProviderlessOrBrokenPolicyIsRejected) {
  EXPECT_FALSE(CheckPolicy("").ok);
  EXPECT_FALSE(CheckPolicy("model_providers: []\n").ok);
  EXPECT_FALSE(CheckPolicy("model_providers: [\n").ok);
  EXPECT_FALSE(CheckPolicy("- a\n- b\n").ok);
  EXPECT_FALSE(CheckPolicy("a: 1\n---\nb: 2\n").ok);
  PolicyCheck syntax = CheckPolicy("model_providers:\n  - model: [\n");
  ASSERT_FALSE(syntax.ok);
  EXPECT_GT(syntax.diagnostics[0].line, 0);
}

// Issue 10 item 13: the counter floor. Replicas report the version they run
// (Hello, and with every ACK or NACK); after a state loss, or at a second
// control plane that is behind, the next push is numbered above the
// highest of them, so every replica applies it instead of refusing it.
TEST(PolicyStoreTest, NextPushIsNumberedAboveTheHighestCounterReplicasReported) {
  auto store = OpenStore(StateDir());
  store->ObserveReplicaCounter(4);
  store->ObserveReplicaCounter(7);
  store->ObserveReplicaCounter(5);  // lower reports do not lower the floor
  EXPECT_EQ(store->CounterFloor(), 7u);
  PushOutcome dry = store->Push(kPolicyA, true);
  EXPECT_EQ(dry.counter, 8u);
  PushOutcome pushed = store->Push(kPolicyA, false);
  EXPECT_EQ(pushed.result, PushOutcome::Result::kAccepted);
  EXPECT_EQ(pushed.counter, 8u);
  EXPECT_EQ(store->Current()->counter, 8u);
  // Once above the floor, counting goes on from the current version.
  EXPECT_EQ(store->Push(kPolicyB, false).counter, 9u);
}

TEST(PolicyStoreTest, APersistedVersionAboveTheFloorKeepsCounting) {
  auto store = OpenStore(StateDir());
  store->Push(kPolicyA, false);
  store->Push(kPolicyB, false);
  store->ObserveReplicaCounter(1);
  EXPECT_EQ(store->Push(kPolicyA, false).counter, 3u);
}

TEST(PolicyStoreTest, TheSameTextBelowTheFloorIsRepublishedAboveIt) {
  // A control plane that is behind holds version 1; its replicas run 5 from
  // elsewhere and refuse 1. Pushing the same text again must reach them.
  auto store = OpenStore(StateDir());
  ASSERT_EQ(store->Push(kPolicyA, false).counter, 1u);
  store->ObserveReplicaCounter(5);
  PushOutcome again = store->Push(kPolicyA, false);
  EXPECT_EQ(again.result, PushOutcome::Result::kAccepted);
  EXPECT_FALSE(again.unchanged);
  EXPECT_EQ(again.counter, 6u);
  EXPECT_EQ(again.hash, Sha256Hex(kPolicyA));
  // Now at the floor's top: the same text is unchanged again.
  EXPECT_TRUE(store->Push(kPolicyA, false).unchanged);
}

TEST(PolicyStoreTest, TheFloorIsNotPersisted) {
  // Soft state, like blocks: replicas report it again when they reconnect.
  std::string dir = StateDir();
  {
    auto store = OpenStore(dir);
    store->ObserveReplicaCounter(9);
    EXPECT_EQ(store->Push(kPolicyA, false).counter, 10u);
  }
  auto reopened = OpenStore(dir);
  EXPECT_EQ(reopened->CounterFloor(), 0u);
  EXPECT_EQ(reopened->Current()->counter, 10u);
  EXPECT_EQ(reopened->Push(kPolicyB, false).counter, 11u);
}

TEST(PolicyStoreTest, ACounterThatCannotGrowIsARejectedPush) {
  auto store = OpenStore(StateDir());
  store->ObserveReplicaCounter(UINT64_MAX);
  PushOutcome out = store->Push(kPolicyA, false);
  EXPECT_FALSE(out.accepted);
  EXPECT_EQ(out.result, PushOutcome::Result::kRejected);
  EXPECT_THAT(out.diagnostics,
              ::testing::Contains(Field(&Diagnostic::message, HasSubstr("counter"))));
  EXPECT_FALSE(store->Current().has_value());
}

TEST(PolicyStoreTest, PersistedPolicySurvivesARestart) {
  std::string dir = StateDir();
  {
    auto store = OpenStore(dir);
    store->Push(kPolicyA, false);
    store->Push(kPolicyB, false);
  }
  std::string error;
  auto reopened = OpenStore(dir, &error);
  EXPECT_THAT(error, IsEmpty());
  ASSERT_TRUE(reopened->Current().has_value());
  EXPECT_EQ(reopened->Current()->counter, 2u);
  EXPECT_EQ(reopened->Current()->yaml, kPolicyB);
  EXPECT_EQ(reopened->Current()->hash, Sha256Hex(kPolicyB));
  EXPECT_TRUE(reopened->Push(kPolicyB, false).unchanged);
  EXPECT_EQ(reopened->Push(kPolicyA, false).counter, 3u);
  // No temporary file is left behind.
  EXPECT_NE(::access((dir + "/policy.state.tmp").c_str(), F_OK), 0);
}

TEST(PolicyStoreTest, CorruptStateStartsEmptyWithAnErrorAndNeverCrashes) {
  std::string dir = StateDir();
  {
    auto store = OpenStore(dir);
    store->Push(kPolicyA, false);
  }
  std::string good = ReadAll(dir + "/policy.state");
  for (std::string bad : {std::string(""), std::string("garbage\n"), good.substr(0, good.size() - 3),
                          good + "extra", std::string(good).replace(good.size() - 2, 1, "X"),
                          std::string("rebound-controlplane policy v1\ncounter x\n")}) {
    std::ofstream(dir + "/policy.state", std::ios::binary | std::ios::trunc) << bad;
    std::string error;
    auto store = OpenStore(dir, &error);
    ASSERT_NE(store, nullptr);
    EXPECT_FALSE(store->Current().has_value()) << bad;
    EXPECT_THAT(error, HasSubstr("corrupt")) << bad;
    // A push still works and replaces the file.
    EXPECT_TRUE(store->Push(kPolicyB, false).accepted);
    EXPECT_EQ(OpenStore(dir)->Current()->yaml, kPolicyB);
  }
}

TEST(PolicyStoreTest, UnusableStateDirectoryIsAnError) {
  std::string dir = StateDir();
  std::ofstream(dir) << "a file, not a directory";
  std::string error;
  EXPECT_FALSE(PolicyStore::Open(dir, &error).ok());
  EXPECT_FALSE(PolicyStore::Open("", &error).ok());
  ::unlink(dir.c_str());
}

TEST(PolicyStoreTest, EncodingRoundTrips) {
  StoredPolicy p{7, Sha256Hex("x: 1\n"), "x: 1\n"};
  absl::StatusOr<StoredPolicy> back = PolicyStore::Decode(PolicyStore::Encode(p));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->counter, 7u);
  EXPECT_EQ(back->yaml, p.yaml);
}

}  // namespace
}  // namespace rebound::controlplane
