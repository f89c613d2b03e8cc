// The fake provider's error answers (tests/fakeprovider/error_bodies.h) read
// back by rebound's classifier (translate/provider_error.h): each row of the
// fake's table, in each API's shape, as an answer and as a stream error
// event, is the class it is named for. The fake itself never links rebound
// (it is the oracle); this test links both, so a table row and a classifier
// rule that drift apart fail here.
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/provider_error_class.h"
#include "tests/fakeprovider/completion_bodies.h"
#include "tests/fakeprovider/error_bodies.h"
#include "tests/unit/provider_error_print.h"
#include "translate/provider_error.h"

namespace rebound {
namespace {

using fake::Api;
using fake::ErrorShape;

constexpr Api kApis[] = {Api::kOpenAi, Api::kAnthropic, Api::kResponses};

const char* Name(Api api) {
  switch (api) {
    case Api::kOpenAi: return "openai";
    case Api::kAnthropic: return "anthropic";
    case Api::kResponses: return "responses";
  }
  return "?";
}

// The data of one complete SSE event ("event: x\ndata: {...}\n\n").
std::string DataOf(std::string_view event) {
  const size_t at = event.find("data: ");
  if (at == std::string_view::npos || !event.ends_with("\n\n")) return "";
  return std::string(event.substr(at + 6, event.size() - at - 8));
}

TEST(FakeErrorClassesTest, EveryClassHasExactlyOneRowNamedAsRebound) {
  ASSERT_EQ(fake::ErrorShapes().size(), std::size(kAllProviderErrorClasses));
  for (size_t i = 0; i < fake::ErrorShapes().size(); ++i) {
    // Same order as the vocabulary, so the fake's list of names reads alike.
    EXPECT_EQ(fake::ErrorShapes()[i].name, ToString(kAllProviderErrorClasses[i]));
  }
}

TEST(FakeErrorClassesTest, EachErrorAnswerIsClassifiedAsItsClass) {
  for (const ErrorShape& shape : fake::ErrorShapes()) {
    const std::optional<ProviderErrorClass> expected = ProviderErrorClassFromString(shape.name);
    ASSERT_TRUE(expected) << shape.name;
    for (Api api : kApis) {
      const int status = fake::ErrorAnswerStatus(shape, api);
      const std::string body = fake::ErrorAnswerBody(shape, api);
      EXPECT_EQ(ClassifyErrorAnswer(status, body), *expected)
          << shape.name << " " << Name(api) << " " << status << " " << body;
    }
  }
}

// The body alone says the class wherever the status does not: read at 200,
// only what the body names counts.
TEST(FakeErrorClassesTest, SpecificClassesAreInTheBodiesNotOnlyInTheStatus) {
  for (std::string_view name : {"context_length_exceeded", "content_filter", "quota_exhausted",
                                 "rate_limited", "overloaded", "authentication", "not_found"}) {
    const ErrorShape shape = *fake::FindErrorShape(name);
    for (Api api : {Api::kOpenAi, Api::kAnthropic}) {
      EXPECT_EQ(ClassifyErrorAnswer(200, fake::ErrorAnswerBody(shape, api)),
                ProviderErrorClassFromString(name))
          << name << " " << Name(api);
    }
  }
}

TEST(FakeErrorClassesTest, EachErrorEventIsClassifiedAsItsClass) {
  for (const ErrorShape& shape : fake::ErrorShapes()) {
    for (Api api : kApis) {
      const std::string data = DataOf(fake::ErrorEventOf(shape, api));
      ASSERT_FALSE(data.empty()) << fake::ErrorEventOf(shape, api);
      EXPECT_EQ(ClassifyStreamError(data), ProviderErrorClassFromString(shape.name))
          << shape.name << " " << Name(api) << " " << data;
    }
  }
}

// error_event_at= without error_class= sends each API's usual failure.
TEST(FakeErrorClassesTest, TheClasslessErrorEventsAreOverloadedOrServerErrors) {
  EXPECT_EQ(ClassifyStreamError(DataOf(fake::ErrorEvent(Api::kAnthropic))),
            ProviderErrorClass::kOverloaded);
  EXPECT_EQ(ClassifyStreamError(DataOf(fake::ErrorEvent(Api::kOpenAi))),
            ProviderErrorClass::kServerError);
  EXPECT_EQ(ClassifyStreamError(DataOf(fake::ErrorEvent(Api::kResponses))),
            ProviderErrorClass::kServerError);
}

}  // namespace
}  // namespace rebound
