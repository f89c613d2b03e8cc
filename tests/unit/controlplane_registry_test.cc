// The replica registry: connection, ACK/NACK bookkeeping, reconnects that
// take a record over, and bounds.
#include "controlplane/replica_registry.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::controlplane {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

TEST(ReplicaRegistryTest, HelloConnectsAndRecordsTheRunningVersionAsAcked) {
  ReplicaRegistry registry;
  uint64_t gen = registry.Connect("a", "0.1.0", VersionId{3, "h3"}, kNow);
  EXPECT_GT(gen, 0u);
  const ReplicaRecord* r = registry.Find("a");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->connected);
  EXPECT_EQ(r->build_version, "0.1.0");
  EXPECT_EQ(r->connected_since, kNow);
  EXPECT_EQ(r->acked, (VersionId{3, "h3"}));
  EXPECT_EQ(registry.connected(), 1u);
  // Counter 0 (its local file) is no acknowledged version.
  registry.Connect("b", "0.1.0", VersionId{}, kNow);
  EXPECT_EQ(registry.Find("b")->acked.counter, 0u);
}

TEST(ReplicaRegistryTest, AckAndNackAreRecordedPerVersion) {
  ReplicaRegistry registry;
  uint64_t gen = registry.Connect("a", "v", VersionId{}, kNow);
  EXPECT_TRUE(registry.Ack("a", gen, VersionId{1, "h1"}));
  EXPECT_TRUE(registry.Nack("a", gen, VersionId{2, "h2"}, "OPENAI_API_KEY is not set"));
  const ReplicaRecord* r = registry.Find("a");
  EXPECT_EQ(r->acked, (VersionId{1, "h1"}));
  EXPECT_EQ(r->nacked, (VersionId{2, "h2"}));
  EXPECT_EQ(r->last_nack, "OPENAI_API_KEY is not set");
  // A later ACK moves acked on; the last NACK stays visible.
  EXPECT_TRUE(registry.Ack("a", gen, VersionId{3, "h3"}));
  EXPECT_EQ(registry.Find("a")->acked.counter, 3u);
  EXPECT_EQ(registry.Find("a")->last_nack, "OPENAI_API_KEY is not set");
  EXPECT_FALSE(registry.Ack("unknown", gen, VersionId{1, "h"}));
}

TEST(ReplicaRegistryTest, LongNackReasonsAreShortened) {
  ReplicaRegistry registry;
  uint64_t gen = registry.Connect("a", std::string(1000, 'b'), VersionId{}, kNow);
  registry.Nack("a", gen, VersionId{1, "h"}, std::string(100000, 'x'));
  EXPECT_EQ(registry.Find("a")->last_nack.size(), ReplicaRegistry::kMaxReasonBytes);
  EXPECT_EQ(registry.Find("a")->build_version.size(), ReplicaRegistry::kMaxBuildBytes);
}

TEST(ReplicaRegistryTest, AReconnectTakesTheRecordOverFromTheOldStream) {
  ReplicaRegistry registry;
  uint64_t old_gen = registry.Connect("a", "v", VersionId{}, kNow);
  uint64_t new_gen = registry.Connect("a", "v2", VersionId{}, kNow + absl::Seconds(1));
  EXPECT_NE(old_gen, new_gen);
  EXPECT_EQ(registry.connected(), 1u);
  // The old stream's late messages and its disconnect are ignored.
  EXPECT_FALSE(registry.Ack("a", old_gen, VersionId{9, "h9"}));
  registry.Disconnect("a", old_gen, kNow + absl::Seconds(2));
  EXPECT_TRUE(registry.Find("a")->connected);
  EXPECT_EQ(registry.Find("a")->build_version, "v2");
  registry.Disconnect("a", new_gen, kNow + absl::Seconds(3));
  EXPECT_FALSE(registry.Find("a")->connected);
  EXPECT_EQ(registry.connected(), 0u);
}

TEST(ReplicaRegistryTest, DisconnectedReplicasAreForgottenAfterAWhile) {
  ReplicaRegistry registry(10, absl::Minutes(10));
  uint64_t gen = registry.Connect("a", "v", VersionId{}, kNow);
  registry.Connect("b", "v", VersionId{}, kNow);
  registry.Disconnect("a", gen, kNow);
  EXPECT_EQ(registry.Sweep(kNow + absl::Minutes(5)), 0u);
  EXPECT_EQ(registry.Sweep(kNow + absl::Minutes(11)), 1u);
  EXPECT_EQ(registry.Find("a"), nullptr);
  EXPECT_NE(registry.Find("b"), nullptr);
}

TEST(ReplicaRegistryTest, FullRegistryEvictsTheLongestGoneOrRefuses) {
  ReplicaRegistry registry(2);
  uint64_t a = registry.Connect("a", "v", VersionId{}, kNow);
  uint64_t b = registry.Connect("b", "v", VersionId{}, kNow);
  EXPECT_EQ(registry.Connect("c", "v", VersionId{}, kNow), 0u);  // all connected
  registry.Disconnect("b", b, kNow + absl::Seconds(1));
  registry.Disconnect("a", a, kNow + absl::Seconds(2));
  EXPECT_GT(registry.Connect("c", "v", VersionId{}, kNow + absl::Seconds(3)), 0u);
  EXPECT_EQ(registry.size(), 2u);
  EXPECT_EQ(registry.Find("b"), nullptr);  // gone longest
  EXPECT_NE(registry.Find("a"), nullptr);
}

TEST(ReplicaRegistryTest, SnapshotIsOrderedById) {
  ReplicaRegistry registry;
  registry.Connect("c", "v", VersionId{}, kNow);
  registry.Connect("a", "v", VersionId{}, kNow);
  registry.Connect("b", "v", VersionId{}, kNow);
  std::vector<ReplicaRecord> all = registry.Snapshot();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].replica_id, "a");
  EXPECT_EQ(all[2].replica_id, "c");
}

}  // namespace
}  // namespace rebound::controlplane
