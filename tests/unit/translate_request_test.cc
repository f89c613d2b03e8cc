#include "translate/request.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace rebound::translate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

RequestOptions Options(std::string model) {
  RequestOptions o;
  o.target_model = std::move(model);
  o.default_max_tokens = 1024;
  return o;
}

std::string ToAnthropic(const std::string& body) {
  absl::StatusOr<TranslatedRequest> r =
      TranslateRequest(body, Api::kOpenAiChat, Api::kAnthropicMessages, Options("claude-3-5-sonnet"));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->body : "";
}

std::string ToOpenAi(const std::string& body) {
  absl::StatusOr<TranslatedRequest> r =
      TranslateRequest(body, Api::kAnthropicMessages, Api::kOpenAiChat, Options("gpt-4o"));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->body : "";
}

std::string RefusalOf(const std::string& body, Api from, Api to) {
  absl::StatusOr<TranslatedRequest> r = TranslateRequest(body, from, to, Options("m"));
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(TranslateRequestTest, ApisArePickedByPathAndInterface) {
  EXPECT_EQ(ApiOfPath("/v1/chat/completions"), Api::kOpenAiChat);
  EXPECT_EQ(ApiOfPath("/v1/messages?beta=true"), Api::kAnthropicMessages);
  EXPECT_EQ(ApiOfPath("/v1/embeddings"), Api::kOther);
  EXPECT_EQ(ApiOf(ProviderInterface::kAnthropic), Api::kAnthropicMessages);
  EXPECT_EQ(PathOf(Api::kOpenAiChat), "/v1/chat/completions");
}

TEST(TranslateRequestTest, OpenAiChatBecomesAnthropicMessages) {
  EXPECT_EQ(
      ToAnthropic(R"({"model":"openai/gpt-4o","messages":[)"
                  R"({"role":"system","content":"Be brief."},)"
                  R"({"role":"developer","content":[{"type":"text","text":"No lists."}]},)"
                  R"({"role":"user","content":"Hi"},{"role":"user","content":"there"},)"
                  R"({"role":"assistant","content":"Hello"},{"role":"user","content":"Go on"}],)"
                  R"("temperature":1.5,"top_p":0.9,"stop":"END","user":"u-1","stream":true,)"
                  R"("stream_options":{"include_usage":true},"max_completion_tokens":300})"),
      R"({"model":"claude-3-5-sonnet","temperature":1.0,"top_p":0.9,"stop_sequences":["END"],)"
      R"("metadata":{"user_id":"u-1"},"stream":true,"max_tokens":300,)"
      R"("system":[{"type":"text","text":"Be brief."},{"type":"text","text":"No lists."}],)"
      R"("messages":[{"role":"user","content":[{"type":"text","text":"Hi"},)"
      R"({"type":"text","text":"there"}]},)"
      R"({"role":"assistant","content":[{"type":"text","text":"Hello"}]},)"
      R"({"role":"user","content":[{"type":"text","text":"Go on"}]}]})");
}

TEST(TranslateRequestTest, AbsentMaxTokensTakesTheTargetsDefault) {
  EXPECT_THAT(ToAnthropic(R"({"messages":[{"role":"user","content":"Hi"}]})"),
              HasSubstr(R"("max_tokens":1024)"));
}

TEST(TranslateRequestTest, ToolCallsAndResultsBecomeToolUseAndToolResultBlocks) {
  EXPECT_EQ(
      ToAnthropic(R"({"messages":[{"role":"user","content":"Weather in Oslo and Rome?"},)"
                  R"({"role":"assistant","content":null,"tool_calls":[)"
                  R"({"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}},)"
                  R"({"id":"call_2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},)"
                  R"({"role":"tool","tool_call_id":"call_1","content":"-3 C"},)"
                  R"({"role":"tool","tool_call_id":"call_2","content":"18 C"}],)"
                  R"("tools":[{"type":"function","function":{"name":"weather","description":"Now",)"
                  R"("parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],)"
                  R"("tool_choice":"required","parallel_tool_calls":false,"max_tokens":50})"),
      R"({"model":"claude-3-5-sonnet","tools":[{"name":"weather","description":"Now",)"
      R"("input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],)"
      R"("tool_choice":{"type":"any","disable_parallel_tool_use":true},"max_tokens":50,)"
      R"("messages":[{"role":"user","content":[{"type":"text","text":"Weather in Oslo and Rome?"}]},)"
      R"({"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Oslo"}},)"
      R"({"type":"tool_use","id":"call_2","name":"weather","input":{"city":"Rome"}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":[{"type":"text","text":"-3 C"}]},)"
      R"({"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"18 C"}]}]}]})");
}

TEST(TranslateRequestTest, ImagePartsBecomeImageBlocks) {
  std::string out = ToAnthropic(
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},)"
      R"({"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]})");
  EXPECT_THAT(out, HasSubstr(R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}})"));
  EXPECT_THAT(out, HasSubstr(R"({"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}})"));
}

TEST(TranslateRequestTest, HintsWithoutAnEquivalentAreDroppedAndListed) {
  absl::StatusOr<TranslatedRequest> r = TranslateRequest(
      R"({"messages":[{"role":"user","content":"Hi"}],"seed":7,"presence_penalty":0.5,)"
      R"("frequency_penalty":0.1,"logit_bias":{"50256":-100}})",
      Api::kOpenAiChat, Api::kAnthropicMessages, Options("m"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->dropped, ElementsAre("seed", "presence_penalty", "frequency_penalty", "logit_bias"));
  EXPECT_THAT(r->body, ::testing::Not(HasSubstr("seed")));
}

TEST(TranslateRequestTest, WhatAnthropicCannotExpressIsRefusedNamingTheField) {
  const Api o = Api::kOpenAiChat, an = Api::kAnthropicMessages;
  const std::string user = R"("messages":[{"role":"user","content":"Hi"}])";
  EXPECT_EQ(RefusalOf("{" + user + R"(,"n":2})", o, an), "not_translatable: n");
  EXPECT_EQ(RefusalOf("{" + user + R"(,"logprobs":true})", o, an), "not_translatable: logprobs");
  EXPECT_EQ(RefusalOf("{" + user + R"(,"response_format":{"type":"json_schema","json_schema":{}}})", o, an),
            "not_translatable: response_format");
  EXPECT_EQ(RefusalOf("{" + user + R"(,"audio":{"voice":"alloy"}})", o, an), "not_translatable: audio");
  EXPECT_EQ(RefusalOf(R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})", o, an),
            "not_translatable: messages[0].content[0].type=input_audio");
  EXPECT_EQ(RefusalOf(R"({"messages":[{"role":"assistant","content":"Hi"}]})", o, an),
            "not_translatable: messages[0].role=assistant");
  EXPECT_EQ(RefusalOf(R"({"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Sure"}]})", o, an),
            "not_translatable: messages[-1].role=assistant");
  EXPECT_EQ(RefusalOf(R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[)"
                      R"({"id":"c","type":"function","function":{"name":"f","arguments":7}}]},{"role":"tool","tool_call_id":"c","content":"r"}]})", o, an),
            "not_translatable: messages[1].tool_calls[0].function.arguments");
  EXPECT_EQ(RefusalOf(R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[)"
                      R"({"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]})", o, an),
            "not_translatable: messages[1].tool_calls[0].function.arguments");
}

TEST(TranslateRequestTest, AnthropicMessagesBecomeOpenAiChat) {
  EXPECT_EQ(
      ToOpenAi(R"({"model":"anthropic/claude","system":[{"type":"text","text":"Be brief."}],)"
               R"("max_tokens":200,"temperature":0.5,"top_k":5,"stop_sequences":["END"],)"
               R"("metadata":{"user_id":"u-1"},"stream":true,"messages":[)"
               R"({"role":"user","content":[{"type":"text","text":"Weather?"},)"
               R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAA="}}]},)"
               R"({"role":"assistant","content":[{"type":"text","text":"Checking."},)"
               R"({"type":"tool_use","id":"tu_1","name":"weather","input":{"city":"Oslo"}}]},)"
               R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"tu_1","content":"-3 C"},)"
               R"({"type":"text","text":"Thanks"}]}],)"
               R"("tools":[{"name":"weather","input_schema":{"type":"object"}}],)"
               R"("tool_choice":{"type":"tool","name":"weather","disable_parallel_tool_use":true}})"),
      R"({"model":"gpt-4o","max_tokens":200,"temperature":0.5,"stop":["END"],"user":"u-1",)"
      R"("stream":true,"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}],)"
      R"("tool_choice":{"type":"function","function":{"name":"weather"}},"parallel_tool_calls":false,)"
      R"("stream_options":{"include_usage":true},"messages":[)"
      R"({"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":[{"type":"text","text":"Weather?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAA="}}]},)"
      R"({"role":"assistant","content":"Checking.","tool_calls":[{"id":"tu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"tu_1","content":"-3 C"},)"
      R"({"role":"user","content":[{"type":"text","text":"Thanks"}]}]})");
}

TEST(TranslateRequestTest, WhatOpenAiCannotExpressIsRefusedNamingTheField) {
  const Api an = Api::kAnthropicMessages, o = Api::kOpenAiChat;
  EXPECT_EQ(RefusalOf(R"({"max_tokens":9,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[]})", an, o),
            "not_translatable: thinking");
  EXPECT_EQ(RefusalOf(R"({"max_tokens":9,"messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]})", an, o),
            "not_translatable: tools[0].type=web_search_20250305");
  EXPECT_EQ(RefusalOf(R"({"max_tokens":9,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"..."}]}]})", an, o),
            "not_translatable: messages[0].content[0].type=thinking");
}

TEST(TranslateRequestTest, DeeplyNestedTextIsRefusedNotParsed) {
  const std::string deep(200000, '[');
  EXPECT_THAT(RefusalOf(deep, Api::kOpenAiChat, Api::kAnthropicMessages), HasSubstr("invalid request"));
  // A tool call's arguments are a string the caller controls.
  std::string body = R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[)"
                     R"({"id":"c","type":"function","function":{"name":"f","arguments":")" + deep +
                     R"("}}]},{"role":"tool","tool_call_id":"c","content":"r"}]})";
  EXPECT_EQ(RefusalOf(body, Api::kOpenAiChat, Api::kAnthropicMessages),
            "not_translatable: messages[1].tool_calls[0].function.arguments");
}

TEST(TranslateRequestTest, ObjectArgumentsAreTakenAsTheInput) {
  EXPECT_THAT(ToAnthropic(R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[)"
                          R"({"id":"c","type":"function","function":{"name":"f","arguments":{"k":1}}}]},)"
                          R"({"role":"tool","tool_call_id":"c","content":"r"}]})"),
              HasSubstr(R"("input":{"k":1})"));
}

TEST(TranslateRequestTest, ParallelToolCallsWithoutToolsAddsNoToolChoice) {
  EXPECT_THAT(ToAnthropic(R"({"messages":[{"role":"user","content":"x"}],"parallel_tool_calls":false})"),
              ::testing::Not(HasSubstr("tool_choice")));
}

TEST(TranslateRequestTest, BrokenBodiesAreInvalidNotTranslated) {
  EXPECT_THAT(RefusalOf("[1]", Api::kOpenAiChat, Api::kAnthropicMessages), HasSubstr("invalid request"));
  EXPECT_THAT(RefusalOf("{", Api::kAnthropicMessages, Api::kOpenAiChat), HasSubstr("invalid request"));
  EXPECT_THAT(RefusalOf(R"({"model":"x"})", Api::kOpenAiChat, Api::kAnthropicMessages),
              HasSubstr("messages is missing"));
  EXPECT_THAT(RefusalOf("{}", Api::kOpenAiChat, Api::kOpenAiChat), HasSubstr("no translation"));
}

// What the spec says survives, survives a round trip: roles, text, tool
// calls and results, tools, stop, user, sampling.
TEST(TranslateRequestTest, ARoundTripKeepsWhatBothApisExpress) {
  const std::string original =
      R"({"model":"gpt-4o","max_tokens":64,"temperature":0.5,"top_p":0.8,"stop":["X"],"user":"u",)"
      R"("tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"}}}],)"
      R"("tool_choice":"auto","messages":[{"role":"system","content":"S"},)"
      R"({"role":"user","content":[{"type":"text","text":"Q"}]},)"
      R"({"role":"assistant","content":"A","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},)"
      R"({"role":"tool","tool_call_id":"c1","content":"R"}]})";
  absl::StatusOr<TranslatedRequest> there =
      TranslateRequest(original, Api::kOpenAiChat, Api::kAnthropicMessages, Options("claude"));
  ASSERT_TRUE(there.ok()) << there.status();
  absl::StatusOr<TranslatedRequest> back =
      TranslateRequest(there->body, Api::kAnthropicMessages, Api::kOpenAiChat, Options("gpt-4o"));
  ASSERT_TRUE(back.ok()) << back.status();
  rapidjson::Document a, b;
  a.Parse(original.data(), original.size());
  b.Parse(back->body.data(), back->body.size());
  for (const char* key : {"model", "max_tokens", "temperature", "top_p", "stop", "user", "tools",
                          "tool_choice", "messages"}) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(b.HasMember(key));
    EXPECT_TRUE(a[key] == b[key]);
  }
}

}  // namespace
}  // namespace rebound::translate
