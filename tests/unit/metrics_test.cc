#include "gateway/metrics.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace rebound {
namespace {

std::string Scrape(const Metrics& metrics) {
  return prometheus::TextSerializer().Serialize(metrics.registry()->Collect());
}

// Each thread caches the metric it found per label set. A Metrics built
// after another was destroyed may get the same addresses; its counts must
// still land in its own registry (they once went to the freed one).
TEST(MetricsTest, EachInstanceCountsInItsOwnRegistry) {
  for (int i = 0; i < 50; ++i) {
    auto metrics = std::make_unique<Metrics>();
    metrics->RecordRequest("openai/gpt-4o", "ok", "grpc");
    metrics->RecordAttempt("openai/gpt-4o", "openai", "success", "2xx", 0.1, 0.2);
    std::string text = Scrape(*metrics);
    ASSERT_THAT(text, ::testing::HasSubstr(
                          R"(rebound_requests_total{api="grpc",model="openai/gpt-4o",outcome="ok"} 1)"))
        << "instance " << i;
  }
}

}  // namespace
}  // namespace rebound
