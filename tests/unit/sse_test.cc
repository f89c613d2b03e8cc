#include "codec/sse.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound {

// Found by argument-dependent lookup, so it must live in SseEvent's namespace.
void PrintTo(const SseEvent& e, std::ostream* os) {
  *os << "{event=\"" << e.event << "\" data=\"" << e.data << "\" id=\"" << e.id << "\"}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

SseEvent Ev(std::string data, std::string event = "", std::string id = "") {
  return SseEvent{std::move(event), std::move(data), std::move(id)};
}

// Feeds `chunks` to a fresh parser; every Feed must succeed.
std::vector<SseEvent> Parse(const std::vector<std::string_view>& chunks, bool* partial = nullptr) {
  SseParser parser;
  std::vector<SseEvent> events;
  for (std::string_view chunk : chunks) {
    const absl::Status status = parser.Feed(chunk, &events);
    EXPECT_TRUE(status.ok()) << status;
  }
  if (partial != nullptr) *partial = parser.HasPartialEvent();
  return events;
}

std::vector<SseEvent> ParseOne(std::string_view stream) {
  return Parse(std::vector<std::string_view>{stream});
}

// ------------------------------------------------------------ line endings

TEST(SseParserTest, DispatchesOnABlankLineWithLf) {
  EXPECT_THAT(ParseOne("data: hello\n\n"), ElementsAre(Ev("hello")));
}

TEST(SseParserTest, AcceptsCrLfAndBareCrLineEndings) {
  EXPECT_THAT(ParseOne("data: a\r\n\r\n"), ElementsAre(Ev("a")));
  EXPECT_THAT(ParseOne("data: a\r\r"), ElementsAre(Ev("a")));
  EXPECT_THAT(ParseOne("data: a\rdata: b\r\ndata: c\n\r\n"), ElementsAre(Ev("a\nb\nc")));
}

TEST(SseParserTest, CrLfSplitAcrossChunksIsOneLineEnding) {
  // Were the LF taken as a second (blank) line, "a" would be dispatched alone.
  EXPECT_THAT(Parse({"data: a\r", "\ndata: b\r\n\r\n"}), ElementsAre(Ev("a\nb")));
  EXPECT_THAT(Parse({"data: a\r", "", "\ndata: b\n\n"}), ElementsAre(Ev("a\nb")));
}

TEST(SseParserTest, CrAtTheEndOfAChunkFollowedByAnotherLineIsALineEnding) {
  EXPECT_THAT(Parse({"data: a\r", "\r"}), ElementsAre(Ev("a")));
  EXPECT_THAT(Parse({"data: a\r", "data: b\r\r"}), ElementsAre(Ev("a\nb")));
}

TEST(SseParserTest, OnlyOneLfFollowingACrIsSwallowed) {
  EXPECT_THAT(Parse({"data: a\r", "\n\n"}), ElementsAre(Ev("a")));
}

// ----------------------------------------------------------------- fields

TEST(SseParserTest, DropsExactlyOneLeadingSpaceOfAValue) {
  EXPECT_THAT(ParseOne("data:x\n\ndata: x\n\ndata:  x\n\ndata:\tx\n\n"),
              ElementsAre(Ev("x"), Ev("x"), Ev(" x"), Ev("\tx")));
}

TEST(SseParserTest, JoinsDataLinesWithLf) {
  EXPECT_THAT(ParseOne("data: a\ndata:\ndata: b\n\n"), ElementsAre(Ev("a\n\nb")));
}

TEST(SseParserTest, OnlyTheFirstColonSeparatesFieldAndValue) {
  EXPECT_THAT(ParseOne("data: {\"a\":\"b:c\"}\n\n"), ElementsAre(Ev("{\"a\":\"b:c\"}")));
}

TEST(SseParserTest, FieldWithoutColonHasAnEmptyValue) {
  EXPECT_THAT(ParseOne("data\n\n"), ElementsAre(Ev("")));
  EXPECT_THAT(ParseOne("event\ndata: x\n\n"), ElementsAre(Ev("x", "")));
}

TEST(SseParserTest, EventAndIdFields) {
  EXPECT_THAT(ParseOne("event: message_start\nid: 7\ndata: {}\n\n"),
              ElementsAre(Ev("{}", "message_start", "7")));
}

TEST(SseParserTest, TheLastEventFieldWins) {
  EXPECT_THAT(ParseOne("event: a\nevent: b\ndata: x\n\n"), ElementsAre(Ev("x", "b")));
}

TEST(SseParserTest, EventTypeDoesNotCarryOverButTheLastEventIdDoes) {
  EXPECT_THAT(ParseOne("event: e\nid: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"),
              ElementsAre(Ev("a", "e", "1"), Ev("b", "", "1"), Ev("c", "", "")));
}

TEST(SseParserTest, IdContainingNulIsIgnored) {
  EXPECT_THAT(ParseOne(std::string_view("id: 1\n\nid: 2\0x\ndata: a\n\n", 24)),
              ElementsAre(Ev("a", "", "1")));
}

TEST(SseParserTest, IgnoresCommentsRetryAndUnknownFields) {
  EXPECT_THAT(ParseOne(": keep-alive\nretry: 10\nfoo: bar\nData: no\n:data: no\ndata: yes\n\n"),
              ElementsAre(Ev("yes")));
}

TEST(SseParserTest, AnEventWithoutDataLinesIsNotDispatched) {
  EXPECT_THAT(ParseOne("event: ping\n\nid: 3\n\n: comment\n\n\n\n"), IsEmpty());
  // ...and its type does not leak into the next event.
  EXPECT_THAT(ParseOne("event: ping\n\ndata: x\n\n"), ElementsAre(Ev("x", "")));
}

TEST(SseParserTest, PassesBytesThroughUnchanged) {
  const std::string data("\xFF\xC3(\0z", 5);
  EXPECT_THAT(ParseOne("data: " + data + "\n\n"), ElementsAre(Ev(data)));
}

TEST(SseParserTest, SkipsALeadingByteOrderMarkEvenWhenSplit) {
  EXPECT_THAT(ParseOne("\xEF\xBB\xBF"
                       "data: a\n\n"),
              ElementsAre(Ev("a")));
  EXPECT_THAT(Parse({"\xEF", "\xBB", "",
                     "\xBF"
                     "data: a\n\n"}),
              ElementsAre(Ev("a")));
  // A BOM later in the stream is ordinary content (here: an unknown field).
  EXPECT_THAT(ParseOne("data: a\n\n\xEF\xBB\xBF"
                       "data: b\n\n"),
              ElementsAre(Ev("a")));
}

TEST(SseParserTest, AnIncompleteBomPrefixIsContent) {
  EXPECT_THAT(Parse({"\xEF\xBB", "data: a\n\n"}), IsEmpty());  // field "\xEF\xBB" + "data"
  EXPECT_THAT(Parse({"\xEF", "\n", "data: a\n\n"}), ElementsAre(Ev("a")));
}

TEST(SseParserTest, ManyEventsInOneChunk) {
  std::string stream;
  for (int i = 0; i < 100; ++i) stream += "data: " + std::to_string(i) + "\n\n";
  const std::vector<SseEvent> events = ParseOne(stream);
  ASSERT_EQ(events.size(), 100u);
  EXPECT_EQ(events[42].data, "42");
}

TEST(SseParserTest, AppendsToTheOutputVectorWithoutClearingIt) {
  SseParser parser;
  std::vector<SseEvent> events = {Ev("earlier")};
  ASSERT_TRUE(parser.Feed("data: x\n\n", &events).ok());
  EXPECT_THAT(events, ElementsAre(Ev("earlier"), Ev("x")));
}

// ---------------------------------------------------------- split points

constexpr std::string_view kMixedStream =
    "\xEF\xBB\xBF: comment\r\n"
    "event: message_start\r\n"
    "id: 1\r\n"
    "data: {\"type\":\"message_start\"}\r\n"
    "\r\n"
    "data:first\n"
    "data:  second\n"
    "retry: 5\n"
    "\n"
    "event: delta\r"
    "data: {\"text\":\"caf\xC3\xA9\"}\r"
    "\r"
    "event: lonely\n"
    "\n"
    "data\n"
    "\n"
    "data: [DONE]\r\n\r\n";

std::vector<SseEvent> MixedStreamEvents() {
  return {Ev("{\"type\":\"message_start\"}", "message_start", "1"), Ev("first\n second", "", "1"),
          Ev("{\"text\":\"caf\xC3\xA9\"}", "delta", "1"), Ev("", "", "1"), Ev("[DONE]", "", "1")};
}

TEST(SseParserSplitTest, WholeStreamParsesAsExpected) {
  bool partial = true;
  EXPECT_EQ(Parse({kMixedStream}, &partial), MixedStreamEvents());
  EXPECT_FALSE(partial);
}

TEST(SseParserSplitTest, EveryTwoWaySplitGivesTheSameEvents) {
  for (size_t i = 0; i <= kMixedStream.size(); ++i) {
    EXPECT_EQ(Parse({kMixedStream.substr(0, i), kMixedStream.substr(i)}), MixedStreamEvents())
        << "split at " << i;
  }
}

TEST(SseParserSplitTest, EveryThreeWaySplitGivesTheSameEvents) {
  for (size_t i = 0; i <= kMixedStream.size(); ++i) {
    for (size_t j = i; j <= kMixedStream.size(); ++j) {
      ASSERT_EQ(
          Parse({kMixedStream.substr(0, i), kMixedStream.substr(i, j - i), kMixedStream.substr(j)}),
          MixedStreamEvents())
          << "split at " << i << " and " << j;
    }
  }
}

TEST(SseParserSplitTest, ByteByByteGivesTheSameEvents) {
  std::vector<std::string_view> chunks;
  for (size_t i = 0; i < kMixedStream.size(); ++i) chunks.push_back(kMixedStream.substr(i, 1));
  EXPECT_EQ(Parse(chunks), MixedStreamEvents());
}

TEST(SseParserSplitTest, EventsArriveAsSoonAsTheirBlankLineDoes) {
  SseParser parser;
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser.Feed("data: a\n", &events).ok());
  EXPECT_THAT(events, IsEmpty());
  ASSERT_TRUE(parser.Feed("\nda", &events).ok());
  EXPECT_THAT(events, ElementsAre(Ev("a")));
}

// -------------------------------------------------------- partial events

TEST(SseParserPartialTest, NothingPendingAtStartOrAfterADispatch) {
  SseParser parser;
  std::vector<SseEvent> events;
  EXPECT_FALSE(parser.HasPartialEvent());
  ASSERT_TRUE(parser.Feed("data: a\n\n", &events).ok());
  EXPECT_FALSE(parser.HasPartialEvent());
}

TEST(SseParserPartialTest, AnUnfinishedLineIsPending) {
  bool partial = false;
  EXPECT_THAT(Parse({"data: a\n\ndata: {\"cho"}, &partial), ElementsAre(Ev("a")));
  EXPECT_TRUE(partial);
}

TEST(SseParserPartialTest, FieldLinesWithoutTheirBlankLineArePending) {
  bool partial = false;
  Parse({"data: a\n"}, &partial);
  EXPECT_TRUE(partial);
  Parse({"event: message_stop\n"}, &partial);
  EXPECT_TRUE(partial);
  Parse({"data: a\r"}, &partial);  // CR ends the line; the blank line is missing
  EXPECT_TRUE(partial);
}

TEST(SseParserPartialTest, CommentsAndCompleteEventsAreNotPending) {
  bool partial = true;
  Parse({": ping\n"}, &partial);
  EXPECT_FALSE(partial);
  Parse({"data: a\n\n: keep-al"}, &partial);
  EXPECT_FALSE(partial);
  Parse({"data: a\r\n\r"}, &partial);  // the LF of the last CRLF may never come
  EXPECT_FALSE(partial);
}

// --------------------------------------------------------------- limits

TEST(SseParserLimitTest, AnEventAtTheLimitIsAccepted) {
  SseParser parser(16);
  std::vector<SseEvent> events;
  EXPECT_TRUE(parser.Feed("data: 0123456789abcdef\n\n", &events).ok());
  EXPECT_THAT(events, ElementsAre(Ev("0123456789abcdef")));
}

TEST(SseParserLimitTest, ManyDataLinesBeyondTheLimitFailTheStream) {
  SseParser parser(16);
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser.Feed("data: 01234567\n", &events).ok());
  const absl::Status status = parser.Feed("data: 01234567\n", &events);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "SSE event larger than 16 bytes");
}

TEST(SseParserLimitTest, AnEndlessLineFailsOnceItPassesTheLimit) {
  SseParser parser(64);
  std::vector<SseEvent> events;
  const std::string chunk(10, 'x');
  int accepted = 0;
  while (parser.Feed(chunk, &events).ok()) ++accepted;
  EXPECT_EQ(accepted, 6);
}

TEST(SseParserLimitTest, AHugeLineInsideOneChunkFails) {
  SseParser parser(1024);
  std::vector<SseEvent> events;
  EXPECT_FALSE(parser.Feed("data: " + std::string(2000, 'x') + "\n\n", &events).ok());
  SseParser id_parser(1024);
  EXPECT_FALSE(id_parser.Feed("id: " + std::string(2000, 'x') + "\n", &events).ok());
  SseParser event_parser(1024);
  EXPECT_FALSE(event_parser.Feed("event: " + std::string(2000, 'x') + "\n", &events).ok());
  EXPECT_THAT(events, IsEmpty());
}

TEST(SseParserLimitTest, TheLimitIsPerEventNotPerStream) {
  SseParser parser(16);
  std::vector<SseEvent> events;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(parser.Feed("data: 0123456789\n\n", &events).ok());
  EXPECT_EQ(events.size(), 1000u);
}

TEST(SseParserLimitTest, CommentLinesDoNotAccumulate) {
  SseParser parser(64);
  std::vector<SseEvent> events;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(parser.Feed(": 0123456789012345\n", &events).ok());
}

TEST(SseParserLimitTest, ErrorsAreSticky) {
  SseParser parser(8);
  std::vector<SseEvent> events;
  EXPECT_FALSE(parser.Feed("data: 0123456789\n", &events).ok());
  EXPECT_EQ(parser.Feed("\n", &events).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(events, IsEmpty());
}

TEST(SseParserLimitTest, DefaultLimitIsOneMebibyte) {
  SseParser parser;
  std::vector<SseEvent> events;
  const std::string ok(SseParser::kDefaultMaxEventBytes, 'x');
  EXPECT_TRUE(parser.Feed("data:" + ok + "\n\n", &events).ok());
  EXPECT_FALSE(parser.Feed("data:" + ok + "x\n\n", &events).ok());
  EXPECT_EQ(SseParser::kDefaultMaxEventBytes, 1048576u);
}

// ============================================================ StreamTracker

SseEvent Data(std::string data) { return Ev(std::move(data)); }

TEST(StreamTrackerOpenAiTest, ForwardsChunksWithoutMarkingTheEnd) {
  StreamTracker t(StreamDialect::kChatCompletions);
  EXPECT_EQ(
      t.Observe(Data(R"({"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})")),
      EventVerdict::kForward);
  EXPECT_FALSE(t.terminal_seen());
  EXPECT_EQ(t.malformed_count(), 0);
  EXPECT_EQ(t.usage_json(), "");
}

TEST(StreamTrackerOpenAiTest, DoneMarksTheEndAndIsForwarded) {
  StreamTracker t(StreamDialect::kChatCompletions);
  EXPECT_EQ(t.Observe(Data("[DONE]")), EventVerdict::kForward);
  EXPECT_TRUE(t.terminal_seen());
  EXPECT_EQ(t.malformed_count(), 0);
}

TEST(StreamTrackerOpenAiTest, NonNullFinishReasonMarksTheEndWithoutDone) {
  StreamTracker t(StreamDialect::kChatCompletions);
  t.Observe(Data(R"({"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})"));
  EXPECT_FALSE(t.terminal_seen());
  EXPECT_EQ(t.Observe(Data(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})")),
            EventVerdict::kForward);
  EXPECT_TRUE(t.terminal_seen());
}

TEST(StreamTrackerOpenAiTest, AnyChoiceFinishingCounts) {
  StreamTracker t(StreamDialect::kChatCompletions);
  t.Observe(Data(
      R"({"choices":[{"index":0,"finish_reason":null},{"index":1,"finish_reason":"length"}]})"));
  EXPECT_TRUE(t.terminal_seen());
}

TEST(StreamTrackerOpenAiTest, FinishReasonOutsideChoicesDoesNotCount) {
  StreamTracker t(StreamDialect::kChatCompletions);
  t.Observe(Data(R"({"finish_reason":"stop","choices":[]})"));
  t.Observe(Data(R"({"choices":[{"delta":{"finish_reason":"stop"},"finish_reason":null}]})"));
  t.Observe(Data(R"({"choices":[{"delta":{"content":"\"finish_reason\":\"stop\""}}]})"));
  t.Observe(Data(R"({"choices":{"finish_reason":"stop"}})"));
  EXPECT_FALSE(t.terminal_seen());
}

TEST(StreamTrackerOpenAiTest, AStreamWithoutDoneOrFinishReasonIsNotComplete) {
  StreamTracker t(StreamDialect::kChatCompletions);
  for (int i = 0; i < 5; ++i) {
    t.Observe(Data(R"({"choices":[{"delta":{"content":"x"},"finish_reason":null}]})"));
  }
  EXPECT_FALSE(t.terminal_seen());
}

TEST(StreamTrackerOpenAiTest, MalformedEventsAreDroppedAndCounted) {
  StreamTracker t(StreamDialect::kChatCompletions);
  EXPECT_EQ(t.Observe(Data(R"({"choices":[{"delta":{"content":"x"})")),
            EventVerdict::kDropMalformed);
  EXPECT_EQ(t.Observe(Data("not json")), EventVerdict::kDropMalformed);
  EXPECT_EQ(t.Observe(Data("")), EventVerdict::kDropMalformed);
  EXPECT_EQ(t.Observe(Data("[DONE] ")), EventVerdict::kDropMalformed);
  EXPECT_EQ(t.Observe(Data("[done]")), EventVerdict::kDropMalformed);
  EXPECT_EQ(t.Observe(Data("{\"a\":\"\xFF\"}")), EventVerdict::kDropMalformed);
  EXPECT_EQ(t.malformed_count(), 6);
  EXPECT_FALSE(t.terminal_seen());
}

TEST(StreamTrackerOpenAiTest, AMalformedEventNeverMarksTheEndOrSetsUsage) {
  StreamTracker t(StreamDialect::kChatCompletions);
  EXPECT_EQ(
      t.Observe(Data(R"({"choices":[{"finish_reason":"stop"}],"usage":{"total_tokens":3}},)")),
      EventVerdict::kDropMalformed);
  EXPECT_FALSE(t.terminal_seen());
  EXPECT_EQ(t.usage_json(), "");
}

TEST(StreamTrackerOpenAiTest, ValidJsonThatIsNotAnObjectIsForwarded) {
  StreamTracker t(StreamDialect::kChatCompletions);
  EXPECT_EQ(t.Observe(Data("[1,2]")), EventVerdict::kForward);
  EXPECT_EQ(t.Observe(Data(" 42 ")), EventVerdict::kForward);
  EXPECT_EQ(t.Observe(Data("\"x\"")), EventVerdict::kForward);
  EXPECT_EQ(t.malformed_count(), 0);
  EXPECT_FALSE(t.terminal_seen());
}

TEST(StreamTrackerOpenAiTest, KeepsTheLastNonNullUsageObjectVerbatim) {
  StreamTracker t(StreamDialect::kChatCompletions);
  t.Observe(Data(R"({"choices":[],"usage":{"prompt_tokens":1}})"));
  t.Observe(Data(R"({"choices":[{"finish_reason":"stop"}],"usage":null})"));
  EXPECT_EQ(t.usage_json(), R"({"prompt_tokens":1})");
  t.Observe(Data(
      R"({"choices":[],"usage": {"prompt_tokens":9, "completion_tokens":12,"total_tokens":21} })"));
  EXPECT_EQ(t.usage_json(), R"({"prompt_tokens":9, "completion_tokens":12,"total_tokens":21})");
  t.Observe(Data(R"({"usage":7})"));  // not an object: ignored
  EXPECT_EQ(t.usage_json(), R"({"prompt_tokens":9, "completion_tokens":12,"total_tokens":21})");
  t.Observe(Data("[DONE]"));
  EXPECT_EQ(t.usage_json(), R"({"prompt_tokens":9, "completion_tokens":12,"total_tokens":21})");
}

TEST(StreamTrackerOpenAiTest, EndToEndWithTheParser) {
  SseParser parser;
  StreamTracker t(StreamDialect::kChatCompletions);
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser
                  .Feed("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                        "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
                        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                        "\"Hello\"},\"finish_reason\":null}]}\n\n"
                        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},"
                        "\"finish_reason\":\"stop\"}]}\n\n"
                        "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"total_tokens\":5}}\n\n"
                        "data: [DONE]\n\n",
                        &events)
                  .ok());
  ASSERT_EQ(events.size(), 5u);
  for (const SseEvent& e : events) EXPECT_EQ(t.Observe(e), EventVerdict::kForward);
  EXPECT_TRUE(t.terminal_seen());
  EXPECT_EQ(t.usage_json(), R"({"total_tokens":5})");
  EXPECT_FALSE(parser.HasPartialEvent());
}

// ---------------------------------------------------------------- Anthropic

std::vector<SseEvent> AnthropicStream() {
  return {
      Ev(R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1}}})",
         "message_start"),
      Ev(R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
         "content_block_start"),
      Ev(R"({"type": "ping"})", "ping"),
      Ev(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})",
         "content_block_delta"),
      Ev(R"({"type":"content_block_stop","index":0})", "content_block_stop"),
      Ev(R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}})",
         "message_delta"),
      Ev(R"({"type":"message_stop"})", "message_stop"),
  };
}

TEST(StreamTrackerAnthropicTest, OnlyMessageStopEndsTheStream) {
  StreamTracker t(StreamDialect::kMessages);
  const std::vector<SseEvent> events = AnthropicStream();
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(t.Observe(events[i]), EventVerdict::kForward) << i;
    EXPECT_FALSE(t.terminal_seen()) << i;  // message_delta's stop_reason is not the end
  }
  EXPECT_EQ(t.Observe(events.back()), EventVerdict::kForward);
  EXPECT_TRUE(t.terminal_seen());
  EXPECT_EQ(t.malformed_count(), 0);
}

TEST(StreamTrackerAnthropicTest, MergesStartUsageWithTheDeltaUsage) {
  StreamTracker t(StreamDialect::kMessages);
  for (const SseEvent& e : AnthropicStream()) t.Observe(e);
  EXPECT_EQ(t.usage_json(), R"({"input_tokens":25,"output_tokens":15})");
}

TEST(StreamTrackerAnthropicTest, DeltaMembersOverrideInPlaceAndNewOnesAreAppended) {
  StreamTracker t(StreamDialect::kMessages);
  t.Observe(Ev(
      R"({"type":"message_start","message":{"usage":{"input_tokens":25,"cache_read_input_tokens":0,"output_tokens":1}}})"));
  t.Observe(Ev(R"({"type":"message_delta","usage":{"output_tokens":3}})"));
  t.Observe(Ev(
      R"({"type":"message_delta","usage":{"output_tokens":15,"cache_read_input_tokens":7,"server_tool_use":{"web_search_requests":1}}})"));
  EXPECT_EQ(
      t.usage_json(),
      R"({"input_tokens":25,"cache_read_input_tokens":7,"output_tokens":15,"server_tool_use":{"web_search_requests":1}})");
}

TEST(StreamTrackerAnthropicTest, EitherUsageAloneIsUsedAsIs) {
  StreamTracker start_only(StreamDialect::kMessages);
  start_only.Observe(Ev(R"({"type":"message_start","message":{"usage":{"input_tokens":2}}})"));
  EXPECT_EQ(start_only.usage_json(), R"({"input_tokens":2})");
  StreamTracker delta_only(StreamDialect::kMessages);
  delta_only.Observe(Ev(R"({"type":"message_delta","usage":{"output_tokens":4}})"));
  EXPECT_EQ(delta_only.usage_json(), R"({"output_tokens":4})");
  StreamTracker none(StreamDialect::kMessages);
  none.Observe(Ev(R"({"type":"content_block_delta","usage":{"output_tokens":4}})"));
  EXPECT_EQ(none.usage_json(), "");
}

TEST(StreamTrackerAnthropicTest, OversizedUsageObjectsAreNotMerged) {
  std::string start = R"({"type":"message_start","message":{"usage":{)";
  for (int i = 0; i < 100; ++i) {
    if (i > 0) start += ',';
    start += "\"k";
    start += std::to_string(i);
    start += "\":1";
  }
  start += "}}}";
  StreamTracker t(StreamDialect::kMessages);
  t.Observe(Ev(start));
  t.Observe(Ev(R"({"type":"message_delta","usage":{"output_tokens":4}})"));
  EXPECT_EQ(t.usage_json(), R"({"output_tokens":4})");
}

TEST(StreamTrackerAnthropicTest, MessageStopByEventNameOrByDataType) {
  StreamTracker by_name(StreamDialect::kMessages);
  by_name.Observe(Ev("{}", "message_stop"));
  EXPECT_TRUE(by_name.terminal_seen());
  StreamTracker by_type(StreamDialect::kMessages);
  by_type.Observe(Ev(R"({"type":"message_stop"})"));
  EXPECT_TRUE(by_type.terminal_seen());
  StreamTracker by_escaped_type(StreamDialect::kMessages);
  by_escaped_type.Observe(Ev(R"({"t\u0079pe":"message_\u0073top"})"));
  EXPECT_TRUE(by_escaped_type.terminal_seen());
}

TEST(StreamTrackerAnthropicTest, LookalikesOfMessageStopDoNotEndTheStream) {
  StreamTracker t(StreamDialect::kMessages);
  t.Observe(Ev(R"({"type":"message_delta","delta":{"type":"message_stop"}})", "message_delta"));
  t.Observe(Ev(R"({"type":"content_block_delta","delta":{"text":"message_stop"}})"));
  t.Observe(Ev(R"({"type":"Message_Stop"})"));
  t.Observe(Ev(R"({"type":"message_stop "})", "message_stop "));
  EXPECT_FALSE(t.terminal_seen());
}

TEST(StreamTrackerAnthropicTest, AStreamCutAfterMessageDeltaIsNotComplete) {
  StreamTracker t(StreamDialect::kMessages);
  std::vector<SseEvent> events = AnthropicStream();
  events.pop_back();
  for (const SseEvent& e : events) t.Observe(e);
  EXPECT_FALSE(t.terminal_seen());
}

TEST(StreamTrackerAnthropicTest, MalformedEventsAreDroppedAndNeverEndTheStream) {
  StreamTracker t(StreamDialect::kMessages);
  EXPECT_EQ(t.Observe(Ev(R"({"type":"message_stop")", "message_stop")),
            EventVerdict::kDropMalformed);
  EXPECT_EQ(t.Observe(Ev("[DONE]")), EventVerdict::kDropMalformed);
  EXPECT_EQ(t.Observe(Ev(R"({"type":"message_delta","usage":{"output_tokens":}})")),
            EventVerdict::kDropMalformed);
  EXPECT_EQ(t.malformed_count(), 3);
  EXPECT_FALSE(t.terminal_seen());
  EXPECT_EQ(t.usage_json(), "");
}

TEST(StreamTrackerAnthropicTest, EveryProperPrefixOfAnEventIsMalformed) {
  const std::string data = AnthropicStream()[0].data;
  for (size_t n = 0; n < data.size(); ++n) {
    StreamTracker t(StreamDialect::kMessages);
    EXPECT_EQ(t.Observe(Ev(data.substr(0, n), "message_start")), EventVerdict::kDropMalformed) << n;
  }
}

TEST(StreamTrackerAnthropicTest, EndToEndWithTheParserAtEverySplitPoint) {
  std::string wire;
  for (const SseEvent& e : AnthropicStream())
    wire += "event: " + e.event + "\ndata: " + e.data + "\n\n";
  for (size_t i = 0; i <= wire.size(); i += 7) {
    SseParser parser;
    StreamTracker t(StreamDialect::kMessages);
    std::vector<SseEvent> events;
    ASSERT_TRUE(parser.Feed(std::string_view(wire).substr(0, i), &events).ok());
    ASSERT_TRUE(parser.Feed(std::string_view(wire).substr(i), &events).ok());
    ASSERT_EQ(events.size(), 7u);
    for (const SseEvent& e : events) EXPECT_EQ(t.Observe(e), EventVerdict::kForward);
    EXPECT_TRUE(t.terminal_seen());
    EXPECT_EQ(t.usage_json(), R"({"input_tokens":25,"output_tokens":15})");
  }
}

// ===================================================== dialects (issue 10)

TEST(StreamDialectTest, ThePathNamesTheApi) {
  EXPECT_EQ(DialectForPath("/v1/chat/completions"), StreamDialect::kChatCompletions);
  EXPECT_EQ(DialectForPath("/openai/v1/chat/completions?api-version=1"),
            StreamDialect::kChatCompletions);
  EXPECT_EQ(DialectForPath("/v1/completions"), StreamDialect::kChatCompletions);
  EXPECT_EQ(DialectForPath("/v1/messages"), StreamDialect::kMessages);
  EXPECT_EQ(DialectForPath("/v1/messages/"), StreamDialect::kMessages);
  EXPECT_EQ(DialectForPath("/v1/responses"), StreamDialect::kResponses);
  EXPECT_EQ(DialectForPath("/v1/embeddings"), StreamDialect::kOther);
  EXPECT_EQ(DialectForPath("/v1/messages/count_tokens"), StreamDialect::kOther);
  EXPECT_EQ(DialectForPath("/"), StreamDialect::kOther);
}

// The Responses API streams typed events and ends with response.completed,
// never [DONE]. Its stream used to be judged as a chat stream, so a complete
// answer was reset and regenerated on the fallback.
std::vector<SseEvent> ResponsesStream() {
  return {
      Ev(R"({"type":"response.created","response":{"id":"resp_1","status":"in_progress"}})",
         "response.created"),
      Ev(R"({"type":"response.output_text.delta","item_id":"m1","delta":"Hi"})",
         "response.output_text.delta"),
      Ev(R"({"type":"response.output_text.done","item_id":"m1","text":"Hi"})",
         "response.output_text.done"),
      Ev(R"({"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":5,"output_tokens":1,"total_tokens":6}}})",
         "response.completed"),
  };
}

TEST(StreamTrackerResponsesTest, ResponseCompletedEndsTheStreamAndCarriesUsage) {
  StreamTracker t(StreamDialect::kResponses);
  const std::vector<SseEvent> events = ResponsesStream();
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(t.Observe(events[i]), EventVerdict::kForward) << i;
    EXPECT_FALSE(t.Complete()) << i;
  }
  EXPECT_EQ(t.Observe(events.back()), EventVerdict::kForward);
  EXPECT_TRUE(t.Complete());
  EXPECT_FALSE(t.failed());
  EXPECT_EQ(t.usage_json(), R"({"input_tokens":5,"output_tokens":1,"total_tokens":6})");
}

TEST(StreamTrackerResponsesTest, ChatMarkersDoNotEndAResponsesStream) {
  StreamTracker t(StreamDialect::kResponses);
  EXPECT_EQ(t.Observe(Data(R"({"choices":[{"finish_reason":"stop"}]})")), EventVerdict::kForward);
  EXPECT_FALSE(t.Complete());
}

TEST(StreamTrackerResponsesTest, FailedIncompleteAndErrorEventsAreFailures) {
  for (const SseEvent& e :
       {Ev(R"({"type":"response.failed","response":{"status":"failed"}})", "response.failed"),
        Ev(R"({"type":"response.incomplete","response":{"status":"incomplete"}})",
           "response.incomplete"),
        Ev(R"({"type":"error","code":"server_error","message":"boom"})", "error"),
        Ev(R"({"type":"response.failed"})")}) {
    StreamTracker t(StreamDialect::kResponses);
    EXPECT_EQ(t.Observe(e), EventVerdict::kFailure) << e.data;
    EXPECT_TRUE(t.failed());
    EXPECT_EQ(t.failure(), e.data);
    EXPECT_FALSE(t.Complete());
  }
}

TEST(StreamTrackerAnthropicTest, AnErrorEventIsAFailure) {
  StreamTracker t(StreamDialect::kMessages);
  SseEvent error = Ev(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
                      "error");
  EXPECT_EQ(t.Observe(error), EventVerdict::kFailure);
  EXPECT_TRUE(t.failed());
  EXPECT_EQ(t.failure(), error.data);
}

TEST(StreamTrackerOpenAiTest, AnErrorChunkIsAFailure) {
  StreamTracker t(StreamDialect::kChatCompletions);
  EXPECT_EQ(t.Observe(Data(R"({"error":{"message":"The server had an error","type":"server_error"}})")),
            EventVerdict::kFailure);
  EXPECT_TRUE(t.failed());
  StreamTracker null_error(StreamDialect::kChatCompletions);
  EXPECT_EQ(null_error.Observe(Data(R"({"choices":[],"error":null})")), EventVerdict::kForward);
  EXPECT_FALSE(null_error.failed());
}

TEST(StreamTrackerOtherTest, AnyCleanEndIsCompleteButMalformedJsonIsStillDropped) {
  StreamTracker t(StreamDialect::kOther);
  EXPECT_TRUE(t.Complete());
  EXPECT_EQ(t.Observe(Data(R"({"anything":1})")), EventVerdict::kForward);
  EXPECT_EQ(t.Observe(Data("[DONE]")), EventVerdict::kForward);
  EXPECT_EQ(t.Observe(Data("{not json")), EventVerdict::kDropMalformed);
  EXPECT_TRUE(t.Complete());
  EXPECT_EQ(t.malformed_count(), 1);
}

TEST(StreamTrackerTest, FailureDataIsBounded) {
  StreamTracker t(StreamDialect::kMessages);
  std::string big = R"({"type":"error","message":")" + std::string(10000, 'x') + R"("})";
  EXPECT_EQ(t.Observe(Ev(big, "error")), EventVerdict::kFailure);
  EXPECT_EQ(t.failure().size(), StreamTracker::kMaxFailureBytes);
}

}  // namespace
}  // namespace rebound
