// TLS and mutual TLS between replicas (and the CLI) and the control plane: a
// real rebound-controlplane with --tls-cert/--tls-key[/--tls-client-ca], real
// rebound-server replicas with control_plane.ca_file (and cert_file /
// key_file), certificates from test_certs.h. A replica that cannot connect
// securely stays disconnected, says so, and keeps serving (fail-open).
#include <memory>
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

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCpToken[] = "cp-tls-token-4e7b19d0";  // the replicas'
constexpr char kOperatorToken[] = "cp-tls-operator-token-a61f3c";  // the CLI's

class ControlPlaneTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(SharedTestPki().ca.cert.empty()) << "the test PKI could not be made";
    auto fake = FakeProvider::Start();
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    token_file_ = WriteTempFile("cp-token", absl::StrCat(kCpToken, "\n"));
    operator_token_file_ = WriteTempFile("cp-operator-token", absl::StrCat(kOperatorToken, "\n"));
  }

  const TestCa& Ca() { return SharedTestPki().ca; }
  const TestCa& Other() { return SharedTestPki().other; }

  // Starts the control plane over TLS; with `require_client_certs`, client
  // certificates from the test CA are required.
  void StartControlPlane(bool require_client_certs) {
    std::vector<std::string> args = {"--listen",
                                     "127.0.0.1:0",
                                     "--metrics-listen",
                                     "127.0.0.1:0",
                                     "--state-dir",
                                     TestTempDir() + "/cp-state",
                                     "--replica-token-file",
                                     token_file_,
                                     "--operator-token-file",
                                     operator_token_file_,
                                     "--tls-cert",
                                     Ca().server_cert,
                                     "--tls-key",
                                     Ca().server_key};
    if (require_client_certs) {
      args.push_back("--tls-client-ca");
      args.push_back(Ca().cert);
    }
    auto process = Subprocess::Start({.binary = BinaryPath("rebound-controlplane"),
                                      .args = std::move(args), .name = "controlplane"});
    ASSERT_TRUE(process.ok()) << process.status();
    cp_ = *std::move(process);
    auto ready = cp_->WaitForLine("^rebound-controlplane ready grpc=\\S+ metrics=\\S+$",
                                  absl::Seconds(20));
    ASSERT_TRUE(ready.ok()) << ready.status();
    size_t g = ready->find("grpc=") + 5;
    cp_address_ = ready->substr(g, ready->find(' ', g) - g);
    cp_metrics_ = ready->substr(ready->find("metrics=") + 8);
  }

  // A replica of the control plane; `tls_lines` go inside control_plane:.
  std::unique_ptr<GatewayProcess> StartReplica(const std::string& id,
                                               const std::string& tls_lines) {
    std::string yaml = absl::StrCat(
        ServerSection(), "control_plane:\n  addresses: [\"", cp_address_, "\"]\n  replica_id: ",
        id, "\n  token_file: ", token_file_, "\n", tls_lines, "model_providers:\n",
        ProviderEntry("openai/gpt-4o", fake_->base_url(), "sk-cp-tls-provider-key",
                      "    default: true\n"));
    auto replica = GatewayProcess::Start(yaml);
    EXPECT_TRUE(replica.ok()) << replica.status();
    return replica.ok() ? *std::move(replica) : nullptr;
  }

  std::string ConnectedRegex() const {
    return absl::StrCat("rebound_controlplane_connected\\{address=\"", cp_address_, "\"\\} 1\\b");
  }

  // Polls the replica's own gauge until it says connected.
  bool WaitConnected(GatewayProcess& replica) {
    std::regex connected(ConnectedRegex());
    return WaitUntil([&] { return std::regex_search(replica.ScrapeMetrics(), connected); },
                     absl::Seconds(15), absl::Milliseconds(50));
  }

  // The replica logged a failed connect with gRPC's reason, and its gauge
  // says disconnected; it still serves calls with its local policy.
  void ExpectDisconnectedButServing(GatewayProcess& replica) {
    auto line = replica.process().WaitForStderrLine("controlplane_disconnected",
                                                    absl::Seconds(15));
    ASSERT_TRUE(line.ok()) << line.status();
    EXPECT_THAT(*line, HasSubstr("level=warn"));
    std::string metrics = replica.ScrapeMetrics();
    EXPECT_THAT(metrics, ContainsRegex(absl::StrCat("rebound_controlplane_connected\\{address=\"",
                                                    cp_address_, "\"\\} 0\\b")));
    client::CallResult result =
        replica.client().Complete(ChatRequest("openai/gpt-4o"), absl::Seconds(10));
    EXPECT_TRUE(result.ok()) << result.status.error_message();
    EXPECT_THAT(replica.process().Stderr(), Not(HasSubstr(kCpToken)));
  }

  // `rebound state` against the control plane with `tls_args`.
  int CliState(std::vector<std::string> tls_args, std::string* err = nullptr) {
    std::vector<std::string> args = {"state", "--cp-addr", cp_address_, "--token-file",
                                     operator_token_file_, "--timeout", "5s"};
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    auto process = Subprocess::Start(
        {.binary = BinaryPath("rebound"), .args = std::move(args), .name = "cli"});
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return -1;
    int code = (*process)->Wait(absl::Seconds(30));
    if (err != nullptr) *err = (*process)->Stderr();
    EXPECT_THAT((*process)->Stdout() + (*process)->Stderr(), Not(HasSubstr(kCpToken)));
    EXPECT_THAT((*process)->Stdout() + (*process)->Stderr(), Not(HasSubstr(kOperatorToken)));
    return code;
  }

  std::unique_ptr<FakeProvider> fake_;
  std::unique_ptr<Subprocess> cp_;
  std::string cp_address_;
  std::string cp_metrics_;
  std::string token_file_;           // the replicas'
  std::string operator_token_file_;  // the CLI's
};

TEST_F(ControlPlaneTlsTest, ReplicaAndCliWithTheCaConnectOverTls) {
  StartControlPlane(/*require_client_certs=*/false);
  auto replica = StartReplica("replica-tls", absl::StrCat("  ca_file: ", Ca().cert, "\n"));
  ASSERT_NE(replica, nullptr);
  EXPECT_TRUE(WaitConnected(*replica)) << replica->ScrapeMetrics();
  // Log lines reach stderr on the processes' own schedule: wait for them.
  EXPECT_TRUE(replica->process().WaitForStderrLine("tls=on", absl::Seconds(10)).ok());
  EXPECT_TRUE(cp_->WaitForStderrLine("tls=on", absl::Seconds(10)).ok());

  std::string err;
  EXPECT_EQ(CliState({"--ca-file", Ca().cert}, &err), 0) << err;
  // Plaintext, or trusting another CA: the control plane cannot be reached.
  EXPECT_EQ(CliState({}, &err), 3) << err;
  EXPECT_EQ(CliState({"--ca-file", Other().cert}, &err), 3) << err;
}

TEST_F(ControlPlaneTlsTest, ReplicaTrustingAnotherCaStaysDisconnectedAndServes) {
  StartControlPlane(/*require_client_certs=*/false);
  auto replica = StartReplica("replica-wrong-ca", absl::StrCat("  ca_file: ", Other().cert, "\n"));
  ASSERT_NE(replica, nullptr);
  ExpectDisconnectedButServing(*replica);
  EXPECT_THAT(HttpGet(absl::StrCat("http://", cp_metrics_, "/metrics")),
              ContainsRegex("rebound_controlplane_connected_replicas 0\\b"));
}

TEST_F(ControlPlaneTlsTest, MutualTlsAdmitsOnlyClientsWithACertificateFromTheCa) {
  StartControlPlane(/*require_client_certs=*/true);
  // The ready line is on stdout; the TLS line on stderr may come after it.
  EXPECT_TRUE(cp_->WaitForStderrLine("tls=mutual", absl::Seconds(10)).ok()) << cp_->Stderr();
  auto with_cert = StartReplica(
      "replica-mtls", absl::StrCat("  ca_file: ", Ca().cert, "\n  cert_file: ", Ca().client_cert,
                                   "\n  key_file: ", Ca().client_key, "\n"));
  ASSERT_NE(with_cert, nullptr);
  EXPECT_TRUE(WaitConnected(*with_cert)) << with_cert->ScrapeMetrics();
  EXPECT_TRUE(with_cert->process().WaitForStderrLine("tls=mutual", absl::Seconds(10)).ok());

  auto without_cert =
      StartReplica("replica-no-cert", absl::StrCat("  ca_file: ", Ca().cert, "\n"));
  ASSERT_NE(without_cert, nullptr);
  ExpectDisconnectedButServing(*without_cert);

  auto foreign_cert = StartReplica(
      "replica-foreign-cert",
      absl::StrCat("  ca_file: ", Ca().cert, "\n  cert_file: ", Other().client_cert,
                   "\n  key_file: ", Other().client_key, "\n"));
  ASSERT_NE(foreign_cert, nullptr);
  ExpectDisconnectedButServing(*foreign_cert);

  std::string err;
  EXPECT_EQ(CliState({"--ca-file", Ca().cert, "--cert-file", Ca().client_cert, "--key-file",
                      Ca().client_key},
                     &err),
            0)
      << err;
  EXPECT_EQ(CliState({"--ca-file", Ca().cert}, &err), 3) << err;
  // Only the replica with a certificate is connected.
  EXPECT_THAT(HttpGet(absl::StrCat("http://", cp_metrics_, "/metrics")),
              ContainsRegex("rebound_controlplane_connected_replicas 1\\b"));
}

TEST_F(ControlPlaneTlsTest, ClientCaWithoutServerCertificateIsAUsageError) {
  auto process = Subprocess::Start(
      {.binary = BinaryPath("rebound-controlplane"),
       .args = {"--state-dir", TestTempDir() + "/cp-state", "--replica-token-file", token_file_,
                "--operator-token-file", operator_token_file_, "--tls-client-ca", Ca().cert},
       .name = "controlplane"});
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ((*process)->Wait(absl::Seconds(20)), 2);
  EXPECT_THAT((*process)->Stderr(), HasSubstr("--tls-client-ca needs --tls-cert"));
}

}  // namespace
}  // namespace rebound::testing
