#include "translate/shapes.h"

namespace rebound::translate {

Value OpenAiToolCall(const Value& tool_use, Allocator& a) {
  const Value* input = Find(tool_use, "input");
  Value function(rapidjson::kObjectType);
  Add(function, "name", Str(StringOr(tool_use, "name"), a), a);
  Add(function, "arguments", Str(input ? Write(*input) : "{}", a), a);
  Value call(rapidjson::kObjectType);
  Add(call, "id", Str(StringOr(tool_use, "id"), a), a);
  Add(call, "type", Str("function", a), a);
  Add(call, "function", function, a);
  return call;
}

Value OpenAiUsage(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens,
                  Allocator& a) {
  Value usage(rapidjson::kObjectType);
  Add(usage, "prompt_tokens", Value(prompt_tokens), a);
  Add(usage, "completion_tokens", Value(completion_tokens), a);
  Add(usage, "total_tokens", Value(prompt_tokens + completion_tokens), a);
  Value details(rapidjson::kObjectType);
  Add(details, "cached_tokens", Value(cached_tokens), a);
  Add(usage, "prompt_tokens_details", details, a);
  return usage;
}

const char* FinishReasonFor(std::string_view stop_reason) {
  if (stop_reason == "max_tokens") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn
}

const char* StopReasonFor(std::string_view finish_reason) {
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls" || finish_reason == "function_call") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  return "end_turn";  // stop
}

}  // namespace rebound::translate
