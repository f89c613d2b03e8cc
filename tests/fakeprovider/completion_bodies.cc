#include "tests/fakeprovider/completion_bodies.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tests/fakeprovider/answer_parts.h"
#include "tests/fakeprovider/json_text.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

constexpr std::string_view kTokens[] = {"Hello", " from",  " the", " fake",  " provider",
                                        ",",     " token", " by",  " token", "."};
constexpr std::string_view kFiller = "lorem ipsum dolor sit amet ";

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
                                  ResponsesBody(c, AnswerText(c)), "}\n\n"));
  }
  return events;
}

}  // namespace

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::vector<std::string> TextPieces(const Completion& c) {
  std::vector<std::string> pieces;
  pieces.reserve(c.tokens + 1);
  if (c.images_seen > 0) pieces.push_back(absl::StrCat("saw ", c.images_seen, " image(s). "));
  for (int i = 0; i < c.tokens; ++i) pieces.emplace_back(TokenText(i));
  return pieces;
}

std::string AnswerText(const Completion& c) {
  std::string text;
  for (const std::string& piece : TextPieces(c)) text.append(piece);
  return text;
}

std::vector<std::string_view> ArgumentFragments(std::string_view args) {
  constexpr size_t kFragments = 3;
  std::vector<std::string_view> fragments;
  size_t start = 0;
  for (size_t k = 1; k <= kFragments; ++k) {
    size_t end = args.size() * k / kFragments;
    // Never cut inside a UTF-8 sequence: move past continuation bytes.
    while (end < args.size() && (static_cast<unsigned char>(args[end]) & 0xC0) == 0x80) ++end;
    if (end > start) fragments.push_back(args.substr(start, end - start));
    start = std::max(start, end);
  }
  return fragments;
}

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
  std::string content = AnswerText(c);
  auto build = [&] {
    switch (c.api) {
      case Api::kAnthropic: return MessagesBody(c, content);
      case Api::kResponses: return ResponsesBody(c, content);
      case Api::kOpenAi: break;
    }
    return ChatBody(c, content);
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
    case Api::kAnthropic: return MessagesEvents(c);
    case Api::kResponses: return ResponsesEvents(c);
    case Api::kOpenAi: break;
  }
  return ChatEvents(c);
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
