// CurlUpstream's callback contract for starts the connection limit refuses
// (upstream/upstream.h). No socket is opened: every start here is refused.
#include "upstream/curl_upstream.h"

#include <memory>

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

}  // namespace
}  // namespace rebound
