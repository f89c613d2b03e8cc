// The control plane's fleet block table: the CRDT merge rule (commutative,
// idempotent, never shortening), tombstones, bounds and validation.
#include "controlplane/block_store.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::controlplane {
namespace {

using rebound::v1::Block;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

Block MakeBlock(std::string name, int64_t until_s_from_now,
                rebound::v1::BlockKind kind = rebound::v1::BLOCK_KIND_RETRY_AFTER,
                std::string origin = "replica-a",
                rebound::v1::BlockScope scope = rebound::v1::BLOCK_SCOPE_MODEL,
                int64_t created_at_us = 0) {
  Block b;
  b.set_scope(scope);
  b.set_name(std::move(name));
  b.set_kind(kind);
  b.set_until_unix_ms(absl::ToUnixMillis(kNow + absl::Seconds(until_s_from_now)));
  b.set_origin(std::move(origin));
  b.set_created_at_unix_us(created_at_us);
  return b;
}

std::string Dump(const std::vector<Block>& blocks) {
  std::string out;
  for (const Block& b : blocks) out += b.ShortDebugString() + "\n";
  return out;
}

TEST(BlockStoreTest, EveryOrderOfReportsConverges) {
  // Same key with competing deadlines, kinds, origins and creation times,
  // duplicates, and other keys: every permutation gives one table.
  std::vector<Block> reports = {
      MakeBlock("openai/gpt-4o", 60, rebound::v1::BLOCK_KIND_LATENCY, "b"),
      MakeBlock("openai/gpt-4o", 60, rebound::v1::BLOCK_KIND_RETRY_AFTER, "a"),
      MakeBlock("openai/gpt-4o", 60, rebound::v1::BLOCK_KIND_RETRY_AFTER, "c", rebound::v1::BLOCK_SCOPE_MODEL, 5),
      MakeBlock("openai/gpt-4o", 30, rebound::v1::BLOCK_KIND_RETRY_AFTER, "z"),
      MakeBlock("openai/gpt-4o", 60, rebound::v1::BLOCK_KIND_RETRY_AFTER, "c", rebound::v1::BLOCK_SCOPE_MODEL, 7),
      MakeBlock("openai", 10, rebound::v1::BLOCK_KIND_LATENCY, "a",
                rebound::v1::BLOCK_SCOPE_PROVIDER),
      MakeBlock("openai", 10, rebound::v1::BLOCK_KIND_LATENCY, "a",
                rebound::v1::BLOCK_SCOPE_PROVIDER),
  };
  std::vector<int> order(reports.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::string expected;
  int permutations = 0;
  do {
    BlockStore store;
    for (int i : order) store.Merge(reports[i], kNow);
    std::string got = Dump(store.Snapshot(kNow));
    if (expected.empty()) expected = got;
    ASSERT_EQ(got, expected) << "order #" << permutations;
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 5040);
  // The winner per (key, kind): latest deadline, larger origin, then later
  // creation; the latency block on the same model is an entry of its own.
  BlockStore store;
  for (const Block& b : reports) store.Merge(b, kNow);
  const Block* model = store.Find(rebound::v1::BLOCK_SCOPE_MODEL, "openai/gpt-4o", rebound::v1::BLOCK_KIND_RETRY_AFTER);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->origin(), "c");
  EXPECT_EQ(model->created_at_unix_us(), 7);
  const Block* latency =
      store.Find(rebound::v1::BLOCK_SCOPE_MODEL, "openai/gpt-4o", rebound::v1::BLOCK_KIND_LATENCY);
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(latency->origin(), "b");
  EXPECT_EQ(store.size(), 3u);
}

// Issue 10 item 1: a latency block ending later used to replace a Retry-After
// block on the same model in the fleet's table (one entry per key), so the
// other replicas never learnt of the Retry-After.
TEST(BlockStoreTest, BlocksOfBothKindsCoexistOnOneKey) {
  BlockStore store;
  EXPECT_EQ(store.Merge(MakeBlock("openai/gpt-4o", 300, rebound::v1::BLOCK_KIND_LATENCY), kNow),
            MergeOutcome::kChanged);
  EXPECT_EQ(store.Merge(MakeBlock("openai/gpt-4o", 30), kNow), MergeOutcome::kChanged);
  std::vector<Block> snapshot = store.Snapshot(kNow);
  ASSERT_EQ(snapshot.size(), 2u) << Dump(snapshot);
  int64_t until[2] = {0, 0};
  for (const Block& b : snapshot) until[b.kind() == rebound::v1::BLOCK_KIND_LATENCY] = b.until_unix_ms();
  EXPECT_EQ(until[0], absl::ToUnixMillis(kNow + absl::Seconds(30)));
  EXPECT_EQ(until[1], absl::ToUnixMillis(kNow + absl::Seconds(300)));
}

TEST(BlockStoreTest, ClearLiftsOneKindOrEvery) {
  BlockStore store;
  store.Merge(MakeBlock("m/x", 60), kNow);
  store.Merge(MakeBlock("m/x", 60, rebound::v1::BLOCK_KIND_LATENCY), kNow);
  EXPECT_TRUE(store.Clear(rebound::v1::BLOCK_SCOPE_MODEL, "m/x", rebound::v1::BLOCK_KIND_LATENCY,
                          kNow));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_NE(store.Find(rebound::v1::BLOCK_SCOPE_MODEL, "m/x", rebound::v1::BLOCK_KIND_RETRY_AFTER), nullptr);
  store.Merge(MakeBlock("m/x", 90, rebound::v1::BLOCK_KIND_LATENCY), kNow);
  EXPECT_TRUE(store.Clear(rebound::v1::BLOCK_SCOPE_MODEL, "m/x",
                          rebound::v1::BLOCK_KIND_UNSPECIFIED, kNow));
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.tombstones(), 2u) << "one per kind";
}

TEST(BlockStoreTest, MergingTheSameBlockTwiceChangesNothing) {
  BlockStore store;
  Block b = MakeBlock("openai/gpt-4o", 60);
  EXPECT_EQ(store.Merge(b, kNow), MergeOutcome::kChanged);
  EXPECT_EQ(store.Merge(b, kNow), MergeOutcome::kUnchanged);
  // relayed_at is each control plane's own bookkeeping, not part of the block.
  b.set_relayed_at_unix_us(12345);
  EXPECT_EQ(store.Merge(b, kNow), MergeOutcome::kUnchanged);
  EXPECT_EQ(store.size(), 1u);
}

TEST(BlockStoreTest, ALaterShorterReportNeverShortensABlock) {
  BlockStore store;
  EXPECT_EQ(store.Merge(MakeBlock("m/x", 60), kNow), MergeOutcome::kChanged);
  EXPECT_EQ(store.Merge(MakeBlock("m/x", 10, rebound::v1::BLOCK_KIND_RETRY_AFTER, "zzz"),
                        kNow + absl::Seconds(1)),
            MergeOutcome::kUnchanged);
  EXPECT_EQ(store.Find(rebound::v1::BLOCK_SCOPE_MODEL, "m/x", rebound::v1::BLOCK_KIND_RETRY_AFTER)->until_unix_ms(),
            absl::ToUnixMillis(kNow + absl::Seconds(60)));
  EXPECT_EQ(store.Merge(MakeBlock("m/x", 90), kNow), MergeOutcome::kChanged);
  EXPECT_EQ(store.Find(rebound::v1::BLOCK_SCOPE_MODEL, "m/x", rebound::v1::BLOCK_KIND_RETRY_AFTER)->until_unix_ms(),
            absl::ToUnixMillis(kNow + absl::Seconds(90)));
}

TEST(BlockStoreTest, ModelAndProviderScopesAreDistinctKeys) {
  BlockStore store;
  store.Merge(MakeBlock("openai", 60), kNow);
  store.Merge(MakeBlock("openai", 60, rebound::v1::BLOCK_KIND_RETRY_AFTER, "a",
                        rebound::v1::BLOCK_SCOPE_PROVIDER),
              kNow);
  EXPECT_EQ(store.size(), 2u);
}

TEST(BlockStoreTest, ClearLeavesATombstoneThatIgnoresStaleReReports) {
  BlockStore store;
  Block b = MakeBlock("openai/gpt-4o", 60);
  store.Merge(b, kNow);
  EXPECT_TRUE(store.Clear(rebound::v1::BLOCK_SCOPE_MODEL, "openai/gpt-4o", rebound::v1::BLOCK_KIND_RETRY_AFTER, kNow));
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.tombstones(), 1u);
  // A replica that still holds it re-reports: ignored, as is anything shorter.
  EXPECT_EQ(store.Merge(b, kNow), MergeOutcome::kTombstoned);
  EXPECT_EQ(store.Merge(MakeBlock("openai/gpt-4o", 30), kNow), MergeOutcome::kTombstoned);
  EXPECT_TRUE(store.Snapshot(kNow).empty());
  // A block outliving the cleared one is a new signal.
  EXPECT_EQ(store.Merge(MakeBlock("openai/gpt-4o", 61), kNow), MergeOutcome::kChanged);
  EXPECT_EQ(store.tombstones(), 0u);
}

TEST(BlockStoreTest, TombstonesExpireWithTheClearedDeadline) {
  BlockStore store;
  store.Merge(MakeBlock("m/x", 60), kNow);
  store.Clear(rebound::v1::BLOCK_SCOPE_MODEL, "m/x", rebound::v1::BLOCK_KIND_RETRY_AFTER, kNow);
  store.Sweep(kNow + absl::Seconds(61));
  EXPECT_EQ(store.tombstones(), 0u);
  absl::Time later = kNow + absl::Seconds(61);
  Block again = MakeBlock("m/x", 70);  // 9 s after `later`
  EXPECT_EQ(store.Merge(again, later), MergeOutcome::kChanged);
}

TEST(BlockStoreTest, ClearingAnAbsentKeyRemovesNothingAndLeavesNoTombstone) {
  BlockStore store;
  EXPECT_FALSE(store.Clear(rebound::v1::BLOCK_SCOPE_MODEL, "m/x", rebound::v1::BLOCK_KIND_RETRY_AFTER, kNow));
  EXPECT_EQ(store.tombstones(), 0u);
  EXPECT_EQ(store.Merge(MakeBlock("m/x", 5), kNow), MergeOutcome::kChanged);
}

TEST(BlockStoreTest, FullStoreEvictsTheSoonestExpiring) {
  BlockStore store(3);
  store.Merge(MakeBlock("m/a", 30), kNow);
  store.Merge(MakeBlock("m/b", 10), kNow);
  store.Merge(MakeBlock("m/c", 20), kNow);
  EXPECT_EQ(store.Merge(MakeBlock("m/d", 40), kNow), MergeOutcome::kChanged);
  EXPECT_EQ(store.size(), 3u);
  EXPECT_EQ(store.Find(rebound::v1::BLOCK_SCOPE_MODEL, "m/b", rebound::v1::BLOCK_KIND_RETRY_AFTER), nullptr);
  // One that would expire before every stored entry is not worth storing.
  EXPECT_EQ(store.Merge(MakeBlock("m/e", 5), kNow), MergeOutcome::kDropped);
  EXPECT_EQ(store.size(), 3u);
  // Updating an existing key never evicts.
  EXPECT_EQ(store.Merge(MakeBlock("m/c", 50), kNow), MergeOutcome::kChanged);
  EXPECT_EQ(store.size(), 3u);
}

TEST(BlockStoreTest, ManyDistinctKeysStayBounded) {
  BlockStore store(100);
  for (int i = 0; i < 10000; ++i) {
    store.Merge(MakeBlock("m/" + std::to_string(i), 1 + i % 3600), kNow);
  }
  EXPECT_EQ(store.size(), 100u);
}

TEST(BlockStoreTest, InvalidBlocksAreRejected) {
  BlockStore store;
  auto expect_invalid = [&](const Block& b, std::string_view why) {
    EXPECT_EQ(store.Merge(b, kNow), MergeOutcome::kInvalid) << why;
    EXPECT_THAT(BlockStore::Validate(b, kNow), ::testing::HasSubstr(std::string(why)));
  };
  expect_invalid(MakeBlock("", 60), "empty name");
  expect_invalid(MakeBlock(std::string(600, 'x'), 60), "name too long");
  expect_invalid(MakeBlock("m/x", 60, rebound::v1::BLOCK_KIND_RETRY_AFTER, std::string(300, 'o')),
                 "origin too long");
  expect_invalid(MakeBlock("m/x", 60, rebound::v1::BLOCK_KIND_UNSPECIFIED), "unknown kind");
  expect_invalid(MakeBlock("m/x", 60, static_cast<rebound::v1::BlockKind>(7)), "unknown kind");
  expect_invalid(MakeBlock("m/x", 60, rebound::v1::BLOCK_KIND_LATENCY, "a",
                           rebound::v1::BLOCK_SCOPE_UNSPECIFIED),
                 "unknown scope");
  expect_invalid(MakeBlock("m/x", 0), "not in the future");
  expect_invalid(MakeBlock("m/x", -5), "not in the future");
  expect_invalid(MakeBlock("m/x", 24 * 3600 + 1), "24 h");
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.Merge(MakeBlock("m/x", 24 * 3600), kNow), MergeOutcome::kChanged);
}

TEST(BlockStoreTest, SweepAndSnapshotDropExpiredEntries) {
  BlockStore store;
  store.Merge(MakeBlock("m/a", 10), kNow);
  store.Merge(MakeBlock("m/b", 100), kNow);
  absl::Time later = kNow + absl::Seconds(50);
  EXPECT_EQ(store.Snapshot(later).size(), 1u);
  EXPECT_EQ(store.size(), 2u);
  EXPECT_EQ(store.Sweep(later), 1u);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.Snapshot(later)[0].name(), "m/b");
}

TEST(BlockStoreTest, VersionMovesWithEveryChangeToTheEntriesOnly) {
  // The service reuses a snapshot while the version stands: any change to
  // the entries must move it, and nothing else may (or the cache is useless).
  BlockStore store(/*max_entries=*/2);
  uint64_t v = store.version();
  store.Merge(MakeBlock("m/a", 10), kNow);
  EXPECT_GT(store.version(), v) << "a new entry";
  v = store.version();
  store.Merge(MakeBlock("m/a", 10), kNow);
  store.Merge(MakeBlock("m/a", 5), kNow);
  store.Merge(MakeBlock("", 10), kNow);
  store.Clear(rebound::v1::BLOCK_SCOPE_MODEL, "m/absent", rebound::v1::BLOCK_KIND_UNSPECIFIED,
              kNow);
  EXPECT_EQ(store.Sweep(kNow), 0u);
  EXPECT_EQ(store.version(), v) << "unchanged, shorter, invalid, absent clear, empty sweep";
  store.Merge(MakeBlock("m/a", 20), kNow);
  EXPECT_GT(store.version(), v) << "a later deadline";
  v = store.version();
  store.Merge(MakeBlock("m/b", 30), kNow);
  v = store.version();
  store.Merge(MakeBlock("m/c", 40), kNow);  // full: m/a (the soonest) is evicted
  EXPECT_GT(store.version(), v) << "an eviction";
  EXPECT_EQ(store.Find(rebound::v1::BLOCK_SCOPE_MODEL, "m/a", rebound::v1::BLOCK_KIND_RETRY_AFTER),
            nullptr);
  v = store.version();
  EXPECT_TRUE(store.Clear(rebound::v1::BLOCK_SCOPE_MODEL, "m/b",
                          rebound::v1::BLOCK_KIND_UNSPECIFIED, kNow));
  EXPECT_GT(store.version(), v) << "a clear";
  v = store.version();
  EXPECT_EQ(store.Sweep(kNow + absl::Seconds(50)), 1u);
  EXPECT_GT(store.version(), v) << "a sweep that removed one";
}

TEST(BlockStoreTest, CountActiveCountsUnexpiredEntriesOfOneKind) {
  BlockStore store;
  store.Merge(MakeBlock("m/a", 10), kNow);
  store.Merge(MakeBlock("m/b", 100), kNow);
  store.Merge(MakeBlock("m/b", 100, rebound::v1::BLOCK_KIND_LATENCY), kNow);
  EXPECT_EQ(store.CountActive(rebound::v1::BLOCK_KIND_RETRY_AFTER, kNow), 2u);
  EXPECT_EQ(store.CountActive(rebound::v1::BLOCK_KIND_LATENCY, kNow), 1u);
  // m/a has expired but is not swept yet.
  EXPECT_EQ(store.CountActive(rebound::v1::BLOCK_KIND_RETRY_AFTER, kNow + absl::Seconds(50)), 1u);
}

}  // namespace
}  // namespace rebound::controlplane
