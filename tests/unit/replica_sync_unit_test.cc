// The pure parts of the control-plane client: block conversions, version
// ordering, the policy merge and the reconnect backoff.
#include "replica/replica_sync.h"

#include "gtest/gtest.h"
#include "policy/config_loader.h"

namespace rebound {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

v1::PolicyVersion Version(uint64_t counter, std::string hash) {
  v1::PolicyVersion v;
  v.set_counter(counter);
  v.set_hash(std::move(hash));
  return v;
}

TEST(PolicyVersionTest, LocalFileRunsCounterZeroWithTheHashOfNothing) {
  v1::PolicyVersion v = LocalPolicyVersion();
  EXPECT_EQ(v.counter(), 0u);
  EXPECT_EQ(v.hash(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(PolicyVersionTest, OnlyANewerCounterIsApplied) {
  v1::PolicyVersion in_force = Version(3, "aaa");
  EXPECT_EQ(ClassifyPolicyOffer(in_force, Version(4, "bbb")), PolicyOffer::kApply);
  EXPECT_EQ(ClassifyPolicyOffer(in_force, Version(100, "aaa")), PolicyOffer::kApply);
  EXPECT_EQ(ClassifyPolicyOffer(LocalPolicyVersion(), Version(1, "x")), PolicyOffer::kApply);
}

TEST(PolicyVersionTest, TheVersionInForceIsAckedAgainNotReapplied) {
  EXPECT_EQ(ClassifyPolicyOffer(Version(3, "aaa"), Version(3, "aaa")),
            PolicyOffer::kAlreadyInForce);
}

// Issue 10 item 13: every offer gets an answer. An older counter, or the
// counter in force with another hash, is NACKed with both versions named.
TEST(PolicyVersionTest, AnOlderOfferIsNackedNamingBothVersions) {
  v1::PolicyVersion in_force = Version(3, "aaaaaaaaaaaaaaaa");
  EXPECT_EQ(ClassifyPolicyOffer(in_force, Version(2, "bbbbbbbbbbbbbbbb")), PolicyOffer::kOlder);
  EXPECT_EQ(ClassifyPolicyOffer(in_force, Version(0, kEmptyPolicyHash)), PolicyOffer::kOlder);
  std::string reason = RefusedOfferReason(in_force, Version(2, "bbbbbbbbbbbbbbbb"));
  EXPECT_NE(reason.find("2/bbbbbbbbbbbb"), std::string::npos) << reason;
  EXPECT_NE(reason.find("3/aaaaaaaaaaaa"), std::string::npos) << reason;
  EXPECT_NE(reason.find("older"), std::string::npos) << reason;
}

TEST(PolicyVersionTest, ASameCounterOfferWithAnotherHashIsNackedNamingBothVersions) {
  v1::PolicyVersion in_force = Version(3, "aaaaaaaaaaaaaaaa");
  EXPECT_EQ(ClassifyPolicyOffer(in_force, Version(3, "bbbbbbbbbbbbbbbb")),
            PolicyOffer::kConflicting);
  std::string reason = RefusedOfferReason(in_force, Version(3, "bbbbbbbbbbbbbbbb"));
  EXPECT_NE(reason.find("3/bbbbbbbbbbbb"), std::string::npos) << reason;
  EXPECT_NE(reason.find("3/aaaaaaaaaaaa"), std::string::npos) << reason;
  EXPECT_NE(reason.find("other content"), std::string::npos) << reason;
}

TEST(PolicyVersionTest, AnOfferThatIsAppliedOrAckedHasNoRefusalReason) {
  v1::PolicyVersion in_force = Version(3, "aaa");
  EXPECT_EQ(RefusedOfferReason(in_force, Version(4, "bbb")), "");
  EXPECT_EQ(RefusedOfferReason(in_force, Version(3, "aaa")), "");
}

TEST(PolicyVersionTest, AReasonShowsOnlyPrintableHashCharacters) {
  // The hash comes from the control plane; the reason goes to logs and
  // GetState.
  std::string reason = RefusedOfferReason(Version(3, "aaa"), Version(1, "x\ny\x01z"));
  EXPECT_NE(reason.find("1/x?y?z"), std::string::npos) << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
  EXPECT_EQ(reason.find('\x01'), std::string::npos) << reason;
}

TEST(BlockConversionTest, LocalBlockBecomesProtoWithReplicaOriginAndCreatedAt) {
  Block block{BlockKind::kRetryAfter, kNow + absl::Seconds(60), ""};
  v1::Block proto = ToProtoBlock(BlockKey::Model("openai/gpt-4o"), block, "r1",
                                 kNow + absl::Microseconds(5));
  EXPECT_EQ(proto.scope(), v1::BLOCK_SCOPE_MODEL);
  EXPECT_EQ(proto.name(), "openai/gpt-4o");
  EXPECT_EQ(proto.kind(), v1::BLOCK_KIND_RETRY_AFTER);
  EXPECT_EQ(proto.until_unix_ms(), absl::ToUnixMillis(kNow) + 60000);
  EXPECT_EQ(proto.origin(), "r1");
  EXPECT_EQ(proto.created_at_unix_us(), absl::ToUnixMicros(kNow) + 5);
  EXPECT_EQ(proto.relayed_at_unix_us(), 0);
}

TEST(BlockConversionTest, RemoteBlockKeepsItsOriginAndHasNoCreatedAtByDefault) {
  Block block{BlockKind::kLatency, kNow + absl::Seconds(1), "r7"};
  v1::Block proto = ToProtoBlock(BlockKey::Provider("openai"), block, "r1");
  EXPECT_EQ(proto.scope(), v1::BLOCK_SCOPE_PROVIDER);
  EXPECT_EQ(proto.kind(), v1::BLOCK_KIND_LATENCY);
  EXPECT_EQ(proto.origin(), "r7");
  EXPECT_EQ(proto.created_at_unix_us(), 0);
}

TEST(BlockConversionTest, DeadlineIsRoundedUpNeverShortened) {
  Block block{BlockKind::kRetryAfter, kNow + absl::Microseconds(1500), ""};
  v1::Block proto = ToProtoBlock(BlockKey::Model("m/x"), block, "r1");
  EXPECT_EQ(proto.until_unix_ms(), absl::ToUnixMillis(kNow) + 2);
  EXPECT_GE(absl::FromUnixMillis(proto.until_unix_ms()), block.until);
}

TEST(BlockConversionTest, RoundTrip) {
  Block block{BlockKind::kLatency, kNow + absl::Seconds(30), "r2"};
  BlockKey key = BlockKey::Provider("anthropic");
  std::optional<ReceivedBlock> back = FromProtoBlock(ToProtoBlock(key, block, "r1"), kNow);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->key, key);
  EXPECT_EQ(back->kind, BlockKind::kLatency);
  EXPECT_EQ(back->until, block.until);
  EXPECT_EQ(back->origin, "r2");
}

TEST(BlockConversionTest, ReceivedBlockAlwaysHasAnOriginSoTheListenerDoesNotEchoIt) {
  v1::Block proto;
  proto.set_scope(v1::BLOCK_SCOPE_MODEL);
  proto.set_name("openai/gpt-4o");
  proto.set_kind(v1::BLOCK_KIND_RETRY_AFTER);
  proto.set_until_unix_ms(absl::ToUnixMillis(kNow) + 1000);
  std::optional<ReceivedBlock> block = FromProtoBlock(proto, kNow);
  ASSERT_TRUE(block.has_value());
  EXPECT_FALSE(block->origin.empty());

  BlockTable table;
  int fired = 0;
  table.SetListener([&](const BlockKey&, const Block&) { ++fired; });
  EXPECT_TRUE(table.Merge(block->key, block->kind, block->until, block->origin));
  EXPECT_EQ(fired, 0);
}

TEST(BlockConversionTest, MalformedBlocksAreRejected) {
  v1::Block good;
  good.set_scope(v1::BLOCK_SCOPE_MODEL);
  good.set_name("openai/gpt-4o");
  good.set_kind(v1::BLOCK_KIND_RETRY_AFTER);
  good.set_until_unix_ms(absl::ToUnixMillis(kNow) + 1000);
  ASSERT_TRUE(FromProtoBlock(good, kNow).has_value());

  v1::Block b = good;
  b.set_scope(v1::BLOCK_SCOPE_UNSPECIFIED);
  EXPECT_FALSE(FromProtoBlock(b, kNow).has_value());
  b = good;
  b.set_kind(v1::BLOCK_KIND_UNSPECIFIED);
  EXPECT_FALSE(FromProtoBlock(b, kNow).has_value());
  b = good;
  b.set_name("");
  EXPECT_FALSE(FromProtoBlock(b, kNow).has_value());
  b = good;
  b.set_name(std::string(kMaxBlockNameBytes + 1, 'x'));
  EXPECT_FALSE(FromProtoBlock(b, kNow).has_value());
  b = good;
  b.set_until_unix_ms(0);
  EXPECT_FALSE(FromProtoBlock(b, kNow).has_value());
}

TEST(BlockConversionTest, FarFutureDeadlineIsCapped) {
  v1::Block proto;
  proto.set_scope(v1::BLOCK_SCOPE_PROVIDER);
  proto.set_name("openai");
  proto.set_kind(v1::BLOCK_KIND_RETRY_AFTER);
  proto.set_until_unix_ms(absl::ToUnixMillis(kNow + absl::Hours(24 * 365 * 100)));
  std::optional<ReceivedBlock> block = FromProtoBlock(proto, kNow);
  ASSERT_TRUE(block.has_value());
  EXPECT_EQ(block->until, kNow + kMaxBlockAhead);
}

TEST(BlockConversionTest, ClearedKey) {
  v1::BlockCleared cleared;
  cleared.set_scope(v1::BLOCK_SCOPE_PROVIDER);
  cleared.set_name("openai");
  std::optional<ClearedBlock> every = FromProtoCleared(cleared);
  ASSERT_TRUE(every.has_value());
  EXPECT_EQ(every->key, BlockKey::Provider("openai"));
  EXPECT_EQ(every->kind, std::nullopt) << "no kind: every kind";
  cleared.set_kind(v1::BLOCK_KIND_LATENCY);
  EXPECT_EQ(FromProtoCleared(cleared)->kind, BlockKind::kLatency);
  cleared.set_kind(static_cast<v1::BlockKind>(99));
  EXPECT_FALSE(FromProtoCleared(cleared).has_value());
  cleared.set_kind(v1::BLOCK_KIND_UNSPECIFIED);
  cleared.set_scope(v1::BLOCK_SCOPE_UNSPECIFIED);
  EXPECT_FALSE(FromProtoCleared(cleared).has_value());
}

EnvLookup Env(std::vector<std::pair<std::string, std::string>> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    for (const auto& [k, v] : vars) {
      if (k == name) return v;
    }
    return std::nullopt;
  };
}

TEST(MergePushedPolicyTest, KeepsTheReplicasServerAndControlPlaneSections) {
  LoadResult local = LoadConfigFromString(R"(
server:
  listen: 127.0.0.1:7001
  metrics_listen: 127.0.0.1:7002
  drain_grace_ms: 1234
control_plane:
  addresses: ["127.0.0.1:9000"]
  replica_id: r1
  token_file: /etc/rebound/token
model_providers:
  - model: openai/gpt-4o
    base_url: http://127.0.0.1:1
    access_key: local
    default: true
)",
                                          "local.yaml", Env({}));
  ASSERT_TRUE(local.ok());
  // A pushed policy trying to move the listener or the control plane: the
  // replica's own sections win.
  LoadResult pushed = LoadConfigFromString(R"(
server:
  listen: 0.0.0.0:1
control_plane:
  addresses: ["10.0.0.1:1"]
model_providers:
  - model: mistral/mistral-large
    base_url: http://127.0.0.1:2
    access_key: $PUSHED_KEY
    default: true
)",
                                           "control-plane policy", Env({{"PUSHED_KEY", "k"}}));
  ASSERT_TRUE(pushed.ok());
  std::shared_ptr<const Config> merged = MergePushedPolicy(*pushed.config, *local.config);
  EXPECT_EQ(merged->server, local.config->server);
  EXPECT_EQ(merged->control_plane, local.config->control_plane);
  ASSERT_EQ(merged->providers.size(), 1u);
  EXPECT_EQ(merged->providers[0].model_id, "mistral/mistral-large");
  EXPECT_EQ(merged->providers[0].access_key, "k");
  EXPECT_NE(merged->Default(), nullptr);
}

TEST(ReconnectBackoffTest, DoublesFromBaseToMaxWithoutJitterAtMidpoint) {
  ReconnectBackoff backoff(absl::Milliseconds(100), absl::Seconds(5), [] { return 0.5; });
  std::vector<int64_t> ms;
  for (int i = 0; i < 9; ++i) ms.push_back(absl::ToInt64Milliseconds(backoff.Next()));
  EXPECT_EQ(ms, (std::vector<int64_t>{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}));
}

TEST(ReconnectBackoffTest, JitterSpansHalfToOneAndAHalf) {
  double u = 0.0;
  ReconnectBackoff low(absl::Milliseconds(100), absl::Seconds(5), [&] { return u; });
  EXPECT_EQ(low.Next(), absl::Milliseconds(50));
  u = 0.999;
  EXPECT_GT(low.Next(), absl::Milliseconds(299));  // 200 ms * 1.499
  EXPECT_LT(low.Next(), absl::Milliseconds(600));  // 400 ms * 1.499
}

TEST(ReconnectBackoffTest, ResetStartsFromBaseAgain) {
  ReconnectBackoff backoff(absl::Milliseconds(100), absl::Seconds(5), [] { return 0.5; });
  for (int i = 0; i < 20; ++i) backoff.Next();
  EXPECT_EQ(backoff.Next(), absl::Seconds(5));
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
}

TEST(ReconnectBackoffTest, ManyFailuresNeverOverflow) {
  ReconnectBackoff backoff(absl::Milliseconds(100), absl::Seconds(5), [] { return 0.5; });
  for (int i = 0; i < 10000; ++i) ASSERT_LE(backoff.Next(), absl::Seconds(5));
}

}  // namespace
}  // namespace rebound
