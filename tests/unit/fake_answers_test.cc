// The fake provider's answer shapes in both APIs, JSON and SSE: tool calls,
// every stop reason, usage with cache fields, acknowledged images, and the
// error answers of every error class. Bodies must parse, streams must come
// in the vendor's event order, and argument fragments must reassemble to
// the arguments.
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/fakeprovider/answer_parts.h"
#include "tests/fakeprovider/completion_bodies.h"
#include "tests/fakeprovider/error_bodies.h"
#include "tests/fakeprovider/fault_spec.h"
#include "tests/fakeprovider/request_facts.h"

namespace rebound::fake {
namespace {

using ::testing::ElementsAre;
using ::testing::StartsWith;

constexpr char kArgs[] = R"({"city":"Zürich","days":[1,2,3],"note":"a \"quoted\" word"})";

std::string Str(const rapidjson::Value& v) {
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : "<not a string>";
}

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  EXPECT_FALSE(doc.HasParseError()) << json;
  return doc;
}

// One SSE event: its name ("" for a bare data event) and data.
struct Sse {
  std::string name;
  std::string data;
};

std::vector<Sse> Split(const std::vector<std::string>& events) {
  std::vector<Sse> out;
  for (const std::string& e : events) {
    EXPECT_TRUE(e.ends_with("\n\n")) << e;
    Sse sse;
    std::string rest = e.substr(0, e.size() - 2);
    if (rest.starts_with("event: ")) {
      size_t nl = rest.find('\n');
      sse.name = rest.substr(7, nl - 7);
      rest = rest.substr(nl + 1);
    }
    EXPECT_TRUE(rest.starts_with("data: ")) << e;
    sse.data = rest.substr(6);
    out.push_back(sse);
  }
  return out;
}

Completion Base(Api api) {
  Completion c;
  c.api = api;
  c.model = "m";
  c.id = 7;
  c.created_unix = 1'700'000'000;
  c.tokens = 2;
  c.prompt_tokens = 10;
  return c;
}

Completion ToolCall(Api api) {
  Completion c = Base(api);
  c.tool_name = "get_weather";
  c.tool_args = kArgs;
  return c;
}

// ---------------------------------------------------------------- OpenAI

TEST(ChatAnswerTest, ToolCallBody) {
  rapidjson::Document doc = Parse(CompletionBody(ToolCall(Api::kOpenAi)));
  const rapidjson::Value& choice = doc["choices"][0];
  EXPECT_EQ(Str(choice["finish_reason"]), "tool_calls");
  const rapidjson::Value& message = choice["message"];
  EXPECT_EQ(Str(message["content"]), "Hello from");
  const rapidjson::Value& call = message["tool_calls"][0];
  EXPECT_THAT(Str(call["id"]), StartsWith("call_"));
  EXPECT_EQ(Str(call["type"]), "function");
  EXPECT_EQ(Str(call["function"]["name"]), "get_weather");
  EXPECT_EQ(Str(call["function"]["arguments"]), kArgs);

  Completion bare = ToolCall(Api::kOpenAi);
  bare.tokens = 0;
  rapidjson::Document bare_doc = Parse(CompletionBody(bare));
  EXPECT_TRUE(bare_doc["choices"][0]["message"]["content"].IsNull());
}

TEST(ChatAnswerTest, ToolCallStreamSendsIdAndNameThenArgumentFragments) {
  std::vector<Sse> events = Split(CompletionEvents(ToolCall(Api::kOpenAi)));
  ASSERT_GE(events.size(), 7u);
  EXPECT_EQ(events.back().data, "[DONE]");
  std::string text;
  std::string args;
  std::vector<std::string> kinds;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    rapidjson::Document chunk = Parse(events[i].data);
    EXPECT_EQ(Str(chunk["object"]), "chat.completion.chunk");
    const rapidjson::Value& choice = chunk["choices"][0];
    const rapidjson::Value& delta = choice["delta"];
    if (i == 0) {
      EXPECT_EQ(Str(delta["role"]), "assistant");
    }
    if (delta.HasMember("content")) {
      text += Str(delta["content"]);
      kinds.push_back("text");
    } else if (delta.HasMember("tool_calls")) {
      const rapidjson::Value& call = delta["tool_calls"][0];
      EXPECT_EQ(call["index"].GetInt(), 0);
      if (call.HasMember("id")) {
        EXPECT_THAT(Str(call["id"]), StartsWith("call_"));
        EXPECT_EQ(Str(call["function"]["name"]), "get_weather");
        EXPECT_EQ(Str(call["function"]["arguments"]), "");
        kinds.push_back("call");
      } else {
        args += Str(call["function"]["arguments"]);
        kinds.push_back("args");
      }
    } else {
      EXPECT_EQ(Str(choice["finish_reason"]), "tool_calls");
      kinds.push_back("finish");
    }
  }
  EXPECT_THAT(kinds, ElementsAre("text", "text", "call", "args", "args", "args", "finish"));
  EXPECT_EQ(text, "Hello from");
  EXPECT_EQ(args, kArgs);
}

TEST(ChatAnswerTest, UsageChunkOnlyWhenTheStreamAskedForIt) {
  Completion c = Base(Api::kOpenAi);
  c.cache_read_tokens = 30;
  c.cache_write_tokens = 4;
  for (const Sse& e : Split(CompletionEvents(c))) {
    EXPECT_EQ(e.data.find("usage"), std::string::npos) << e.data;
  }
  c.include_usage = true;
  std::vector<Sse> events = Split(CompletionEvents(c));
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back().data, "[DONE]");
  rapidjson::Document finish = Parse(events[events.size() - 3].data);
  EXPECT_EQ(Str(finish["choices"][0]["finish_reason"]), "stop");
  rapidjson::Document usage = Parse(events[events.size() - 2].data);
  EXPECT_TRUE(usage["choices"].IsArray() && usage["choices"].Empty());
  EXPECT_EQ(usage["usage"]["prompt_tokens"].GetInt(), 44);
  EXPECT_EQ(usage["usage"]["completion_tokens"].GetInt(), 2);
  EXPECT_EQ(usage["usage"]["total_tokens"].GetInt(), 46);
  EXPECT_EQ(usage["usage"]["prompt_tokens_details"]["cached_tokens"].GetInt(), 30);
}

TEST(ChatAnswerTest, BodyUsageCarriesCachedTokens) {
  Completion c = Base(Api::kOpenAi);
  c.cache_read_tokens = 30;
  rapidjson::Document doc = Parse(CompletionBody(c));
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 40);
  EXPECT_EQ(doc["usage"]["total_tokens"].GetInt(), 42);
  EXPECT_EQ(doc["usage"]["prompt_tokens_details"]["cached_tokens"].GetInt(), 30);
}

// ---------------------------------------------------------------- Anthropic

TEST(MessagesAnswerTest, ToolUseBody) {
  rapidjson::Document doc = Parse(CompletionBody(ToolCall(Api::kAnthropic)));
  EXPECT_EQ(Str(doc["stop_reason"]), "tool_use");
  const rapidjson::Value& content = doc["content"];
  ASSERT_EQ(content.Size(), 2u);
  EXPECT_EQ(Str(content[0]["type"]), "text");
  EXPECT_EQ(Str(content[0]["text"]), "Hello from");
  EXPECT_EQ(Str(content[1]["type"]), "tool_use");
  EXPECT_THAT(Str(content[1]["id"]), StartsWith("toolu_"));
  EXPECT_EQ(Str(content[1]["name"]), "get_weather");
  rapidjson::Document args = Parse(kArgs);
  EXPECT_TRUE(content[1]["input"] == args);

  Completion bare = ToolCall(Api::kAnthropic);
  bare.tokens = 0;
  rapidjson::Document bare_doc = Parse(CompletionBody(bare));
  ASSERT_EQ(bare_doc["content"].Size(), 1u);
  EXPECT_EQ(Str(bare_doc["content"][0]["type"]), "tool_use");
}

TEST(MessagesAnswerTest, ToolUseStreamInTheApiOrder) {
  std::vector<Sse> events = Split(CompletionEvents(ToolCall(Api::kAnthropic)));
  std::vector<std::string> names;
  for (const Sse& e : events) {
    names.push_back(e.name);
    rapidjson::Document data = Parse(e.data);
    EXPECT_EQ(Str(data["type"]), e.name);
  }
  EXPECT_THAT(names, ElementsAre("message_start", "content_block_start", "content_block_delta",
                                 "content_block_delta", "content_block_stop",
                                 "content_block_start", "content_block_delta",
                                 "content_block_delta", "content_block_delta",
                                 "content_block_stop", "message_delta", "message_stop"));
  rapidjson::Document start = Parse(events[5].data);
  EXPECT_EQ(start["index"].GetInt(), 1);
  EXPECT_EQ(Str(start["content_block"]["type"]), "tool_use");
  EXPECT_THAT(Str(start["content_block"]["id"]), StartsWith("toolu_"));
  EXPECT_EQ(Str(start["content_block"]["name"]), "get_weather");
  EXPECT_TRUE(start["content_block"]["input"].IsObject());
  std::string args;
  for (size_t i = 6; i < 9; ++i) {
    rapidjson::Document delta = Parse(events[i].data);
    EXPECT_EQ(delta["index"].GetInt(), 1);
    EXPECT_EQ(Str(delta["delta"]["type"]), "input_json_delta");
    args += Str(delta["delta"]["partial_json"]);
  }
  EXPECT_EQ(args, kArgs);
  EXPECT_EQ(Parse(events[9].data)["index"].GetInt(), 1);
  EXPECT_EQ(Str(Parse(events[10].data)["delta"]["stop_reason"]), "tool_use");
}

TEST(MessagesAnswerTest, UsageWithCacheFields) {
  Completion c = Base(Api::kAnthropic);
  c.cache_read_tokens = 30;
  c.cache_write_tokens = 4;
  rapidjson::Document doc = Parse(CompletionBody(c));
  const rapidjson::Value& usage = doc["usage"];
  EXPECT_EQ(usage["input_tokens"].GetInt(), 10);
  EXPECT_EQ(usage["cache_creation_input_tokens"].GetInt(), 4);
  EXPECT_EQ(usage["cache_read_input_tokens"].GetInt(), 30);
  EXPECT_EQ(usage["output_tokens"].GetInt(), 2);

  std::vector<Sse> events = Split(CompletionEvents(c));
  rapidjson::Document start = Parse(events.front().data);
  const rapidjson::Value& start_usage = start["message"]["usage"];
  EXPECT_EQ(start_usage["input_tokens"].GetInt(), 10);
  EXPECT_EQ(start_usage["cache_creation_input_tokens"].GetInt(), 4);
  EXPECT_EQ(start_usage["cache_read_input_tokens"].GetInt(), 30);
  rapidjson::Document delta = Parse(events[events.size() - 2].data);
  EXPECT_EQ(Str(delta["type"]), "message_delta");
  EXPECT_EQ(delta["usage"]["output_tokens"].GetInt(), 2);
}

// ---------------------------------------------------------------- both APIs

TEST(AnswerTest, EveryStopReasonVerbatimInJsonAndSse) {
  for (std::string_view reason : kStopReasons) {
    SCOPED_TRACE(reason);
    Completion chat = Base(Api::kOpenAi);
    chat.stop_reason = reason;
    EXPECT_EQ(Str(Parse(CompletionBody(chat))["choices"][0]["finish_reason"]), reason);
    std::vector<Sse> chat_events = Split(CompletionEvents(chat));
    EXPECT_EQ(Str(Parse(chat_events[chat_events.size() - 2].data)["choices"][0]["finish_reason"]),
              reason);

    Completion messages = Base(Api::kAnthropic);
    messages.stop_reason = reason;
    EXPECT_EQ(Str(Parse(CompletionBody(messages))["stop_reason"]), reason);
    std::vector<Sse> messages_events = Split(CompletionEvents(messages));
    EXPECT_EQ(
        Str(Parse(messages_events[messages_events.size() - 2].data)["delta"]["stop_reason"]),
        reason);
  }
}

TEST(AnswerTest, ImagesAreAcknowledgedFirst) {
  for (Api api : {Api::kOpenAi, Api::kAnthropic}) {
    Completion c = Base(api);
    c.images_seen = 2;
    rapidjson::Document doc = Parse(CompletionBody(c));
    std::string text = api == Api::kOpenAi ? Str(doc["choices"][0]["message"]["content"])
                                           : Str(doc["content"][0]["text"]);
    EXPECT_EQ(text, "saw 2 image(s). Hello from");
    std::string streamed;
    for (const Sse& e : Split(CompletionEvents(c))) {
      if (e.data == "[DONE]") continue;
      rapidjson::Document d = Parse(e.data);
      if (api == Api::kOpenAi && d["choices"][0]["delta"].HasMember("content")) {
        streamed += Str(d["choices"][0]["delta"]["content"]);
      }
      if (api == Api::kAnthropic && e.name == "content_block_delta") {
        streamed += Str(d["delta"]["text"]);
      }
    }
    EXPECT_EQ(streamed, "saw 2 image(s). Hello from");
  }
}

TEST(AnswerTest, ArgumentFragmentsKeepUtf8CharactersWhole) {
  EXPECT_THAT(ArgumentFragments("{}"), ElementsAre("{", "}"));
  EXPECT_THAT(ArgumentFragments(""), ElementsAre());
  // Every cut lands before a continuation byte would: each fragment is
  // valid UTF-8 on its own.
  std::string args = "{\"k\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9\"}";
  for (size_t len = 0; len <= args.size(); ++len) {
    std::string_view prefix = std::string_view(args).substr(0, len);
    std::string joined;
    for (std::string_view f : ArgumentFragments(prefix)) {
      EXPECT_FALSE(f.empty());
      EXPECT_NE(static_cast<unsigned char>(f.front()) & 0xC0, 0x80) << "cut inside a character";
      joined.append(f);
    }
    EXPECT_EQ(joined, prefix);
  }
}

// ---------------------------------------------------------------- error classes

// The statuses the providers answer each class with (error_bodies.cc says
// where a class has more than one real form).
struct ErrorStatuses {
  std::string_view name;
  int openai;
  int anthropic;
};
constexpr ErrorStatuses kErrorStatuses[] = {
    {"context_length_exceeded", 400, 400}, {"content_filter", 400, 400},
    {"quota_exhausted", 429, 400},         {"rate_limited", 429, 429},
    {"overloaded", 503, 529},              {"server_error", 500, 500},
    {"invalid_request", 400, 400},         {"authentication", 401, 401},
    {"not_found", 404, 404},
};

TEST(ErrorAnswerTest, EachClassHasTheProvidersStatuses) {
  ASSERT_EQ(ErrorShapes().size(), std::size(kErrorStatuses));
  for (const ErrorStatuses& want : kErrorStatuses) {
    std::optional<ErrorShape> shape = FindErrorShape(want.name);
    ASSERT_TRUE(shape) << want.name;
    EXPECT_EQ(ErrorAnswerStatus(*shape, Api::kOpenAi), want.openai) << want.name;
    EXPECT_EQ(ErrorAnswerStatus(*shape, Api::kResponses), want.openai) << want.name;
    EXPECT_EQ(ErrorAnswerStatus(*shape, Api::kAnthropic), want.anthropic) << want.name;
  }
  EXPECT_FALSE(FindErrorShape("overload"));
}

TEST(ErrorAnswerTest, OpenAiBodiesAreOpenAisErrorShape) {
  for (const ErrorShape& shape : ErrorShapes()) {
    for (Api api : {Api::kOpenAi, Api::kResponses}) {
      rapidjson::Document doc = Parse(ErrorAnswerBody(shape, api));
      ASSERT_TRUE(doc.IsObject()) << shape.name;
      EXPECT_EQ(doc.MemberCount(), 1u) << shape.name;
      ASSERT_TRUE(doc.HasMember("error") && doc["error"].IsObject()) << shape.name;
      const rapidjson::Value& e = doc["error"];
      EXPECT_TRUE(e.HasMember("message") && e["message"].IsString()) << shape.name;
      EXPECT_TRUE(e.HasMember("type") && (e["type"].IsString() || e["type"].IsNull()))
          << shape.name;
      EXPECT_TRUE(e.HasMember("param")) << shape.name;
      EXPECT_TRUE(e.HasMember("code") && (e["code"].IsString() || e["code"].IsNull()))
          << shape.name;
    }
  }
}

TEST(ErrorAnswerTest, AnthropicBodiesAreAnthropicsErrorShape) {
  for (const ErrorShape& shape : ErrorShapes()) {
    rapidjson::Document doc = Parse(ErrorAnswerBody(shape, Api::kAnthropic));
    ASSERT_TRUE(doc.IsObject()) << shape.name;
    EXPECT_EQ(Str(doc["type"]), "error") << shape.name;
    ASSERT_TRUE(doc.HasMember("error") && doc["error"].IsObject()) << shape.name;
    EXPECT_EQ(doc["error"].MemberCount(), 2u) << shape.name;
    EXPECT_THAT(Str(doc["error"]["type"]), ::testing::EndsWith("_error")) << shape.name;
    EXPECT_TRUE(doc["error"]["message"].IsString()) << shape.name;
    EXPECT_THAT(Str(doc["request_id"]), StartsWith("req_")) << shape.name;
  }
}

TEST(ErrorAnswerTest, ErrorEventsAreEachApisFailureEvent) {
  for (const ErrorShape& shape : ErrorShapes()) {
    std::vector<Sse> messages = Split({ErrorEventOf(shape, Api::kAnthropic)});
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].name, "error");
    rapidjson::Document m = Parse(messages[0].data);
    EXPECT_EQ(Str(m["type"]), "error");
    rapidjson::Document object = Parse(std::string(shape.anthropic_error));
    EXPECT_EQ(Str(m["error"]["message"]), Str(object["message"]));

    std::vector<Sse> chat = Split({ErrorEventOf(shape, Api::kOpenAi)});
    ASSERT_EQ(chat.size(), 1u);
    EXPECT_EQ(chat[0].name, "");
    EXPECT_TRUE(Parse(chat[0].data)["error"].IsObject());

    std::vector<Sse> responses = Split({ErrorEventOf(shape, Api::kResponses)});
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].name, "response.failed");
    rapidjson::Document r = Parse(responses[0].data);
    EXPECT_EQ(Str(r["type"]), "response.failed");
    EXPECT_EQ(Str(r["response"]["status"]), "failed");
    EXPECT_TRUE(r["response"]["error"]["message"].IsString());
  }
}

TEST(RequestFactsTest, CountsImagesAndReadsIncludeUsage) {
  RequestFacts chat = ReadRequestFacts(
      Api::kOpenAi,
      R"({"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user",)"
      R"("content":[{"type":"image_url","image_url":{"url":"a"}},{"type":"text","text":"x"},)"
      R"({"type":"image_url","image_url":{"url":"b"}}]},{"role":"user","content":"hi"}]})");
  EXPECT_EQ(chat.images, 2);
  EXPECT_TRUE(chat.include_usage);
  RequestFacts messages = ReadRequestFacts(
      Api::kAnthropic,
      R"({"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[)"
      R"({"type":"image","source":{"type":"url","url":"a"}},{"type":"image_url"}]}]})");
  EXPECT_EQ(messages.images, 1);
  EXPECT_FALSE(messages.include_usage);  // an OpenAI option only
  RequestFacts junk = ReadRequestFacts(Api::kOpenAi, "{not json");
  EXPECT_EQ(junk.images, 0);
  EXPECT_FALSE(junk.include_usage);
  EXPECT_EQ(ReadRequestFacts(Api::kOpenAi, std::string(100'000, '[')).images, 0);
}

}  // namespace
}  // namespace rebound::fake
