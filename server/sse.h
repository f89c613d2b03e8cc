// Server-sent events: parsing an upstream event stream and judging whether it
// completed (RETRY.md section 3.5).
#ifndef REBOUND_SERVER_SSE_H_
#define REBOUND_SERVER_SSE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace rebound {

// One dispatched event.
struct SseEvent {
  std::string event;  // the "event:" field; empty when the stream named none
                      // (WHATWG consumers call that type "message")
  std::string data;   // the "data:" lines joined by "\n"
  std::string id;     // the last "id:" seen so far in the stream (WHATWG's
                      // last-event-ID, which carries over to later events)

  bool operator==(const SseEvent&) const = default;
};

// Incremental parser for the text/event-stream format (WHATWG HTML, "Parsing
// an event stream"). Chunks may split the stream anywhere, including between
// the CR and LF of a CRLF and inside a multi-byte character.
//
// Rules: lines end at CRLF, LF or CR; a leading UTF-8 BOM is skipped; a line
// starting with ':' is a comment; "field:value" drops one space after the
// colon; a line without a colon is a field with an empty value; "data" lines
// are joined with "\n"; "event" sets the type; "id" (without NUL) sets the
// last event ID; "retry" and unknown fields are ignored; a blank line
// dispatches the event, unless it has no data line, in which case it is
// discarded. Bytes are passed through as they are (no UTF-8 replacement);
// the consumer validates what it needs.
//
// Bounded: a pending event (its data, type and the unfinished line) larger
// than `max_event_bytes` fails the stream with RESOURCE_EXHAUSTED; memory
// held never exceeds about that bound, whatever the input. After an error
// every later Feed returns the same error.
//
// Not thread-safe; one parser per upstream response.
class SseParser {
 public:
  static constexpr size_t kDefaultMaxEventBytes = size_t{1} << 20;

  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  // Parses `chunk` and appends every event it completes to `*out` (which is
  // not cleared).
  absl::Status Feed(std::string_view chunk, std::vector<SseEvent>* out);

  // True when bytes of an event that was never dispatched are pending: at
  // the end of the transfer that means the stream was cut mid-event (the
  // WHATWG rules discard such an event). Pending comment lines do not count.
  bool HasPartialEvent() const;

 private:
  void FeedLines(std::string_view chunk, std::vector<SseEvent>* out);
  // Processes one complete line (without its terminator).
  void ProcessLine(std::string_view line, std::vector<SseEvent>* out);
  void Dispatch(std::vector<SseEvent>* out);
  bool Exceeds(size_t pending_bytes);

  const size_t max_event_bytes_;
  std::string line_;            // an unfinished line carried to the next chunk
  std::string data_;            // data lines joined by '\n'
  std::string event_;           // event type
  std::string last_id_;         // last event ID (persists across events)
  std::string bom_;             // leading bytes that may be a BOM
  bool bom_done_ = false;       // the leading BOM check is over
  bool skip_lf_ = false;        // the previous chunk ended in CR: drop a leading LF
  bool has_data_ = false;       // the pending event has a data line
  bool event_started_ = false;  // a field line arrived since the last dispatch
  absl::Status error_;
};

enum class StreamDialect { kOpenAi, kAnthropic };

enum class EventVerdict {
  kForward,        // send it to the caller
  kDropMalformed,  // its data is not valid JSON: drop and count it
};

// Watches the events of one streamed attempt and tells whether the stream
// reached its terminal marker (RETRY.md 3.5), which events must be dropped,
// and the usage the provider reported.
//
// Terminal markers:
//   OpenAI:    `data: [DONE]`, or a chunk with a non-null
//              choices[i].finish_reason.
//   Anthropic: an event named `message_stop`, or whose data has
//              "type":"message_stop".
// A dropped (malformed) event never counts as terminal: the caller did not
// get it, so the answer it has may be incomplete.
//
// Usage:
//   OpenAI:    the last non-null top-level "usage" object.
//   Anthropic: message_start's message.usage, with the members of the last
//              message_delta's usage (cumulative counts) replacing those of
//              the same name and the others appended. Either alone is used
//              as it is. When either object has more than 64 members the
//              delta's object is used alone (bounds the work).
//
// Not thread-safe; one tracker per attempt.
class StreamTracker {
 public:
  explicit StreamTracker(StreamDialect dialect) : dialect_(dialect) {}

  EventVerdict Observe(const SseEvent& event);

  bool terminal_seen() const { return terminal_seen_; }
  // The usage object as compact-ish JSON text (member texts are the
  // provider's own bytes), or empty when the stream reported none.
  std::string usage_json() const;
  int malformed_count() const { return malformed_count_; }

 private:
  EventVerdict ObserveOpenAi(const SseEvent& event);
  EventVerdict ObserveAnthropic(const SseEvent& event);
  EventVerdict Malformed();

  const StreamDialect dialect_;
  bool terminal_seen_ = false;
  int malformed_count_ = 0;
  std::string usage_;        // OpenAI usage; Anthropic message_delta usage
  std::string start_usage_;  // Anthropic message_start usage
};

}  // namespace rebound

#endif  // REBOUND_SERVER_SSE_H_
