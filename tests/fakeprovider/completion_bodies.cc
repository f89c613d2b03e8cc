#include "tests/fakeprovider/completion_bodies.h"

#include "absl/strings/str_cat.h"
#include "tests/fakeprovider/json_text.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

constexpr std::string_view kTokens[] = {"Hello", " from",  " the", " fake",  " provider",
                                        ",",     " token", " by",  " token", "."};
constexpr std::string_view kFiller = "lorem ipsum dolor sit amet ";

std::string Content(const Completion& c) {
  std::string content;
  for (int i = 0; i < c.tokens; ++i) content.append(TokenText(i));
  return content;
}

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string OpenAiBody(const Completion& c, std::string_view content) {
  return absl::StrCat(
      R"({"id":"chatcmpl-fake-)", c.id, R"(","object":"chat.completion","created":)",
      c.created_unix, R"(,"model":)", Quoted(c.model),
      R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)", Quoted(content),
      R"(},"logprobs":null,"finish_reason":)", c.finished ? R"("stop")" : "null",
      R"(}],"usage":{"prompt_tokens":)", c.prompt_tokens, R"(,"completion_tokens":)", c.tokens,
      R"(,"total_tokens":)", c.prompt_tokens + c.tokens, "}}");
}

std::string AnthropicBody(const Completion& c, std::string_view content) {
  return absl::StrCat(R"({"id":"msg_fake_)", c.id,
                      R"(","type":"message","role":"assistant","model":)", Quoted(c.model),
                      R"(,"content":[{"type":"text","text":)", Quoted(content),
                      R"(}],"stop_reason":)", c.finished ? R"("end_turn")" : "null",
                      R"(,"stop_sequence":null,"usage":{"input_tokens":)", c.prompt_tokens,
                      R"(,"output_tokens":)", c.tokens, "}}");
}

std::vector<std::string> OpenAiEvents(const Completion& c) {
  std::vector<std::string> events;
  events.reserve(c.tokens + 2);
  std::string prefix = absl::StrCat(
      R"(data: {"id":"chatcmpl-fake-)", c.id, R"(","object":"chat.completion.chunk","created":)",
      c.created_unix, R"(,"model":)", Quoted(c.model), R"(,"choices":[{"index":0,"delta":{)");
  for (int i = 0; i < c.tokens; ++i) {
    events.push_back(absl::StrCat(prefix, i == 0 ? R"("role":"assistant",)" : "", R"("content":)",
                                  Quoted(TokenText(i)),
                                  R"(},"logprobs":null,"finish_reason":null}]})", "\n\n"));
  }
  if (c.finished) {
    events.push_back(absl::StrCat(prefix, R"(},"logprobs":null,"finish_reason":"stop"}],)",
                                  R"("usage":{"prompt_tokens":)", c.prompt_tokens,
                                  R"(,"completion_tokens":)", c.tokens, R"(,"total_tokens":)",
                                  c.prompt_tokens + c.tokens, "}}\n\n"));
    events.push_back("data: [DONE]\n\n");
  }
  return events;
}

std::vector<std::string> AnthropicEvents(const Completion& c) {
  std::vector<std::string> events;
  events.reserve(c.tokens + 5);
  events.push_back(absl::StrCat(
      "event: message_start\n", R"(data: {"type":"message_start","message":{"id":"msg_fake_)", c.id,
      R"(","type":"message","role":"assistant","model":)", Quoted(c.model),
      R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":)",
      c.prompt_tokens, R"(,"output_tokens":1}}})", "\n\n"));
  events.push_back(
      "event: content_block_start\n"
      R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\n");
  for (int i = 0; i < c.tokens; ++i) {
    events.push_back(absl::StrCat(
        "event: content_block_delta\n",
        R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":)",
        Quoted(TokenText(i)), "}}\n\n"));
  }
  events.push_back(
      "event: content_block_stop\n"
      R"(data: {"type":"content_block_stop","index":0})"
      "\n\n");
  events.push_back(absl::StrCat(
      "event: message_delta\n", R"(data: {"type":"message_delta","delta":{"stop_reason":)",
      c.finished ? R"("end_turn")" : "null", R"(,"stop_sequence":null},"usage":{"output_tokens":)",
      c.tokens, "}}\n\n"));
  if (c.finished) {
    events.push_back(
        "event: message_stop\n"
        R"(data: {"type":"message_stop"})"
        "\n\n");
  }
  return events;
}

std::string ResponsesBody(const Completion& c, std::string_view content) {
  return absl::StrCat(
      R"({"id":"resp_fake_)", c.id, R"(","object":"response","created_at":)", c.created_unix,
      R"(,"status":)", c.finished ? R"("completed")" : R"("in_progress")", R"(,"model":)",
      Quoted(c.model),
      R"(,"output":[{"type":"message","id":"msg_fake","status":"completed","role":"assistant",)",
      R"("content":[{"type":"output_text","text":)", Quoted(content),
      R"(,"annotations":[]}]}],"usage":{"input_tokens":)", c.prompt_tokens,
      R"(,"output_tokens":)", c.tokens, R"(,"total_tokens":)", c.prompt_tokens + c.tokens, "}}");
}

std::vector<std::string> ResponsesEvents(const Completion& c) {
  std::vector<std::string> events;
  events.reserve(c.tokens + 2);
  events.push_back(absl::StrCat(
      "event: response.created\n",
      R"(data: {"type":"response.created","response":{"id":"resp_fake_)", c.id,
      R"(","object":"response","status":"in_progress","model":)", Quoted(c.model), "}}\n\n"));
  for (int i = 0; i < c.tokens; ++i) {
    events.push_back(absl::StrCat(
        "event: response.output_text.delta\n",
        R"(data: {"type":"response.output_text.delta","item_id":"msg_fake","output_index":0,)",
        R"("content_index":0,"delta":)", Quoted(TokenText(i)), "}\n\n"));
  }
  if (c.finished) {
    events.push_back(absl::StrCat("event: response.completed\n",
                                  R"(data: {"type":"response.completed","response":)",
                                  ResponsesBody(c, Content(c)), "}\n\n"));
  }
  return events;
}

}  // namespace

Api ApiForTarget(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.ends_with("/messages")) return Api::kAnthropic;
  if (path.ends_with("/responses")) return Api::kResponses;
  return Api::kOpenAi;
}

std::string_view TokenText(int index) {
  return kTokens[index % (sizeof kTokens / sizeof kTokens[0])];
}

std::string CompletionBody(const Completion& c) {
  std::string content = Content(c);
  auto build = [&] {
    switch (c.api) {
      case Api::kAnthropic: return AnthropicBody(c, content);
      case Api::kResponses: return ResponsesBody(c, content);
      case Api::kOpenAi: break;
    }
    return OpenAiBody(c, content);
  };
  std::string body = build();
  if (static_cast<int64_t>(body.size()) < c.pad_to_bytes) {
    // The filler needs no JSON escaping, so the body grows by exactly as
    // many bytes as the content.
    size_t missing = static_cast<size_t>(c.pad_to_bytes) - body.size();
    content.reserve(content.size() + missing);
    while (missing > 0) {
      size_t n = missing < kFiller.size() ? missing : kFiller.size();
      content.append(kFiller.substr(0, n));
      missing -= n;
    }
    body = build();
  }
  return body;
}

std::vector<std::string> CompletionEvents(const Completion& c) {
  switch (c.api) {
    case Api::kAnthropic: return AnthropicEvents(c);
    case Api::kResponses: return ResponsesEvents(c);
    case Api::kOpenAi: break;
  }
  return OpenAiEvents(c);
}

std::string ErrorEvent(Api api) {
  switch (api) {
    case Api::kAnthropic:
      return "event: error\n"
             R"(data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"
             "\n\n";
    case Api::kResponses:
      return "event: response.failed\n"
             R"(data: {"type":"response.failed","response":{"status":"failed","error":)"
             R"({"code":"server_error","message":"fake failure"}}})"
             "\n\n";
    case Api::kOpenAi: break;
  }
  return R"(data: {"error":{"message":"fake failure","type":"server_error","code":null}})"
         "\n\n";
}

std::string MalformedEvent(std::string_view original_event) {
  if (original_event.starts_with("event: ")) {
    return absl::StrCat(ToAbsl(original_event.substr(0, original_event.find('\n') + 1)),
                        "data: {not json\n\n");
  }
  return "data: {not json\n\n";
}

std::string ErrorBody(int status) {
  return absl::StrCat(R"({"error":{"message":"fake )", status, R"(","type":"fake_error","code":)",
                      status, "}}");
}

}  // namespace rebound::fake
