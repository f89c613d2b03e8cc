#include "translate/answer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "translate/json.h"
#include "translate/shapes.h"

namespace rebound::translate {
namespace {

using rapidjson::kArrayType;
using rapidjson::kObjectType;

absl::Status BadAnswer(const std::string& what) {
  return absl::DataLossError(absl::StrCat("untranslatable answer: ", what));
}

// OpenAI's prompt count includes every input token, cached or not;
// Anthropic counts cache reads and writes apart from input_tokens.
Value UsageForOpenAi(const Value& usage, Allocator& a) {
  const int64_t cached = IntOr(&usage, "cache_read_input_tokens");
  const int64_t prompt =
      IntOr(&usage, "input_tokens") + cached + IntOr(&usage, "cache_creation_input_tokens");
  return OpenAiUsage(prompt, IntOr(&usage, "output_tokens"), cached, a);
}

Value UsageForAnthropic(const Value* usage, Allocator& a) {
  const Value* details = usage ? Find(*usage, "prompt_tokens_details") : nullptr;
  const int64_t cached = IntOr(details, "cached_tokens");
  Value u(kObjectType);
  Add(u, "input_tokens", Value(IntOr(usage, "prompt_tokens") - cached), a);
  Add(u, "output_tokens", Value(IntOr(usage, "completion_tokens")), a);
  Add(u, "cache_read_input_tokens", Value(cached), a);
  Add(u, "cache_creation_input_tokens", Value(static_cast<int64_t>(0)), a);
  return u;
}

absl::StatusOr<std::string> AnthropicToOpenAi(const Value& in, const AnswerOptions& options) {
  const Value* content = Find(in, "content");
  if (content == nullptr || !content->IsArray()) return BadAnswer("no content array");
  Document out(kObjectType);
  Allocator& a = out.GetAllocator();
  std::string text;
  Value calls(kArrayType);
  for (const Value& block : content->GetArray()) {
    std::string_view type = StringOr(block, "type");
    if (type == "text") {
      text += StringOr(block, "text");
    } else if (type == "tool_use") {
      calls.PushBack(OpenAiToolCall(block, a), a);
    }
    // thinking blocks have no place in a chat completion: left out.
  }
  Add(out, "id", Str(StringOr(in, "id"), a), a);
  Add(out, "object", Str("chat.completion", a), a);
  Add(out, "created", Value(static_cast<int64_t>(options.created_unix_seconds)), a);
  Add(out, "model", Str(options.served_model, a), a);
  Value message(kObjectType);
  Add(message, "role", Str("assistant", a), a);
  Add(message, "content", text.empty() && !calls.Empty() ? Value() : Str(text, a), a);
  if (!calls.Empty()) Add(message, "tool_calls", calls, a);
  Value choice(kObjectType);
  Add(choice, "index", Value(0), a);
  Add(choice, "message", message, a);
  Add(choice, "logprobs", Value(), a);
  Add(choice, "finish_reason", Str(FinishReasonFor(StringOr(in, "stop_reason")), a), a);
  Value choices(kArrayType);
  choices.PushBack(choice, a);
  Add(out, "choices", choices, a);
  if (const Value* usage = Find(in, "usage")) Add(out, "usage", UsageForOpenAi(*usage, a), a);
  return Write(out);
}

absl::StatusOr<std::string> OpenAiToAnthropic(const Value& in, const AnswerOptions& options) {
  const Value* choices = Find(in, "choices");
  if (choices == nullptr || !choices->IsArray() || choices->Empty()) {
    return BadAnswer("no choices");
  }
  const Value& choice = (*choices)[0];
  const Value* message = Find(choice, "message");
  if (message == nullptr) return BadAnswer("no message");
  Document out(kObjectType);
  Allocator& a = out.GetAllocator();
  Value content(kArrayType);
  std::string_view refusal = StringOr(*message, "refusal");
  if (std::string_view text = refusal.empty() ? StringOr(*message, "content") : refusal;
      !text.empty()) {
    Value block(kObjectType);
    Add(block, "type", Str("text", a), a);
    Add(block, "text", Str(text, a), a);
    content.PushBack(block, a);
  }
  if (const Value* calls = Find(*message, "tool_calls"); calls && calls->IsArray()) {
    for (const Value& call : calls->GetArray()) {
      const Value* function = Find(call, "function");
      const Value* raw = function ? Find(*function, "arguments") : nullptr;
      std::string_view arguments = function ? StringOr(*function, "arguments") : "";
      Document input;
      if (raw != nullptr && raw->IsObject()) {
        input.CopyFrom(*raw, input.GetAllocator());
      } else if (raw != nullptr && !raw->IsString() && !raw->IsNull()) {
        return BadAnswer("a tool call's arguments are not a JSON object");
      } else if (arguments.empty()) {
        input.SetObject();
      } else if (!ParseBounded(arguments, &input) || !input.IsObject()) {
        return BadAnswer("a tool call's arguments are not a JSON object");
      }
      Value block(kObjectType);
      Add(block, "type", Str("tool_use", a), a);
      Add(block, "id", Str(StringOr(call, "id"), a), a);
      Add(block, "name", Str(function ? StringOr(*function, "name") : "", a), a);
      Add(block, "input", Value(input, a), a);
      content.PushBack(block, a);
    }
  }
  Add(out, "id", Str(StringOr(in, "id"), a), a);
  Add(out, "type", Str("message", a), a);
  Add(out, "role", Str("assistant", a), a);
  Add(out, "model", Str(options.served_model, a), a);
  Add(out, "content", content, a);
  Add(out, "stop_reason",
      Str(refusal.empty() ? StopReasonFor(StringOr(choice, "finish_reason")) : "refusal", a), a);
  Add(out, "stop_sequence", Value(), a);
  Add(out, "usage", UsageForAnthropic(Find(in, "usage"), a), a);
  return Write(out);
}

std::string_view AnthropicErrorType(int http_status) {
  switch (http_status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
  }
  return http_status >= 500 ? "api_error" : "invalid_request_error";
}

// The message of an error body of `api`, or the body's start.
std::string ErrorMessage(const Document& in, std::string_view body) {
  const Value* error = Find(in, "error");
  if (error != nullptr) {
    if (const Value* m = Find(*error, "message"); m && m->IsString()) return std::string(View(*m));
  }
  // The body's first KiB with any invalid byte (a character cut at the end
  // included) replaced: the JSON must stay UTF-8.
  return ToValidUtf8(std::string(body.substr(0, 1024)));
}

}  // namespace

absl::StatusOr<std::string> TranslateAnswer(std::string_view body, Api from, Api to,
                                            const AnswerOptions& options) {
  if (from == to || from == Api::kOther || to == Api::kOther) {
    return absl::InvalidArgumentError("no translation between these APIs");
  }
  Document in;
  if (!ParseBounded(body, &in) || !in.IsObject()) return BadAnswer("not a JSON object");
  return from == Api::kAnthropicMessages ? AnthropicToOpenAi(in, options)
                                         : OpenAiToAnthropic(in, options);
}

std::string TranslateUsage(std::string_view usage, Api from, Api to) {
  Document in;
  if (from == to || !ParseBounded(usage, &in) || !in.IsObject()) return "";
  Document out;
  Allocator& a = out.GetAllocator();
  Value translated = from == Api::kAnthropicMessages ? UsageForOpenAi(in, a)
                                                     : UsageForAnthropic(&in, a);
  return Write(translated);
}

std::string TranslateErrorBody(std::string_view body, int http_status, Api from, Api to) {
  Document in;
  if (!ParseBounded(body, &in)) in.SetNull();
  const std::string message = ErrorMessage(in, body);
  const Value* error = Find(in, "error");
  std::string_view type = error ? StringOr(*error, "type") : "";
  Document out(kObjectType);
  Allocator& a = out.GetAllocator();
  Value e(kObjectType);
  Add(e, "message", Str(message, a), a);
  if (to == Api::kAnthropicMessages) {
    Add(out, "type", Str("error", a), a);
    Add(e, "type", Str(from == Api::kAnthropicMessages && !type.empty()
                           ? type
                           : AnthropicErrorType(http_status),
                       a),
        a);
  } else {
    Add(e, "type", Str(type.empty() ? AnthropicErrorType(http_status) : type, a), a);
    Add(e, "param", Value(), a);
    Add(e, "code", Value(), a);
  }
  Add(out, "error", e, a);
  return Write(out);
}

}  // namespace rebound::translate
