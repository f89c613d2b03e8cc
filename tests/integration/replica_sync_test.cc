// The replica side of the control plane, end to end: the real rebound-server
// configured with a control-plane address, against a small fake
// rebound.v1.ControlPlane running inside this test process. The fake records
// every Hello, ACK/NACK and BlockReport and pushes Policy, BlockUpdate and
// BlockCleared messages on demand (SCENARIOS.md 24-27, replica side).
#include <signal.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rebound/v1/controlplane.grpc.pb.h"
#include "tests/integration/gateway_fixture.h"

namespace rebound::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPrimary[] = "openai/gpt-4o";
constexpr char kSecondary[] = "anthropic/claude-3-5-sonnet";
constexpr char kTertiary[] = "mistral/mistral-large";
constexpr char kToken[] = "cp-secret-token-3f9a";
constexpr char kEmptyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

using SyncStream = grpc::ServerReaderWriter<v1::ControlMessage, v1::ReplicaMessage>;

// A control plane reduced to what a replica sees: token check, recording,
// pushing to every connected stream.
class FakeControlPlane final : public v1::ControlPlane::Service {
 public:
  grpc::Status Sync(grpc::ServerContext* context, SyncStream* stream) override {
    std::string authorization;
    auto it = context->client_metadata().find("authorization");
    if (it != context->client_metadata().end()) {
      authorization.assign(it->second.data(), it->second.size());
    }
    {
      absl::MutexLock lock(&mu_);
      authorizations_.push_back(authorization);
    }
    if (authorization != absl::StrCat("Bearer ", kToken)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token");
    }
    {
      absl::MutexLock lock(&mu_);
      stream->SendInitialMetadata();
      streams_.insert(stream);
    }
    v1::ReplicaMessage message;
    while (stream->Read(&message)) {
      absl::MutexLock lock(&mu_);
      switch (message.message_case()) {
        case v1::ReplicaMessage::kHello: hellos_.push_back(message.hello()); break;
        case v1::ReplicaMessage::kAck: acks_.push_back(message.ack()); break;
        case v1::ReplicaMessage::kBlocks:
          for (const v1::Block& b : message.blocks().blocks()) reported_.push_back(b);
          break;
        default: break;
      }
    }
    absl::MutexLock lock(&mu_);
    streams_.erase(stream);
    return grpc::Status::OK;
  }

  // Writes `message` to every connected stream; how many got it.
  int Push(const v1::ControlMessage& message) {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (SyncStream* s : streams_) n += s->Write(message) ? 1 : 0;
    return n;
  }

  std::vector<std::string> authorizations() {
    absl::MutexLock lock(&mu_);
    return authorizations_;
  }
  std::vector<v1::Hello> hellos() {
    absl::MutexLock lock(&mu_);
    return hellos_;
  }
  std::vector<v1::PolicyAck> acks() {
    absl::MutexLock lock(&mu_);
    return acks_;
  }
  std::vector<v1::Block> reported() {
    absl::MutexLock lock(&mu_);
    return reported_;
  }
  int connected() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(streams_.size());
  }

 private:
  absl::Mutex mu_;
  std::set<SyncStream*> streams_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Hello> hellos_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::PolicyAck> acks_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Block> reported_ ABSL_GUARDED_BY(mu_);
};

// The fake served on a loopback port; Kill() stops it the way a crash looks
// to the replica (streams cut), and a new one can serve the same port.
class ControlPlaneServer {
 public:
  static std::unique_ptr<ControlPlaneServer> Start(int port = 0) {
    auto cp = std::make_unique<ControlPlaneServer>();
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &cp->port_);
    builder.RegisterService(&cp->service_);
    cp->server_ = builder.BuildAndStart();
    if (!cp->server_ || cp->port_ == 0) return nullptr;
    return cp;
  }
  ~ControlPlaneServer() { Kill(); }

  void Kill() {
    if (!server_) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    server_->Wait();
    server_.reset();
  }

  FakeControlPlane& fake() { return service_; }
  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  FakeControlPlane service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// The primary fails over to the secondary on 429 and honours Retry-After
// with a global, model-scoped block.
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

v1::ControlMessage PolicyMessage(uint64_t counter, const std::string& yaml) {
  v1::ControlMessage m;
  m.mutable_policy()->mutable_version()->set_counter(counter);
  m.mutable_policy()->mutable_version()->set_hash(absl::StrCat("hash-", counter));
  m.mutable_policy()->set_yaml(yaml);
  return m;
}

class ReplicaSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [fake, name] : {std::pair{&primary_, "primary"}, std::pair{&secondary_, "secondary"},
                              std::pair{&tertiary_, "tertiary"}}) {
      auto started = FakeProvider::Start({}, name);
      ASSERT_TRUE(started.ok()) << started.status();
      *fake = *std::move(started);
    }
    cp_ = ControlPlaneServer::Start();
    ASSERT_NE(cp_, nullptr);
    token_path_ = WriteTempFile("cp-token", absl::StrCat(kToken, "\n"));
  }

  // The two file providers (primary, secondary) as `model_providers` YAML.
  std::string FileProviders() {
    return absl::StrCat(ProviderEntry(kPrimary, primary_->base_url(), "key-primary", PrimaryPolicy()),
                        ProviderEntry(kSecondary, secondary_->base_url(), "key-secondary",
                              "    provider_interface: openai\n"));
  }

  // `control_plane_extra`: more lines inside control_plane (indented);
  // `env`: added to the replica's environment.
  void StartGateway(const std::string& control_plane_extra = "", HeaderList env = {}) {
    std::string yaml = absl::StrCat(ServerSection(), "control_plane:\n  addresses: [\"",
                                    cp_->address(), "\"]\n  replica_id: r1\n  token_file: ",
                                    token_path_, "\n", control_plane_extra, "model_providers:\n",
                                    FileProviders());
    auto gateway = GatewayProcess::Start(yaml, std::move(env));
    ASSERT_TRUE(gateway.ok()) << gateway.status() << "\n" << yaml;
    gateway_ = *std::move(gateway);
  }

  // Starts the gateway and waits for its first Hello.
  void StartConnected(const std::string& control_plane_extra = "", HeaderList env = {}) {
    StartGateway(control_plane_extra, std::move(env));
    ASSERT_NE(gateway_, nullptr);
    ASSERT_TRUE(WaitUntil([&] { return cp_->fake().hellos().size() == 1; }))
        << gateway_->process().Stderr();
    ASSERT_TRUE(WaitUntil([&] { return cp_->fake().connected() == 1; }));
  }

  client::CallResult Complete(const std::string& model) {
    return gateway_->client().Complete(ChatRequest(model), absl::Seconds(10));
  }

  // The value of an unlabelled metric line, or "" when absent.
  std::string Metric(const std::string& line_prefix) {
    std::string text = gateway_->ScrapeMetrics();
    std::string want = absl::StrCat("\n", line_prefix, " ");
    size_t at = text.find(want);
    if (at == std::string::npos) return "";
    size_t start = at + want.size();
    return text.substr(start, text.find('\n', start) - start);
  }

  std::unique_ptr<FakeProvider> primary_;
  std::unique_ptr<FakeProvider> secondary_;
  std::unique_ptr<FakeProvider> tertiary_;
  std::unique_ptr<ControlPlaneServer> cp_;
  std::unique_ptr<GatewayProcess> gateway_;
  std::string token_path_;
};

TEST_F(ReplicaSyncTest, HelloCarriesTokenReplicaIdAndLocalFileVersion) {
  StartConnected();
  std::vector<std::string> auth = cp_->fake().authorizations();
  ASSERT_EQ(auth.size(), 1u);
  EXPECT_EQ(auth[0], absl::StrCat("Bearer ", kToken));
  v1::Hello hello = cp_->fake().hellos()[0];
  EXPECT_EQ(hello.replica_id(), "r1");
  EXPECT_EQ(hello.build_version(), REBOUND_VERSION);
  EXPECT_EQ(hello.policy_version().counter(), 0u);
  EXPECT_EQ(hello.policy_version().hash(), kEmptyHash);
  EXPECT_EQ(hello.active_blocks_size(), 0);

  EXPECT_TRUE(WaitUntil([&] {
    return Metric(absl::StrCat("rebound_controlplane_connected{address=\"", cp_->address(),
                               "\"}")) == "1";
  })) << gateway_->ScrapeMetrics();
  EXPECT_EQ(Metric("rebound_policy_version"), "0");
  // The token never reaches the logs or the metrics (scenario 28).
  EXPECT_THAT(gateway_->process().Stderr(), Not(HasSubstr(kToken)));
  EXPECT_THAT(gateway_->ScrapeMetrics(), Not(HasSubstr(kToken)));
}

TEST_F(ReplicaSyncTest, PushedValidPolicyIsAckedAndServed) {
  StartConnected();
  // Before the push the tertiary model is unknown.
  EXPECT_FALSE(Complete(kTertiary).ok());

  std::string policy = absl::StrCat(
      "model_providers:\n", FileProviders(),
      ProviderEntry(kTertiary, tertiary_->base_url(), "key-tertiary", "    provider_interface: openai\n"));
  ASSERT_EQ(cp_->fake().Push(PolicyMessage(1, policy)), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 1; }))
      << gateway_->process().Stderr();
  v1::PolicyAck ack = cp_->fake().acks()[0];
  EXPECT_TRUE(ack.accepted()) << ack.error();
  EXPECT_EQ(ack.version().counter(), 1u);
  EXPECT_EQ(ack.version().hash(), "hash-1");
  EXPECT_EQ(ack.in_force().counter(), 1u);

  client::CallResult result = Complete(kTertiary);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kTertiary);
  EXPECT_EQ(tertiary_->RequestCount(), 1);
  EXPECT_EQ(Metric("rebound_policy_version"), "1");

  // The same version offered again (another control plane) is ACKed, not
  // reapplied.
  ASSERT_EQ(cp_->fake().Push(PolicyMessage(1, policy)), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 2; }));
  EXPECT_TRUE(cp_->fake().acks()[1].accepted());
  EXPECT_TRUE(Complete(kTertiary).ok());

  // A local file reload keeps the pushed model_providers.
  gateway_->process().Signal(SIGHUP);
  ASSERT_TRUE(gateway_->process()
                  .WaitForStderrLine("config_reloaded.*pushed policy kept", absl::Seconds(10))
                  .ok());
  EXPECT_TRUE(Complete(kTertiary).ok());
}

// Issue 10 item 13: a replica answers every offer. One older than the
// version in force (a control plane that lost its state, or a second one
// that is behind), or with its counter but other content, is NACKed with a
// reason naming both versions, and the version in force stays.
TEST_F(ReplicaSyncTest, OlderOrConflictingOfferIsNackedNamingBothVersions) {
  ASSERT_NO_FATAL_FAILURE(StartConnected());
  std::string policy = absl::StrCat(
      "model_providers:\n", FileProviders(),
      ProviderEntry(kTertiary, tertiary_->base_url(), "key-tertiary",
                    "    provider_interface: openai\n"));
  ASSERT_EQ(cp_->fake().Push(PolicyMessage(2, policy)), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 1; }))
      << gateway_->process().Stderr();
  ASSERT_TRUE(cp_->fake().acks()[0].accepted()) << cp_->fake().acks()[0].error();

  // Older: a valid policy that would drop the tertiary model.
  ASSERT_EQ(
      cp_->fake().Push(PolicyMessage(1, absl::StrCat("model_providers:\n", FileProviders()))), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 2; }))
      << "no answer to an older offer\n" << gateway_->process().Stderr();
  v1::PolicyAck older = cp_->fake().acks()[1];
  EXPECT_FALSE(older.accepted());
  EXPECT_EQ(older.version().counter(), 1u);
  EXPECT_EQ(older.version().hash(), "hash-1");
  EXPECT_THAT(older.error(), HasSubstr("1/hash-1"));
  EXPECT_THAT(older.error(), HasSubstr("2/hash-2"));
  EXPECT_THAT(older.error(), HasSubstr("older"));
  // ... and says what it runs instead, for the control plane's counter floor.
  EXPECT_EQ(older.in_force().counter(), 2u);
  EXPECT_EQ(older.in_force().hash(), "hash-2");

  // Same counter, other content.
  v1::ControlMessage conflicting =
      PolicyMessage(2, absl::StrCat("model_providers:\n", FileProviders()));
  conflicting.mutable_policy()->mutable_version()->set_hash("hash-other");
  ASSERT_EQ(cp_->fake().Push(conflicting), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 3; }))
      << "no answer to a conflicting offer\n" << gateway_->process().Stderr();
  v1::PolicyAck conflict = cp_->fake().acks()[2];
  EXPECT_FALSE(conflict.accepted());
  EXPECT_EQ(conflict.version().hash(), "hash-other");
  EXPECT_THAT(conflict.error(), HasSubstr("2/hash-other"));
  EXPECT_THAT(conflict.error(), HasSubstr("2/hash-2"));
  EXPECT_EQ(conflict.in_force().hash(), "hash-2");

  // Version 2 is still in force: the tertiary model serves.
  client::CallResult result = Complete(kTertiary);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kTertiary);
  EXPECT_EQ(Metric("rebound_policy_version"), "2");
}

// Issue 10 item 8: whoever can push a policy must not be able to make a
// replica read its environment into a URL (or anywhere but an access_key
// the replica's own file allows). Without control_plane.allowed_env a pushed
// policy expands nothing.
TEST_F(ReplicaSyncTest, PushedPolicyCannotReadTheReplicasEnvironment) {
  constexpr char kSecret[] = "replica-env-secret-0f3b9d";
  ASSERT_NO_FATAL_FAILURE(StartConnected("", {{"REBOUND_TEST_REPLICA_SECRET", kSecret}}));
  // The secret as a path segment of the URL the replica would call.
  std::string in_url = absl::StrCat(
      "model_providers:\n", FileProviders(),
      ProviderEntry(kTertiary,
                    absl::StrCat(tertiary_->base_url(), "/${REBOUND_TEST_REPLICA_SECRET}"),
                    "key-tertiary", "    provider_interface: openai\n"));
  ASSERT_EQ(cp_->fake().Push(PolicyMessage(1, in_url)), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 1; }))
      << gateway_->process().Stderr();
  v1::PolicyAck url_nack = cp_->fake().acks()[0];
  EXPECT_FALSE(url_nack.accepted());
  EXPECT_THAT(url_nack.error(), HasSubstr("base_url"));
  EXPECT_THAT(url_nack.error(), HasSubstr("REBOUND_TEST_REPLICA_SECRET"));
  EXPECT_THAT(url_nack.error(), HasSubstr("access_key"));  // where variables may go

  // As an access key, which would be sent to a provider the pusher chose:
  // the name is not on the (empty) allow-list.
  std::string in_key = absl::StrCat(
      "model_providers:\n", FileProviders(),
      ProviderEntry(kTertiary, tertiary_->base_url(), "$REBOUND_TEST_REPLICA_SECRET",
                    "    provider_interface: openai\n"));
  ASSERT_EQ(cp_->fake().Push(PolicyMessage(2, in_key)), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 2; }))
      << gateway_->process().Stderr();
  v1::PolicyAck key_nack = cp_->fake().acks()[1];
  EXPECT_FALSE(key_nack.accepted());
  EXPECT_THAT(key_nack.error(), HasSubstr("access_key"));
  EXPECT_THAT(key_nack.error(), HasSubstr("REBOUND_TEST_REPLICA_SECRET"));
  EXPECT_THAT(key_nack.error(), HasSubstr("allowed_env"));

  // Both kept the file policy; the secret went nowhere.
  EXPECT_EQ(Metric("rebound_policy_version"), "0");
  EXPECT_FALSE(Complete(kTertiary).ok());
  EXPECT_EQ(tertiary_->RequestCount(), 0);
  for (const v1::PolicyAck& ack : cp_->fake().acks()) {
    EXPECT_THAT(ack.error(), Not(HasSubstr(kSecret)));
  }
  EXPECT_THAT(gateway_->process().Stderr(), Not(HasSubstr(kSecret)));
}

// The replica's own control_plane.allowed_env lets a pushed access_key read
// the variables it lists, and only those.
TEST_F(ReplicaSyncTest, AllowListedAccessKeyVariableIsExpandedInAPushedPolicy) {
  constexpr char kKey[] = "allowed-env-key-7d21";
  ASSERT_NO_FATAL_FAILURE(StartConnected(
      "  allowed_env: [REBOUND_TEST_ALLOWED_KEY]\n",
      {{"REBOUND_TEST_ALLOWED_KEY", kKey}, {"REBOUND_TEST_OTHER_KEY", "other-9c"}}));
  std::string other = absl::StrCat(
      "model_providers:\n", FileProviders(),
      ProviderEntry(kTertiary, tertiary_->base_url(), "${REBOUND_TEST_OTHER_KEY}",
                    "    provider_interface: openai\n"));
  ASSERT_EQ(cp_->fake().Push(PolicyMessage(1, other)), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 1; }))
      << gateway_->process().Stderr();
  EXPECT_FALSE(cp_->fake().acks()[0].accepted());
  EXPECT_THAT(cp_->fake().acks()[0].error(), HasSubstr("REBOUND_TEST_OTHER_KEY"));

  std::string allowed = absl::StrCat(
      "model_providers:\n", FileProviders(),
      ProviderEntry(kTertiary, tertiary_->base_url(), "$REBOUND_TEST_ALLOWED_KEY",
                    "    provider_interface: openai\n"));
  ASSERT_EQ(cp_->fake().Push(PolicyMessage(2, allowed)), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 2; }))
      << gateway_->process().Stderr();
  EXPECT_TRUE(cp_->fake().acks()[1].accepted()) << cp_->fake().acks()[1].error();
  client::CallResult result = Complete(kTertiary);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  std::vector<RecordedRequest> requests = tertiary_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(Header(requests[0], "authorization"), absl::StrCat("Bearer ", kKey));
}

TEST_F(ReplicaSyncTest, PolicyNeedingAMissingVariableIsNackedAndOldPolicyKeepsServing) {
  // Allowed, so that the NACK is about the variable not being set.
  ASSERT_NO_FATAL_FAILURE(StartConnected("  allowed_env: [REBOUND_TEST_UNSET_KEY_VARIABLE]\n"));
  std::string policy = absl::StrCat("model_providers:\n", FileProviders(),
                                    ProviderEntry(kTertiary, tertiary_->base_url(),
                                          "$REBOUND_TEST_UNSET_KEY_VARIABLE",
                                          "    provider_interface: openai\n"));
  ASSERT_EQ(cp_->fake().Push(PolicyMessage(1, policy)), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 1; }));
  v1::PolicyAck nack = cp_->fake().acks()[0];
  EXPECT_FALSE(nack.accepted());
  EXPECT_EQ(nack.version().counter(), 1u);
  EXPECT_THAT(nack.error(), HasSubstr("REBOUND_TEST_UNSET_KEY_VARIABLE"));
  EXPECT_THAT(nack.error(), HasSubstr("not set"));

  // The previous (file) policy still serves; the rejected one is not in force.
  client::CallResult result = Complete(kPrimary);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kPrimary);
  EXPECT_FALSE(Complete(kTertiary).ok());
  EXPECT_EQ(tertiary_->RequestCount(), 0);
  EXPECT_EQ(Metric("rebound_policy_version"), "0");
  EXPECT_EQ(Metric("rebound_policy_nacks_total"), "1");
}

TEST_F(ReplicaSyncTest, BlockFromControlPlaneSkipsModelOnVeryNextRequest) {
  StartConnected();
  v1::ControlMessage update;
  v1::Block* block = update.mutable_blocks()->add_blocks();
  block->set_scope(v1::BLOCK_SCOPE_MODEL);
  block->set_name(kPrimary);
  block->set_kind(v1::BLOCK_KIND_RETRY_AFTER);
  block->set_until_unix_ms(absl::ToUnixMillis(absl::Now() + absl::Seconds(60)));
  block->set_origin("r2");
  block->set_created_at_unix_us(absl::ToUnixMicros(absl::Now()));
  ASSERT_EQ(cp_->fake().Push(update), 1);
  ASSERT_TRUE(WaitUntil(
      [&] { return Metric("rebound_controlplane_blocks_received_total") == "1"; }));

  client::CallResult result = Complete(kPrimary);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kSecondary);
  EXPECT_EQ(primary_->RequestCount(), 0);
  EXPECT_EQ(secondary_->RequestCount(), 1);
  EXPECT_EQ(Metric("rebound_controlplane_propagation_seconds_count"), "1");
  // A received block is not reported back (no echo). A report of it would
  // be queued while the replica handled the update, before it reads the
  // next message; so offer the version in force (ACKed, changes nothing)
  // and wait for that answer, which comes after any such report.
  v1::ControlMessage in_force = PolicyMessage(0, "");
  in_force.mutable_policy()->mutable_version()->set_hash(kEmptyHash);
  ASSERT_EQ(cp_->fake().Push(in_force), 1);
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().acks().size() == 1; }))
      << gateway_->process().Stderr();
  EXPECT_TRUE(cp_->fake().acks()[0].accepted()) << cp_->fake().acks()[0].error();
  EXPECT_TRUE(cp_->fake().reported().empty());
  EXPECT_EQ(Metric("rebound_controlplane_blocks_sent_total"), "0");

  // An operator's ClearBlock lifts it: the primary serves again.
  v1::ControlMessage cleared;
  cleared.mutable_cleared()->set_scope(v1::BLOCK_SCOPE_MODEL);
  cleared.mutable_cleared()->set_name(kPrimary);
  ASSERT_EQ(cp_->fake().Push(cleared), 1);
  ASSERT_TRUE(gateway_->process().WaitForStderrLine("block_cleared", absl::Seconds(5)).ok());
  client::CallResult after = Complete(kPrimary);
  ASSERT_TRUE(after.ok()) << after.status.error_message();
  EXPECT_EQ(after.response.served_model(), kPrimary);
  EXPECT_EQ(primary_->RequestCount(), 1);
}

TEST_F(ReplicaSyncTest, LocalRetryAfterBlockIsReportedWithCreatedAt) {
  StartConnected();
  ASSERT_TRUE(primary_->SetScript({"status=429;retry_after=60"}));
  absl::Time before = absl::Now();
  client::CallResult result = Complete(kPrimary);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), kSecondary);
  ASSERT_TRUE(WaitUntil([&] { return !cp_->fake().reported().empty(); }))
      << gateway_->process().Stderr();
  v1::Block reported = cp_->fake().reported()[0];
  EXPECT_EQ(reported.scope(), v1::BLOCK_SCOPE_MODEL);
  EXPECT_EQ(reported.name(), kPrimary);
  EXPECT_EQ(reported.kind(), v1::BLOCK_KIND_RETRY_AFTER);
  EXPECT_EQ(reported.origin(), "r1");
  EXPECT_GE(reported.created_at_unix_us(), absl::ToUnixMicros(before));
  EXPECT_LE(reported.created_at_unix_us(), absl::ToUnixMicros(absl::Now()));
  absl::Time until = absl::FromUnixMillis(reported.until_unix_ms());
  EXPECT_GE(until, before + absl::Seconds(59));
  EXPECT_LE(until, absl::Now() + absl::Seconds(61));
  EXPECT_TRUE(WaitUntil(
      [&] { return Metric("rebound_controlplane_blocks_sent_total") == "1"; }));
}

TEST_F(ReplicaSyncTest, ServesWithoutControlPlaneAndResyncsBlocksOnReconnect) {
  StartConnected();
  int port = cp_->port();
  cp_->Kill();
  ASSERT_TRUE(WaitUntil([&] {
    return Metric(absl::StrCat("rebound_controlplane_connected{address=\"127.0.0.1:", port,
                               "\"}")) == "0";
  }));

  // Fail-open: the server serves, and a local block still works locally.
  ASSERT_TRUE(primary_->SetScript({"status=429;retry_after=60"}));
  client::CallResult first = Complete(kPrimary);
  ASSERT_TRUE(first.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.served_model(), kSecondary);
  client::CallResult second = Complete(kPrimary);
  ASSERT_TRUE(second.ok()) << second.status.error_message();
  EXPECT_EQ(second.response.served_model(), kSecondary);
  EXPECT_EQ(primary_->RequestCount(), 1);

  // The control plane comes back on the same address: the replica
  // reconnects and its Hello carries the block created meanwhile.
  cp_ = ControlPlaneServer::Start(port);
  ASSERT_NE(cp_, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return !cp_->fake().hellos().empty(); }, absl::Seconds(15)))
      << gateway_->process().Stderr();
  v1::Hello hello = cp_->fake().hellos()[0];
  EXPECT_EQ(hello.replica_id(), "r1");
  ASSERT_EQ(hello.active_blocks_size(), 1);
  EXPECT_EQ(hello.active_blocks(0).name(), kPrimary);
  EXPECT_EQ(hello.active_blocks(0).origin(), "r1");
  EXPECT_EQ(hello.active_blocks(0).kind(), v1::BLOCK_KIND_RETRY_AFTER);
  EXPECT_TRUE(WaitUntil([&] {
    return Metric(absl::StrCat("rebound_controlplane_connected{address=\"127.0.0.1:", port,
                               "\"}")) == "1";
  }));
}

TEST_F(ReplicaSyncTest, WrongTokenIsRefusedAndServerKeepsServing) {
  token_path_ = WriteTempFile("cp-token-wrong", "not-the-token\n");
  StartGateway();
  ASSERT_TRUE(WaitUntil([&] { return cp_->fake().authorizations().size() >= 2; }));
  EXPECT_TRUE(cp_->fake().hellos().empty());
  client::CallResult result = Complete(kPrimary);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_THAT(gateway_->process().Stderr(), Not(HasSubstr("not-the-token")));
}

TEST_F(ReplicaSyncTest, DrainStopsTheClientCleanly) {
  StartConnected();
  gateway_->process().Signal(SIGTERM);
  EXPECT_EQ(gateway_->process().Wait(absl::Seconds(15)), 0);
  EXPECT_TRUE(WaitUntil([&] { return cp_->fake().connected() == 0; }));
}

}  // namespace
}  // namespace rebound::testing
