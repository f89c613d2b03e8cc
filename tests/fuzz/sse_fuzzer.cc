// Fuzz target: the SSE parser (SseParser) and the stream tracker
// (StreamTracker) behind it.
//
// Input: a first line whose bytes choose where the stream is split into
// chunks (each byte & 0x3f is one chunk's length; what is left after them is
// one last chunk), then the event stream itself.
//
// Invariants:
//   - framing does not depend on how the stream is chunked: one chunk, the
//     fuzzer's chunks and one byte at a time give the same events, status and
//     HasPartialEvent (chunks split CRLFs, BOMs and UTF-8 sequences);
//   - no field carries a line terminator; data carries no CR;
//   - with a small max_event_bytes the parser emits a prefix of the same
//     events, none larger than the bound, equal to all of them when it
//     reports no error, and once failed it stays failed with the same error;
//   - the tracker forwards only events whose data is JSON (or OpenAI's
//     [DONE]), counts every dropped one, and its usage is a JSON object.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "codec/json_scan.h"
#include "codec/sse.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using rebound::SseEvent;
using rebound::SseParser;

constexpr size_t kSmallLimit = 64;

struct Parsed {
  std::vector<SseEvent> events;
  absl::Status status;
  bool partial = false;
};

Parsed FeedChunks(SseParser& parser, const std::vector<std::string_view>& chunks) {
  Parsed p;
  for (std::string_view chunk : chunks) {
    p.status = parser.Feed(chunk, &p.events);
    if (!p.status.ok()) break;
  }
  p.partial = parser.HasPartialEvent();
  return p;
}

void ExpectSame(const Parsed& a, const Parsed& b) {
  FUZZ_CHECK(a.events == b.events);
  FUZZ_CHECK(a.status == b.status);
  FUZZ_CHECK(a.partial == b.partial);
}

void CheckTracker(rebound::StreamDialect dialect, const std::vector<SseEvent>& events) {
  rebound::StreamTracker tracker(dialect);
  int dropped = 0;
  bool failed = false;
  for (const SseEvent& e : events) {
    const bool valid_json = rebound::json::Validate(e.data).ok();
    const rebound::EventVerdict verdict = tracker.Observe(e);
    if (verdict == rebound::EventVerdict::kDropMalformed) {
      ++dropped;
      FUZZ_CHECK(!valid_json);
    } else if (verdict == rebound::EventVerdict::kFailure) {
      failed = true;
      FUZZ_CHECK(valid_json);
    } else {
      const bool done_sentinel = e.data == "[DONE]" &&
                                 (dialect == rebound::StreamDialect::kChatCompletions ||
                                  dialect == rebound::StreamDialect::kOther);
      FUZZ_CHECK(valid_json || done_sentinel);
    }
  }
  FUZZ_CHECK(tracker.malformed_count() == dropped);
  FUZZ_CHECK(tracker.failed() == failed);
  FUZZ_CHECK(tracker.failure().size() <= rebound::StreamTracker::kMaxFailureBytes);
  if (dialect == rebound::StreamDialect::kOther) FUZZ_CHECK(tracker.Complete());
  const std::string usage = tracker.usage_json();
  if (!usage.empty()) {
    FUZZ_CHECK(usage.front() == '{');
    FUZZ_CHECK(rebound::json::Validate(usage).ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rebound::fuzz::FuzzInput in(data, size);
  const std::string_view splits = in.Until('\n');
  const std::string_view stream = in.Rest();

  std::vector<std::string_view> chunks;
  std::string_view rest = stream;
  for (char c : splits) {
    const size_t n = std::min<size_t>(static_cast<unsigned char>(c) & 0x3f, rest.size());
    chunks.push_back(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  chunks.push_back(rest);
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < stream.size(); ++i) bytes.push_back(stream.substr(i, 1));

  SseParser whole_parser;
  const Parsed whole = FeedChunks(whole_parser, {stream});
  // Inputs are far below the default bound, so nothing may fail.
  if (stream.size() < SseParser::kDefaultMaxEventBytes) FUZZ_CHECK(whole.status.ok());
  for (const SseEvent& e : whole.events) {
    FUZZ_CHECK(e.data.find('\r') == std::string::npos);
    FUZZ_CHECK(e.event.find_first_of("\r\n") == std::string::npos);
    FUZZ_CHECK(e.id.find_first_of("\r\n") == std::string::npos);
    FUZZ_CHECK(e.id.find('\0') == std::string::npos);
  }
  SseParser chunked_parser;
  ExpectSame(whole, FeedChunks(chunked_parser, chunks));
  SseParser byte_parser;
  ExpectSame(whole, FeedChunks(byte_parser, bytes));

  SseParser small(kSmallLimit);
  const Parsed bounded = FeedChunks(small, chunks);
  FUZZ_CHECK(bounded.events.size() <= whole.events.size());
  for (size_t i = 0; i < bounded.events.size(); ++i) {
    FUZZ_CHECK(bounded.events[i] == whole.events[i]);
    FUZZ_CHECK(bounded.events[i].data.size() + bounded.events[i].event.size() <= kSmallLimit);
  }
  if (bounded.status.ok()) {
    FUZZ_CHECK(bounded.events.size() == whole.events.size());
  } else {
    FUZZ_CHECK(bounded.status.code() == absl::StatusCode::kResourceExhausted);
    std::vector<SseEvent> after;
    FUZZ_CHECK(small.Feed("data: x\n\n", &after) == bounded.status);
    FUZZ_CHECK(after.empty());
  }

  CheckTracker(rebound::StreamDialect::kChatCompletions, whole.events);
  CheckTracker(rebound::StreamDialect::kMessages, whole.events);
  CheckTracker(rebound::StreamDialect::kResponses, whole.events);
  CheckTracker(rebound::StreamDialect::kOther, whole.events);
  return 0;
}
