#include "gateway/error_status.h"

#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

v1::ErrorDetail BigDetail() {
  v1::ErrorDetail detail;
  detail.set_reason(v1::ERROR_REASON_RETRY_EXHAUSTED);
  detail.set_upstream_http_status(429);
  detail.set_upstream_body(std::string(5000, 'b'));
  detail.set_retry_exhausted_json(std::string(1500, 'j'));
  for (int i = 0; i < 20; ++i) {
    v1::Header* h = detail.add_upstream_headers();
    h->set_name("x-ratelimit-reset-requests");
    h->set_value(std::string(50, 'h'));
  }
  for (int i = 1; i <= 10; ++i) {
    v1::AttemptRecord* a = detail.add_attempts();
    a->set_attempt(i);
    a->set_model("openai/gpt-4o");
  }
  return detail;
}

TEST(ErrorStatusTest, SmallDetailIsPackedUnchangedAsGoogleRpcStatus) {
  v1::ErrorDetail detail;
  detail.set_reason(v1::ERROR_REASON_UPSTREAM_ERROR);
  detail.set_upstream_body("{\"error\":\"x\"}");
  grpc::Status status = MakeErrorStatus(grpc::StatusCode::NOT_FOUND, "nope", detail);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(status.error_details()));
  EXPECT_EQ(rich.code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(rich.message(), "nope");
  ASSERT_EQ(rich.details_size(), 1);
  v1::ErrorDetail unpacked;
  ASSERT_TRUE(rich.details(0).UnpackTo(&unpacked));
  EXPECT_EQ(unpacked.upstream_body(), detail.upstream_body());
  EXPECT_FALSE(unpacked.upstream_body_truncated());
}

TEST(ErrorStatusTest, LargeDetailIsShrunkBodyFirstKeepingTheJsonAndLastAttempt) {
  v1::ErrorDetail detail = BigDetail();
  ASSERT_GT(detail.ByteSizeLong(), kMaxErrorDetailBytes);
  ShrinkErrorDetail(&detail);
  EXPECT_LE(detail.ByteSizeLong(), kMaxErrorDetailBytes);
  EXPECT_TRUE(detail.upstream_body_truncated());
  EXPECT_EQ(detail.retry_exhausted_json().size(), 1500u);
  EXPECT_EQ(detail.reason(), v1::ERROR_REASON_RETRY_EXHAUSTED);
  ASSERT_GT(detail.attempts_size(), 0);
  EXPECT_EQ(detail.attempts(detail.attempts_size() - 1).attempt(), 10u);
}

TEST(ErrorStatusTest, ShrinkDropsHeadersThenOldestAttemptsWhenTheBodyIsGone) {
  v1::ErrorDetail detail = BigDetail();
  ShrinkErrorDetail(&detail, 1600);
  EXPECT_LE(detail.ByteSizeLong(), 1600u);
  EXPECT_TRUE(detail.upstream_body().empty());
  EXPECT_EQ(detail.upstream_headers_size(), 0);
  ASSERT_GT(detail.attempts_size(), 0);
  EXPECT_LT(detail.attempts_size(), 10);
  EXPECT_EQ(detail.attempts(detail.attempts_size() - 1).attempt(), 10u);
}

}  // namespace
}  // namespace rebound
