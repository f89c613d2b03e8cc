// The pieces of the two APIs that more than one translator builds: an
// OpenAI tool call from a tool_use block, OpenAI's usage object, and the
// stop / finish reason mapping.
#ifndef REBOUND_TRANSLATE_SHAPES_H_
#define REBOUND_TRANSLATE_SHAPES_H_

#include <cstdint>
#include <string_view>

#include "translate/json.h"

namespace rebound::translate {

// {"id", "type": "function", "function": {"name", "arguments"}} from an
// Anthropic tool_use block; arguments is the block's input serialised.
Value OpenAiToolCall(const Value& tool_use, Allocator& a);

// OpenAI's usage object; prompt counts every input token, cached included.
Value OpenAiUsage(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens,
                  Allocator& a);

// Anthropic stop_reason -> OpenAI finish_reason, and back. String
// literals, so a translator may keep one.
const char* FinishReasonFor(std::string_view stop_reason);
const char* StopReasonFor(std::string_view finish_reason);

}  // namespace rebound::translate

#endif  // REBOUND_TRANSLATE_SHAPES_H_
