// Anthropic Messages answers: a message body, or the event stream in the
// API's order (message_start with the input usage, then per content block
// content_block_start / _delta / _stop, a tool_use block's input arriving as
// input_json_delta fragments, message_delta with the stop reason and the
// output usage, message_stop).
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/fakeprovider/answer_parts.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

std::string_view StopReason(const Completion& c) {
  if (!c.stop_reason.empty()) return c.stop_reason;
  return c.tool_name.empty() ? "end_turn" : "tool_use";
}

// input_tokens counts only what no cache served, as Anthropic reports it.
std::string InputUsage(const Completion& c) {
  return absl::StrCat(R"("input_tokens":)", c.prompt_tokens, R"(,"cache_creation_input_tokens":)",
                      c.cache_write_tokens, R"(,"cache_read_input_tokens":)", c.cache_read_tokens);
}

std::string ToolUseId(const Completion& c) { return absl::StrCat("toolu_fake_", c.id); }

// A text block is sent unless the answer is a bare tool call.
bool HasTextBlock(const Completion& c, bool text_empty) {
  return !text_empty || c.tool_name.empty();
}

std::string Event(std::string_view name, std::string_view data) {
  return absl::StrCat("event: ", ToAbsl(name), "\ndata: ", ToAbsl(data), "\n\n");
}

}  // namespace

std::string MessagesBody(const Completion& c, std::string_view text) {
  std::string blocks;
  if (HasTextBlock(c, text.empty())) {
    absl::StrAppend(&blocks, R"({"type":"text","text":)", Quoted(text), "}");
  }
  if (!c.tool_name.empty()) {
    if (!blocks.empty()) blocks.push_back(',');
    // tool_args was checked to be a JSON object when the spec was parsed.
    absl::StrAppend(&blocks, R"({"type":"tool_use","id":")", ToolUseId(c), R"(","name":)",
                    Quoted(c.tool_name), R"(,"input":)", ToAbsl(c.tool_args), "}");
  }
  return absl::StrCat(R"({"id":"msg_fake_)", c.id,
                      R"(","type":"message","role":"assistant","model":)", Quoted(c.model),
                      R"(,"content":[)", blocks, R"(],"stop_reason":)",
                      c.finished ? Quoted(StopReason(c)) : "null",
                      R"(,"stop_sequence":null,"usage":{)", InputUsage(c), R"(,"output_tokens":)",
                      c.tokens, "}}");
}

std::vector<std::string> MessagesEvents(const Completion& c) {
  std::vector<std::string> events;
  events.push_back(Event(
      "message_start",
      absl::StrCat(R"({"type":"message_start","message":{"id":"msg_fake_)", c.id,
                   R"(","type":"message","role":"assistant","model":)", Quoted(c.model),
                   R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{)",
                   InputUsage(c), R"(,"output_tokens":1}}})")));
  std::vector<std::string> pieces = TextPieces(c);
  int index = 0;
  if (HasTextBlock(c, pieces.empty())) {
    events.push_back(Event("content_block_start",
                           R"({"type":"content_block_start","index":0,)"
                           R"("content_block":{"type":"text","text":""}})"));
    for (const std::string& piece : pieces) {
      events.push_back(Event(
          "content_block_delta",
          absl::StrCat(R"({"type":"content_block_delta","index":0,)",
                       R"("delta":{"type":"text_delta","text":)", Quoted(piece), "}}")));
    }
    events.push_back(Event("content_block_stop", R"({"type":"content_block_stop","index":0})"));
    ++index;
  }
  if (!c.tool_name.empty()) {
    events.push_back(Event(
        "content_block_start",
        absl::StrCat(R"({"type":"content_block_start","index":)", index,
                     R"(,"content_block":{"type":"tool_use","id":")", ToolUseId(c),
                     R"(","name":)", Quoted(c.tool_name), R"(,"input":{}}})")));
    for (std::string_view fragment : ArgumentFragments(c.tool_args)) {
      events.push_back(Event(
          "content_block_delta",
          absl::StrCat(R"({"type":"content_block_delta","index":)", index,
                       R"(,"delta":{"type":"input_json_delta","partial_json":)", Quoted(fragment),
                       "}}")));
    }
    events.push_back(Event("content_block_stop",
                           absl::StrCat(R"({"type":"content_block_stop","index":)", index, "}")));
  }
  events.push_back(Event(
      "message_delta",
      absl::StrCat(R"({"type":"message_delta","delta":{"stop_reason":)",
                   c.finished ? Quoted(StopReason(c)) : "null",
                   R"(,"stop_sequence":null},"usage":{"output_tokens":)", c.tokens, "}}")));
  if (c.finished) events.push_back(Event("message_stop", R"({"type":"message_stop"})"));
  return events;
}

}  // namespace rebound::fake
