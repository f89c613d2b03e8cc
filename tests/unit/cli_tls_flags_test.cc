// The client-certificate flags of the rebound CLI (--cert-file, --key-file)
// for the Gateway and the control-plane commands.
#include <optional>
#include <string>
#include <vector>

#include "client/cli_args.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::client {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<CliArgs> Parse(std::vector<std::string> args) {
  return ParseCliArgs(args, [](std::string_view) { return std::optional<std::string>(); });
}

TEST(CliTlsFlagsTest, CompleteTakesAClientCertificateAndImpliesTls) {
  absl::StatusOr<CliArgs> parsed = Parse({"complete", "--cert-file", "c.pem", "--key-file=c.key",
                                          "--ca-file", "ca.pem", "--token-file", "t"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->call.cert_file, "c.pem");
  EXPECT_EQ(parsed->call.key_file, "c.key");
  EXPECT_EQ(parsed->call.ca_file, "ca.pem");
  EXPECT_EQ(parsed->call.token_file, "t");
  EXPECT_TRUE(parsed->call.use_tls);

  absl::StatusOr<CliArgs> alone = Parse({"stream", "--cert-file", "c.pem", "--key-file", "c.key"});
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_TRUE(alone->call.use_tls);
}

TEST(CliTlsFlagsTest, CertificateAndKeyGoTogether) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"complete", "--cert-file", "c.pem"},
           {"stream", "--key-file", "c.key"},
           {"state", "--cert-file", "c.pem"},
           {"block", "clear", "model:m", "--key-file", "c.key"}}) {
    absl::StatusOr<CliArgs> parsed = Parse(args);
    ASSERT_FALSE(parsed.ok()) << args[0];
    EXPECT_THAT(parsed.status().message(), HasSubstr("--cert-file and --key-file go together"));
  }
}

TEST(CliTlsFlagsTest, ControlPlaneCommandsTakeAClientCertificate) {
  absl::StatusOr<CliArgs> parsed = Parse({"state", "--cp-addr", "cp:7500", "--ca-file", "ca.pem",
                                          "--cert-file", "r.pem", "--key-file", "r.key"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->control_plane.cert_file, "r.pem");
  EXPECT_EQ(parsed->control_plane.key_file, "r.key");
  EXPECT_TRUE(parsed->control_plane.use_tls);
}

TEST(CliTlsFlagsTest, EmptyOrRepeatedValuesAreUsageErrors) {
  EXPECT_FALSE(Parse({"complete", "--cert-file", "", "--key-file", "k"}).ok());
  EXPECT_FALSE(Parse({"state", "--cert-file=", "--key-file", "k"}).ok());
  EXPECT_FALSE(
      Parse({"complete", "--cert-file", "a", "--cert-file", "b", "--key-file", "k"}).ok());
}

}  // namespace
}  // namespace rebound::client
