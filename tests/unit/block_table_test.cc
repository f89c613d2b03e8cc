// BlockTable (RETRY.md section 6): merging keeps the later deadline and
// converges whatever the order of reports, expired entries are ignored and
// swept, memory stays bounded, and local changes reach the listener.
#include "blocks/block_table.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;
using ::testing::Pair;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

absl::Time At(int64_t seconds) { return kT0 + absl::Seconds(seconds); }

ModelProvider Model(std::string id) {
  ModelProvider m;
  m.model_id = id;
  m.provider = id.substr(0, id.find('/'));
  m.bare_model = id.substr(id.find('/') + 1);
  return m;
}

const BlockKey kGpt4o = BlockKey::Model("openai/gpt-4o");
const BlockKey kOpenAi = BlockKey::Provider("openai");

// ------------------------------------------------------------------ keys

TEST(BlockKeyTest, StableTextForm) {
  EXPECT_EQ(kGpt4o.ToString(), "model:openai/gpt-4o");
  EXPECT_EQ(kOpenAi.ToString(), "provider:openai");
  EXPECT_EQ(BlockKey::Model("openrouter/meta-llama/llama-3").ToString(),
            "model:openrouter/meta-llama/llama-3");
}

TEST(BlockKeyTest, ParseIsTheInverseOfToString) {
  EXPECT_THAT(BlockKey::Parse("model:openai/gpt-4o"), Optional(kGpt4o));
  EXPECT_THAT(BlockKey::Parse("provider:openai"), Optional(kOpenAi));
  for (const char* bad : {"", "model:", "provider:", "openai", "Model:openai/gpt-4o", "host:x"}) {
    EXPECT_EQ(BlockKey::Parse(bad), std::nullopt) << bad;
  }
}

TEST(BlockKeyTest, ForPicksModelOrProviderOfTheTarget) {
  ModelProvider m = Model("openai/gpt-4o");
  EXPECT_EQ(BlockKey::For(BlockScope::kModel, m), kGpt4o);
  EXPECT_EQ(BlockKey::For(BlockScope::kProvider, m), kOpenAi);
}

// ------------------------------------------------------------------ merging

TEST(BlockTableTest, MergeCreatesAnActiveBlock) {
  BlockTable t;
  EXPECT_TRUE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60)));
  EXPECT_THAT(t.Find(kGpt4o, BlockKind::kRetryAfter, At(0)), Optional(Block{BlockKind::kRetryAfter, At(60), ""}));
  EXPECT_EQ(t.Find(kOpenAi, BlockKind::kRetryAfter, At(0)), std::nullopt);
}

TEST(BlockTableTest, LaterDeadlineExtendsTheBlock) {
  BlockTable t;
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60));
  EXPECT_TRUE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(90)));
  EXPECT_EQ(t.Find(kGpt4o, BlockKind::kRetryAfter, At(0))->until, At(90));
}

TEST(BlockTableTest, EarlierDeadlineNeverShortensTheBlock) {
  BlockTable t;
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60));
  EXPECT_FALSE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(15)));
  EXPECT_FALSE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(30), "replica-b"));
  EXPECT_EQ(t.Find(kGpt4o, BlockKind::kRetryAfter, At(0)),
            (Block{BlockKind::kRetryAfter, At(60), ""}));
}

// Issue 10 item 1: a 300 s latency block used to absorb a later 30 s
// Retry-After block on the same model, and the engine stopped honouring the
// provider's Retry-After.
TEST(BlockTableTest, BlocksOfBothKindsCoexistOnOneKey) {
  BlockTable t;
  EXPECT_TRUE(t.Merge(kGpt4o, BlockKind::kLatency, At(300)));
  EXPECT_TRUE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(30)));
  EXPECT_THAT(t.Find(kGpt4o, BlockKind::kRetryAfter, At(0)),
              Optional(Block{BlockKind::kRetryAfter, At(30), ""}));
  EXPECT_THAT(t.Find(kGpt4o, BlockKind::kLatency, At(0)),
              Optional(Block{BlockKind::kLatency, At(300), ""}));
  EXPECT_EQ(t.size(), 2u);
  CoveringBlocks c = t.Covering(Model("openai/gpt-4o"), At(0));
  EXPECT_EQ(c.retry_after_until, At(30));
  EXPECT_EQ(c.latency_until, At(300));
  // Each kind keeps its own later deadline.
  EXPECT_FALSE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(20)));
  EXPECT_TRUE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(40)));
  EXPECT_EQ(t.Find(kGpt4o, BlockKind::kLatency, At(0))->until, At(300));
  EXPECT_EQ(t.Find(kGpt4o, BlockKind::kRetryAfter, At(0))->until, At(40));
  EXPECT_THAT(t.Snapshot(At(0)),
              ElementsAre(Pair(kGpt4o, Block{BlockKind::kRetryAfter, At(40), ""}),
                          Pair(kGpt4o, Block{BlockKind::kLatency, At(300), ""})));
}

TEST(BlockTableTest, MergingTheSameEntryAgainChangesNothing) {
  BlockTable t;
  EXPECT_TRUE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60), "replica-a"));
  EXPECT_FALSE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60), "replica-a"));
  EXPECT_EQ(t.size(), 1u);
}

TEST(BlockTableTest, EqualDeadlinesPreferTheLargerOrigin) {
  BlockTable t;
  EXPECT_TRUE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60), "replica-a"));
  EXPECT_TRUE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60), "replica-b"));
  EXPECT_FALSE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60), ""));
  EXPECT_FALSE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60), "replica-a"));
  EXPECT_EQ(t.Find(kGpt4o, BlockKind::kRetryAfter, At(0)),
            (Block{BlockKind::kRetryAfter, At(60), "replica-b"}));
}

// The control plane's CRDT property: every order of the same reports gives
// the same table.
TEST(BlockTableTest, AnyOrderOfReportsConverges) {
  struct Report {
    BlockKey key;
    BlockKind kind;
    absl::Time until;
    std::string origin;
  };
  std::vector<Report> reports = {
      {kGpt4o, BlockKind::kRetryAfter, At(60), "a"}, {kGpt4o, BlockKind::kLatency, At(60), "b"},
      {kGpt4o, BlockKind::kRetryAfter, At(60), "c"}, {kGpt4o, BlockKind::kRetryAfter, At(30), "d"},
      {kOpenAi, BlockKind::kLatency, At(300), ""},   {kOpenAi, BlockKind::kRetryAfter, At(10), "e"},
  };
  std::vector<int> order(reports.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::vector<std::pair<BlockKey, Block>> first;
  int permutations = 0;
  do {
    BlockTable t;
    for (int i : order) t.Merge(reports[i].key, reports[i].kind, reports[i].until, reports[i].origin);
    auto snapshot = t.Snapshot(At(0));
    if (permutations++ == 0) {
      first = snapshot;
      EXPECT_THAT(first, ElementsAre(Pair(kGpt4o, Block{BlockKind::kRetryAfter, At(60), "c"}),
                                     Pair(kGpt4o, Block{BlockKind::kLatency, At(60), "b"}),
                                     Pair(kOpenAi, Block{BlockKind::kRetryAfter, At(10), "e"}),
                                     Pair(kOpenAi, Block{BlockKind::kLatency, At(300), ""})));
    } else {
      ASSERT_EQ(snapshot, first);
    }
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 720);
}

// ------------------------------------------------------------------ lookups

TEST(BlockTableTest, FindIgnoresExpiredEntries) {
  BlockTable t;
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60));
  EXPECT_TRUE(t.Find(kGpt4o, BlockKind::kRetryAfter, At(59)).has_value());
  EXPECT_FALSE(t.Find(kGpt4o, BlockKind::kRetryAfter, At(60)).has_value()) << "a block ends at its deadline";
  EXPECT_FALSE(t.Find(kGpt4o, BlockKind::kRetryAfter, At(61)).has_value());
}

TEST(BlockTableTest, BlockedUntilIsTheLaterOfModelAndProviderBlocks) {
  BlockTable t;
  ModelProvider gpt4o = Model("openai/gpt-4o");
  ModelProvider mini = Model("openai/gpt-4o-mini");
  ModelProvider mistral = Model("mistral/mistral-large");
  EXPECT_EQ(t.BlockedUntil(gpt4o, At(0)), absl::InfinitePast());
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60));
  t.Merge(kOpenAi, BlockKind::kLatency, At(30));
  EXPECT_EQ(t.BlockedUntil(gpt4o, At(0)), At(60));
  EXPECT_EQ(t.BlockedUntil(mini, At(0)), At(30)) << "the provider block covers every model";
  EXPECT_EQ(t.BlockedUntil(mistral, At(0)), absl::InfinitePast());
  EXPECT_EQ(t.BlockedUntil(mini, At(30)), absl::InfinitePast());

  CoveringBlocks c = t.Covering(gpt4o, At(0));
  EXPECT_EQ(c.retry_after_until, At(60));
  EXPECT_EQ(c.latency_until, At(30));
  EXPECT_EQ(t.Covering(mistral, At(0)).retry_after_until, absl::InfinitePast());
}

TEST(BlockTableTest, ModelAndProviderKeysWithTheSameNameAreDistinct) {
  BlockTable t;
  t.Merge(BlockKey::Provider("x"), BlockKind::kRetryAfter, At(10));
  t.Merge(BlockKey::Model("x"), BlockKind::kRetryAfter, At(20));
  EXPECT_EQ(t.Find(BlockKey::Provider("x"), BlockKind::kRetryAfter, At(0))->until, At(10));
  EXPECT_EQ(t.Find(BlockKey::Model("x"), BlockKind::kRetryAfter, At(0))->until, At(20));
}

TEST(BlockTableTest, SnapshotListsActiveEntriesOrderedByKey) {
  BlockTable t;
  t.Merge(kOpenAi, BlockKind::kLatency, At(30));
  t.Merge(BlockKey::Model("mistral/mistral-large"), BlockKind::kRetryAfter, At(5));
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60), "replica-b");
  EXPECT_THAT(t.Snapshot(At(10)),
              ElementsAre(Pair(kGpt4o, Block{BlockKind::kRetryAfter, At(60), "replica-b"}),
                          Pair(kOpenAi, Block{BlockKind::kLatency, At(30), ""})));
}

// ------------------------------------------------------------------ removal

TEST(BlockTableTest, RemoveLiftsABlock) {
  BlockTable t;
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60));
  t.Merge(kGpt4o, BlockKind::kLatency, At(60));
  EXPECT_TRUE(t.Remove(kGpt4o, BlockKind::kLatency));
  EXPECT_TRUE(t.Find(kGpt4o, BlockKind::kRetryAfter, At(0)).has_value()) << "only that kind";
  t.Merge(kGpt4o, BlockKind::kLatency, At(60));
  EXPECT_TRUE(t.Remove(kGpt4o)) << "every kind";
  EXPECT_FALSE(t.Remove(kGpt4o));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Find(kGpt4o, BlockKind::kRetryAfter, At(0)), std::nullopt);
  EXPECT_TRUE(t.Merge(kGpt4o, BlockKind::kRetryAfter, At(10))) << "a new, shorter block is new";
  EXPECT_EQ(t.Find(kGpt4o, BlockKind::kRetryAfter, At(0))->until, At(10));
}

TEST(BlockTableTest, SweepRemovesExpiredEntriesOnly) {
  BlockTable t;
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60));
  t.Merge(kOpenAi, BlockKind::kRetryAfter, At(10));
  t.Merge(BlockKey::Model("m/x"), BlockKind::kLatency, At(20));
  EXPECT_EQ(t.Sweep(At(20)), 2u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.Find(kGpt4o, BlockKind::kRetryAfter, At(20)).has_value());
  EXPECT_EQ(t.Sweep(At(20)), 0u);
}

// ------------------------------------------------------------------ bounds

TEST(BlockTableTest, FullTableEvictsTheEntryExpiringSoonest) {
  BlockTable t(3);
  t.Merge(BlockKey::Model("a/1"), BlockKind::kRetryAfter, At(30));
  t.Merge(BlockKey::Model("a/2"), BlockKind::kRetryAfter, At(10));
  t.Merge(BlockKey::Provider("b"), BlockKind::kRetryAfter, At(20));
  EXPECT_TRUE(t.Merge(BlockKey::Model("a/4"), BlockKind::kRetryAfter, At(40)));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.Find(BlockKey::Model("a/2"), BlockKind::kRetryAfter, At(0)), std::nullopt);
  EXPECT_TRUE(t.Find(BlockKey::Model("a/1"), BlockKind::kRetryAfter, At(0)).has_value());
  EXPECT_TRUE(t.Find(BlockKey::Provider("b"), BlockKind::kRetryAfter, At(0)).has_value());
}

TEST(BlockTableTest, FullTableEvictsExpiredEntriesFirst) {
  BlockTable t(2);
  t.Merge(BlockKey::Model("a/old"), BlockKind::kRetryAfter, At(-100));
  t.Merge(BlockKey::Model("a/live"), BlockKind::kRetryAfter, At(100));
  EXPECT_TRUE(t.Merge(BlockKey::Model("a/new"), BlockKind::kRetryAfter, At(50)));
  EXPECT_TRUE(t.Find(BlockKey::Model("a/live"), BlockKind::kRetryAfter, At(0)).has_value());
  EXPECT_TRUE(t.Find(BlockKey::Model("a/new"), BlockKind::kRetryAfter, At(0)).has_value());
}

TEST(BlockTableTest, FullTableDropsANewEntryThatWouldExpireFirst) {
  BlockTable t(2);
  t.Merge(BlockKey::Model("a/1"), BlockKind::kRetryAfter, At(30));
  t.Merge(BlockKey::Model("a/2"), BlockKind::kRetryAfter, At(40));
  EXPECT_FALSE(t.Merge(BlockKey::Model("a/3"), BlockKind::kRetryAfter, At(10)));
  EXPECT_EQ(t.Find(BlockKey::Model("a/3"), BlockKind::kRetryAfter, At(0)), std::nullopt);
  EXPECT_EQ(t.size(), 2u);
  // Updating an existing key never needs room.
  EXPECT_TRUE(t.Merge(BlockKey::Model("a/1"), BlockKind::kRetryAfter, At(35)));
  EXPECT_EQ(t.size(), 2u);
}

TEST(BlockTableTest, MemoryStaysBoundedWhateverTheNumberOfKeys) {
  BlockTable t(1000);
  for (int i = 0; i < 50000; ++i) {
    t.Merge(BlockKey::Model("p/m" + std::to_string(i)), BlockKind::kRetryAfter, At(i % 977));
    ASSERT_LE(t.size(), 1000u);
  }
  EXPECT_EQ(t.size(), 1000u);
  // What stays are the entries expiring last (about 51 keys per deadline).
  for (const auto& [key, block] : t.Snapshot(At(-1))) EXPECT_GE(block.until, At(950)) << key.ToString();
}

// ------------------------------------------------------------------ listener

TEST(BlockTableTest, ListenerHearsLocalChangesOnly) {
  BlockTable t;
  std::vector<std::pair<BlockKey, Block>> heard;
  t.SetListener([&](const BlockKey& k, const Block& b) {
    // Called outside the lock: reading the table here must not deadlock.
    EXPECT_TRUE(t.Find(k, b.kind, At(0)).has_value());
    heard.emplace_back(k, b);
  });
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(60));              // local, new: heard
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(30));              // unchanged: not heard
  t.Merge(kGpt4o, BlockKind::kRetryAfter, At(90), "replica-b");  // remote: not heard
  t.Merge(kOpenAi, BlockKind::kLatency, At(300), "replica-b");   // remote: not heard
  t.Merge(kOpenAi, BlockKind::kLatency, At(400));               // local, extends: heard
  EXPECT_THAT(heard, ElementsAre(Pair(kGpt4o, Block{BlockKind::kRetryAfter, At(60), ""}),
                                 Pair(kOpenAi, Block{BlockKind::kLatency, At(400), ""})));
}

// ------------------------------------------------------------------ threads

TEST(BlockTableTest, ConcurrentMergesKeepTheLatestDeadline) {
  BlockTable t(64);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&t, w] {
      for (int i = 0; i < 5000; ++i) {
        t.Merge(BlockKey::Model("p/m" + std::to_string(i % 16)), BlockKind::kRetryAfter,
                At(i * 4 + w), "r" + std::to_string(w));
        t.Find(kGpt4o, BlockKind::kRetryAfter, At(0));
        if (i % 100 == 0) t.Sweep(At(i));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int m = 0; m < 16; ++m) {
    // The last i with i % 16 == m, from the thread with the largest w (3).
    int last = 4999 - (4999 - m) % 16;
    EXPECT_EQ(t.Find(BlockKey::Model("p/m" + std::to_string(m)), BlockKind::kRetryAfter, At(0))->until,
              At(last * 4 + 3));
  }
}

}  // namespace
}  // namespace rebound

namespace rebound {
namespace {

// blocks/block.h's rule, shared by this table and the control plane's store.
TEST(BlockMergeRuleTest, LaterDeadlineThenLargerOriginThenLaterCreation) {
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(Supersedes({t + absl::Seconds(1), "a"}, {t, "z"}));
  EXPECT_FALSE(Supersedes({t, "z"}, {t + absl::Seconds(1), "a"}));
  EXPECT_TRUE(Supersedes({t, "b"}, {t, "a"}));
  EXPECT_FALSE(Supersedes({t, "a"}, {t, "b"}));
  EXPECT_TRUE(Supersedes({t, "a", t + absl::Seconds(1)}, {t, "a", t}));
  EXPECT_FALSE(Supersedes({t, "a", t}, {t, "a", t + absl::Seconds(1)}));
  // Equal versions never replace each other: merging is idempotent.
  EXPECT_FALSE(Supersedes({t, "a", t}, {t, "a", t}));
  EXPECT_FALSE(Supersedes({t, "a"}, {t, "a"}));
}

}  // namespace
}  // namespace rebound
