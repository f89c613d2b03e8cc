#include "translate/stream.h"

#include <string>
#include <vector>

#include "codec/sse.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::translate {
namespace {

using ::testing::HasSubstr;

StreamOptions Options(bool include_usage = false) {
  StreamOptions o;
  o.served_model = "served";
  o.created_unix_seconds = 1700000000;
  o.include_usage = include_usage;
  return o;
}

// The caller's events for a whole upstream stream given as SSE bytes, fed
// to the parser in pieces of `piece` bytes (0: all at once).
std::vector<CallerEvent> Translated(Api from, Api to, const std::string& sse, size_t piece = 0,
                             bool include_usage = false) {
  std::unique_ptr<StreamTranslator> t = StreamTranslator::Create(from, to, Options(include_usage));
  SseParser parser;
  std::vector<CallerEvent> out;
  size_t step = piece == 0 ? sse.size() : piece;
  for (size_t i = 0; i < sse.size(); i += step) {
    std::vector<SseEvent> events;
    EXPECT_TRUE(parser.Feed(std::string_view(sse).substr(i, step), &events).ok());
    for (const SseEvent& e : events) EXPECT_TRUE(t->Translate(e.event, e.data, &out).ok()) << e.data;
  }
  return out;
}

const std::string kAnthropicStream =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"usage":{"input_tokens":10,"cache_read_input_tokens":4,"output_tokens":1}}})"
    "\n\nevent: content_block_start\n"
    R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
    "\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hé"}})"
    "\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    R"(data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"tu_1","name":"weather","input":{}}})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Oslo\"}"}})"
    "\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    R"(data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":12}})"
    "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

TEST(TranslateStreamTest, AnAnthropicStreamBecomesChatCompletionChunks) {
  std::vector<CallerEvent> out =
      Translated(Api::kAnthropicMessages, Api::kOpenAiChat, kAnthropicStream, 0, /*include_usage=*/true);
  const std::string head =
      R"({"id":"msg_1","object":"chat.completion.chunk","created":1700000000,"model":"served","choices":[{"index":0,"delta":)";
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(out[0].data, head + R"({"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(out[1].data, head + R"({"content":"Hé"},"logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(out[2].data, head + R"({"tool_calls":[{"index":0,"id":"tu_1","type":"function","function":{"name":"weather","arguments":""}}]},"logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(out[3].data, head + R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(out[4].data, head + R"({"tool_calls":[{"index":0,"function":{"arguments":"\"Oslo\"}"}}]},"logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(out[5].data, head + R"({},"logprobs":null,"finish_reason":"tool_calls"}]})");
  EXPECT_EQ(out[6].data,
            R"({"id":"msg_1","object":"chat.completion.chunk","created":1700000000,"model":"served","choices":[],)"
            R"("usage":{"prompt_tokens":14,"completion_tokens":12,"total_tokens":26,"prompt_tokens_details":{"cached_tokens":4}}})");
  EXPECT_EQ(out[7].data, "[DONE]");
  for (const CallerEvent& e : out) EXPECT_EQ(e.event, "") << "OpenAI chunks carry no event type";
}

TEST(TranslateStreamTest, WithoutIncludeUsageThereIsNoUsageChunk) {
  std::vector<CallerEvent> out = Translated(Api::kAnthropicMessages, Api::kOpenAiChat, kAnthropicStream);
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out.back().data, "[DONE]");
}

std::string Chunk(const std::string& delta, const std::string& finish = "null") {
  return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":" +
         delta + ",\"finish_reason\":" + finish + "}]}\n\n";
}

const std::string kOpenAiStream =
    Chunk(R"({"role":"assistant","content":""})") + Chunk(R"({"content":"Checking"})") +
    Chunk(R"({"content":" now."})") +
    Chunk(R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":""}}]})") +
    Chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]})") +
    Chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"Rome\"}"}}]})") +
    Chunk(R"({"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"time","arguments":"{}"}}]})") +
    Chunk("{}", "\"tool_calls\"") +
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":9,"
    "\"total_tokens\":39,\"prompt_tokens_details\":{\"cached_tokens\":20}}}\n\n"
    "data: [DONE]\n\n";

TEST(TranslateStreamTest, ChatCompletionChunksBecomeTheFullAnthropicSequence) {
  std::vector<CallerEvent> out = Translated(Api::kOpenAiChat, Api::kAnthropicMessages, kOpenAiStream);
  std::vector<std::string> types;
  for (const CallerEvent& e : out) types.push_back(e.event);
  EXPECT_THAT(types, ::testing::ElementsAre(
                         "message_start", "content_block_start", "content_block_delta",
                         "content_block_delta", "content_block_stop", "content_block_start",
                         "content_block_delta", "content_block_delta", "content_block_stop",
                         "content_block_start", "content_block_delta", "content_block_stop",
                         "message_delta", "message_stop"));
  EXPECT_EQ(out[0].data,
            R"({"type":"message_start","message":{"id":"chatcmpl-1","type":"message","role":"assistant","model":"served","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}})");
  EXPECT_EQ(out[2].data, R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}})");
  EXPECT_EQ(out[5].data,
            R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_1","name":"weather","input":{}}})");
  EXPECT_EQ(out[7].data,
            R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Rome\"}"}})");
  EXPECT_EQ(out[9].data,
            R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_2","name":"time","input":{}}})");
  EXPECT_EQ(out[12].data,
            R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":10,"cache_read_input_tokens":20,"output_tokens":9}})");
  EXPECT_EQ(out[13].data, R"({"type":"message_stop"})");
}

TEST(TranslateStreamTest, ToolArgumentFragmentsReassembleToTheWholeInput) {
  std::vector<CallerEvent> out = Translated(Api::kOpenAiChat, Api::kAnthropicMessages, kOpenAiStream);
  std::string arguments;
  for (const CallerEvent& e : out) {
    if (e.data.find("\"index\":1,\"delta\":{\"type\":\"input_json_delta\"") == std::string::npos) continue;
    size_t at = e.data.find("\"partial_json\":\"") + 16;
    std::string piece = e.data.substr(at, e.data.size() - at - 3);
    for (size_t i = 0; i < piece.size(); ++i) {
      if (piece[i] == '\\') ++i;
      arguments.push_back(piece[i]);
    }
  }
  EXPECT_EQ(arguments, R"({"city":"Rome"})");
}

// Every split of the upstream bytes gives the same caller events, in both
// directions: the translation is per event, whatever the reads were.
TEST(TranslateStreamTest, EverySplitPointGivesTheSameEvents) {
  for (auto [from, to, sse] : {std::tuple{Api::kAnthropicMessages, Api::kOpenAiChat, kAnthropicStream},
                               std::tuple{Api::kOpenAiChat, Api::kAnthropicMessages, kOpenAiStream}}) {
    std::vector<CallerEvent> whole = Translated(from, to, sse);
    ASSERT_FALSE(whole.empty());
    for (size_t piece : {1u, 2u, 3u, 7u, 64u}) {
      SCOPED_TRACE(piece);
      EXPECT_EQ(Translated(from, to, sse, piece), whole);
    }
  }
}

TEST(TranslateStreamTest, ALengthStopAndATextOnlyStreamMapBack) {
  std::string sse = Chunk(R"({"content":"a"})") + Chunk("{}", "\"length\"") + "data: [DONE]\n\n";
  std::vector<CallerEvent> out = Translated(Api::kOpenAiChat, Api::kAnthropicMessages, sse);
  ASSERT_GE(out.size(), 2u);
  EXPECT_THAT(out[out.size() - 2].data, HasSubstr(R"("stop_reason":"max_tokens")"));
}

TEST(TranslateStreamTest, EventsThatAreNotJsonAreErrors) {
  std::unique_ptr<StreamTranslator> t =
      StreamTranslator::Create(Api::kAnthropicMessages, Api::kOpenAiChat, Options());
  std::vector<CallerEvent> out;
  EXPECT_FALSE(t->Translate("content_block_delta", "{oops", &out).ok());
  EXPECT_FALSE(t->Translate("content_block_delta",
                            R"({"type":"content_block_delta","index":5,"delta":{"type":"input_json_delta","partial_json":"x"}})",
                            &out)
                   .ok())
      << "a fragment of a tool block that never started";
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(StreamTranslator::Create(Api::kOpenAiChat, Api::kOpenAiChat, Options()), nullptr);
}

}  // namespace
}  // namespace rebound::translate

namespace rebound::translate {
namespace {

TEST(TranslateStreamEndTest, AStreamWithoutDoneIsFinishedOnceAndDoneTwiceAddsNothing) {
  std::unique_ptr<StreamTranslator> t =
      StreamTranslator::Create(Api::kOpenAiChat, Api::kAnthropicMessages, StreamOptions{});
  std::vector<CallerEvent> out;
  ASSERT_TRUE(t->Translate("", R"({"id":"c","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]})", &out).ok());
  t->Finish(&out);
  ASSERT_GE(out.size(), 2u);
  EXPECT_EQ(out[out.size() - 2].event, "message_delta");
  EXPECT_EQ(out.back().event, "message_stop");
  const size_t n = out.size();
  ASSERT_TRUE(t->Translate("", "[DONE]", &out).ok());
  t->Finish(&out);
  EXPECT_EQ(out.size(), n) << "one message_stop, whatever follows";
}

TEST(TranslateStreamEndTest, RepeatedIdsOnFragmentsStayOneToolBlock) {
  std::unique_ptr<StreamTranslator> t =
      StreamTranslator::Create(Api::kOpenAiChat, Api::kAnthropicMessages, StreamOptions{});
  std::vector<CallerEvent> out;
  for (const char* args : {R"({\"a\":)", "1}"}) {
    std::string chunk = std::string(R"({"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":")") +
                        args + R"("}}]}}]})";
    ASSERT_TRUE(t->Translate("", chunk, &out).ok());
  }
  int starts = 0;
  for (const CallerEvent& e : out) starts += e.event == "content_block_start";
  EXPECT_EQ(starts, 1);
}

TEST(TranslateStreamEndTest, DeeplyNestedEventsAreRefusedNotParsed) {
  std::unique_ptr<StreamTranslator> t =
      StreamTranslator::Create(Api::kAnthropicMessages, Api::kOpenAiChat, StreamOptions{});
  std::vector<CallerEvent> out;
  EXPECT_FALSE(t->Translate("message_start", std::string(200000, '['), &out).ok());
}

}  // namespace
}  // namespace rebound::translate
