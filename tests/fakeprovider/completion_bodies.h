// Realistic provider payloads: OpenAI chat.completion / chat.completion.chunk
// and Anthropic message / message stream events, plus the fake's error body.
// Pure text builders; the caller decides timing and framing.
#ifndef REBOUND_TESTS_FAKEPROVIDER_COMPLETION_BODIES_H_
#define REBOUND_TESTS_FAKEPROVIDER_COMPLETION_BODIES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rebound::fake {

// kResponses is OpenAI's Responses API (typed events, response.completed).
enum class Api { kOpenAi, kAnthropic, kResponses };

// Anthropic for paths ending in "/messages", Responses for "/responses"
// (query ignored), OpenAI Chat Completions for the rest.
Api ApiForTarget(std::string_view target);

struct Completion {
  Api api = Api::kOpenAi;
  std::string_view model;
  uint64_t id = 0;
  int64_t created_unix = 0;
  int tokens = 5;
  int prompt_tokens = 1;
  int64_t pad_to_bytes = 0;  // non-stream only: grow the content to reach it
  bool finished = true;      // false: no finish_reason / stop_reason / end marker

  // Beyond text, for the chat and messages APIs (the Responses API answers
  // text only).
  std::string_view tool_name;         // non-empty: the answer ends with one call of it
  std::string_view tool_args = "{}";  // that call's arguments, a JSON object
  std::string_view stop_reason;       // verbatim; empty: the natural one for the answer
  int cache_read_tokens = 0;          // prompt tokens read from / written to a cache
  int cache_write_tokens = 0;
  int images_seen = 0;                // > 0: the text starts with "saw N image(s). "
  bool include_usage = false;         // chat stream: a final usage chunk, as asked
};

// Content token `index` (0-based) of every generated answer.
std::string_view TokenText(int index);

// The text an answer carries: the image acknowledgement, then the tokens.
std::string AnswerText(const Completion& c);

// The non-stream response body.
std::string CompletionBody(const Completion& c);

// The SSE events of a streamed answer, each complete with its terminating
// blank line ("data: ...\n\n", or "event: ...\ndata: ...\n\n").
std::vector<std::string> CompletionEvents(const Completion& c);

// Replacement for an event whose JSON must not parse; keeps the event name
// of an Anthropic event so that a client still tries to decode it.
std::string MalformedEvent(std::string_view original_event);

// The API's own in-stream error event (chat: a chunk with an "error" member;
// messages: `event: error`; responses: `event: response.failed`).
std::string ErrorEvent(Api api);

// {"error":{"message":"fake N","type":"fake_error","code":N}}
std::string ErrorBody(int status);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_COMPLETION_BODIES_H_
