// Streamed answers from one chat API to the other (TRANSLATION.md,
// "Streaming"): one upstream event in, zero or more caller events out, never
// buffering the answer. The state is a few counters and ids per stream; the
// current event is the only text held.
#ifndef REBOUND_TRANSLATE_STREAM_H_
#define REBOUND_TRANSLATE_STREAM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "translate/api.h"

namespace rebound::translate {

// One server-sent event as the caller gets it: `event` is empty for OpenAI's
// chunks, the event type for Anthropic's.
struct CallerEvent {
  std::string event;
  std::string data;
  bool operator==(const CallerEvent&) const = default;
};

struct StreamOptions {
  std::string served_model;          // the model name the caller sees
  int64_t created_unix_seconds = 0;  // OpenAI's `created`
  // OpenAI callers: whether they asked for a usage chunk
  // (stream_options.include_usage).
  bool include_usage = false;
};

// Thread safety: one stream, one thread.
class StreamTranslator {
 public:
  // A translator of a stream of `from` into `to` (from != to, neither kOther).
  static std::unique_ptr<StreamTranslator> Create(Api from, Api to, StreamOptions options);
  virtual ~StreamTranslator() = default;

  // Appends to `out` the caller's events for one upstream event (`event` is
  // the SSE event type, empty when the upstream named none). An event that
  // is not `from`'s (not JSON, of an unknown shape) is an error; the attempt
  // then fails as an interrupted stream. Failure events (Anthropic's
  // `error`) are the completeness tracker's business and produce nothing.
  virtual absl::Status Translate(std::string_view event, std::string_view data,
                                 std::vector<CallerEvent>* out) = 0;

  // At a clean end of an upstream stream that is complete by its own API's
  // rules: appends what the caller's API still needs (Anthropic's
  // message_delta and message_stop when an OpenAI upstream ended after its
  // finish_reason without [DONE]). Events after it produce nothing.
  virtual void Finish(std::vector<CallerEvent>* /*out*/) {}
};

}  // namespace rebound::translate

#endif  // REBOUND_TRANSLATE_STREAM_H_
