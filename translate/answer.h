// Whole answers (JSON, not streamed) and error bodies from one chat API to
// the other (TRANSLATION.md, "Answer"). Pure: text in, text out.
#ifndef REBOUND_TRANSLATE_ANSWER_H_
#define REBOUND_TRANSLATE_ANSWER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "translate/api.h"

namespace rebound::translate {

struct AnswerOptions {
  std::string served_model;  // the model name the caller sees
  int64_t created_unix_seconds = 0;  // OpenAI's `created`
};

// A 2xx answer of `from` as `to` would have given it. An answer that is
// not one `from` can give (not JSON, no choices, a tool call whose
// arguments are not a JSON object) is an error: the attempt then counts as
// failed, and the caller never gets a half-translated answer.
absl::StatusOr<std::string> TranslateAnswer(std::string_view body, Api from, Api to,
                                            const AnswerOptions& options);

// A usage object of `from` (as the stream tracker reports it) in `to`'s
// shape; empty when `usage` is not a JSON object.
std::string TranslateUsage(std::string_view usage, Api from, Api to);

// An error body of `from` (any status) in `to`'s error shape, keeping the
// message; a body that is not `from`'s error shape becomes a generic error
// whose message is the body's start. `http_status` picks Anthropic's error
// type.
std::string TranslateErrorBody(std::string_view body, int http_status, Api from, Api to);

}  // namespace rebound::translate

#endif  // REBOUND_TRANSLATE_ANSWER_H_
