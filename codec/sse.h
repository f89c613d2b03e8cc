// Server-sent events: parsing an upstream event stream and judging whether it
// completed (RETRY.md section 3.5).
#ifndef REBOUND_CODEC_SSE_H_
#define REBOUND_CODEC_SSE_H_

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

// The API whose event stream an attempt carries, named by the request path
// (DialectForPath): each API has its own terminal and failure events.
enum class StreamDialect {
  kChatCompletions,  // OpenAI /v1/chat/completions (and legacy /v1/completions)
  kMessages,         // Anthropic /v1/messages
  kResponses,        // OpenAI /v1/responses
  kOther,            // any other path: no known terminal marker
};
std::string_view ToString(StreamDialect dialect);

// The dialect of a request path (a query string is ignored): a path ending in
// "/chat/completions" or "/completions" is chat, "/messages" messages,
// "/responses" responses, anything else kOther.
StreamDialect DialectForPath(std::string_view path);

enum class EventVerdict {
  kForward,        // send it to the caller
  kDropMalformed,  // its data is not valid JSON: drop and count it
  kFailure,        // the provider reported a failure in the stream: the attempt failed
};

// Watches the events of one streamed attempt and tells whether the stream
// reached its terminal marker (RETRY.md 3.5), which events must be dropped,
// which report a failure, and the usage the provider reported.
//
// Terminal markers (Complete()):
//   chat:      `data: [DONE]`, or a chunk with a non-null
//              choices[i].finish_reason.
//   messages:  an event named `message_stop`, or whose data has
//              "type":"message_stop".
//   responses: `response.completed` (event name or data "type").
//   other:     none is known: a stream whose transfer ended cleanly (and
//              not in the middle of an event) is complete.
// Failure events (kFailure; never forwarded, the attempt is a failure):
//   chat:      a chunk with a top-level "error" member (OpenAI reports
//              mid-stream errors that way).
//   messages:  `error`.
//   responses: `response.failed`, `response.incomplete`, `error`.
// A dropped (malformed) event never counts as terminal: the caller did not
// get it, so the answer it has may be incomplete.
//
// Usage:
//   chat:      the last non-null top-level "usage" object.
//   messages:  message_start's message.usage, with the members of the last
//              message_delta's usage (cumulative counts) replacing those of
//              the same name and the others appended. Either alone is used
//              as it is. When either object has more than 64 members the
//              delta's object is used alone (bounds the work).
//   responses: response.completed's response.usage.
//
// Not thread-safe; one tracker per attempt.
class StreamTracker {
 public:
  // The failure event's data kept for the error detail is cut to this (the
  // detail's 4 KiB plus room to redact a key across the cut first).
  static constexpr size_t kMaxFailureBytes = 5120;

  explicit StreamTracker(StreamDialect dialect) : dialect_(dialect) {}

  EventVerdict Observe(const SseEvent& event);

  // The stream's terminal marker was seen (for kOther: always true, the
  // transfer's end decides).
  bool Complete() const { return dialect_ == StreamDialect::kOther || terminal_seen_; }
  bool terminal_seen() const { return terminal_seen_; }
  // A failure event was observed; failure() is its data (cut to
  // kMaxFailureBytes), for the caller's error detail.
  bool failed() const { return failed_; }
  const std::string& failure() const { return failure_; }
  // The usage object as compact-ish JSON text (member texts are the
  // provider's own bytes), or empty when the stream reported none.
  std::string usage_json() const;
  int malformed_count() const { return malformed_count_; }

 private:
  EventVerdict ObserveChat(const SseEvent& event);
  EventVerdict ObserveMessages(const SseEvent& event);
  EventVerdict ObserveResponses(const SseEvent& event);
  EventVerdict Malformed();
  EventVerdict Failure(const SseEvent& event);

  const StreamDialect dialect_;
  bool terminal_seen_ = false;
  bool failed_ = false;
  int malformed_count_ = 0;
  std::string failure_;
  std::string usage_;        // chat and responses usage; messages' message_delta usage
  std::string start_usage_;  // messages' message_start usage
};

}  // namespace rebound

#endif  // REBOUND_CODEC_SSE_H_
