// OpenAI Chat Completions answers: a chat.completion body, or the
// chat.completion.chunk stream in the order the API sends it (role and text
// deltas, a tool call's id and name then its argument fragments, the finish
// chunk, the usage chunk only when stream_options.include_usage asked, and
// [DONE]).
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/fakeprovider/answer_parts.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

std::string_view FinishReason(const Completion& c) {
  if (!c.stop_reason.empty()) return c.stop_reason;
  return c.tool_name.empty() ? "stop" : "tool_calls";
}

// Prompt tokens include the cached ones: OpenAI reports the cache as a
// detail of the prompt, and has no separate cache-write count.
std::string Usage(const Completion& c) {
  int prompt = c.prompt_tokens + c.cache_read_tokens + c.cache_write_tokens;
  return absl::StrCat(R"({"prompt_tokens":)", prompt, R"(,"completion_tokens":)", c.tokens,
                      R"(,"total_tokens":)", prompt + c.tokens,
                      R"(,"prompt_tokens_details":{"cached_tokens":)", c.cache_read_tokens, "}}");
}

std::string CallId(const Completion& c) { return absl::StrCat("call_fake_", c.id); }

std::string ChunkHead(const Completion& c) {
  return absl::StrCat(R"(data: {"id":"chatcmpl-fake-)", c.id,
                      R"(","object":"chat.completion.chunk","created":)", c.created_unix,
                      R"(,"model":)", Quoted(c.model), R"(,"choices":)");
}

}  // namespace

std::string ChatBody(const Completion& c, std::string_view text) {
  bool tool = !c.tool_name.empty();
  std::string message = absl::StrCat(R"({"role":"assistant","content":)",
                                     tool && text.empty() ? "null" : Quoted(text));
  if (tool) {
    absl::StrAppend(&message, R"(,"tool_calls":[{"id":")", CallId(c),
                    R"(","type":"function","function":{"name":)", Quoted(c.tool_name),
                    R"(,"arguments":)", Quoted(c.tool_args), "}}]");
  }
  message.push_back('}');
  return absl::StrCat(R"({"id":"chatcmpl-fake-)", c.id,
                      R"(","object":"chat.completion","created":)", c.created_unix,
                      R"(,"model":)", Quoted(c.model), R"(,"choices":[{"index":0,"message":)",
                      message, R"(,"logprobs":null,"finish_reason":)",
                      c.finished ? Quoted(FinishReason(c)) : "null", R"(}],"usage":)", Usage(c),
                      "}");
}

std::vector<std::string> ChatEvents(const Completion& c) {
  std::vector<std::string> events;
  std::string head = ChunkHead(c);
  std::string prefix = absl::StrCat(head, R"([{"index":0,"delta":{)");
  constexpr std::string_view kTail = R"(},"logprobs":null,"finish_reason":null}]})"
                                     "\n\n";
  // The first delta says who speaks.
  auto role = [&] { return events.empty() ? R"("role":"assistant",)" : ""; };
  for (const std::string& piece : TextPieces(c)) {
    events.push_back(absl::StrCat(prefix, role(), R"("content":)", Quoted(piece), ToAbsl(kTail)));
  }
  if (!c.tool_name.empty()) {
    events.push_back(absl::StrCat(prefix, role(), R"("tool_calls":[{"index":0,"id":")", CallId(c),
                                  R"(","type":"function","function":{"name":)",
                                  Quoted(c.tool_name), R"(,"arguments":""}}])", ToAbsl(kTail)));
    for (std::string_view fragment : ArgumentFragments(c.tool_args)) {
      events.push_back(absl::StrCat(prefix, R"("tool_calls":[{"index":0,"function":{"arguments":)",
                                    Quoted(fragment), "}}]", ToAbsl(kTail)));
    }
  }
  if (!c.finished) return events;
  events.push_back(absl::StrCat(prefix, R"(},"logprobs":null,"finish_reason":)",
                                Quoted(FinishReason(c)), "}]}\n\n"));
  if (c.include_usage) {
    events.push_back(absl::StrCat(head, R"([],"usage":)", Usage(c), "}\n\n"));
  }
  events.push_back("data: [DONE]\n\n");
  return events;
}

}  // namespace rebound::fake
