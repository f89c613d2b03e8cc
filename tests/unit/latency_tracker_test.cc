// LatencyTracker (RETRY.md 3.6): min_triggers slow answers inside the window
// trigger a block and clear the count; events outside the window do not
// count; memory stays bounded.
#include "retry/latency_tracker.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
const BlockKey kGpt4o = BlockKey::Model("openai/gpt-4o");
const BlockKey kOpenAi = BlockKey::Provider("openai");
constexpr absl::Duration kWindow = absl::Seconds(60);

absl::Time At(double seconds) { return kT0 + absl::Seconds(seconds); }

TEST(LatencyTrackerTest, MinTriggersOneTriggersOnEverySlowAnswer) {
  LatencyTracker t;
  EXPECT_TRUE(t.RecordSlow(kGpt4o, At(0), kWindow, 1));
  EXPECT_TRUE(t.RecordSlow(kGpt4o, At(1), kWindow, 1));
  EXPECT_EQ(t.size(), 0u) << "nothing needs to be remembered";
}

TEST(LatencyTrackerTest, MinTriggersTwoInsideTheWindowTriggers) {
  LatencyTracker t;
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(0), kWindow, 2)) << "one slow answer blocks nothing";
  EXPECT_TRUE(t.RecordSlow(kGpt4o, At(59.999), kWindow, 2));
}

TEST(LatencyTrackerTest, MinTriggersTwoOutsideTheWindowDoesNotTrigger) {
  LatencyTracker t;
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(0), kWindow, 2));
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(61), kWindow, 2));
  // ...but the second one starts a new window.
  EXPECT_TRUE(t.RecordSlow(kGpt4o, At(100), kWindow, 2));
}

TEST(LatencyTrackerTest, EventsExactlyOneWindowApartDoNotCountTogether) {
  LatencyTracker t;
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(0), kWindow, 2));
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(60), kWindow, 2));
}

TEST(LatencyTrackerTest, TriggeringClearsTheCount) {
  LatencyTracker t;
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(0), kWindow, 2));
  EXPECT_TRUE(t.RecordSlow(kGpt4o, At(1), kWindow, 2));
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(2), kWindow, 2)) << "a new trigger needs two new events";
  EXPECT_TRUE(t.RecordSlow(kGpt4o, At(3), kWindow, 2));
}

TEST(LatencyTrackerTest, OnlyEventsInsideTheWindowCountTowardsThree) {
  LatencyTracker t;
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(0), kWindow, 3));
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(30), kWindow, 3));
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(70), kWindow, 3)) << "the event at 0 left the window";
  EXPECT_TRUE(t.RecordSlow(kGpt4o, At(80), kWindow, 3));
}

TEST(LatencyTrackerTest, KeysCountSeparately) {
  LatencyTracker t;
  EXPECT_FALSE(t.RecordSlow(kGpt4o, At(0), kWindow, 2));
  EXPECT_FALSE(t.RecordSlow(kOpenAi, At(1), kWindow, 2));
  EXPECT_FALSE(t.RecordSlow(BlockKey::Model("openai/gpt-4o-mini"), At(2), kWindow, 2));
  EXPECT_TRUE(t.RecordSlow(kOpenAi, At(3), kWindow, 2));
  EXPECT_TRUE(t.RecordSlow(kGpt4o, At(4), kWindow, 2));
}

TEST(LatencyTrackerTest, SweepForgetsKeysWhoseWindowPassed) {
  LatencyTracker t;
  t.RecordSlow(kGpt4o, At(0), kWindow, 2);
  t.RecordSlow(kOpenAi, At(30), kWindow, 2);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.Sweep(At(60)), 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Sweep(At(90)), 1u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(LatencyTrackerTest, KeyCountStaysBounded) {
  LatencyTracker t(100);
  for (int i = 0; i < 10000; ++i) {
    t.RecordSlow(BlockKey::Model("p/m" + std::to_string(i)), At(i * 0.001), kWindow, 5);
    ASSERT_LE(t.size(), 100u);
  }
  // The freshest keys survived: the newest one still counts towards a trigger.
  for (int n = 0; n < 3; ++n) {
    EXPECT_FALSE(t.RecordSlow(BlockKey::Model("p/m9999"), At(10 + n), kWindow, 5));
  }
  EXPECT_TRUE(t.RecordSlow(BlockKey::Model("p/m9999"), At(14), kWindow, 5));
}

TEST(LatencyTrackerTest, FullTrackerDropsExpiredKeysBeforeLiveOnes) {
  LatencyTracker t(2);
  t.RecordSlow(BlockKey::Model("p/old"), At(0), kWindow, 2);
  t.RecordSlow(BlockKey::Model("p/live"), At(100), kWindow, 2);
  t.RecordSlow(BlockKey::Model("p/new"), At(101), kWindow, 2);
  EXPECT_TRUE(t.RecordSlow(BlockKey::Model("p/live"), At(102), kWindow, 2));
}

TEST(LatencyTrackerTest, ConcurrentRecordsTriggerExactlyOncePerPair) {
  LatencyTracker t;
  std::vector<std::thread> threads;
  std::vector<int> triggers(4, 0);
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 1000; ++i) triggers[w] += t.RecordSlow(kGpt4o, At(1), kWindow, 2);
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(triggers[0] + triggers[1] + triggers[2] + triggers[3], 2000);
}

}  // namespace
}  // namespace rebound
