// Who may call which control-plane RPC (issue 10 item 8): replica tokens
// open Sync only, operator tokens PushPolicy, GetState and ClearBlock only,
// and the two lists may not share a token.
#include "controlplane/auth.h"

#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::controlplane {

// Readable failures (in this namespace, where gtest's lookup finds them).
void PrintTo(Authenticator::Result r, std::ostream* os) {
  *os << (r == Authenticator::Result::kAllowed           ? "kAllowed"
          : r == Authenticator::Result::kUnauthenticated ? "kUnauthenticated"
                                                         : "kWrongRole");
}
void PrintTo(Role role, std::ostream* os) { *os << ToString(role); }

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Result = Authenticator::Result;

Authenticator TwoRoles() {
  return Authenticator(BearerTokens({"replica-1", "replica-2"}),
                       BearerTokens({"operator-1", "operator-2"}));
}

TEST(AuthenticatorTest, ReplicaTokensOpenSyncOnly) {
  Authenticator auth = TwoRoles();
  for (const char* header : {"Bearer replica-1", "bearer replica-2", "BEARER replica-1"}) {
    EXPECT_EQ(auth.Check(header, Role::kReplica), Result::kAllowed) << header;
    EXPECT_EQ(auth.Check(header, Role::kOperator), Result::kWrongRole) << header;
  }
}

TEST(AuthenticatorTest, OperatorTokensOpenTheOperatorRpcsOnly) {
  Authenticator auth = TwoRoles();
  for (const char* header : {"Bearer operator-1", "Bearer operator-2"}) {
    EXPECT_EQ(auth.Check(header, Role::kOperator), Result::kAllowed) << header;
    EXPECT_EQ(auth.Check(header, Role::kReplica), Result::kWrongRole) << header;
  }
}

TEST(AuthenticatorTest, AnythingElseIsUnauthenticatedInEitherRole) {
  Authenticator auth = TwoRoles();
  for (const char* header : {"", "replica-1", "Basic operator-1", "Bearer ", "Bearer replica-1x",
                             "Bearer operator", "Bearer replica-1 "}) {
    for (Role role : {Role::kReplica, Role::kOperator}) {
      EXPECT_EQ(auth.Check(header, role), Result::kUnauthenticated) << "'" << header << "'";
    }
  }
}

TEST(AuthenticatorTest, InsecureModeAllowsEveryCallInEveryRole) {
  Authenticator auth = Authenticator::Insecure();
  for (const char* header : {"", "Bearer anything"}) {
    EXPECT_EQ(auth.Check(header, Role::kReplica), Result::kAllowed);
    EXPECT_EQ(auth.Check(header, Role::kOperator), Result::kAllowed);
  }
}

TEST(AuthenticatorTest, EachRpcNeedsItsRole) {
  EXPECT_EQ(RoleFor(Rpc::kSync), Role::kReplica);
  EXPECT_EQ(RoleFor(Rpc::kPushPolicy), Role::kOperator);
  EXPECT_EQ(RoleFor(Rpc::kGetState), Role::kOperator);
  EXPECT_EQ(RoleFor(Rpc::kClearBlock), Role::kOperator);
}

TEST(TokenListsTest, DisjointListsAreAccepted) {
  EXPECT_TRUE(CheckTokenListsDisjoint({"a", "b"}, {"c", "d"}, "r.tokens", "o.tokens").ok());
}

TEST(TokenListsTest, ASharedTokenIsRefusedWithoutShowingIt) {
  absl::Status status = CheckTokenListsDisjoint({"a", "shared-secret-token"},
                                                {"shared-secret-token", "d"}, "r.tokens",
                                                "o.tokens");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("r.tokens"));
  EXPECT_THAT(status.message(), HasSubstr("o.tokens"));
  EXPECT_THAT(status.message(), HasSubstr("share"));
  // Which entries: the 2nd of the first file, the 1st of the second.
  EXPECT_THAT(status.message(), HasSubstr("token 2"));
  EXPECT_THAT(status.message(), HasSubstr("token 1"));
  EXPECT_THAT(status.message(), Not(HasSubstr("shared-secret-token")));
}

}  // namespace
}  // namespace rebound::controlplane
