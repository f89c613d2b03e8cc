// CurlUpstream's callback contract for starts the connection limit refuses
// (upstream/upstream.h). No socket is opened: every start here is refused.
#include "upstream/curl_upstream.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "upstream/event_loop.h"

namespace rebound {
namespace {

class CountingHandler final : public TransferHandler {
 public:
  void OnHeaders(int, HttpHeaders) override {}
  bool OnBody(std::string_view) override { return true; }
  void OnDone(const TransferResult& result) override {
    ++done;
    kind = result.kind;
  }
  int done = 0;
  TransferResult::Kind kind = TransferResult::Kind::kCompleted;
};

UpstreamRequest Request() {
  UpstreamRequest r;
  r.url = "http://127.0.0.1:9/v1/chat/completions";
  r.pool_key = "openai";
  return r;
}

class CurlUpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override { loop_.StartThread(); }
  void TearDown() override {
    loop_.Post([this] { upstream_.reset(); });
    loop_.Stop();
    loop_.Join();
  }
  // Runs `fn` on the loop, then waits until every task it posted has run.
  void RunOnLoop(absl::AnyInvocable<void() &&> fn) {
    absl::Notification done;
    loop_.Post([this, &done, fn = std::move(fn)]() mutable {
      std::move(fn)();
      loop_.Post([&done] { done.Notify(); });
    });
    done.WaitForNotification();
  }

  EventLoop loop_;
  std::unique_ptr<CurlUpstream> upstream_;
};

TEST_F(CurlUpstreamTest, ARefusedStartEndsOverloadedOnceAndNeverInsideStart) {
  CountingHandler handler;
  int done_inside_start = -1;
  RunOnLoop([&] {
    upstream_ = std::make_unique<CurlUpstream>(&loop_, CurlUpstream::Options{0});
    upstream_->Start(Request(), &handler, AttemptCap{});
    done_inside_start = handler.done;
  });
  EXPECT_EQ(done_inside_start, 0);
  EXPECT_EQ(handler.done, 1);
  EXPECT_EQ(handler.kind, TransferResult::Kind::kOverloaded);
}

TEST_F(CurlUpstreamTest, ACancelledRefusedStartNeverCallsBack) {
  CountingHandler cancelled;
  CountingHandler kept;
  bool cancel_result = false;
  RunOnLoop([&] {
    upstream_ = std::make_unique<CurlUpstream>(&loop_, CurlUpstream::Options{0});
    Upstream::TransferId id = upstream_->Start(Request(), &cancelled, AttemptCap{});
    upstream_->Start(Request(), &kept, AttemptCap{});
    cancel_result = upstream_->Cancel(id);
  });
  EXPECT_TRUE(cancel_result) << "a refused start is cancellable until its OnDone";
  EXPECT_EQ(cancelled.done, 0);
  EXPECT_EQ(kept.done, 1) << "the other refused start still ends";
  bool again = true;
  RunOnLoop([&] { again = upstream_->Cancel(1); });
  EXPECT_FALSE(again) << "a second Cancel finds nothing";
}

TEST_F(CurlUpstreamTest, DestroyingTheUpstreamDropsARefusedStartsCallback) {
  CountingHandler handler;
  RunOnLoop([&] {
    upstream_ = std::make_unique<CurlUpstream>(&loop_, CurlUpstream::Options{0});
    upstream_->Start(Request(), &handler, AttemptCap{});
    upstream_.reset();  // the refusal's task is still queued
  });
  EXPECT_EQ(handler.done, 0);
}

// The limit is the process's, not the loop's: a slot taken elsewhere (by
// another loop's upstream) refuses this one's start.
TEST_F(CurlUpstreamTest, ASharedLimitTakenElsewhereRefusesTheStart) {
  auto limit = std::make_shared<ConnectionLimit>(1);
  ASSERT_TRUE(limit->TryAcquire("openai"));  // another loop's transfer
  CountingHandler handler;
  RunOnLoop([&] {
    upstream_ = std::make_unique<CurlUpstream>(&loop_, CurlUpstream::Options{1, limit});
    upstream_->Start(Request(), &handler, AttemptCap{});
  });
  EXPECT_EQ(handler.kind, TransferResult::Kind::kOverloaded);
  EXPECT_EQ(limit->InUse("openai"), 1) << "a refused start takes no slot";
}

TEST(ConnectionLimitTest, CountsPerProviderUpToTheMax) {
  ConnectionLimit limit(2);
  EXPECT_TRUE(limit.TryAcquire("a"));
  EXPECT_TRUE(limit.TryAcquire("a"));
  EXPECT_FALSE(limit.TryAcquire("a"));
  EXPECT_TRUE(limit.TryAcquire("b")) << "each provider has its own count";
  limit.Release("a");
  EXPECT_EQ(limit.InUse("a"), 1);
  EXPECT_TRUE(limit.TryAcquire("a"));
  limit.Release("unknown");  // nothing to give back: ignored
  EXPECT_EQ(limit.InUse("unknown"), 0);
  EXPECT_FALSE(ConnectionLimit(0).TryAcquire("a"));
}

TEST(ConnectionLimitTest, ThreadsNeverTakeMoreThanTheMax) {
  ConnectionLimit limit(100);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) granted += limit.TryAcquire("p");
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(granted.load(), 100);
  EXPECT_EQ(limit.InUse("p"), 100);
}

}  // namespace
}  // namespace rebound
