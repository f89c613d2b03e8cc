// rebound-controlplane as a process: authentication, policy pushes and their
// persistence, replicas' Sync streams (written here as fake replicas), block
// fan-out and clearing, two instances side by side, and a flooding replica.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rebound/v1/controlplane.grpc.pb.h"
#include "tests/integration/grpc_probes.h"
#include "tests/integration/test_harness.h"

namespace rebound::testing {
namespace {

using rebound::v1::Block;
using rebound::v1::ControlMessage;
using rebound::v1::ReplicaMessage;
using ::testing::HasSubstr;

// Replicas hold the Sync token, operators (the CLI) the other one.
constexpr char kReplicaToken[] = "s3cret-replica-token-for-tests";
constexpr char kOperatorToken[] = "s3cret-operator-token-for-tests";

constexpr char kValidPolicy[] =
    "model_providers:\n"
    "  - model: openai/gpt-4o\n"
    "    base_url: https://api.openai.com\n"
    "    access_key: $OPENAI_API_KEY\n"
    "    retry_policy:\n"
    "      fallback_models: [anthropic/claude-3-5-sonnet]\n"
    "  - model: anthropic/claude-3-5-sonnet\n"
    "    base_url: https://api.anthropic.com\n"
    "    access_key: $ANTHROPIC_API_KEY\n";

// Errors on lines 5, 6 and 8 (and a server section on line 9).
constexpr char kInvalidPolicy[] =
    "model_providers:\n"
    "  - model: openai/gpt-4o\n"
    "    access_key: $OPENAI_API_KEY\n"
    "    retry_policy:\n"
    "      default_max_attempts: 0\n"
    "      backoff: {base_ms: 0, apply_to: global}\n"
    "      on_status_codes:\n"
    "        - {codes: [700], strategy: same_model}\n"
    "server:\n"
    "  listen: 0.0.0.0:1\n";

int64_t InMs(absl::Duration d) { return absl::ToUnixMillis(absl::Now() + d); }

Block MakeBlock(std::string name, absl::Duration ahead, std::string origin = "",
                rebound::v1::BlockScope scope = rebound::v1::BLOCK_SCOPE_MODEL) {
  Block b;
  b.set_scope(scope);
  b.set_name(std::move(name));
  b.set_kind(rebound::v1::BLOCK_KIND_RETRY_AFTER);
  b.set_until_unix_ms(InMs(ahead));
  b.set_origin(std::move(origin));
  b.set_created_at_unix_us(absl::ToUnixMicros(absl::Now()));
  return b;
}

// A running rebound-controlplane.
class ControlPlaneProcess {
 public:
  static std::unique_ptr<ControlPlaneProcess> Start(const std::string& state_dir,
                                                    std::vector<std::string> extra = {},
                                                    std::string name = "controlplane") {
    std::string replica_tokens =
        WriteTempFile(name + ".replica-tokens", absl::StrCat(kReplicaToken, "\n"));
    std::string operator_tokens =
        WriteTempFile(name + ".operator-tokens", absl::StrCat(kOperatorToken, "\n"));
    std::vector<std::string> args = {"--listen",
                                     "127.0.0.1:0",
                                     "--metrics-listen",
                                     "127.0.0.1:0",
                                     "--state-dir",
                                     state_dir,
                                     "--replica-token-file",
                                     replica_tokens,
                                     "--operator-token-file",
                                     operator_tokens};
    args.insert(args.end(), extra.begin(), extra.end());
    auto process = Subprocess::Start(
        {.binary = BinaryPath("rebound-controlplane"), .args = args, .name = name});
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return nullptr;
    absl::StatusOr<std::string> ready = (*process)->WaitForLine(
        "^rebound-controlplane ready grpc=\\S+ metrics=\\S+$", absl::Seconds(20));
    EXPECT_TRUE(ready.ok()) << ready.status();
    if (!ready.ok()) return nullptr;
    auto cp = std::unique_ptr<ControlPlaneProcess>(new ControlPlaneProcess);
    cp->process = std::move(*process);
    size_t g = ready->find("grpc=") + 5;
    cp->grpc_address = ready->substr(g, ready->find(' ', g) - g);
    cp->metrics_address = ready->substr(ready->find("metrics=") + 8);
    // GetState lists every block; large tables exceed gRPC's 4 MiB default.
    grpc::ChannelArguments channel_args;
    channel_args.SetMaxReceiveMessageSize(64 << 20);
    cp->channel = grpc::CreateCustomChannel(cp->grpc_address, grpc::InsecureChannelCredentials(),
                                            channel_args);
    cp->stub = rebound::v1::ControlPlane::NewStub(cp->channel);
    return cp;
  }

  // A client context with the operator token (or `token` instead), bounded
  // in time.
  static std::unique_ptr<grpc::ClientContext> Context(
      std::optional<std::string> token = std::string(kOperatorToken),
      absl::Duration timeout = absl::Seconds(10)) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (token) context->AddMetadata("authorization", absl::StrCat("Bearer ", *token));
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return context;
  }

  rebound::v1::GetStateResponse State() {
    rebound::v1::GetStateResponse response;
    grpc::Status status = stub->GetState(Context().get(), {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  rebound::v1::PushPolicyResponse Push(const std::string& yaml, bool dry_run = false) {
    rebound::v1::PushPolicyRequest request;
    request.set_yaml(yaml);
    request.set_dry_run(dry_run);
    rebound::v1::PushPolicyResponse response;
    grpc::Status status = stub->PushPolicy(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::unique_ptr<Subprocess> process;
  std::string grpc_address;
  std::string metrics_address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<rebound::v1::ControlPlane::Stub> stub;

 private:
  ControlPlaneProcess() = default;
};

// A replica's side of Sync, written for the tests: sends what it is told and
// records everything it receives on a reader thread.
class FakeReplica {
 public:
  // `read`: false for a replica that never reads what it is sent.
  FakeReplica(ControlPlaneProcess* cp, std::string id,
              std::optional<std::string> token = kReplicaToken,
              bool read = true)
      : id_(std::move(id)) {
    context_ = ControlPlaneProcess::Context(token, absl::Minutes(5));
    if (read) {
      stream_ = cp->stub->Sync(context_.get());
    } else {
      // A connection of its own with a fixed 64 KiB window (no BDP probing,
      // which would otherwise grow it from the other streams' traffic), so
      // what it does not read stays at the control plane.
      grpc::ChannelArguments args;
      args.SetInt("grpc.http2.bdp_probe", 0);
      args.SetInt("grpc.channel_id", 1);  // not shared with the test's channel
      own_stub_ = rebound::v1::ControlPlane::NewStub(grpc::CreateCustomChannel(
          cp->grpc_address, grpc::InsecureChannelCredentials(), args));
      stream_ = own_stub_->Sync(context_.get());
      return;
    }
    reader_ = std::thread([this] {
      ControlMessage message;
      while (stream_->Read(&message)) {
        std::lock_guard<std::mutex> lock(mu_);
        received_.push_back(message);
        cv_.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      cv_.notify_all();
    });
  }
  ~FakeReplica() {
    Cancel();
    if (reader_.joinable()) reader_.join();
  }

  // Ends the stream; a Write blocked by flow control returns false. Safe from
  // any thread while another one is writing.
  void Cancel() { context_->TryCancel(); }

  bool Hello(std::vector<Block> blocks = {}, uint64_t running_counter = 0) {
    ReplicaMessage m;
    m.mutable_hello()->set_replica_id(id_);
    m.mutable_hello()->set_build_version("test-1.0");
    m.mutable_hello()->mutable_policy_version()->set_counter(running_counter);
    for (Block& b : blocks) *m.mutable_hello()->add_active_blocks() = std::move(b);
    return Send(m);
  }
  bool Report(std::vector<Block> blocks) {
    ReplicaMessage m;
    for (Block& b : blocks) *m.mutable_blocks()->add_blocks() = std::move(b);
    return Send(m);
  }
  // `in_force`: the version the replica says it runs after this answer.
  bool Ack(const rebound::v1::PolicyVersion& version, bool accepted, std::string error = "",
           std::optional<rebound::v1::PolicyVersion> in_force = std::nullopt) {
    ReplicaMessage m;
    *m.mutable_ack()->mutable_version() = version;
    m.mutable_ack()->set_accepted(accepted);
    m.mutable_ack()->set_error(std::move(error));
    if (in_force) *m.mutable_ack()->mutable_in_force() = *in_force;
    return Send(m);
  }
  bool Send(const ReplicaMessage& m) {
    std::lock_guard<std::mutex> lock(write_mu_);
    return stream_->Write(m);
  }

  // How many received messages match `match`.
  int Count(const std::function<bool(const ControlMessage&)>& match) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count_if(received_.begin(), received_.end(), match));
  }

  // The first received message (from the start) matching `match`.
  std::optional<ControlMessage> WaitFor(std::function<bool(const ControlMessage&)> match,
                                        absl::Duration timeout = absl::Seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    auto deadline = absl::ToChronoTime(absl::Now() + timeout);
    while (true) {
      for (const ControlMessage& m : received_) {
        if (match(m)) return m;
      }
      if (ended_) return std::nullopt;
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
        for (const ControlMessage& m : received_) {
          if (match(m)) return m;
        }
        return std::nullopt;
      }
    }
  }
  std::optional<ControlMessage> WaitForBlock(std::string_view name,
                                             absl::Duration timeout = absl::Seconds(10)) {
    return WaitFor(
        [name](const ControlMessage& m) {
          if (!m.has_blocks()) return false;
          return std::any_of(m.blocks().blocks().begin(), m.blocks().blocks().end(),
                             [name](const Block& b) { return b.name() == name; });
        },
        timeout);
  }
  std::vector<ControlMessage> Received() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::vector<ControlMessage>(received_.begin(), received_.end());
  }
  // Waits for the server to end the stream; its status.
  grpc::Status Finish() {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(10), [this] { return ended_; });
    }
    return stream_->Finish();
  }
  bool ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }

 private:
  std::string id_;
  std::unique_ptr<rebound::v1::ControlPlane::Stub> own_stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<ReplicaMessage, ControlMessage>> stream_;
  std::thread reader_;
  std::mutex write_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ControlMessage> received_;
  bool ended_ = false;
};

// Polls GetState until `done` holds (up to 10 s).
bool WaitUntilState(ControlPlaneProcess* cp,
                    const std::function<bool(const rebound::v1::GetStateResponse&)>& done) {
  return WaitUntil([&] { return done(cp->State()); }, absl::Seconds(10), absl::Milliseconds(20));
}

// GET /metrics of the control plane.
std::string Metrics(ControlPlaneProcess* cp) {
  return HttpGet(absl::StrCat("http://", cp->metrics_address, "/metrics"));
}

// Whether a received message carries a block named `name`.
bool HasBlock(const std::vector<ControlMessage>& received, std::string_view name) {
  return std::any_of(received.begin(), received.end(), [name](const ControlMessage& m) {
    return m.has_blocks() && std::any_of(m.blocks().blocks().begin(), m.blocks().blocks().end(),
                                         [name](const Block& b) { return b.name() == name; });
  });
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_dir_ = TestTempDir() + "/state";
    cp_ = ControlPlaneProcess::Start(state_dir_);
    ASSERT_NE(cp_, nullptr);
  }

  std::string state_dir_;
  std::unique_ptr<ControlPlaneProcess> cp_;
};

TEST_F(ControlPlaneTest, EveryRpcWithoutTheRightTokenIsUnauthenticatedAndChangesNothing) {
  for (std::optional<std::string> token :
       {std::optional<std::string>(), std::optional<std::string>("wrong"),
        std::optional<std::string>(absl::StrCat(kOperatorToken, "x")),
        std::optional<std::string>(absl::StrCat(kReplicaToken, "x")),
        std::optional<std::string>("")}) {
    rebound::v1::PushPolicyRequest push;
    push.set_yaml(kValidPolicy);
    rebound::v1::PushPolicyResponse push_response;
    EXPECT_EQ(cp_->stub->PushPolicy(ControlPlaneProcess::Context(token).get(), push,
                                    &push_response)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    rebound::v1::GetStateResponse state;
    EXPECT_EQ(cp_->stub->GetState(ControlPlaneProcess::Context(token).get(), {}, &state)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    rebound::v1::ClearBlockRequest clear;
    clear.set_scope(rebound::v1::BLOCK_SCOPE_MODEL);
    clear.set_name("openai/gpt-4o");
    rebound::v1::ClearBlockResponse cleared;
    EXPECT_EQ(cp_->stub->ClearBlock(ControlPlaneProcess::Context(token).get(), clear, &cleared)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    FakeReplica replica(cp_.get(), "intruder", token);
    replica.Hello({MakeBlock("openai/gpt-4o", absl::Seconds(60))});
    EXPECT_EQ(replica.Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_TRUE(replica.Received().empty());
  }
  rebound::v1::GetStateResponse state = cp_->State();
  EXPECT_EQ(state.policy_version().counter(), 0u);
  EXPECT_EQ(state.replicas_size(), 0);
  EXPECT_EQ(state.blocks_size(), 0);
  // The tokens never show in the output.
  EXPECT_THAT(cp_->process->Stderr(), ::testing::Not(HasSubstr(kOperatorToken)));
  EXPECT_THAT(cp_->process->Stderr(), ::testing::Not(HasSubstr(kReplicaToken)));
}

// Issue 10 item 8: the token every replica holds must not push policies (a
// pushed policy reaches every replica), read the fleet's state or lift
// blocks; and an operator token is not a replica's. A valid token in the
// wrong role is PERMISSION_DENIED, and nothing changes.
TEST_F(ControlPlaneTest, EachTokenIsAcceptedOnlyForItsOwnRole) {
  rebound::v1::PushPolicyRequest push;
  push.set_yaml(kValidPolicy);
  rebound::v1::PushPolicyResponse push_response;
  grpc::Status pushed =
      cp_->stub->PushPolicy(ControlPlaneProcess::Context(kReplicaToken).get(), push,
                            &push_response);
  EXPECT_EQ(pushed.error_code(), grpc::StatusCode::PERMISSION_DENIED) << pushed.error_message();
  EXPECT_THAT(pushed.error_message(), HasSubstr("operator token"));
  EXPECT_FALSE(push_response.accepted());
  rebound::v1::GetStateResponse denied_state;
  EXPECT_EQ(cp_->stub->GetState(ControlPlaneProcess::Context(kReplicaToken).get(), {},
                                &denied_state)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  rebound::v1::ClearBlockRequest clear;
  clear.set_scope(rebound::v1::BLOCK_SCOPE_MODEL);
  clear.set_name("openai/gpt-4o");
  rebound::v1::ClearBlockResponse cleared;
  EXPECT_EQ(cp_->stub->ClearBlock(ControlPlaneProcess::Context(kReplicaToken).get(), clear,
                                  &cleared)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  FakeReplica impostor(cp_.get(), "operator-as-replica", kOperatorToken);
  impostor.Hello({MakeBlock("openai/gpt-4o", absl::Seconds(60))});
  grpc::Status sync = impostor.Finish();
  EXPECT_EQ(sync.error_code(), grpc::StatusCode::PERMISSION_DENIED) << sync.error_message();
  EXPECT_THAT(sync.error_message(), HasSubstr("replica token"));
  EXPECT_TRUE(impostor.Received().empty());

  // Each token in its own role works.
  FakeReplica replica(cp_.get(), "replica-a");
  ASSERT_TRUE(replica.Hello());
  ASSERT_TRUE(replica.WaitFor([](const ControlMessage& m) { return m.has_blocks(); }));
  rebound::v1::GetStateResponse state = cp_->State();
  EXPECT_EQ(state.policy_version().counter(), 0u);
  ASSERT_EQ(state.replicas_size(), 1);
  EXPECT_EQ(state.replicas(0).replica_id(), "replica-a");
  EXPECT_EQ(state.blocks_size(), 0);

  std::string metrics = HttpGet(absl::StrCat("http://", cp_->metrics_address, "/metrics"));
  for (const char* rpc : {"PushPolicy", "GetState", "ClearBlock", "Sync"}) {
    EXPECT_THAT(metrics, HasSubstr(absl::StrCat(
                             "rebound_controlplane_permission_denied_total{rpc=\"", rpc, "\"} 1")))
        << rpc;
  }
  EXPECT_THAT(cp_->process->Stderr(), ::testing::Not(HasSubstr(kOperatorToken)));
  EXPECT_THAT(cp_->process->Stderr(), ::testing::Not(HasSubstr(kReplicaToken)));
}

TEST_F(ControlPlaneTest, InvalidPushListsEveryErrorWithItsLineAndChangesNothing) {
  rebound::v1::PushPolicyResponse bad = cp_->Push(kInvalidPolicy);
  EXPECT_FALSE(bad.accepted());
  std::vector<int> error_lines;
  for (const auto& d : bad.diagnostics()) {
    if (d.severity() == rebound::v1::PolicyDiagnostic::SEVERITY_ERROR) {
      error_lines.push_back(d.line());
    }
  }
  for (int line : {5, 6, 8, 9}) {
    EXPECT_THAT(error_lines, ::testing::Contains(line)) << "line " << line;
  }
  EXPECT_EQ(cp_->State().policy_version().counter(), 0u);

  rebound::v1::PushPolicyResponse dry = cp_->Push(kValidPolicy, /*dry_run=*/true);
  EXPECT_TRUE(dry.accepted());
  EXPECT_EQ(dry.version().counter(), 1u);
  EXPECT_EQ(cp_->State().policy_version().counter(), 0u);

  rebound::v1::PushPolicyResponse good = cp_->Push(kValidPolicy);
  EXPECT_TRUE(good.accepted());
  EXPECT_FALSE(good.unchanged());
  EXPECT_EQ(good.version().counter(), 1u);
  EXPECT_EQ(good.version().hash().size(), 64u);
  rebound::v1::PushPolicyResponse again = cp_->Push(kValidPolicy);
  EXPECT_TRUE(again.accepted());
  EXPECT_TRUE(again.unchanged());
  EXPECT_EQ(again.version().counter(), 1u);

  // Rejected after an accepted one: the published version stays.
  EXPECT_FALSE(cp_->Push(kInvalidPolicy).accepted());
  rebound::v1::GetStateResponse state = cp_->State();
  EXPECT_EQ(state.policy_version().counter(), 1u);
  EXPECT_EQ(state.policy_version().hash(), good.version().hash());
}

TEST_F(ControlPlaneTest, HelloGetsThePolicyAndASnapshotAndBlocksFanOut) {
  rebound::v1::PushPolicyResponse pushed = cp_->Push(kValidPolicy);
  ASSERT_TRUE(pushed.accepted());

  FakeReplica a(cp_.get(), "replica-a");
  ASSERT_TRUE(a.Hello({MakeBlock("openai/gpt-4o", absl::Seconds(60))}));
  auto policy = a.WaitFor([](const ControlMessage& m) { return m.has_policy(); });
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(policy->policy().version().counter(), 1u);
  EXPECT_EQ(policy->policy().yaml(), kValidPolicy);
  ASSERT_TRUE(a.WaitFor([](const ControlMessage& m) {
    return m.has_blocks() && m.blocks().full_snapshot();
  }));
  std::vector<ControlMessage> first = a.Received();
  ASSERT_GE(first.size(), 2u);
  EXPECT_TRUE(first[0].has_policy()) << "the policy comes first";

  FakeReplica b(cp_.get(), "replica-b");
  ASSERT_TRUE(b.Hello());
  // B's snapshot carries A's Hello block, with A as origin.
  auto snapshot = b.WaitFor([](const ControlMessage& m) {
    return m.has_blocks() && m.blocks().full_snapshot() && m.blocks().blocks_size() == 1;
  });
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->blocks().blocks(0).name(), "openai/gpt-4o");
  EXPECT_EQ(snapshot->blocks().blocks(0).origin(), "replica-a");

  // A block A reports reaches B as it happens, with the relay time set.
  absl::Time sent = absl::Now();
  ASSERT_TRUE(a.Report({MakeBlock("anthropic", absl::Seconds(30), "replica-a",
                                  rebound::v1::BLOCK_SCOPE_PROVIDER)}));
  auto update = b.WaitForBlock("anthropic");
  ASSERT_TRUE(update.has_value());
  absl::Duration propagation = absl::Now() - sent;
  EXPECT_FALSE(update->blocks().full_snapshot());
  const Block& relayed = update->blocks().blocks(0);
  EXPECT_EQ(relayed.scope(), rebound::v1::BLOCK_SCOPE_PROVIDER);
  EXPECT_GT(relayed.relayed_at_unix_us(), 0);
  EXPECT_GT(relayed.created_at_unix_us(), 0);
  EXPECT_LT(propagation, absl::Seconds(1));
  std::cerr << "propagation A -> control plane -> B: " << absl::FormatDuration(propagation)
            << "\n";
  // ... and is not echoed back to A. An echo would be queued to A with the
  // fan-out B just received; a block B reports now is queued to A after it.
  ASSERT_TRUE(b.Report({MakeBlock("marker/from-b", absl::Seconds(30))}));
  ASSERT_TRUE(a.WaitForBlock("marker/from-b"));
  EXPECT_FALSE(HasBlock(a.Received(), "anthropic"));

  // A shorter re-report changes nothing and is not fanned out. The control
  // plane reads A's stream in order: once B has a block A reported after
  // the shorter one, B would have had that one's fan-out before it.
  size_t before = b.Received().size();
  ASSERT_TRUE(a.Report({MakeBlock("anthropic", absl::Seconds(5), "replica-a",
                                  rebound::v1::BLOCK_SCOPE_PROVIDER)}));
  ASSERT_TRUE(a.Report({MakeBlock("marker/from-a", absl::Seconds(30))}));
  ASSERT_TRUE(b.WaitForBlock("marker/from-a"));
  std::vector<ControlMessage> after = b.Received();
  ASSERT_EQ(after.size(), before + 1) << "only the marker";
  EXPECT_FALSE(HasBlock({after.back()}, "anthropic"));
  rebound::v1::GetStateResponse state = cp_->State();
  EXPECT_EQ(state.blocks_size(), 4);  // gpt-4o, anthropic and the two markers
  for (const Block& blk : state.blocks()) {
    if (blk.name() == "anthropic") {
      EXPECT_EQ(blk.until_unix_ms(), relayed.until_unix_ms()) << "the 30 s block stays";
    }
  }
}

TEST_F(ControlPlaneTest, AcksAndNacksShowInGetState) {
  rebound::v1::PushPolicyResponse pushed = cp_->Push(kValidPolicy);
  FakeReplica a(cp_.get(), "replica-a");
  FakeReplica b(cp_.get(), "replica-b");
  ASSERT_TRUE(a.Hello());
  ASSERT_TRUE(b.Hello());
  ASSERT_TRUE(a.WaitFor([](const ControlMessage& m) { return m.has_policy(); }));
  ASSERT_TRUE(b.WaitFor([](const ControlMessage& m) { return m.has_policy(); }));
  ASSERT_TRUE(a.Ack(pushed.version(), true));
  ASSERT_TRUE(b.Ack(pushed.version(), false, "ANTHROPIC_API_KEY is not set in this environment"));
  rebound::v1::GetStateResponse state;
  WaitUntil(
      [&] {
        state = cp_->State();
        return state.replicas_size() == 2 && state.replicas(0).acked_version().counter() == 1 &&
               state.replicas(1).nacked_version().counter() == 1;
      },
      absl::Seconds(2.5), absl::Milliseconds(50));
  ASSERT_EQ(state.replicas_size(), 2);
  EXPECT_EQ(state.replicas(0).replica_id(), "replica-a");
  EXPECT_TRUE(state.replicas(0).connected());
  EXPECT_EQ(state.replicas(0).build_version(), "test-1.0");
  EXPECT_GT(state.replicas(0).connected_since_unix_ms(), 0);
  EXPECT_EQ(state.replicas(0).acked_version().counter(), 1u);
  EXPECT_EQ(state.replicas(0).acked_version().hash(), pushed.version().hash());
  EXPECT_EQ(state.replicas(1).nacked_version().counter(), 1u);
  EXPECT_THAT(state.replicas(1).last_nack(), HasSubstr("ANTHROPIC_API_KEY"));
  EXPECT_EQ(state.replicas(1).acked_version().counter(), 0u);

  // A new version reaches both connected replicas.
  rebound::v1::PushPolicyResponse second =
      cp_->Push(std::string(kValidPolicy) + "    retry_policy: {}\n");
  ASSERT_TRUE(second.accepted()) << second.DebugString();
  for (FakeReplica* r : {&a, &b}) {
    EXPECT_TRUE(r->WaitFor([](const ControlMessage& m) {
      return m.has_policy() && m.policy().version().counter() == 2;
    }));
  }
}

// Issue 10 item 13: the counter floor. A push is numbered above the highest
// counter replicas report running, in Hello and in every answer's in_force,
// so that replicas do not refuse it as older.
TEST_F(ControlPlaneTest, PushesAreNumberedAboveWhatReplicasReportRunning) {
  FakeReplica a(cp_.get(), "replica-a");
  ASSERT_TRUE(a.Hello({}, /*running_counter=*/7));
  ASSERT_TRUE(a.WaitFor([](const ControlMessage& m) { return m.has_blocks(); }));
  rebound::v1::PushPolicyResponse first = cp_->Push(kValidPolicy);
  ASSERT_TRUE(first.accepted()) << first.DebugString();
  EXPECT_EQ(first.version().counter(), 8u);
  ASSERT_TRUE(a.WaitFor([](const ControlMessage& m) {
    return m.has_policy() && m.policy().version().counter() == 8;
  }));

  // The replica refuses 8: it runs 12, published by another control plane.
  rebound::v1::PolicyVersion twelve;
  twelve.set_counter(12);
  twelve.set_hash(std::string(64, 'c'));
  ASSERT_TRUE(a.Ack(first.version(), false, "offered version 8/... is older than 12/...", twelve));
  ASSERT_TRUE(WaitUntilState(cp_.get(), [](const rebound::v1::GetStateResponse& s) {
    return s.replicas_size() == 1 && s.replicas(0).nacked_version().counter() == 8;
  }));
  rebound::v1::GetStateResponse state = cp_->State();
  EXPECT_EQ(state.replicas(0).acked_version().counter(), 12u);  // what it runs
  EXPECT_THAT(state.replicas(0).last_nack(), HasSubstr("older"));
  // The same text again: below the floor, so republished above it.
  rebound::v1::PushPolicyResponse again = cp_->Push(kValidPolicy);
  ASSERT_TRUE(again.accepted()) << again.DebugString();
  EXPECT_FALSE(again.unchanged());
  EXPECT_EQ(again.version().counter(), 13u);
  EXPECT_EQ(again.version().hash(), first.version().hash());
  EXPECT_EQ(cp_->State().policy_version().counter(), 13u);
}

TEST_F(ControlPlaneTest, FirstMessageMustBeHello) {
  FakeReplica a(cp_.get(), "replica-a");
  ASSERT_TRUE(a.Report({MakeBlock("openai/gpt-4o", absl::Seconds(60))}));
  grpc::Status status = a.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("Hello"));
  EXPECT_EQ(cp_->State().blocks_size(), 0);
}

TEST_F(ControlPlaneTest, OversizedReportClosesTheStreamWithResourceExhausted) {
  FakeReplica a(cp_.get(), "replica-a");
  ASSERT_TRUE(a.Hello());
  std::vector<Block> blocks;
  for (int i = 0; i < 1001; ++i) {
    blocks.push_back(MakeBlock(absl::StrCat("m/", i), absl::Seconds(60)));
  }
  a.Report(blocks);
  EXPECT_EQ(a.Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(cp_->State().blocks_size(), 0);
}

TEST_F(ControlPlaneTest, RestartServesThePersistedPolicy) {
  rebound::v1::PushPolicyResponse pushed = cp_->Push(kValidPolicy);
  ASSERT_TRUE(pushed.accepted());
  {
    // SIGTERM with a replica connected: its stream ends UNAVAILABLE (it
    // reconnects elsewhere or later) and the process exits 0 promptly.
    FakeReplica connected(cp_.get(), "replica-connected");
    ASSERT_TRUE(connected.Hello());
    ASSERT_TRUE(connected.WaitFor([](const ControlMessage& m) { return m.has_policy(); }));
    absl::Time start = absl::Now();
    cp_->process->Signal(SIGTERM);
    EXPECT_EQ(connected.Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(cp_->process->Wait(absl::Seconds(10)), 0);
    // gRPC's Shutdown may use its 2 s grace while client connections stay
    // open; the exposer's stop adds up to a second.
    EXPECT_LT(absl::Now() - start, absl::Seconds(6));
  }
  cp_ = ControlPlaneProcess::Start(state_dir_, {}, "controlplane-restarted");
  ASSERT_NE(cp_, nullptr);
  rebound::v1::GetStateResponse state = cp_->State();
  EXPECT_EQ(state.policy_version().counter(), 1u);
  EXPECT_EQ(state.policy_version().hash(), pushed.version().hash());
  FakeReplica a(cp_.get(), "replica-a");
  ASSERT_TRUE(a.Hello({}, 1));
  auto policy = a.WaitFor([](const ControlMessage& m) { return m.has_policy(); });
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(policy->policy().yaml(), kValidPolicy);
  // The next push continues the counter.
  EXPECT_EQ(cp_->Push(std::string(kValidPolicy) + "    retry_policy: {}\n").version().counter(),
            2u);
}

TEST_F(ControlPlaneTest, CorruptStateStartsWithoutAPolicy) {
  cp_->process->Signal(SIGTERM);
  EXPECT_EQ(cp_->process->Wait(absl::Seconds(10)), 0);
  WriteTempFile("state/policy.state", "rebound-controlplane policy v1\ncounter 3\ngarbage");
  cp_ = ControlPlaneProcess::Start(state_dir_, {}, "controlplane-corrupt");
  ASSERT_NE(cp_, nullptr);
  EXPECT_EQ(cp_->State().policy_version().counter(), 0u);
  EXPECT_THAT(cp_->process->Stderr(), HasSubstr("policy_state_unusable"));
  EXPECT_TRUE(cp_->Push(kValidPolicy).accepted());
}

TEST_F(ControlPlaneTest, TwoControlPlanesConvergeWhenReplicasReportToBoth) {
  auto cp2 = ControlPlaneProcess::Start(TestTempDir() + "/state2", {}, "controlplane-2");
  ASSERT_NE(cp2, nullptr);
  FakeReplica a1(cp_.get(), "replica-a"), a2(cp2.get(), "replica-a");
  FakeReplica b1(cp_.get(), "replica-b"), b2(cp2.get(), "replica-b");
  FakeReplica c2(cp2.get(), "replica-c");  // talks to the second one only
  for (FakeReplica* r : {&a1, &a2, &b1, &b2, &c2}) ASSERT_TRUE(r->Hello());

  Block x60 = MakeBlock("openai/gpt-4o", absl::Seconds(60), "replica-a");
  Block x90 = MakeBlock("openai/gpt-4o", absl::Seconds(90), "replica-b");
  Block y30 = MakeBlock("mistral", absl::Seconds(30), "replica-a",
                        rebound::v1::BLOCK_SCOPE_PROVIDER);
  Block z_latency = MakeBlock("anthropic/claude", absl::Seconds(45), "replica-b");
  z_latency.set_kind(rebound::v1::BLOCK_KIND_LATENCY);
  Block z_retry = z_latency;
  z_retry.set_kind(rebound::v1::BLOCK_KIND_RETRY_AFTER);
  z_retry.set_origin("replica-a");
  // Opposite orders at the two instances.
  a1.Report({x60, y30});
  b1.Report({x90, z_latency});
  a1.Report({z_retry});
  b2.Report({z_latency});
  a2.Report({z_retry, y30});
  b2.Report({x90});
  a2.Report({x60});

  auto blocks_of = [](ControlPlaneProcess* cp) {
    std::vector<std::string> out;
    rebound::v1::GetStateResponse state = cp->State();
    for (Block b : state.blocks()) {
      b.clear_relayed_at_unix_us();
      out.push_back(b.ShortDebugString());
    }
    return out;
  };
  std::vector<std::string> one, two;
  WaitUntil(
      [&] {
        one = blocks_of(cp_.get());
        two = blocks_of(cp2.get());
        return one.size() == 4 && one == two;
      },
      absl::Seconds(5), absl::Milliseconds(50));
  EXPECT_EQ(one.size(), 4u) << "anthropic/claude has a block of each kind";
  EXPECT_EQ(one, two);
  rebound::v1::GetStateResponse state = cp2->State();
  int claude_kinds = 0;
  for (const Block& b : state.blocks()) {
    if (b.name() == "openai/gpt-4o") {
      EXPECT_EQ(b.origin(), "replica-b");
    }
    if (b.name() == "anthropic/claude") {
      claude_kinds |= b.kind() == rebound::v1::BLOCK_KIND_RETRY_AFTER ? 1 : 2;
    }
  }
  EXPECT_EQ(claude_kinds, 3);
  // The replica on the second instance only has heard of all of them.
  EXPECT_TRUE(c2.WaitForBlock("openai/gpt-4o"));
  EXPECT_TRUE(c2.WaitForBlock("mistral"));
  EXPECT_TRUE(c2.WaitForBlock("anthropic/claude"));
}

TEST_F(ControlPlaneTest, AFloodingReplicaLeavesTheControlPlaneResponsive) {
  FakeReplica quiet(cp_.get(), "replica-quiet");
  ASSERT_TRUE(quiet.Hello());
  auto flooder = std::make_unique<FakeReplica>(cp_.get(), "replica-flood");
  ASSERT_TRUE(flooder->Hello());
  std::atomic<bool> stop{false};
  std::atomic<int> reports{0};
  absl::Time flood_start = absl::Now();
  std::thread flood([&] {
    int n = 0;
    while (!stop.load()) {
      std::vector<Block> blocks;
      for (int i = 0; i < 1000; ++i, ++n) {
        // Every block new or longer: each one changes the table.
        blocks.push_back(MakeBlock(absl::StrCat("m/", n % 5000),
                                   absl::Seconds(60) + absl::Milliseconds(n)));
      }
      if (!flooder->Report(std::move(blocks))) break;
      ++reports;
    }
  });

  absl::Duration worst;
  int calls = 0;
  absl::Time end = absl::Now() + absl::Seconds(4);
  while (absl::Now() < end) {
    absl::Time start = absl::Now();
    rebound::v1::GetStateResponse state;
    grpc::Status status =
        cp_->stub->GetState(ControlPlaneProcess::Context(kOperatorToken, absl::Seconds(2)).get(),
                            {}, &state);
    ASSERT_TRUE(status.ok()) << status.error_message();
    worst = std::max(worst, absl::Now() - start);
    ++calls;
    absl::SleepFor(absl::Milliseconds(100));
  }
  // A block from the quiet replica still gets through promptly.
  FakeReplica other(cp_.get(), "replica-other");
  ASSERT_TRUE(other.Hello());
  absl::Time sent = absl::Now();
  ASSERT_TRUE(quiet.Report({MakeBlock("quiet/model", absl::Seconds(60))}));
  EXPECT_TRUE(other.WaitForBlock("quiet/model", absl::Seconds(2)));
  absl::Duration quiet_propagation = absl::Now() - sent;

  stop = true;
  // Cancel first, which unblocks a Write held by flow control, and destroy
  // the replica only once the flooding thread has stopped using it.
  flooder->Cancel();
  flood.join();
  flooder.reset();
  std::cerr << "flood: " << reports.load() << " reports of 1000 blocks accepted by the client; "
            << calls << " GetState calls, slowest " << absl::FormatDuration(worst)
            << "; quiet block propagated in " << absl::FormatDuration(quiet_propagation) << "\n";
  EXPECT_LT(worst, absl::Seconds(1));
  // Paced at 1000 blocks/s after a 10000-block burst: the control plane took
  // in far less than the client handed to its transport (which buffers).
  std::string metrics = HttpGet(absl::StrCat("http://", cp_->metrics_address, "/metrics"));
  double merged = 0;
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (absl::StartsWith(line, "rebound_controlplane_block_reports_total{")) {
      double value = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) merged += value;
    }
  }
  std::cerr << "blocks merged by the control plane: " << merged << "\n";
  EXPECT_GT(merged, 1000);
  // The burst, the rate over the flood's duration, and one report of slack.
  double seconds = absl::ToDoubleSeconds(absl::Now() - flood_start);
  EXPECT_LT(merged, 10000 + 1000 * seconds + 1000 + 2);
  EXPECT_TRUE(cp_->process->Running());
}

TEST_F(ControlPlaneTest, AReplicaThatDoesNotReadIsDisconnectedNotBuffered) {
  FakeReplica stuck(cp_.get(), "replica-stuck", kReplicaToken, /*read=*/false);
  ASSERT_TRUE(stuck.Hello());
  // One reporter sends ~7 MB of new blocks, each report fanned out to
  // `stuck` (more than the transport's flow-control windows absorb) and to
  // an observer that reads.
  FakeReplica observer(cp_.get(), "replica-observer");
  ASSERT_TRUE(observer.Hello());
  FakeReplica reporter(cp_.get(), "replica-reporter");
  ASSERT_TRUE(reporter.Hello());
  for (int i = 0; i < 1500; ++i) {
    std::vector<Block> blocks;
    for (int j = 0; j < 10; ++j) {
      blocks.push_back(
          MakeBlock(absl::StrCat(std::string(400, 'm'), "/", i, "-", j), absl::Seconds(60)));
    }
    ASSERT_TRUE(reporter.Report(std::move(blocks)));
  }
  // Every 100 ms: each GetState answer lists the ~6 MB of blocks.
  EXPECT_TRUE(WaitUntil(
      [&] {
        rebound::v1::GetStateResponse state = cp_->State();
        return std::any_of(state.replicas().begin(), state.replicas().end(), [](const auto& r) {
          return r.replica_id() == "replica-stuck" && !r.connected();
        });
      },
      absl::Seconds(10), absl::Milliseconds(100)));
  std::string metrics = Metrics(cp_.get());
  EXPECT_THAT(metrics,
              HasSubstr("rebound_controlplane_stream_disconnects_total{reason=\"slow_consumer\"} 1"));
  // The replicas that read are unaffected.
  EXPECT_FALSE(observer.ended());
  EXPECT_FALSE(reporter.ended());
  EXPECT_TRUE(observer.WaitForBlock(absl::StrCat(std::string(400, 'm'), "/1499-9"),
                                    absl::Seconds(20)));
}

// Issue 10 item 1 on the wire: a latency block and a Retry-After block on one
// model are two entries in the fleet's table and both reach every replica,
// whatever ends first.
TEST_F(ControlPlaneTest, BlocksOfBothKindsOnOneModelReachEveryReplica) {
  FakeReplica a(cp_.get(), "replica-a");
  FakeReplica b(cp_.get(), "replica-b");
  ASSERT_TRUE(a.Hello());
  ASSERT_TRUE(b.Hello());
  Block latency = MakeBlock("openai/gpt-4o", absl::Seconds(300), "replica-a");
  latency.set_kind(rebound::v1::BLOCK_KIND_LATENCY);
  Block retry_after = MakeBlock("openai/gpt-4o", absl::Seconds(30), "replica-a");
  ASSERT_TRUE(a.Report({latency}));
  ASSERT_TRUE(a.Report({retry_after}));
  auto has_kind = [](rebound::v1::BlockKind kind) {
    return [kind](const ControlMessage& m) {
      return m.has_blocks() &&
             std::any_of(m.blocks().blocks().begin(), m.blocks().blocks().end(),
                         [kind](const Block& blk) {
                           return blk.name() == "openai/gpt-4o" && blk.kind() == kind;
                         });
    };
  };
  EXPECT_TRUE(b.WaitFor(has_kind(rebound::v1::BLOCK_KIND_LATENCY)).has_value());
  EXPECT_TRUE(b.WaitFor(has_kind(rebound::v1::BLOCK_KIND_RETRY_AFTER)).has_value())
      << "the shorter Retry-After block must not be absorbed by the latency block";
  rebound::v1::GetStateResponse state = cp_->State();
  ASSERT_EQ(state.blocks_size(), 2) << state.ShortDebugString();
  for (const Block& blk : state.blocks()) {
    EXPECT_EQ(blk.until_unix_ms(), blk.kind() == rebound::v1::BLOCK_KIND_LATENCY
                                       ? latency.until_unix_ms()
                                       : retry_after.until_unix_ms());
  }

  // An operator lifts one kind; the other stays.
  rebound::v1::ClearBlockRequest clear;
  clear.set_scope(rebound::v1::BLOCK_SCOPE_MODEL);
  clear.set_name("openai/gpt-4o");
  clear.set_kind(rebound::v1::BLOCK_KIND_LATENCY);
  rebound::v1::ClearBlockResponse cleared;
  ASSERT_TRUE(cp_->stub->ClearBlock(ControlPlaneProcess::Context().get(), clear, &cleared).ok());
  EXPECT_TRUE(cleared.removed());
  auto message = b.WaitFor([](const ControlMessage& m) { return m.has_cleared(); });
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->cleared().kind(), rebound::v1::BLOCK_KIND_LATENCY);
  state = cp_->State();
  ASSERT_EQ(state.blocks_size(), 1);
  EXPECT_EQ(state.blocks(0).kind(), rebound::v1::BLOCK_KIND_RETRY_AFTER);
}

TEST_F(ControlPlaneTest, ClearBlockReachesReplicasAndStaleReReportsStayCleared) {
  FakeReplica a(cp_.get(), "replica-a");
  FakeReplica b(cp_.get(), "replica-b");
  ASSERT_TRUE(a.Hello());
  ASSERT_TRUE(b.Hello());
  Block x = MakeBlock("openai/gpt-4o", absl::Seconds(60), "replica-a");
  ASSERT_TRUE(a.Report({x}));
  ASSERT_TRUE(b.WaitForBlock("openai/gpt-4o"));

  rebound::v1::ClearBlockRequest clear;
  clear.set_scope(rebound::v1::BLOCK_SCOPE_MODEL);
  clear.set_name("openai/gpt-4o");
  rebound::v1::ClearBlockResponse cleared;
  ASSERT_TRUE(cp_->stub->ClearBlock(ControlPlaneProcess::Context().get(), clear, &cleared).ok());
  EXPECT_TRUE(cleared.removed());
  for (FakeReplica* r : {&a, &b}) {
    auto message = r->WaitFor([](const ControlMessage& m) { return m.has_cleared(); });
    ASSERT_TRUE(message.has_value());
    EXPECT_EQ(message->cleared().name(), "openai/gpt-4o");
    EXPECT_EQ(message->cleared().scope(), rebound::v1::BLOCK_SCOPE_MODEL);
  }
  // A replica that had not applied the clear yet re-reports the block: it
  // stays cleared. The merge counts the re-report as tombstoned, under the
  // lock GetState takes, so the state read after that shows its outcome.
  ASSERT_TRUE(a.Report({x}));
  ASSERT_TRUE(WaitUntil([&] {
    return absl::StrContains(Metrics(cp_.get()),
                             "rebound_controlplane_block_reports_total{result=\"tombstoned\"} 1");
  })) << Metrics(cp_.get());
  EXPECT_EQ(cp_->State().blocks_size(), 0);

  clear.set_scope(rebound::v1::BLOCK_SCOPE_UNSPECIFIED);
  EXPECT_EQ(cp_->stub->ClearBlock(ControlPlaneProcess::Context().get(), clear, &cleared)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ControlPlaneTest, PeriodicResyncSendsFullSnapshots) {
  auto cp = ControlPlaneProcess::Start(TestTempDir() + "/state-resync",
                                       {"--resync-interval", "300ms"}, "controlplane-resync");
  ASSERT_NE(cp, nullptr);
  FakeReplica a(cp.get(), "replica-a");
  ASSERT_TRUE(a.Hello({MakeBlock("openai/gpt-4o", absl::Seconds(60))}));
  EXPECT_TRUE(a.WaitFor(
      [](const ControlMessage& m) {
        return m.has_blocks() && m.blocks().full_snapshot() && m.blocks().blocks_size() == 1;
      },
      absl::Seconds(5)));
}

// Each stream resyncs on its own schedule from its Hello: a replica that
// has just got its snapshot is not sent another at the next fleet-wide tick
// (with 1,000 replicas and 10,000 blocks, every resync of the whole fleet at
// once was ~600 MB of writes in one burst, and the blocks fanned out behind
// it waited). The first periodic one comes at least half an interval after
// the Hello.
TEST_F(ControlPlaneTest, PeriodicResyncIsCountedFromEachStreamsHello) {
  constexpr absl::Duration kInterval = absl::Seconds(2);
  auto cp = ControlPlaneProcess::Start(TestTempDir() + "/state-resync-own",
                                       {"--resync-interval", "2s"}, "controlplane-resync-own");
  ASSERT_NE(cp, nullptr);
  auto full_snapshots = [](FakeReplica& r) {
    return r.Count([](const ControlMessage& m) {
      return m.has_blocks() && m.blocks().full_snapshot();
    });
  };
  FakeReplica a(cp.get(), "replica-a");
  ASSERT_TRUE(a.Hello({MakeBlock("openai/gpt-4o", absl::Seconds(60))}));
  // A's first periodic snapshot: a resync of the old fleet-wide schedule,
  // which would send the next one to everybody an interval from now.
  ASSERT_TRUE(WaitUntil([&] { return full_snapshots(a) >= 2; }, absl::Seconds(10),
                        absl::Milliseconds(5)));
  absl::SleepFor(kInterval * 0.8);
  FakeReplica b(cp.get(), "replica-b");
  ASSERT_TRUE(b.Hello());
  ASSERT_TRUE(WaitUntil([&] { return full_snapshots(b) >= 1; }, absl::Seconds(5),
                        absl::Milliseconds(5)));
  absl::Time hello_snapshot = absl::Now();
  ASSERT_TRUE(WaitUntil([&] { return full_snapshots(b) >= 2; }, absl::Seconds(10),
                        absl::Milliseconds(5)));
  absl::Duration gap = absl::Now() - hello_snapshot;
  EXPECT_GE(gap, kInterval / 2 - absl::Milliseconds(100))
      << "B's first resync came " << gap << " after its Hello's snapshot";
  // And no later than an interval after it, plus the service's once-a-second
  // tick that sends it and a second of slack for a slow machine.
  EXPECT_LE(gap, kInterval + absl::Seconds(2))
      << "B's first resync came " << gap << " after its Hello's snapshot";
}

// Hellos share one snapshot while the table stands; every change, and the
// expiry of a block in it, makes the next Hello's snapshot follow the table.
TEST_F(ControlPlaneTest, EachHellosSnapshotIsTheCurrentTable) {
  FakeReplica a(cp_.get(), "replica-a");
  absl::Time short_until = absl::Now() + absl::Seconds(3);
  ASSERT_TRUE(a.Hello({MakeBlock("m/short", absl::Seconds(3)),
                       MakeBlock("m/long", absl::Seconds(60))}));
  auto snapshot_of = [&](const std::string& id) {
    FakeReplica r(cp_.get(), id);
    EXPECT_TRUE(r.Hello());
    std::vector<std::string> names;
    std::optional<ControlMessage> m = r.WaitFor(
        [](const ControlMessage& m) { return m.has_blocks() && m.blocks().full_snapshot(); });
    EXPECT_TRUE(m.has_value()) << id;
    if (m) {
      for (const Block& b : m->blocks().blocks()) names.push_back(b.name());
    }
    std::sort(names.begin(), names.end());
    return absl::StrJoin(names, ",");
  };
  // A's blocks are merged after its own snapshot went: wait for the table.
  ASSERT_TRUE(WaitUntil([&] { return cp_->State().blocks_size() == 2; }));
  EXPECT_EQ(snapshot_of("replica-b"), "m/long,m/short");
  EXPECT_EQ(snapshot_of("replica-c"), "m/long,m/short");  // the shared one
  ASSERT_TRUE(a.Report({MakeBlock("m/new", absl::Seconds(60))}));
  ASSERT_TRUE(WaitUntil([&] { return cp_->State().blocks_size() == 3; }));
  EXPECT_EQ(snapshot_of("replica-d"), "m/long,m/new,m/short");
  rebound::v1::ClearBlockRequest clear;
  clear.set_scope(rebound::v1::BLOCK_SCOPE_MODEL);
  clear.set_name("m/new");
  rebound::v1::ClearBlockResponse cleared;
  ASSERT_TRUE(cp_->stub->ClearBlock(ControlPlaneProcess::Context().get(), clear, &cleared).ok());
  EXPECT_EQ(snapshot_of("replica-e"), "m/long,m/short");
  // m/short expires (whether or not the once-a-second sweep has run yet).
  absl::SleepFor(short_until - absl::Now() + absl::Milliseconds(200));
  EXPECT_EQ(snapshot_of("replica-f"), "m/long");
}

TEST_F(ControlPlaneTest, HealthAndReflectionAreServed) {
  EXPECT_TRUE(HealthServing(cp_->channel));
  EXPECT_THAT(ReflectedServices(cp_->channel), ::testing::Contains("rebound.v1.ControlPlane"));
}

TEST_F(ControlPlaneTest, MetricsAreServed) {
  FakeReplica a(cp_.get(), "replica-a");
  ASSERT_TRUE(a.Hello({MakeBlock("openai/gpt-4o", absl::Seconds(60))}));
  cp_->Push(kValidPolicy);
  std::string body;
  // active_blocks is set by the control plane's once-a-second tick.
  WaitUntil(
      [&] {
        body = Metrics(cp_.get());
        return absl::StrContains(body, "rebound_controlplane_connected_replicas 1") &&
               absl::StrContains(body,
                                 "rebound_controlplane_active_blocks{kind=\"retry_after\"} 1");
      },
      absl::Seconds(4), absl::Milliseconds(100));
  EXPECT_THAT(body, HasSubstr("rebound_controlplane_connected_replicas 1"));
  EXPECT_THAT(body, HasSubstr("rebound_controlplane_active_blocks{kind=\"retry_after\"} 1"));
  EXPECT_THAT(body, HasSubstr("rebound_controlplane_policy_pushes_total{result=\"accepted\"} 1"));
  EXPECT_THAT(body, HasSubstr("rebound_controlplane_block_reports_total{result=\"changed\"} 1"));
  EXPECT_THAT(body, HasSubstr("rebound_controlplane_policy_version 1"));
}

// The exit code and stderr of a control plane started with `auth` flags.
std::pair<int, std::string> StartupOutcome(const std::vector<std::string>& auth) {
  std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                                   "--state-dir", TestTempDir() + "/state"};
  args.insert(args.end(), auth.begin(), auth.end());
  auto process = Subprocess::Start({.binary = BinaryPath("rebound-controlplane"), .args = args});
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return {-1, ""};
  int code = (*process)->Wait(absl::Seconds(10));
  return {code, (*process)->Stderr()};
}

TEST(ControlPlaneStartupTest, RefusesToStartWithoutBothTokenFiles) {
  std::string replica = WriteTempFile("replica.tokens", "replica-token-1\n");
  std::string operators = WriteTempFile("operator.tokens", "operator-token-1\n");
  std::string empty = WriteTempFile("empty.tokens", " \n# only a comment\n");
  std::string missing = TestTempDir() + "/missing";
  for (std::vector<std::string> auth : std::vector<std::vector<std::string>>{
           {},
           {"--replica-token-file", replica},
           {"--operator-token-file", operators},
           {"--replica-token-file", missing, "--operator-token-file", operators},
           {"--replica-token-file", replica, "--operator-token-file", empty},
           // Tokens, or none: not both at once.
           {"--replica-token-file", replica, "--operator-token-file", operators,
            "--insecure-no-auth"}}) {
    auto [code, stderr_text] = StartupOutcome(auth);
    EXPECT_NE(code, 0) << absl::StrJoin(auth, " ");
    EXPECT_FALSE(stderr_text.empty());
  }
}

// Today's single shared token is what issue 10 item 8 retires: the flag is
// refused with the two that replace it, rather than silently read as one.
TEST(ControlPlaneStartupTest, TheRetiredSharedTokenFlagNamesItsReplacements) {
  std::string tokens = WriteTempFile("shared.tokens", "shared-token-1\n");
  auto [code, stderr_text] = StartupOutcome({"--token-file", tokens});
  EXPECT_EQ(code, 2);
  EXPECT_THAT(stderr_text, HasSubstr("--replica-token-file"));
  EXPECT_THAT(stderr_text, HasSubstr("--operator-token-file"));
}

TEST(ControlPlaneStartupTest, RefusesToStartWhenTheTwoFilesShareAToken) {
  constexpr char kShared[] = "a-token-in-both-files-71c3";
  std::string replica = WriteTempFile("replica.tokens", absl::StrCat("r-only\n", kShared, "\n"));
  std::string operators =
      WriteTempFile("operator.tokens", absl::StrCat("# rotation\n", kShared, "\no-only\n"));
  auto [code, stderr_text] =
      StartupOutcome({"--replica-token-file", replica, "--operator-token-file", operators});
  EXPECT_EQ(code, 1);
  EXPECT_THAT(stderr_text, HasSubstr("share"));
  EXPECT_THAT(stderr_text, ::testing::Not(HasSubstr(kShared)));
}

// deploy/k8s passes flags as --flag=value (as Kubernetes examples do); the
// control plane must read that form as well as --flag value.
TEST(ControlPlaneStartupTest, AcceptsFlagEqualsValue) {
  std::string replica = WriteTempFile("replica.tokens", "replica-token-eq\n");
  std::string operators = WriteTempFile("operator.tokens", "operator-token-eq\n");
  auto process = Subprocess::Start(
      {.binary = BinaryPath("rebound-controlplane"),
       .args = {"--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0",
                absl::StrCat("--state-dir=", TestTempDir(), "/state"),
                absl::StrCat("--replica-token-file=", replica),
                absl::StrCat("--operator-token-file=", operators), "--resync-interval=10s",
                "--log-level=info"}});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<std::string> ready =
      (*process)->WaitForLine("^rebound-controlplane ready grpc=\\S+", absl::Seconds(20));
  EXPECT_TRUE(ready.ok()) << ready.status();
  // A flag without a value takes none.
  auto [code, stderr_text] = StartupOutcome({"--insecure-no-auth=yes"});
  EXPECT_EQ(code, 2);
  EXPECT_THAT(stderr_text, HasSubstr("--insecure-no-auth takes no value"));
  // The retired flag is recognised in this form too.
  auto [retired, retired_text] = StartupOutcome({absl::StrCat("--token-file=", replica)});
  EXPECT_EQ(retired, 2);
  EXPECT_THAT(retired_text, HasSubstr("--operator-token-file"));
}

}  // namespace
}  // namespace rebound::testing
