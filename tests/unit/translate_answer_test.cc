#include "translate/answer.h"

#include <string>

#include "codec/json_scan.h"
#include "common/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::translate {
namespace {

using ::testing::HasSubstr;

AnswerOptions Options(std::string model) {
  AnswerOptions o;
  o.served_model = std::move(model);
  o.created_unix_seconds = 1700000000;
  return o;
}

// Found by the translate fuzzer: with RAPIDJSON_SSE2, RapidJSON 1.1.0's
// writer copied the control characters 0x1A-0x1F of a long string raw (its
// SIMD bound is 0x19), which is not JSON. Every control character must come
// out escaped, wherever it sits in a long run.
TEST(TranslateAnswerTest, ControlCharactersInLongStringsAreEscaped) {
  std::string text(40, 'x');
  for (char c = 0x01; c < 0x20; ++c) text += std::string(17, c) + "yyyyyyyyyyyyyyyyy";
  const std::string body = "not json: " + text;
  for (Api from : {Api::kAnthropicMessages, Api::kOpenAiChat}) {
    const Api to = from == Api::kOpenAiChat ? Api::kAnthropicMessages : Api::kOpenAiChat;
    std::string out = TranslateErrorBody(body, 500, from, to);
    EXPECT_TRUE(json::Validate(out).ok()) << json::Validate(out) << "\n" << out;
  }
}

TEST(TranslateAnswerTest, AnAnthropicMessageBecomesAChatCompletion) {
  absl::StatusOr<std::string> out = TranslateAnswer(
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-sonnet-20241022",)"
      R"("content":[{"type":"text","text":"Let me check. "},{"type":"text","text":"One moment."},)"
      R"({"type":"tool_use","id":"tu_1","name":"weather","input":{"city":"Oslo"}}],)"
      R"("stop_reason":"tool_use","stop_sequence":null,)"
      R"("usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,"output_tokens":7}})",
      Api::kAnthropicMessages, Api::kOpenAiChat, Options("claude-3-5-sonnet"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            R"({"id":"msg_1","object":"chat.completion","created":1700000000,"model":"claude-3-5-sonnet",)"
            R"("choices":[{"index":0,"message":{"role":"assistant","content":"Let me check. One moment.",)"
            R"("tool_calls":[{"id":"tu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},)"
            R"("logprobs":null,"finish_reason":"tool_calls"}],)"
            R"("usage":{"prompt_tokens":115,"completion_tokens":7,"total_tokens":122,"prompt_tokens_details":{"cached_tokens":100}}})");
}

TEST(TranslateAnswerTest, StopReasonsMapBothWays) {
  for (auto [stop, finish] : {std::pair{"end_turn", "stop"}, std::pair{"stop_sequence", "stop"},
                              std::pair{"max_tokens", "length"}, std::pair{"tool_use", "tool_calls"},
                              std::pair{"refusal", "content_filter"}}) {
    SCOPED_TRACE(stop);
    absl::StatusOr<std::string> openai = TranslateAnswer(
        absl::StrCat(R"({"id":"m","content":[{"type":"text","text":"x"}],"stop_reason":")", stop, R"("})"),
        Api::kAnthropicMessages, Api::kOpenAiChat, Options("m"));
    ASSERT_TRUE(openai.ok());
    EXPECT_THAT(*openai, HasSubstr(absl::StrCat(R"("finish_reason":")", finish, R"(")")));
  }
  for (auto [finish, stop] : {std::pair{"stop", "end_turn"}, std::pair{"length", "max_tokens"},
                              std::pair{"tool_calls", "tool_use"}, std::pair{"content_filter", "refusal"}}) {
    SCOPED_TRACE(finish);
    absl::StatusOr<std::string> anthropic = TranslateAnswer(
        absl::StrCat(R"({"id":"c","choices":[{"message":{"content":"x"},"finish_reason":")", finish, R"("}]})"),
        Api::kOpenAiChat, Api::kAnthropicMessages, Options("m"));
    ASSERT_TRUE(anthropic.ok());
    EXPECT_THAT(*anthropic, HasSubstr(absl::StrCat(R"("stop_reason":")", stop, R"(")")));
  }
}

TEST(TranslateAnswerTest, AChatCompletionBecomesAnAnthropicMessage) {
  absl::StatusOr<std::string> out = TranslateAnswer(
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"Checking.",)"
      R"("tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},)"
      R"("finish_reason":"tool_calls"}],)"
      R"("usage":{"prompt_tokens":120,"completion_tokens":9,"total_tokens":129,"prompt_tokens_details":{"cached_tokens":100}}})",
      Api::kOpenAiChat, Api::kAnthropicMessages, Options("gpt-4o"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            R"({"id":"chatcmpl-1","type":"message","role":"assistant","model":"gpt-4o",)"
            R"("content":[{"type":"text","text":"Checking."},)"
            R"({"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Rome"}}],)"
            R"("stop_reason":"tool_use","stop_sequence":null,)"
            R"("usage":{"input_tokens":20,"output_tokens":9,"cache_read_input_tokens":100,"cache_creation_input_tokens":0}})");
}

TEST(TranslateAnswerTest, AnswersThatAreNotTheirApisShapeAreRefused) {
  EXPECT_FALSE(TranslateAnswer("not json", Api::kOpenAiChat, Api::kAnthropicMessages, Options("m")).ok());
  EXPECT_FALSE(TranslateAnswer(R"({"choices":[]})", Api::kOpenAiChat, Api::kAnthropicMessages, Options("m")).ok());
  EXPECT_FALSE(TranslateAnswer(R"({"id":"m"})", Api::kAnthropicMessages, Api::kOpenAiChat, Options("m")).ok());
  absl::StatusOr<std::string> bad_arguments = TranslateAnswer(
      R"({"choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1"}}]}}]})",
      Api::kOpenAiChat, Api::kAnthropicMessages, Options("m"));
  ASSERT_FALSE(bad_arguments.ok());
  EXPECT_THAT(bad_arguments.status().message(), HasSubstr("arguments"));
}

TEST(TranslateAnswerTest, ARefusalBecomesTextWithStopReasonRefusal) {
  absl::StatusOr<std::string> out = TranslateAnswer(
      R"({"id":"c","choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]})",
      Api::kOpenAiChat, Api::kAnthropicMessages, Options("m"));
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(*out, HasSubstr(R"("content":[{"type":"text","text":"I can't help with that."}])"));
  EXPECT_THAT(*out, HasSubstr(R"("stop_reason":"refusal")"));
}

TEST(TranslateAnswerTest, AnErrorBodyCutInACharacterStaysUtf8) {
  std::string body(1023, 'x');
  body += "Ã© and more";  // é straddles the 1 KiB cut
  std::string out = TranslateErrorBody(body, 500, Api::kOpenAiChat, Api::kAnthropicMessages);
  EXPECT_TRUE(IsValidUtf8(out));
}

TEST(TranslateAnswerTest, ErrorBodiesKeepTheirMessageInTheCallersShape) {
  EXPECT_EQ(TranslateErrorBody(R"({"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}})",
                               429, Api::kAnthropicMessages, Api::kOpenAiChat),
            R"({"error":{"message":"Slow down","type":"rate_limit_error","param":null,"code":null}})");
  EXPECT_EQ(TranslateErrorBody(R"({"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}})",
                               429, Api::kOpenAiChat, Api::kAnthropicMessages),
            R"({"type":"error","error":{"message":"Rate limit reached","type":"rate_limit_error"}})");
  EXPECT_EQ(TranslateErrorBody("upstream connect error", 503, Api::kOpenAiChat, Api::kAnthropicMessages),
            R"({"type":"error","error":{"message":"upstream connect error","type":"api_error"}})");
  EXPECT_EQ(TranslateErrorBody("{}", 529, Api::kOpenAiChat, Api::kAnthropicMessages),
            R"({"type":"error","error":{"message":"{}","type":"overloaded_error"}})");
}

}  // namespace
}  // namespace rebound::translate
