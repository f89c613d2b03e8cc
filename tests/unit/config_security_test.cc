// The security keys of the configuration: server.auth_token_file and the
// replica's control-plane client certificate (control_plane.cert_file /
// key_file). The files themselves are read by the server, not the loader.
#include <string>

#include "policy/config.h"
#include "policy/config_loader.h"
#include "policy/config_yaml.h"
#include "tests/unit/config_test_util.h"

namespace rebound {
namespace {

using ::rebound::testing::Dump;
using ::rebound::testing::Error;
using ::rebound::testing::Load;
using ::testing::Contains;

TEST(ConfigSecurityTest, AuthTokenFileAndControlPlaneClientCertificateAreRead) {
  LoadResult r = Load(R"(
server:
  auth_token_file: /etc/rebound/gateway-tokens
  tls: {cert_file: /s.pem, key_file: /s.key, client_ca_file: /ca.pem}
control_plane:
  addresses: [cp:7500]
  ca_file: /cp-ca.pem
  cert_file: /replica.pem
  key_file: /replica.key
model_providers:
  - model: openai/gpt-4o
    base_url: https://api.openai.com
    access_key: $OPENAI_API_KEY
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.config->server.auth_token_file, "/etc/rebound/gateway-tokens");
  EXPECT_EQ(r.config->control_plane.cert_file, "/replica.pem");
  EXPECT_EQ(r.config->control_plane.key_file, "/replica.key");

  // And they survive the canonical YAML round trip (pushed policies merge
  // with the local server and control_plane sections).
  std::string text = ToYaml(*r.config);
  LoadResult again = Load(text);
  ASSERT_TRUE(again.ok()) << text << Dump(again);
  EXPECT_EQ(*again.config, *r.config) << text;
}

TEST(ConfigSecurityTest, AnEmptyAuthTokenFileMeansNoCallerAuthentication) {
  LoadResult r = Load(R"(
server:
  auth_token_file: ""
model_providers: []
)");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_TRUE(r.config->server.auth_token_file.empty());
}

TEST(ConfigSecurityTest, ControlPlaneCertificateAndKeyGoTogetherAndNeedTls) {
  LoadResult half = Load(R"(
control_plane:
  addresses: [cp:7500]
  ca_file: /cp-ca.pem
  cert_file: /replica.pem
model_providers: []
)");
  EXPECT_FALSE(half.ok());
  EXPECT_THAT(half.diagnostics,
              Contains(Error(1, "control_plane.key_file", "cert_file and key_file go together")));

  LoadResult no_tls = Load(R"(
control_plane:
  addresses: [cp:7500]
  cert_file: /replica.pem
  key_file: /replica.key
model_providers: []
)");
  EXPECT_FALSE(no_tls.ok());
  EXPECT_THAT(no_tls.diagnostics,
              Contains(Error(3, "control_plane.cert_file", "requires ca_file")));
}

TEST(ConfigSecurityTest, AuthTokenFileMustBeAString) {
  LoadResult r = Load(R"(
server:
  auth_token_file: [a, b]
model_providers: []
)");
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace rebound
