// The error answers of real providers, one per error class, as the fault key
// `error_class=` sends them: each class's HTTP status and error object in
// OpenAI's and in Anthropic's shape, all in one table (error_bodies.cc) so
// that a reader sees every shape at once.
//
// The class names are those of rebound's on_errors vocabulary
// (policy/provider_error_class.h). The fake does not include them: it is
// the oracle rebound is tested against, so it writes what the providers
// write, and tests/unit/fake_error_classes_test.cc checks that rebound's
// classifier reads each answer back as its class.
#ifndef REBOUND_TESTS_FAKEPROVIDER_ERROR_BODIES_H_
#define REBOUND_TESTS_FAKEPROVIDER_ERROR_BODIES_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tests/fakeprovider/completion_bodies.h"

namespace rebound::fake {

// One class's answers. Each `*_error` is the JSON object the API puts under
// "error"; the envelopes around it are ErrorAnswerBody's and ErrorEventOf's.
struct ErrorShape {
  std::string_view name;  // the error_class= value, e.g. "rate_limited"
  int openai_status;
  std::string_view openai_error;
  int anthropic_status;
  std::string_view anthropic_error;
};

// Every row, in the order of the class vocabulary.
std::span<const ErrorShape> ErrorShapes();

// The row named `name`, or nullopt.
std::optional<ErrorShape> FindErrorShape(std::string_view name);

// The names, comma separated, for error messages.
std::string ErrorShapeNames();

// The status of `shape` in `api`'s shape (the Responses API answers errors
// as OpenAI does).
int ErrorAnswerStatus(const ErrorShape& shape, Api api);

// The whole error body: OpenAI {"error":{...}}; Anthropic
// {"type":"error","error":{...},"request_id":"req_..."}.
std::string ErrorAnswerBody(const ErrorShape& shape, Api api);

// The in-stream error event carrying `shape`, complete with its blank line:
// chat `data: {"error":{...}}`; messages `event: error` with
// {"type":"error","error":{...}} (as Anthropic's streaming docs show it, no
// request_id); responses `event: response.failed` whose response.error is
// OpenAI's error object (the closest form: the real event's error carries
// only code and message, which that object has too).
std::string ErrorEventOf(const ErrorShape& shape, Api api);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_ERROR_BODIES_H_
