#include "retry/status_mapping.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

using Code = absl::StatusCode;

TEST(GrpcCodeForHttpStatusTest, EverySuccessStatusIsOk) {
  for (int s = 200; s <= 299; ++s) EXPECT_EQ(GrpcCodeForHttpStatus(s), Code::kOk) << s;
}

TEST(GrpcCodeForHttpStatusTest, NamedClientErrors) {
  EXPECT_EQ(GrpcCodeForHttpStatus(400), Code::kInvalidArgument);
  EXPECT_EQ(GrpcCodeForHttpStatus(413), Code::kInvalidArgument);
  EXPECT_EQ(GrpcCodeForHttpStatus(422), Code::kInvalidArgument);
  EXPECT_EQ(GrpcCodeForHttpStatus(401), Code::kUnauthenticated);
  EXPECT_EQ(GrpcCodeForHttpStatus(402), Code::kPermissionDenied);
  EXPECT_EQ(GrpcCodeForHttpStatus(403), Code::kPermissionDenied);
  EXPECT_EQ(GrpcCodeForHttpStatus(404), Code::kNotFound);
  EXPECT_EQ(GrpcCodeForHttpStatus(408), Code::kDeadlineExceeded);
  EXPECT_EQ(GrpcCodeForHttpStatus(409), Code::kAborted);
  EXPECT_EQ(GrpcCodeForHttpStatus(429), Code::kResourceExhausted);
  EXPECT_EQ(GrpcCodeForHttpStatus(499), Code::kCancelled);
}

TEST(GrpcCodeForHttpStatusTest, OtherClientErrorsAreFailedPrecondition) {
  for (int s : {405, 406, 407, 410, 411, 412, 414, 415, 416, 417,
                418, 421, 423, 424, 425, 426, 428, 431, 451, 498}) {
    EXPECT_EQ(GrpcCodeForHttpStatus(s), Code::kFailedPrecondition) << s;
  }
}

TEST(GrpcCodeForHttpStatusTest, EveryServerErrorIncluding529IsUnavailable) {
  for (int s = 500; s <= 599; ++s) EXPECT_EQ(GrpcCodeForHttpStatus(s), Code::kUnavailable) << s;
  EXPECT_EQ(GrpcCodeForHttpStatus(529), Code::kUnavailable);
}

TEST(GrpcCodeForHttpStatusTest, InformationalRedirectsAndOutOfRangeAreUnknown) {
  for (int s :
       {-1, 0, 99, 100, 101, 103, 199, 300, 301, 304, 307, 399, 600, 999, 1000, 2147483647}) {
    EXPECT_EQ(GrpcCodeForHttpStatus(s), Code::kUnknown) << s;
  }
}

TEST(GrpcCodeForHttpStatusTest, CodesCarryGrpcNumbering) {
  // The caller converts with a static_cast; these are gRPC's wire values.
  EXPECT_EQ(static_cast<int>(GrpcCodeForHttpStatus(429)), 8);
  EXPECT_EQ(static_cast<int>(GrpcCodeForHttpStatus(503)), 14);
  EXPECT_EQ(static_cast<int>(GrpcCodeForHttpStatus(401)), 16);
  EXPECT_EQ(static_cast<int>(GrpcCodeForHttpStatus(408)), 4);
}

TEST(IsRetriableStatusTest, ExactlyTheBuiltInSet) {
  int retriable = 0;
  for (int s = -1; s <= 1000; ++s) {
    if (IsRetriableStatus(s)) ++retriable;
  }
  EXPECT_EQ(retriable, 7);
  for (int s : {408, 429, 500, 502, 503, 504, 529}) EXPECT_TRUE(IsRetriableStatus(s)) << s;
  for (int s : {200, 400, 401, 403, 404, 409, 413, 422, 499, 501, 505, 520, 599}) {
    EXPECT_FALSE(IsRetriableStatus(s)) << s;
  }
}

}  // namespace
}  // namespace rebound
