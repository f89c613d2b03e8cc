// The fault language of rebound-fakeprovider: what one response should do
// wrong (or right). A spec is text such as "status=429;retry_after=2" and
// comes from a request header, the control script, the model name or the
// --default flag. Parsing is pure so that it is tested without sockets.
#ifndef REBOUND_TESTS_FAKEPROVIDER_FAULT_SPEC_H_
#define REBOUND_TESTS_FAKEPROVIDER_FAULT_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/fakeprovider/error_bodies.h"

namespace rebound::fake {

// Upper bounds that keep a typo (or a hostile spec) from wedging the fake.
inline constexpr int64_t kMaxDelayMs = 24 * 3600 * 1000;
inline constexpr int kMaxTokens = 1'000'000;
inline constexpr int64_t kMaxResponseBytes = int64_t{256} << 20;
inline constexpr int kDefaultTokens = 5;

// One parsed spec. Every field defaults to "behave like a healthy provider".
struct FaultSpec {
  // Response status; a non-2xx status answers with an error body.
  std::optional<int> status;
  // Literal response body (body= or body_b64=); replaces the generated one.
  std::optional<std::string> body;
  // error_class=: answer that class's real error (error_bodies.h), its
  // status and body in the request's API shape; `status` and `body` still
  // override. With error_event_at and a streamed request it rides in the
  // stream's error event instead.
  std::optional<ErrorShape> error_class;

  // Rate-limit signals, each written as a response header.
  std::optional<std::string> retry_after;                    // Retry-After, verbatim
  std::optional<int64_t> retry_after_date_s;                 // Retry-After as IMF-fixdate now + s
  std::optional<int64_t> retry_after_ms;                     // retry-after-ms
  std::vector<std::pair<std::string, std::string>> headers;  // header=Name:Value

  // Timing; all delays are event-loop timers in the fake.
  int64_t delay_headers_ms = 0;
  int64_t delay_first_token_ms = 0;
  int64_t token_interval_ms = 0;
  // A heavy tail: on tail_percent % of requests (drawn at random, each
  // request on its own), delay_first_token_ms becomes tail_delay_ms.
  int tail_percent = 0;
  int64_t tail_delay_ms = 0;

  // Shape of a successful answer.
  int tokens = kDefaultTokens;
  int64_t response_bytes = 0;  // pad non-stream content to about this size

  // Connection-level faults.
  bool reset_before_headers = false;  // read the request, then RST
  bool close_before_headers = false;  // read the request, then FIN (empty reply)
  bool stall = false;                 // send nothing, keep the connection open
  std::optional<int> stall_after_events;
  std::optional<int> cut_after_events;
  std::optional<int> malformed_event_at;  // 1-based
  // 1-based: this event becomes the API's in-stream error event (carrying
  // error_class when given) and the stream then ends cleanly (as providers
  // do after such an event).
  std::optional<int> error_event_at;
  bool no_done = false;                   // omit the stream's terminal marker
  bool echo = false;                      // answer with what was received

  // What a successful chat or messages answer says (the Responses API
  // answers text only).
  std::optional<std::string> tool_call;  // end with one call of this tool
  std::string tool_args = "{}";          // its arguments, a JSON object
  std::optional<std::string> stop;       // finish_reason / stop_reason, verbatim
  int cache_read = 0;                    // prompt tokens served from a cache
  int cache_write = 0;                   // prompt tokens written to a cache

  // Skip the strict request validation (strict_api.h), for a test whose
  // request is odd on purpose.
  bool lenient = false;
};

// The stop reasons `stop=` takes: Anthropic's stop_reason and OpenAI's
// finish_reason values. The fake sends the one given as is, whichever API
// the request used, so a test may also send a value foreign to the API.
inline constexpr std::string_view kStopReasons[] = {
    "end_turn", "max_tokens", "stop_sequence",  "tool_use",     "pause_turn",   "refusal",
    "stop",     "length",     "tool_calls",     "content_filter", "function_call"};

// Parses `text`: items separated by ';', each `key=value` or a bare flag.
// Whitespace around keys and values is ignored; inside a value a backslash
// escapes: "\;" ";", "\\" "\", "\n" LF, "\r" CR, "\t" TAB. An empty text
// is a valid spec meaning "normal success". Errors name the offending item.
absl::StatusOr<FaultSpec> ParseFaultSpec(std::string_view text);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_FAULT_SPEC_H_
