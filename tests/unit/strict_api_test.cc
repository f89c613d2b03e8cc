// The fake provider's strict request validation: each vendor rule accepted
// when kept and refused when broken, with the vendor's exact error shape and
// the offending field named.
#include "tests/fakeprovider/strict_api.h"

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace rebound::fake {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

// The message of Anthropic's refusal of `body`, after checking that the
// body is exactly {"type":"error","error":{"type":"invalid_request_error","message":...}}.
std::string AnthropicRefusal(std::string_view body) {
  std::optional<std::string> error = StrictRequestError(StrictApi::kAnthropicMessages, body);
  if (!error) {
    ADD_FAILURE() << "accepted: " << body;
    return "";
  }
  rapidjson::Document doc;
  doc.Parse(error->data(), error->size());
  EXPECT_FALSE(doc.HasParseError()) << *error;
  EXPECT_TRUE(doc.IsObject() && doc.MemberCount() == 2) << *error;
  EXPECT_EQ(Str(doc["type"]), "error");
  const rapidjson::Value& e = doc["error"];
  EXPECT_EQ(e.MemberCount(), 2u) << *error;
  EXPECT_EQ(Str(e["type"]), "invalid_request_error");
  return Str(e["message"]);
}

void AnthropicAccepts(std::string_view body) {
  std::optional<std::string> error = StrictRequestError(StrictApi::kAnthropicMessages, body);
  EXPECT_FALSE(error) << body << "\n-> " << error.value_or("");
}

struct OpenAiError {
  std::string message;
  std::string param;  // "null" when the body's param is null
};

// OpenAI's refusal of `body`, after checking that the body is exactly
// {"error":{"message":...,"type":"invalid_request_error","param":...,"code":null}}.
OpenAiError OpenAiRefusal(std::string_view body) {
  std::optional<std::string> error = StrictRequestError(StrictApi::kOpenAiChat, body);
  if (!error) {
    ADD_FAILURE() << "accepted: " << body;
    return {};
  }
  rapidjson::Document doc;
  doc.Parse(error->data(), error->size());
  EXPECT_FALSE(doc.HasParseError()) << *error;
  EXPECT_TRUE(doc.IsObject() && doc.MemberCount() == 1) << *error;
  const rapidjson::Value& e = doc["error"];
  EXPECT_EQ(e.MemberCount(), 4u) << *error;
  EXPECT_EQ(Str(e["type"]), "invalid_request_error");
  EXPECT_TRUE(e["code"].IsNull());
  return {Str(e["message"]), e["param"].IsNull() ? "null" : Str(e["param"])};
}

void OpenAiAccepts(std::string_view body) {
  std::optional<std::string> error = StrictRequestError(StrictApi::kOpenAiChat, body);
  EXPECT_FALSE(error) << body << "\n-> " << error.value_or("");
}

// A Messages request around `messages`, valid apart from them.
std::string Messages(std::string_view messages, std::string_view extra = "") {
  return std::string(R"({"model":"claude-3-5-sonnet","max_tokens":64,"messages":)")
      .append(messages)
      .append(extra)
      .append("}");
}

// A Chat Completions request around `messages`.
std::string Chat(std::string_view messages, std::string_view extra = "") {
  return std::string(R"({"model":"gpt-4o","messages":)").append(messages).append(extra).append("}");
}

constexpr char kHi[] = R"([{"role":"user","content":"hi"}])";

// ---------------------------------------------------------------- which paths

TEST(StrictApiTargetTest, OnlyChatAndMessagesPathsAreValidated) {
  EXPECT_EQ(StrictApiForTarget("/v1/messages"), StrictApi::kAnthropicMessages);
  EXPECT_EQ(StrictApiForTarget("/proxy/v1/messages?beta=true"), StrictApi::kAnthropicMessages);
  EXPECT_EQ(StrictApiForTarget("/v1/chat/completions"), StrictApi::kOpenAiChat);
  EXPECT_EQ(StrictApiForTarget("/openai/deployments/x/chat/completions?api-version=1"),
            StrictApi::kOpenAiChat);
  EXPECT_EQ(StrictApiForTarget("/v1/embeddings"), StrictApi::kNone);
  EXPECT_EQ(StrictApiForTarget("/v1/responses"), StrictApi::kNone);
  EXPECT_FALSE(StrictRequestError(StrictApi::kNone, "not json at all"));
}

// ---------------------------------------------------------------- Anthropic

TEST(StrictAnthropicTest, AcceptsAFullConversation) {
  AnthropicAccepts(Messages(kHi));
  AnthropicAccepts(Messages(
      R"([{"role":"user","content":[{"type":"text","text":"weather?"},)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},)"
      R"({"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}]},)"
      R"({"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"},)"
      R"({"type":"text","text":"let me look"},)"
      R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},)"
      R"({"type":"tool_use","id":"toolu_2","name":"get_time","input":{}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sun"},)"
      R"({"type":"tool_result","tool_use_id":"toolu_2","is_error":true,)"
      R"("content":[{"type":"text","text":"no clock"}]},{"type":"text","text":"and?"}]},)"
      R"({"role":"assistant","content":""}])",
      R"(,"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],)"
      R"("temperature":1,"top_p":0.5,"stream":true,"stop_sequences":["END"],)"
      R"("metadata":{"user_id":"u"},"tool_choice":{"type":"tool","name":"get_weather"},)"
      R"("tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object"}},)"
      R"({"name":"get_time","input_schema":{"type":"object"}},)"
      R"({"type":"web_search_20250305","name":"web_search"}])"));
  AnthropicAccepts(Messages(kHi, R"(,"system":"be brief")"));
}

TEST(StrictAnthropicTest, ModelAndMaxTokensAreRequired) {
  EXPECT_EQ(AnthropicRefusal(R"({"model":"c","messages":[{"role":"user","content":"hi"}]})"),
            "max_tokens: Field required");
  EXPECT_EQ(AnthropicRefusal(R"({"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})"),
            "model: Field required");
  EXPECT_EQ(AnthropicRefusal(R"({"model":7,"max_tokens":5,"messages":[]})"),
            "model: Input should be a valid string");
  EXPECT_EQ(AnthropicRefusal(R"({"model":"c","max_tokens":"5","messages":[]})"),
            "max_tokens: Input should be a valid integer");
  EXPECT_EQ(AnthropicRefusal(R"({"model":"c","max_tokens":1.5,"messages":[]})"),
            "max_tokens: Input should be a valid integer");
  EXPECT_EQ(AnthropicRefusal(R"({"model":"c","max_tokens":0,"messages":[]})"),
            "max_tokens: Input should be greater than or equal to 1");
}

TEST(StrictAnthropicTest, MessagesMustBeANonEmptyList) {
  EXPECT_EQ(AnthropicRefusal(R"({"model":"c","max_tokens":5})"), "messages: Field required");
  EXPECT_EQ(AnthropicRefusal(Messages("{}")), "messages: Input should be a valid list");
  EXPECT_EQ(AnthropicRefusal(Messages("[]")),
            "messages: List should have at least 1 item after validation, not 0");
  EXPECT_EQ(AnthropicRefusal(Messages(R"(["hi"])")),
            "messages.0: Input should be a valid dictionary");
}

TEST(StrictAnthropicTest, RolesAreUserOrAssistantStartingWithUser) {
  EXPECT_THAT(AnthropicRefusal(Messages(R"([{"role":"system","content":"be brief"},)"
                                        R"({"role":"user","content":"hi"}])")),
              StartsWith("messages.0.role: Unexpected role \"system\". The Messages API accepts "
                         "a top-level `system` parameter"));
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"user","content":"hi"},)"
                                      R"({"role":"tool","content":"x"}])")),
            "messages.1.role: Input should be 'user' or 'assistant'");
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"content":"hi"}])")), "messages.0.role: Field required");
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"assistant","content":"hi"}])")),
            "messages.0.role: first message must use the \"user\" role");
}

TEST(StrictAnthropicTest, RolesMustAlternate) {
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"user","content":"a"},)"
                                      R"({"role":"user","content":"b"}])")),
            "messages.1.role: roles must alternate between \"user\" and \"assistant\", but found "
            "multiple \"user\" roles in a row");
  EXPECT_THAT(AnthropicRefusal(Messages(R"([{"role":"user","content":"a"},)"
                                        R"({"role":"assistant","content":"b"},)"
                                        R"({"role":"assistant","content":"c"}])")),
              StartsWith("messages.2.role: roles must alternate"));
}

TEST(StrictAnthropicTest, ContentIsANonEmptyStringOrBlockListExceptAFinalAssistant) {
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"user"}])")),
            "messages.0.content: Field required");
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"user","content":5}])")),
            "messages.0.content: Input should be a valid string or a list of blocks");
  std::string empty_error =
      "messages.0: all messages must have non-empty content except for the optional final "
      "assistant message";
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"user","content":""}])")), empty_error);
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"user","content":[]}])")), empty_error);
  AnthropicAccepts(
      Messages(R"([{"role":"user","content":"a"},{"role":"assistant","content":[]}])"));
  EXPECT_EQ(
      AnthropicRefusal(Messages(R"([{"role":"user","content":[{"type":"text","text":""}]}])")),
      "messages.0.content.0.text: text content blocks must be non-empty");
}

TEST(StrictAnthropicTest, BlocksHaveAKnownTypeAndTheirFields) {
  EXPECT_THAT(AnthropicRefusal(Messages(R"([{"role":"user","content":[{"type":"video"}]}])")),
              StartsWith("messages.0.content.0.type: Input tag 'video' found using 'type' does "
                         "not match any of the expected tags: 'text', 'image', "));
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"user","content":[{"text":"a"}]}])")),
            "messages.0.content.0.type: Field required");
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"user","content":["a"]}])")),
            "messages.0.content.0: Input should be a valid dictionary");
  EXPECT_EQ(AnthropicRefusal(
                Messages(R"([{"role":"user","content":[{"type":"image","source":{"type":"base64",)"
                         R"("media_type":"image/bmp","data":"x"}}]}])")),
            "messages.0.content.0.source.media_type: Input should be 'image/jpeg', 'image/png', "
            "'image/gif' or 'image/webp'");
  EXPECT_EQ(AnthropicRefusal(Messages(
                R"([{"role":"user","content":[{"type":"image","source":{"type":"url"}}]}])")),
            "messages.0.content.0.source.url: Field required");
  EXPECT_THAT(AnthropicRefusal(Messages(
                  R"([{"role":"user","content":[{"type":"image","source":{"type":"ftp"}}]}])")),
              StartsWith("messages.0.content.0.source.type: Input tag 'ftp'"));
  EXPECT_EQ(AnthropicRefusal(Messages(R"([{"role":"user","content":"a"},{"role":"assistant",)"
                                      R"("content":[{"type":"tool_use","id":"t","name":"f"}]}])")),
            "messages.1.content.0.input: Field required");
}

TEST(StrictAnthropicTest, EveryToolResultAnswersAToolUseOfThePreviousMessage) {
  std::string ask = R"([{"role":"user","content":"go"},{"role":"assistant","content":[)"
                    R"({"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},)";
  AnthropicAccepts(Messages(
      ask + R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1"}]}])"));
  EXPECT_EQ(AnthropicRefusal(Messages(
                ask + R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1"},)"
                      R"({"type":"tool_result","tool_use_id":"toolu_9"}]}])")),
            "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: "
            "toolu_9. Each `tool_result` block must have a corresponding `tool_use` block in the "
            "previous message.");
  // A tool_use two turns back does not count.
  EXPECT_THAT(
      AnthropicRefusal(Messages(
          ask + R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1"}]},)"
                R"({"role":"assistant","content":"ok"},)"
                R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1"}]}])")),
      StartsWith("messages.4.content.0: unexpected `tool_use_id`"));
  EXPECT_EQ(AnthropicRefusal(Messages(
                R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"x"}]}])")),
            "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: x. "
            "Each `tool_result` block must have a corresponding `tool_use` block in the previous "
            "message.");
}

TEST(StrictAnthropicTest, EveryToolUseIsAnsweredInTheNextMessage) {
  std::string ask = R"([{"role":"user","content":"go"},{"role":"assistant","content":[)"
                    R"({"type":"tool_use","id":"toolu_1","name":"f","input":{}},)"
                    R"({"type":"tool_use","id":"toolu_2","name":"f","input":{}}]})";
  // A final assistant turn may still be waiting for its results.
  AnthropicAccepts(Messages(ask + "]"));
  EXPECT_EQ(
      AnthropicRefusal(Messages(
          ask + R"(,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_2"}]}])")),
      "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
      "after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block "
      "in the next message.");
}

TEST(StrictAnthropicTest, SystemIsAStringOrTextBlocks) {
  EXPECT_THAT(AnthropicRefusal(Messages(kHi, R"(,"system":[{"type":"image"}])")),
              StartsWith("system.0.type: Input tag 'image' found using 'type'"));
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"system":{"text":"x"})")),
            "system: Input should be a valid string or a list of blocks");
}

TEST(StrictAnthropicTest, SamplingBounds) {
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"temperature":1.5)")),
            "temperature: Input should be less than or equal to 1");
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"temperature":-0.1)")),
            "temperature: Input should be greater than or equal to 0");
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"temperature":"hot")")),
            "temperature: Input should be a valid number");
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"stop_sequences":["a",1])")),
            "stop_sequences.1: Input should be a valid string");
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"stream":"yes")")),
            "stream: Input should be a valid boolean");
}

TEST(StrictAnthropicTest, ToolsNeedANameAndAnInputSchema) {
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"tools":[{"name":"f"}])")),
            "tools.0.input_schema: Field required");
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"tools":[{"input_schema":{}}])")),
            "tools.0.name: Field required");
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"tools":[{"name":"a b","input_schema":{}}])")),
            "tools.0.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'");
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"tools":{"name":"f"})")),
            "tools: Input should be a valid list");
}

TEST(StrictAnthropicTest, ToolChoiceShape) {
  AnthropicAccepts(
      Messages(kHi, R"(,"tool_choice":{"type":"any","disable_parallel_tool_use":true})"));
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"tool_choice":"auto")")),
            "tool_choice: Input should be a valid dictionary");
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"tool_choice":{"type":"required"})")),
            "tool_choice.type: Input tag 'required' found using 'type' does not match any of the "
            "expected tags: 'auto', 'any', 'tool', 'none'");
  EXPECT_EQ(AnthropicRefusal(Messages(kHi, R"(,"tool_choice":{"type":"tool"})")),
            "tool_choice.name: Field required");
}

TEST(StrictAnthropicTest, BodiesThatAreNotAJsonObject) {
  EXPECT_THAT(AnthropicRefusal("{not json"),
              StartsWith("There was an error parsing the body of your request: "));
  EXPECT_THAT(AnthropicRefusal(""), StartsWith("There was an error parsing"));
  EXPECT_THAT(AnthropicRefusal("{\"model\":\"\xff\"}"), StartsWith("There was an error parsing"));
  EXPECT_EQ(AnthropicRefusal("[1]"), "Input should be a valid dictionary");
}

// ---------------------------------------------------------------- OpenAI

TEST(StrictOpenAiTest, AcceptsAFullConversation) {
  OpenAiAccepts(Chat(kHi));
  OpenAiAccepts(Chat(
      R"([{"role":"system","content":"be brief"},{"role":"developer","content":[{"type":"text","text":"d"}]},)"
      R"({"role":"user","content":[{"type":"text","text":"weather?"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO","detail":"low"}}]},)"
      R"({"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}},)"
      R"({"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},)"
      R"({"role":"tool","tool_call_id":"call_2","content":"noon"},)"
      R"({"role":"tool","tool_call_id":"call_1","content":[{"type":"text","text":"sun"}]},)"
      R"({"role":"assistant","content":"sunny at noon","name":"bot"},)"
      R"({"role":"user","content":"thanks"}])",
      R"(,"temperature":2,"top_p":1,"max_tokens":10,"max_completion_tokens":10,"stream":true,)"
      R"("stream_options":{"include_usage":true},"tool_choice":"auto",)"
      R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}])"));
  OpenAiAccepts(Chat(kHi, R"(,"tool_choice":{"type":"function","function":{"name":"f"}})"));
}

TEST(StrictOpenAiTest, ModelAndMessagesAreRequired) {
  OpenAiError e = OpenAiRefusal(R"({"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(e.message, "you must provide a model parameter");
  EXPECT_EQ(e.param, "model");
  e = OpenAiRefusal(R"({"model":"gpt-4o"})");
  EXPECT_EQ(e.message, "Missing required parameter: 'messages'.");
  EXPECT_EQ(e.param, "messages");
  e = OpenAiRefusal(Chat("[]"));
  EXPECT_EQ(e.message,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.");
  EXPECT_EQ(e.param, "messages");
  e = OpenAiRefusal(Chat(R"("hi")"));
  EXPECT_EQ(e.message, "Invalid type for 'messages': expected an array, but got a string instead.");
}

TEST(StrictOpenAiTest, RolesAreKnown) {
  OpenAiError e =
      OpenAiRefusal(Chat(R"([{"role":"user","content":"a"},{"role":"robot","content":"b"}])"));
  EXPECT_EQ(e.message,
            "Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', "
            "'function', 'tool', and 'developer'.");
  EXPECT_EQ(e.param, "messages.[1].role");
  e = OpenAiRefusal(Chat(R"([{"content":"a"}])"));
  EXPECT_EQ(e.message, "Missing required parameter: 'messages[0].role'.");
  EXPECT_EQ(e.param, "messages.[0].role");
}

TEST(StrictOpenAiTest, ContentByRole) {
  OpenAiError e = OpenAiRefusal(Chat(R"([{"role":"user","content":5}])"));
  EXPECT_EQ(e.message,
            "Invalid type for 'messages[0].content': expected one of a string or array of "
            "objects, but got an integer instead.");
  EXPECT_EQ(e.param, "messages.[0].content");
  e = OpenAiRefusal(Chat(R"([{"role":"user","content":null}])"));
  EXPECT_EQ(e.message, "Invalid value for 'content': expected a string, got null.");
  EXPECT_EQ(e.param, "messages.[0].content");
  e = OpenAiRefusal(Chat(R"([{"role":"user"}])"));
  EXPECT_EQ(e.param, "messages.[0].content");
  e = OpenAiRefusal(Chat(R"([{"role":"user","content":[{"type":"video"}]}])"));
  EXPECT_EQ(e.message,
            "Invalid value: 'video'. Supported values are: 'text', 'image_url', 'input_audio', "
            "and 'file'.");
  EXPECT_EQ(e.param, "messages.[0].content.[0].type");
  e = OpenAiRefusal(
      Chat(R"([{"role":"system","content":[{"type":"image_url","image_url":{"url":"x"}}]}])"));
  EXPECT_EQ(e.param, "messages.[0].content.[0].type");
  e = OpenAiRefusal(Chat(R"([{"role":"user","content":[{"type":"image_url","image_url":{}}]}])"));
  EXPECT_EQ(e.message, "Missing required parameter: 'messages[0].content[0].image_url.url'.");
  EXPECT_EQ(e.param, "messages.[0].content.[0].image_url.url");
  e = OpenAiRefusal(Chat(R"([{"role":"user","content":[]}])"));
  EXPECT_EQ(e.param, "messages.[0].content");
  // An assistant may leave content out only when it calls a tool.
  e = OpenAiRefusal(Chat(R"([{"role":"user","content":"a"},{"role":"assistant","content":null}])"));
  EXPECT_EQ(e.param, "messages.[1].content");
}

TEST(StrictOpenAiTest, ToolCallsHaveIdTypeNameAndStringArguments) {
  auto with_call = [](std::string_view call) {
    return Chat(std::string(R"([{"role":"user","content":"a"},{"role":"assistant","tool_calls":[)")
                    .append(call)
                    .append(R"(]},{"role":"tool","tool_call_id":"c","content":"r"}])"));
  };
  OpenAiAccepts(
      with_call(R"({"id":"c","type":"function","function":{"name":"f","arguments":"{}"}})"));
  OpenAiError e =
      OpenAiRefusal(with_call(R"({"type":"function","function":{"name":"f","arguments":"{}"}})"));
  EXPECT_EQ(e.message, "Missing required parameter: 'messages[1].tool_calls[0].id'.");
  EXPECT_EQ(e.param, "messages.[1].tool_calls.[0].id");
  e = OpenAiRefusal(
      with_call(R"({"id":"c","type":"function","function":{"name":"f","arguments":{}}})"));
  EXPECT_EQ(e.message,
            "Invalid type for 'messages[1].tool_calls[0].function.arguments': expected a string, "
            "but got an object instead.");
  EXPECT_EQ(e.param, "messages.[1].tool_calls.[0].function.arguments");
  e = OpenAiRefusal(
      with_call(R"({"id":"c","type":"tool","function":{"name":"f","arguments":""}})"));
  EXPECT_EQ(e.message, "Invalid value: 'tool'. Supported values are: 'function'.");
  EXPECT_EQ(e.param, "messages.[1].tool_calls.[0].type");
  e = OpenAiRefusal(with_call(R"({"id":"c","type":"function","function":{"arguments":""}})"));
  EXPECT_EQ(e.param, "messages.[1].tool_calls.[0].function.name");
}

TEST(StrictOpenAiTest, EveryToolMessageAnswersAToolCallJustBeforeIt) {
  OpenAiError e = OpenAiRefusal(
      Chat(R"([{"role":"user","content":"a"},{"role":"tool","tool_call_id":"c","content":"r"}])"));
  EXPECT_EQ(e.message,
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
            "message with 'tool_calls'.");
  EXPECT_EQ(e.param, "messages.[1].role");
  std::string ask = R"([{"role":"user","content":"a"},{"role":"assistant","tool_calls":[)"
                    R"({"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},)";
  e = OpenAiRefusal(Chat(ask + R"({"role":"tool","tool_call_id":"c9","content":"r"}])"));
  EXPECT_EQ(e.message,
            "Invalid parameter: 'tool_call_id' of 'c9' not found in 'tool_calls' of previous "
            "message.");
  EXPECT_EQ(e.param, "messages.[2].tool_call_id");
  e = OpenAiRefusal(Chat(ask + R"({"role":"tool","content":"r"}])"));
  EXPECT_EQ(e.param, "messages.[2].tool_call_id");
  // A tool message after the round has ended answers nothing.
  e = OpenAiRefusal(Chat(ask + R"({"role":"tool","tool_call_id":"c1","content":"r"},)"
                               R"({"role":"user","content":"b"},)"
                               R"({"role":"tool","tool_call_id":"c1","content":"r"}])"));
  EXPECT_EQ(e.param, "messages.[4].role");
}

TEST(StrictOpenAiTest, EveryToolCallIsAnswered) {
  std::string ask = R"([{"role":"user","content":"a"},{"role":"assistant","tool_calls":[)"
                    R"({"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},)"
                    R"({"id":"c2","type":"function","function":{"name":"f","arguments":"{}"}}]})";
  std::string unanswered =
      "An assistant message with 'tool_calls' must be followed by tool messages responding to "
      "each 'tool_call_id'. The following tool_call_ids did not have response messages: ";
  OpenAiError e = OpenAiRefusal(
      Chat(ask +
           R"(,{"role":"tool","tool_call_id":"c2","content":"r"},{"role":"user","content":"b"}])"));
  EXPECT_EQ(e.message, unanswered + "c1");
  EXPECT_EQ(e.param, "messages.[1].role");
  e = OpenAiRefusal(Chat(ask + "]"));
  EXPECT_EQ(e.message, unanswered + "c1, c2");
}

TEST(StrictOpenAiTest, NumericBounds) {
  OpenAiError e = OpenAiRefusal(Chat(kHi, R"(,"temperature":3)"));
  EXPECT_EQ(e.message,
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 "
            "instead.");
  EXPECT_EQ(e.param, "temperature");
  e = OpenAiRefusal(Chat(kHi, R"(,"temperature":-1)"));
  EXPECT_EQ(e.param, "temperature");
  e = OpenAiRefusal(Chat(kHi, R"(,"max_tokens":0)"));
  EXPECT_EQ(e.message,
            "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 "
            "instead.");
  EXPECT_EQ(e.param, "max_tokens");
  e = OpenAiRefusal(Chat(kHi, R"(,"max_completion_tokens":"many")"));
  EXPECT_EQ(e.message,
            "Invalid type for 'max_completion_tokens': expected an integer, but got a string "
            "instead.");
  EXPECT_EQ(e.param, "max_completion_tokens");
}

TEST(StrictOpenAiTest, StreamOptionsOnlyWithStream) {
  OpenAiError e = OpenAiRefusal(Chat(kHi, R"(,"stream_options":{"include_usage":true})"));
  EXPECT_EQ(e.message, "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
  EXPECT_EQ(e.param, "stream_options");
  OpenAiAccepts(Chat(kHi, R"(,"stream":false,"stream_options":null)"));
}

TEST(StrictOpenAiTest, ToolsAndToolChoiceShape) {
  EXPECT_EQ(OpenAiRefusal(Chat(kHi, R"(,"tools":[{"type":"function"}])")).param,
            "tools.[0].function");
  EXPECT_EQ(OpenAiRefusal(Chat(kHi, R"(,"tools":[{"type":"function","function":{}}])")).param,
            "tools.[0].function.name");
  OpenAiError e = OpenAiRefusal(Chat(kHi, R"(,"tool_choice":"any")"));
  EXPECT_EQ(e.message,
            "Invalid value: 'any'. Supported values are: 'none', 'auto', and 'required'.");
  EXPECT_EQ(e.param, "tool_choice");
  EXPECT_EQ(OpenAiRefusal(Chat(kHi, R"(,"tool_choice":{"type":"function"})")).param,
            "tool_choice.function");
}

TEST(StrictOpenAiTest, BodiesThatAreNotAJsonObject) {
  OpenAiError e = OpenAiRefusal("{not json");
  EXPECT_THAT(e.message, StartsWith("We could not parse the JSON body of your request."));
  EXPECT_EQ(e.param, "null");
  e = OpenAiRefusal("\"hi\"");
  EXPECT_EQ(e.message,
            "Invalid type for request body: expected an object, but got a string instead.");
  EXPECT_EQ(e.param, "null");
}

// ---------------------------------------------------------------- hostile input

TEST(StrictApiTest, DeepNestingIsARefusalNotACrash) {
  std::string deep(200'000, '[');
  EXPECT_TRUE(StrictRequestError(StrictApi::kOpenAiChat, deep));
  std::string nested = std::string(R"({"model":"m","max_tokens":1,"x":)") +
                       std::string(100'000, '[') + std::string(100'000, ']') + "}";
  EXPECT_EQ(AnthropicRefusal(nested), "messages: Field required");
}

TEST(StrictApiTest, NeverCrashesOnMutatedRequests) {
  const std::string seeds[] = {
      Messages(
          R"([{"role":"user","content":[{"type":"image","source":{"type":"base64",)"
          R"("media_type":"image/png","data":"x"}}]},{"role":"assistant","content":[)"
          R"({"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user",)"
          R"("content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}])",
          R"(,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"auto"})"),
      Chat(
          R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}}]},)"
          R"({"role":"assistant","tool_calls":[{"id":"c","type":"function","function":)"
          R"({"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}])",
          R"(,"stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function",)"
          R"("function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}})")};
  std::mt19937 rng(12);
  const char replacements[] = "{}[]\":,0-1.5tfn \\x";
  for (const std::string& seed : seeds) {
    for (int round = 0; round < 3000; ++round) {
      std::string body = seed;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits; ++k) {
        size_t at = rng() % body.size();
        if (rng() % 3 == 0) {
          body.erase(at, 1 + rng() % 8);
        } else {
          body[at] = replacements[rng() % (sizeof replacements - 1)];
        }
        if (body.empty()) body = "{";
      }
      for (StrictApi api : {StrictApi::kOpenAiChat, StrictApi::kAnthropicMessages}) {
        std::optional<std::string> error = StrictRequestError(api, body);
        if (error) {
          rapidjson::Document doc;
          doc.Parse(error->data(), error->size());
          ASSERT_FALSE(doc.HasParseError()) << *error;
        }
      }
    }
  }
}

}  // namespace
}  // namespace rebound::fake
