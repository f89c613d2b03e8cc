// The fleet, end to end (SCENARIOS.md 24-28): one real rebound-controlplane,
// two real rebound-server replicas (r1, r2) connected to it with a bearer
// token, and real rebound-fakeprovider processes for the providers. Nothing
// is faked on the control-plane path: blocks travel A -> control plane -> B
// and policies are pushed with PushPolicy and ACKed by the real replicas.
//
// Every test also checks scenario 28 in TearDown: no configured secret (the
// provider keys, the control-plane token, the env-only key) appears in any
// process output, /metrics scrape, error, response or GetState answer the
// test saw. The fakes' request records legitimately carry the keys they
// received and are not searched.
//
// Timings are bounded on both sides where a lower bound means something;
// waits for asynchronous events (reconnects, ACKs) poll with generous upper
// bounds for a loaded 2-core machine.
#include <signal.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/gateway_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rebound/v1/controlplane.grpc.pb.h"
#include "tests/integration/fleet_fixture.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/test_outputs.h"

namespace rebound::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

constexpr char kPrimary[] = "openai/gpt-4o";
constexpr char kSecondary[] = "anthropic/claude-3-5-sonnet";
constexpr char kTertiary[] = "mistral/mistral-large";
constexpr char kPrimaryKey[] = "key-primary";
constexpr char kSecondaryKey[] = "key-secondary";
constexpr char kTertiaryKey[] = "key-tertiary";
// The replicas' control-plane token, and the operators' (PushPolicy, GetState).
constexpr char kToken[] = "fleet-cp-token-9d2c71e4";
constexpr char kOperatorToken[] = "fleet-operator-token-52a8e0c7";
// Only r2's environment has this variable (scenario 27).
constexpr char kEnvVar[] = "REBOUND_FLEET_R2_ONLY_KEY";
constexpr char kEnvKey[] = "key-env-only-r2-5b8e";

// SCENARIOS.md's P429 with the secondary as fallback and a global,
// model-scoped Retry-After block.
std::string PrimaryPolicy() {
  return absl::StrCat(
      "    default: true\n"
      "    retry_policy:\n"
      "      fallback_models: [", kSecondary, "]\n"
      "      default_strategy: different_provider\n"
      "      default_max_attempts: 2\n"
      "      on_status_codes: [{codes: [429], strategy: different_provider, max_attempts: 2}]\n"
      "      retry_after_handling: {scope: model, apply_to: global}\n");
}

// Errors on lines 5, 6, 8 and 9 (a `server` section is not a policy's).
constexpr char kInvalidPolicy[] =
    "model_providers:\n"
    "  - model: openai/gpt-4o\n"
    "    access_key: key-primary\n"
    "    retry_policy:\n"
    "      default_max_attempts: 0\n"
    "      backoff: {base_ms: 0, apply_to: global}\n"
    "      on_status_codes:\n"
    "        - {codes: [700], strategy: same_model}\n"
    "server:\n"
    "  listen: 0.0.0.0:1\n";

// (Qualified: this overload would hide the shared one from unqualified lookup.)
std::unique_ptr<grpc::ClientContext> TokenContext() {
  return rebound::testing::TokenContext(kOperatorToken);
}

class FleetTest : public ::testing::Test {
 protected:
  // True: a second control plane (cp2_) runs too, and every replica talks
  // to both (ARCHITECTURE.md: "a replica may be given several addresses").
  virtual bool TwoControlPlanes() const { return false; }

  void SetUp() override {
    for (auto [fake, name] : {std::pair{&primary_, "primary"}, std::pair{&secondary_, "secondary"},
                              std::pair{&tertiary_, "tertiary"}}) {
      auto started = FakeProvider::Start({}, name);
      ASSERT_TRUE(started.ok()) << started.status();
      *fake = *std::move(started);
    }
    token_path_ = WriteTempFile("cp-token", absl::StrCat(kToken, "\n"));
    operator_token_path_ = WriteTempFile("cp-operator-token", absl::StrCat(kOperatorToken, "\n"));
    // A fresh state dir per fixture (--gtest_repeat reuses the test's directory).
    static int instance = 0;
    state_dir_ = absl::StrCat(TestTempDir(), "/cp-state-", ++instance);
    // Port 0 the first time; a restart reuses the chosen port (scenario 26).
    auto cp = StartControlPlane("127.0.0.1:0", state_dir_, token_path_, operator_token_path_);
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = *std::move(cp);
    cp_port_ = cp_->grpc_address.substr(cp_->grpc_address.rfind(':') + 1);
    std::string addresses = absl::StrCat("\"", cp_->grpc_address, "\"");
    if (TwoControlPlanes()) {
      auto cp2 = StartControlPlane("127.0.0.1:0", state_dir_ + "-cp2", token_path_,
                                   operator_token_path_);
      ASSERT_TRUE(cp2.ok()) << cp2.status();
      cp2_ = *std::move(cp2);
      absl::StrAppend(&addresses, ", \"", cp2_->grpc_address, "\"");
    }

    for (const char* id : {"r1", "r2"}) {
      std::string yaml = absl::StrCat(ServerSection(), "control_plane:\n  addresses: [",
                                      addresses, "]\n  replica_id: ", id,
                                      "\n  token_file: ", token_path_,
                                      // Both may read it in a pushed access_key; only r2 has it.
                                      "\n  allowed_env: [", kEnvVar, "]",
                                      "\nmodel_providers:\n", FileProviders());
      HeaderList env;
      if (std::string(id) == "r2") env.push_back({kEnvVar, kEnvKey});
      auto replica = StartReplica(id, yaml, env);
      ASSERT_TRUE(replica.ok()) << replica.status();
      (std::string(id) == "r1" ? r1_ : r2_) = *std::move(replica);
    }
    ASSERT_TRUE(WaitBothConnected(absl::Seconds(10)))
        << State().DebugString() << r1_->process->Stderr() << r2_->process->Stderr();
    if (cp2_) {
      ASSERT_TRUE(WaitBothConnected(absl::Seconds(10), cp2_.get()))
          << State(cp2_.get()).DebugString();
    }
  }

  void TearDown() override { CheckNoSecrets(); }

  // The file providers (primary, secondary) as `model_providers` entries.
  std::string FileProviders() {
    return absl::StrCat(ProviderEntry(kPrimary, primary_->base_url(), kPrimaryKey, PrimaryPolicy()),
                        ProviderEntry(kSecondary, secondary_->base_url(), kSecondaryKey,
                              "    provider_interface: openai\n"));
  }
  // The file providers plus the tertiary model keyed by `tertiary_key`.
  std::string PolicyWithTertiary(const std::string& tertiary_key) {
    return absl::StrCat("model_providers:\n", FileProviders(),
                        ProviderEntry(kTertiary, tertiary_->base_url(), tertiary_key,
                              "    provider_interface: openai\n"));
  }

  // GetState of `cp` (default: the first control plane).
  v1::GetStateResponse State(ControlPlane* cp = nullptr) {
    v1::GetStateResponse response;
    grpc::Status status =
        (cp ? cp : cp_.get())->stub->GetState(TokenContext().get(), {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    collected_.push_back(absl::StrCat("GetState: ", status.error_message(), "\n",
                                      response.DebugString()));
    return response;
  }
  // After a restart on the same port the first call may still ride the dead
  // process's connection (gRPC shares a subchannel between channels to one
  // target) and fail: polls until GetState answers.
  bool WaitAnswering(ControlPlane* cp) {
    return WaitUntil(
        [&] {
          v1::GetStateResponse ignored;
          return cp->stub->GetState(TokenContext().get(), {}, &ignored).ok();
        },
        absl::Seconds(10), absl::Milliseconds(50));
  }
  static std::optional<v1::ReplicaState> Find(const v1::GetStateResponse& state,
                                              const std::string& id) {
    return FindReplica(state, id);
  }
  bool WaitBothConnected(absl::Duration timeout, ControlPlane* cp = nullptr) {
    return WaitUntil(
        [&] {
          v1::GetStateResponse s = State(cp);
          auto a = Find(s, "r1");
          auto b = Find(s, "r2");
          return a && b && a->connected() && b->connected();
        },
        timeout, absl::Milliseconds(50));
  }
  // Waits until both replicas ACKed `counter` (at `cp`; default the first).
  bool WaitBothAcked(uint64_t counter, absl::Duration timeout = absl::Seconds(10),
                     ControlPlane* cp = nullptr) {
    return WaitUntil(
        [&] {
          v1::GetStateResponse s = State(cp);
          auto a = Find(s, "r1");
          auto b = Find(s, "r2");
          return a && b && a->acked_version().counter() == counter &&
                 b->acked_version().counter() == counter;
        },
        timeout, absl::Milliseconds(20));
  }

  // PushPolicy to `cp` (default: the first control plane).
  v1::PushPolicyResponse Push(const std::string& yaml, ControlPlane* cp = nullptr) {
    RecordSecretsInFile("pushed-policy.yaml", yaml);  // keys only pushed are secrets too
    v1::PushPolicyRequest request;
    request.set_yaml(yaml);
    v1::PushPolicyResponse response;
    grpc::Status status =
        (cp ? cp : cp_.get())->stub->PushPolicy(TokenContext().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    collected_.push_back(absl::StrCat("PushPolicy: ", status.error_message(), " ",
                                      status.error_details(), "\n", response.DebugString()));
    return response;
  }

  client::CallResult Complete(Replica& r, const std::string& model) {
    client::CallResult result = r.client->Complete(ChatRequest(model), absl::Seconds(10));
    collected_.push_back(absl::StrCat(
        "Complete ", r.id, " ", model, ": ", result.status.error_message(), " ",
        result.status.error_details(), "\n",
        result.error_detail ? result.error_detail->DebugString() : std::string(), "\n",
        result.response.DebugString()));
    return result;
  }
  std::string Scrape(Replica& r) {
    std::string text = r.ScrapeMetrics();
    collected_.push_back(text);
    return text;
  }
  std::optional<double> Metric(Replica& r, const std::string& line_prefix) {
    return MetricValue(Scrape(r), line_prefix);
  }
  // A metric of the (first) control plane; a series not yet created is 0.
  double CpMetric(const std::string& line_prefix) {
    HttpOptions options;
    options.url = absl::StrCat("http://", cp_->metrics_address, "/metrics");
    std::string text = HttpFetch(options).body;
    collected_.push_back(text);
    return MetricValue(text, line_prefix).value_or(0);
  }

  // Scenario 28 for whatever the test did: every output of every process
  // (killed or restarted ones included), every scrape, error, response and
  // GetState answer, searched for every configured secret.
  void CheckNoSecrets() {
    std::vector<std::pair<std::string, std::string>> sources;
    auto add_process = [&](Subprocess* p) {
      if (p == nullptr) return;
      sources.push_back({p->stdout_path(), p->Stdout()});
      sources.push_back({p->stderr_path(), p->Stderr()});
    };
    for (Subprocess* p : old_processes_) add_process(p);
    for (ControlPlane* cp : {cp_.get(), cp2_.get()}) {
      if (cp == nullptr) continue;
      add_process(cp->process.get());
      HttpOptions options;
      options.url = absl::StrCat("http://", cp->metrics_address, "/metrics");
      sources.push_back({absl::StrCat("control-plane ", cp->grpc_address, " /metrics"),
                         HttpFetch(options).body});
    }
    for (auto* r : {r1_.get(), r2_.get()}) {
      if (r == nullptr) continue;
      add_process(r->process.get());
      sources.push_back({absl::StrCat(r->id, " /metrics"), r->ScrapeMetrics()});
    }
    for (auto* f : {primary_.get(), secondary_.get(), tertiary_.get()}) {
      if (f != nullptr) add_process(&f->process());
    }
    for (size_t i = 0; i < collected_.size(); ++i) {
      sources.push_back({absl::StrCat("collected #", i), collected_[i]});
    }
    size_t searched = 0;
    for (const auto& [where, text] : sources) {
      searched += text.size();
      for (const char* secret :
           {kPrimaryKey, kSecondaryKey, kTertiaryKey, kToken, kOperatorToken, kEnvKey}) {
        EXPECT_FALSE(absl::StrContains(text, secret))
            << "secret \"" << secret << "\" found in " << where << ":\n"
            << text.substr(0, 4000);
      }
    }
    EXPECT_GT(sources.size(), 10u);
    RecordProperty("secret_scan_sources", static_cast<int>(sources.size()));
    RecordProperty("secret_scan_bytes", static_cast<int>(searched));
  }

  std::unique_ptr<FakeProvider> primary_;
  std::unique_ptr<FakeProvider> secondary_;
  std::unique_ptr<FakeProvider> tertiary_;
  std::unique_ptr<ControlPlane> cp_;
  std::unique_ptr<ControlPlane> cp2_;  // TwoControlPlanes() only
  std::vector<std::unique_ptr<ControlPlane>> dead_cps_;  // kept for their outputs
  std::vector<Subprocess*> old_processes_;
  std::unique_ptr<Replica> r1_;
  std::unique_ptr<Replica> r2_;
  std::string token_path_;           // the replicas'
  std::string operator_token_path_;  // the control plane's --operator-token-file
  std::string state_dir_;
  std::string cp_port_;
  std::vector<std::string> collected_;
};

// 24: a 429 with Retry-After on A makes B skip the primary on its very next
// request, within a second.
TEST_F(FleetTest, Scenario24_RetryAfterOnOneReplicaSkipsThePrimaryOnTheOther) {
  std::optional<double> received_before = Metric(*r2_, "rebound_controlplane_blocks_received_total");
  ASSERT_TRUE(received_before.has_value()) << Scrape(*r2_);
  ASSERT_TRUE(primary_->SetScript({"status=429;retry_after=60"}));

  client::CallResult a = Complete(*r1_, kPrimary);
  absl::Time a_returned = absl::Now();
  ASSERT_TRUE(a.ok()) << a.status.error_message();
  EXPECT_EQ(a.response.served_model(), kSecondary);
  EXPECT_EQ(primary_->RequestCount(), 1);
  EXPECT_EQ(secondary_->RequestCount(), 1);

  // Poll B's /metrics as fast as it answers: the first scrape showing the
  // received block bounds the propagation from above (from A's answer).
  std::optional<absl::Time> b_received;
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::optional<double> v = MetricValue(r2_->ScrapeMetrics(),
                                              "rebound_controlplane_blocks_received_total");
        if (v && *v > *received_before) {
          b_received = absl::Now();
          return true;
        }
        return false;
      },
      absl::Seconds(5), absl::Milliseconds(1)))
      << r2_->process->Stderr();
  absl::Duration observed = *b_received - a_returned;

  // B's very next request skips the primary.
  client::CallResult b = Complete(*r2_, kPrimary);
  ASSERT_TRUE(b.ok()) << b.status.error_message();
  EXPECT_EQ(b.response.served_model(), kSecondary);
  EXPECT_EQ(primary_->RequestCount(), 1) << "B sent to the blocked primary";
  EXPECT_EQ(secondary_->RequestCount(), 2);

  // B's own measurement: from the block's creation on A to its arrival on B.
  std::string metrics = Scrape(*r2_);
  std::optional<double> sum = MetricValue(metrics, "rebound_controlplane_propagation_seconds_sum");
  std::optional<double> count =
      MetricValue(metrics, "rebound_controlplane_propagation_seconds_count");
  ASSERT_TRUE(sum && count) << metrics;
  ASSERT_GE(*count, 1);
  double histogram_seconds = *sum / *count;
  EXPECT_LT(observed, absl::Seconds(1));
  EXPECT_LT(histogram_seconds, 1.0);
  EXPECT_GE(histogram_seconds, 0.0);
  RecordProperty("propagation_observed_us", static_cast<int>(absl::ToInt64Microseconds(observed)));
  RecordProperty("propagation_histogram_us", static_cast<int>(histogram_seconds * 1e6));
  std::cerr << "scenario 24 propagation: A's answer -> B's metric "
            << absl::FormatDuration(observed) << " (upper bound, /metrics polling); "
            << "B's histogram (created on A -> applied on B) " << histogram_seconds * 1e3
            << " ms over " << *count << " block(s)\n";

  // The control plane lists A's block with A as origin.
  v1::GetStateResponse state = State();
  ASSERT_EQ(state.blocks_size(), 1) << state.DebugString();
  EXPECT_EQ(state.blocks(0).name(), kPrimary);
  EXPECT_EQ(state.blocks(0).origin(), "r1");
  EXPECT_EQ(state.blocks(0).kind(), v1::BLOCK_KIND_RETRY_AFTER);
  absl::Time until = absl::FromUnixMillis(state.blocks(0).until_unix_ms());
  EXPECT_GE(until, a_returned + absl::Seconds(55));
  EXPECT_LE(until, absl::Now() + absl::Seconds(61));
}

// 25: an invalid push is rejected with every error and its line and changes
// nothing; a valid one reaches both replicas, is ACKed and is in force.
TEST_F(FleetTest, Scenario25_InvalidPushChangesNothingValidPushIsAckedEverywhere) {
  v1::GetStateResponse before = State();
  EXPECT_EQ(before.policy_version().counter(), 0u);
  // Before any push, the tertiary model is unknown on both.
  for (Replica* r : {r1_.get(), r2_.get()}) EXPECT_FALSE(Complete(*r, kTertiary).ok());

  const std::string policies_sent = "rebound_controlplane_fanout_messages_total{type=\"policy\"}";
  const double sent_before = CpMetric(policies_sent);
  v1::PushPolicyResponse bad = Push(kInvalidPolicy);
  EXPECT_FALSE(bad.accepted());
  std::vector<int> error_lines;
  for (const auto& d : bad.diagnostics()) {
    if (d.severity() == v1::PolicyDiagnostic::SEVERITY_ERROR) {
      error_lines.push_back(d.line());
      EXPECT_FALSE(d.message().empty());
    }
  }
  EXPECT_THAT(error_lines, IsSupersetOf({5, 6, 8, 9})) << bad.DebugString();

  // Nothing was fanned out: PushPolicy queues a published version on every
  // stream, and counts it, before it answers; so no policy message can be
  // on its way once the answer is here. (Below, the valid push's ACKs show
  // no replica was offered anything else before it.)
  EXPECT_EQ(CpMetric(policies_sent), sent_before);
  v1::GetStateResponse after_bad = State();
  EXPECT_EQ(after_bad.policy_version().counter(), 0u);
  for (const char* id : {"r1", "r2"}) {
    auto r = Find(after_bad, id);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->acked_version().counter(), Find(before, id)->acked_version().counter());
    EXPECT_EQ(r->nacked_version().counter(), 0u);
  }
  for (Replica* r : {r1_.get(), r2_.get()}) {
    client::CallResult ok = Complete(*r, kPrimary);
    ASSERT_TRUE(ok.ok()) << ok.status.error_message();
    EXPECT_EQ(ok.response.served_model(), kPrimary);
    EXPECT_FALSE(Complete(*r, kTertiary).ok());
    EXPECT_EQ(Metric(*r, "rebound_policy_version"), 0);
  }

  absl::Time push_start = absl::Now();
  v1::PushPolicyResponse good = Push(PolicyWithTertiary(kTertiaryKey));
  ASSERT_TRUE(good.accepted()) << good.DebugString();
  EXPECT_EQ(good.version().counter(), 1u);
  ASSERT_TRUE(WaitBothAcked(1)) << State().DebugString();
  std::cerr << "scenario 25: push -> both ACKs visible in GetState: "
            << absl::FormatDuration(absl::Now() - push_start) << "\n";
  v1::GetStateResponse state = State();
  EXPECT_EQ(state.policy_version().counter(), 1u);
  EXPECT_EQ(state.policy_version().hash(), good.version().hash());
  for (const char* id : {"r1", "r2"}) {
    EXPECT_EQ(Find(state, id)->acked_version().hash(), good.version().hash());
    // A replica answers offers in order: had it been offered the invalid
    // policy, its answer would have come before this ACK.
    EXPECT_EQ(Find(state, id)->nacked_version().counter(), 0u);
    EXPECT_EQ(Find(state, id)->last_nack(), "");
  }
  // The fan-out count the invalid push left unchanged does count offers.
  EXPECT_GE(CpMetric(policies_sent), sent_before + 2) << "one offer per replica";
  EXPECT_EQ(CpMetric("rebound_controlplane_policy_nacks_total"), 0);
  for (Replica* r : {r1_.get(), r2_.get()}) {
    client::CallResult t = Complete(*r, kTertiary);
    ASSERT_TRUE(t.ok()) << r->id << ": " << t.status.error_message();
    EXPECT_EQ(t.response.served_model(), kTertiary);
    EXPECT_EQ(Metric(*r, "rebound_policy_version"), 1);
    EXPECT_EQ(Metric(*r, "rebound_policy_nacks_total"), 0);
  }
  EXPECT_EQ(tertiary_->RequestCount(), 2);
}

// 26: without the control plane both replicas serve and block locally; it
// comes back on the same port and state dir and everything resynchronises.
TEST_F(FleetTest, Scenario26_ControlPlaneLossIsFailOpenAndRestartResyncs) {
  v1::PushPolicyResponse pushed = Push(PolicyWithTertiary(kTertiaryKey));
  ASSERT_TRUE(pushed.accepted()) << pushed.DebugString();
  ASSERT_TRUE(WaitBothAcked(1)) << State().DebugString();

  cp_->process->Signal(SIGKILL);
  EXPECT_EQ(cp_->process->Wait(absl::Seconds(5)), 128 + SIGKILL);
  old_processes_.push_back(cp_->process.get());
  dead_cps_.push_back(std::move(cp_));
  std::string address = absl::StrCat("127.0.0.1:", cp_port_);
  for (Replica* r : {r1_.get(), r2_.get()}) {
    EXPECT_TRUE(WaitUntil([&] {
      return Metric(*r, absl::StrCat("rebound_controlplane_connected{address=\"", address,
                                     "\"}")) == 0;
    })) << r->id;
  }

  // Both keep serving the pushed policy.
  for (Replica* r : {r1_.get(), r2_.get()}) {
    client::CallResult t = Complete(*r, kTertiary);
    ASSERT_TRUE(t.ok()) << r->id << ": " << t.status.error_message();
    EXPECT_EQ(t.response.served_model(), kTertiary);
  }
  // A 429 + Retry-After on A blocks the primary locally.
  ASSERT_TRUE(primary_->SetScript({"status=429;retry_after=60"}));
  client::CallResult first = Complete(*r1_, kPrimary);
  ASSERT_TRUE(first.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.served_model(), kSecondary);
  client::CallResult second = Complete(*r1_, kPrimary);
  ASSERT_TRUE(second.ok()) << second.status.error_message();
  EXPECT_EQ(second.response.served_model(), kSecondary);
  EXPECT_EQ(primary_->RequestCount(), 1) << "A's next call went to the blocked primary";
  // B never heard of it (no control plane): it still uses the primary.
  client::CallResult b = Complete(*r2_, kPrimary);
  ASSERT_TRUE(b.ok()) << b.status.error_message();
  EXPECT_EQ(b.response.served_model(), kPrimary);
  EXPECT_EQ(primary_->RequestCount(), 2);

  // Restart on the same port and state dir.
  auto restarted = StartControlPlane(address, state_dir_, token_path_, operator_token_path_);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  cp_ = *std::move(restarted);
  EXPECT_EQ(cp_->grpc_address, address);
  absl::Time restart = absl::Now();
  ASSERT_TRUE(WaitBothConnected(absl::Seconds(15)))
      << State().DebugString() << r1_->process->Stderr();
  // Re-reported blocks, and the persisted policy re-ACKed.
  ASSERT_TRUE(WaitUntil(
      [&] {
        v1::GetStateResponse s = State();
        return s.blocks_size() == 1 && Find(s, "r1")->acked_version().counter() == 1 &&
               Find(s, "r2")->acked_version().counter() == 1;
      },
      absl::Seconds(10), absl::Milliseconds(50)))
      << State().DebugString();
  std::cerr << "scenario 26: restart -> both reconnected, block re-reported, policy ACKed: "
            << absl::FormatDuration(absl::Now() - restart) << "\n";
  v1::GetStateResponse state = State();
  EXPECT_EQ(state.policy_version().counter(), 1u);
  EXPECT_EQ(state.policy_version().hash(), pushed.version().hash());
  for (const char* id : {"r1", "r2"}) {
    EXPECT_EQ(Find(state, id)->acked_version().hash(), pushed.version().hash());
  }
  EXPECT_EQ(state.blocks(0).name(), kPrimary);
  EXPECT_EQ(state.blocks(0).origin(), "r1");

  // The re-reported block reaches B: its next request skips the primary.
  ASSERT_TRUE(WaitUntil([&] {
    return Metric(*r2_, "rebound_controlplane_blocks_received_total").value_or(0) >= 1;
  })) << Scrape(*r2_);
  client::CallResult b_after = Complete(*r2_, kPrimary);
  ASSERT_TRUE(b_after.ok()) << b_after.status.error_message();
  EXPECT_EQ(b_after.response.served_model(), kSecondary);
  EXPECT_EQ(primary_->RequestCount(), 2);
}

// Issue 10 item 13: a control plane that lost its state numbers its next
// push above what its replicas report in Hello, so the push is accepted
// everywhere (numbered from 1 again, every replica would refuse it).
TEST_F(FleetTest, AfterStateLossTheNextPushIsNumberedAboveTheReplicasVersion) {
  ASSERT_TRUE(Push(PolicyWithTertiary(kTertiaryKey)).accepted());
  v1::PushPolicyResponse second =
      Push(absl::StrCat(PolicyWithTertiary(kTertiaryKey), "    default: false\n"));
  ASSERT_TRUE(second.accepted()) << second.DebugString();
  ASSERT_EQ(second.version().counter(), 2u);
  ASSERT_TRUE(WaitBothAcked(2)) << State().DebugString();

  // The control plane loses its state directory and restarts on its port
  // once the replicas noticed it gone.
  cp_->process->Signal(SIGKILL);
  EXPECT_EQ(cp_->process->Wait(absl::Seconds(5)), 128 + SIGKILL);
  old_processes_.push_back(cp_->process.get());
  dead_cps_.push_back(std::move(cp_));
  std::string address = absl::StrCat("127.0.0.1:", cp_port_);
  for (Replica* r : {r1_.get(), r2_.get()}) {
    ASSERT_TRUE(WaitUntil([&] {
      return Metric(*r, absl::StrCat("rebound_controlplane_connected{address=\"", address,
                                     "\"}")) == 0;
    })) << r->id;
  }
  ASSERT_EQ(std::system(absl::StrCat("rm -rf '", state_dir_, "'").c_str()), 0);
  auto restarted = StartControlPlane(address, state_dir_, token_path_, operator_token_path_);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  cp_ = *std::move(restarted);
  ASSERT_TRUE(WaitAnswering(cp_.get()));
  ASSERT_TRUE(WaitBothConnected(absl::Seconds(15))) << State().DebugString();
  v1::GetStateResponse state = State();
  EXPECT_EQ(state.policy_version().counter(), 0u);
  EXPECT_EQ(Find(state, "r1")->acked_version().counter(), 2u);  // from its Hello

  v1::PushPolicyResponse third = Push(PolicyWithTertiary(kTertiaryKey));
  ASSERT_TRUE(third.accepted()) << third.DebugString();
  EXPECT_EQ(third.version().counter(), 3u);
  ASSERT_TRUE(WaitBothAcked(3)) << State().DebugString();
  for (Replica* r : {r1_.get(), r2_.get()}) {
    EXPECT_EQ(Metric(*r, "rebound_policy_version"), 3) << r->id;
  }
}

// 27: a policy needing a variable only r2 has: r1 NACKs with the reason and
// keeps its previous policy; r2 ACKs and serves it.
TEST_F(FleetTest, Scenario27_PolicyNeedingAnEnvVarOnlyR2HasIsNackedByR1AckedByR2) {
  v1::PushPolicyResponse pushed = Push(PolicyWithTertiary(absl::StrCat("$", kEnvVar)));
  ASSERT_TRUE(pushed.accepted()) << pushed.DebugString();
  ASSERT_EQ(pushed.version().counter(), 1u);
  ASSERT_TRUE(WaitUntil(
      [&] {
        v1::GetStateResponse s = State();
        return Find(s, "r1")->nacked_version().counter() == 1 &&
               Find(s, "r2")->acked_version().counter() == 1;
      },
      absl::Seconds(10), absl::Milliseconds(20)))
      << State().DebugString();
  v1::GetStateResponse state = State();
  v1::ReplicaState r1 = *Find(state, "r1");
  v1::ReplicaState r2 = *Find(state, "r2");
  EXPECT_EQ(r1.acked_version().counter(), 0u);
  EXPECT_EQ(r1.nacked_version().hash(), pushed.version().hash());
  EXPECT_THAT(r1.last_nack(), HasSubstr(kEnvVar));
  EXPECT_EQ(r2.acked_version().hash(), pushed.version().hash());
  EXPECT_TRUE(r2.last_nack().empty()) << r2.last_nack();

  // r1 keeps its file policy: the tertiary is unknown, the primary serves.
  EXPECT_FALSE(Complete(*r1_, kTertiary).ok());
  client::CallResult r1_primary = Complete(*r1_, kPrimary);
  ASSERT_TRUE(r1_primary.ok()) << r1_primary.status.error_message();
  EXPECT_EQ(r1_primary.response.served_model(), kPrimary);
  EXPECT_EQ(Metric(*r1_, "rebound_policy_version"), 0);
  EXPECT_EQ(Metric(*r1_, "rebound_policy_nacks_total"), 1);
  // r2 serves the tertiary with the key from its own environment.
  client::CallResult r2_tertiary = Complete(*r2_, kTertiary);
  ASSERT_TRUE(r2_tertiary.ok()) << r2_tertiary.status.error_message();
  EXPECT_EQ(r2_tertiary.response.served_model(), kTertiary);
  EXPECT_EQ(Metric(*r2_, "rebound_policy_version"), 1);
  std::vector<RecordedRequest> requests = tertiary_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(Header(requests[0], "authorization"), absl::StrCat("Bearer ", kEnvKey));
}

// 28: keys never appear anywhere: mixed traffic on both replicas (successes,
// 429s with blocks, provider errors, exhaustion, unknown models), pushes
// (accepted, rejected with keys on the failing lines, NACKed), then
// TearDown's scan of everything.
TEST_F(FleetTest, Scenario28_KeysNeverAppearInLogsMetricsErrorsOrResponses) {
  for (Replica* r : {r1_.get(), r2_.get()}) {
    ASSERT_TRUE(Complete(*r, kPrimary).ok());
    ASSERT_TRUE(Complete(*r, kSecondary).ok());
    EXPECT_FALSE(Complete(*r, "unknown/model").ok());
  }
  // Provider errors on both models: exhaustion with an ErrorDetail.
  ASSERT_TRUE(primary_->SetScript({"status=500", "status=401"}));
  ASSERT_TRUE(secondary_->SetScript({"status=503", "status=403"}));
  EXPECT_FALSE(Complete(*r1_, kPrimary).ok());
  EXPECT_FALSE(Complete(*r2_, kPrimary).ok());
  // A 429 + Retry-After: a block created on r1, fanned out to r2.
  ASSERT_TRUE(primary_->SetScript({"status=429;retry_after=30"}));
  ASSERT_TRUE(secondary_->SetScript({}));
  ASSERT_TRUE(Complete(*r1_, kPrimary).ok());
  ASSERT_TRUE(WaitUntil([&] {
    return Metric(*r2_, "rebound_controlplane_blocks_received_total").value_or(0) >= 1;
  }));
  ASSERT_TRUE(Complete(*r2_, kPrimary).ok());

  // A rejected push whose failing lines carry keys: the diagnostics must
  // not repeat them.
  std::string bad = absl::StrCat(
      "model_providers:\n"
      "  - model: openai/gpt-4o\n"
      "    base_url: not a url\n"
      "    access_key: ", kPrimaryKey, "\n"
      "    access_key: ", kSecondaryKey, "\n"
      "    retry_policy: {default_max_attempts: -1}\n"
      "  - model: openai/gpt-4o\n"
      "    access_key: [", kTertiaryKey, "]\n"
      "    bogus_field: ", kEnvKey, "\n");
  v1::PushPolicyResponse rejected = Push(bad);
  EXPECT_FALSE(rejected.accepted());
  EXPECT_GT(rejected.diagnostics_size(), 0);
  // A policy r1 NACKs, then one both ACK.
  ASSERT_TRUE(Push(PolicyWithTertiary(absl::StrCat("$", kEnvVar))).accepted());
  ASSERT_TRUE(WaitUntil([&] { return Find(State(), "r2")->acked_version().counter() == 1; }));
  ASSERT_TRUE(WaitUntil([&] { return Find(State(), "r1")->nacked_version().counter() == 1; }));
  ASSERT_TRUE(Push(PolicyWithTertiary(kTertiaryKey)).accepted());
  ASSERT_TRUE(WaitBothAcked(2)) << State().DebugString();
  ASSERT_TRUE(tertiary_->SetScript({"status=401", ""}));
  EXPECT_FALSE(Complete(*r1_, kTertiary).ok());
  EXPECT_TRUE(Complete(*r2_, kTertiary).ok());
  // A dry run and an unauthenticated call (its error is collected too).
  v1::PushPolicyRequest dry;
  dry.set_yaml(bad);
  dry.set_dry_run(true);
  v1::PushPolicyResponse dry_response;
  ASSERT_TRUE(cp_->stub->PushPolicy(TokenContext().get(), dry, &dry_response).ok());
  collected_.push_back(dry_response.DebugString());
  grpc::ClientContext wrong;
  wrong.AddMetadata("authorization", absl::StrCat("Bearer ", kOperatorToken, "x"));
  v1::GetStateResponse denied;
  grpc::Status status = cp_->stub->GetState(&wrong, {}, &denied);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  collected_.push_back(absl::StrCat(status.error_message(), status.error_details()));
  // The replicas' token is refused on operator RPCs, without echoing it.
  grpc::Status replica_token = cp_->stub->GetState(rebound::testing::TokenContext(kToken).get(),
                                                   {}, &denied);
  EXPECT_EQ(replica_token.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  collected_.push_back(absl::StrCat(replica_token.error_message(), replica_token.error_details()));
  for (Replica* r : {r1_.get(), r2_.get()}) Scrape(*r);
  State();
  // The keys did reach the right providers (sanity: the scan is meaningful).
  bool primary_key_seen = false;
  for (const RecordedRequest& q : primary_->Requests()) {
    primary_key_seen |= Header(q, "authorization") == absl::StrCat("Bearer ", kPrimaryKey);
  }
  EXPECT_TRUE(primary_key_seen);
  // TearDown scans everything.
}

// Two control planes, every replica talking to both (issue 10 item 13).
class FleetTwoControlPlanesTest : public FleetTest {
 protected:
  bool TwoControlPlanes() const override { return true; }
};

// The second control plane is behind: its push carries a counter below the
// version the replicas run. Each replica answers it with a NACK naming both
// versions and keeps its version, GetState on that control plane shows the
// NACK, and the same push again is numbered above the fleet and ACKed.
TEST_F(FleetTwoControlPlanesTest, AnOlderOfferIsNackedAndTheNextPushIsAcked) {
  ASSERT_TRUE(Push(PolicyWithTertiary(kTertiaryKey)).accepted());
  v1::PushPolicyResponse newer =
      Push(absl::StrCat(PolicyWithTertiary(kTertiaryKey), "    default: false\n"));
  ASSERT_EQ(newer.version().counter(), 2u) << newer.DebugString();
  ASSERT_TRUE(WaitBothAcked(2)) << State().DebugString();

  // The file's providers only: applied, this would drop the tertiary.
  std::string behind = absl::StrCat("model_providers:\n", FileProviders());
  v1::PushPolicyResponse offered = Push(behind, cp2_.get());
  ASSERT_TRUE(offered.accepted()) << offered.DebugString();
  ASSERT_EQ(offered.version().counter(), 1u);
  ASSERT_TRUE(WaitUntil(
      [&] {
        v1::GetStateResponse s = State(cp2_.get());
        return Find(s, "r1")->nacked_version().counter() == 1 &&
               Find(s, "r2")->nacked_version().counter() == 1;
      },
      absl::Seconds(10), absl::Milliseconds(20)))
      << "no NACK of the older offer\n" << State(cp2_.get()).DebugString();
  v1::GetStateResponse state = State(cp2_.get());
  for (const char* id : {"r1", "r2"}) {
    v1::ReplicaState r = *Find(state, id);
    EXPECT_EQ(r.nacked_version().hash(), offered.version().hash()) << id;
    EXPECT_THAT(r.last_nack(),
                HasSubstr(absl::StrCat("1/", offered.version().hash().substr(0, 12))));
    EXPECT_THAT(r.last_nack(),
                HasSubstr(absl::StrCat("2/", newer.version().hash().substr(0, 12))));
    EXPECT_EQ(r.acked_version().counter(), 2u) << id;  // what it runs
  }
  for (Replica* r : {r1_.get(), r2_.get()}) {
    EXPECT_EQ(Metric(*r, "rebound_policy_version"), 2) << r->id;
    client::CallResult t = Complete(*r, kTertiary);
    EXPECT_TRUE(t.ok()) << r->id << ": " << t.status.error_message();
  }

  // The NACK told the second control plane what the fleet runs: the same
  // text pushed again is republished above it and ACKed everywhere.
  v1::PushPolicyResponse again = Push(behind, cp2_.get());
  ASSERT_TRUE(again.accepted()) << again.DebugString();
  EXPECT_FALSE(again.unchanged());
  EXPECT_EQ(again.version().counter(), 3u);
  ASSERT_TRUE(WaitBothAcked(3, absl::Seconds(10), cp2_.get()))
      << State(cp2_.get()).DebugString();
  for (Replica* r : {r1_.get(), r2_.get()}) {
    EXPECT_EQ(Metric(*r, "rebound_policy_version"), 3) << r->id;
    EXPECT_FALSE(Complete(*r, kTertiary).ok()) << r->id;
  }
}

}  // namespace
}  // namespace rebound::testing
