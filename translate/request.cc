#include "translate/request.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "translate/json.h"
#include "translate/shapes.h"

namespace rebound::translate {
namespace {

using rapidjson::kArrayType;
using rapidjson::kObjectType;

std::string Key(const Value& name) { return std::string(View(name)); }
std::string At(std::string_view base, size_t i) { return absl::StrCat(std::string(base), "[", i, "]"); }

bool IsNull(const Value* v) { return v == nullptr || v->IsNull(); }

// --- OpenAI -> Anthropic ---------------------------------------------------------

// A text block, or nothing for empty text (Anthropic refuses empty blocks).
void AddText(std::string_view text, Value& blocks, Allocator& a) {
  if (text.empty()) return;
  Value block(kObjectType);
  Add(block, "type", Str("text", a), a);
  Add(block, "text", Str(text, a), a);
  blocks.PushBack(block, a);
}

// "data:<media type>;base64,<data>" or an http(s) URL -> an image block.
absl::Status AddImage(const Value& part, const std::string& field, Value& blocks,
                      Allocator& a) {
  const Value* image_url = Find(part, "image_url");
  std::string_view url = image_url ? StringOr(*image_url, "url") : "";
  Value source(kObjectType);
  if (url.starts_with("data:")) {
    size_t semicolon = url.find(";base64,");
    if (semicolon == std::string_view::npos) return NotTranslatable(field + ".image_url.url");
    Add(source, "type", Str("base64", a), a);
    Add(source, "media_type", Str(url.substr(5, semicolon - 5), a), a);
    Add(source, "data", Str(url.substr(semicolon + 8), a), a);
  } else if (url.starts_with("https://") || url.starts_with("http://")) {
    Add(source, "type", Str("url", a), a);
    Add(source, "url", Str(url, a), a);
  } else {
    return NotTranslatable(field + ".image_url.url");
  }
  Value block(kObjectType);
  Add(block, "type", Str("image", a), a);
  Add(block, "source", source, a);
  blocks.PushBack(block, a);
  return absl::OkStatus();
}

// A message's `content` (a string or parts) as Anthropic blocks.
absl::Status ContentBlocks(const Value* content, const std::string& field, bool images_allowed,
                           Value& blocks, Allocator& a) {
  if (IsNull(content)) return absl::OkStatus();
  if (content->IsString()) {
    AddText(View(*content), blocks, a);
    return absl::OkStatus();
  }
  if (!content->IsArray()) return Invalid(field + " must be a string or an array of parts");
  for (rapidjson::SizeType i = 0; i < content->Size(); ++i) {
    const Value& part = (*content)[i];
    std::string part_field = At(field, i);
    std::string_view type = StringOr(part, "type");
    if (type == "text" || type == "refusal") {
      AddText(StringOr(part, type == "text" ? "text" : "refusal"), blocks, a);
    } else if (type == "image_url" && images_allowed) {
      if (absl::Status s = AddImage(part, part_field, blocks, a); !s.ok()) return s;
    } else {
      return NotTranslatable(absl::StrCat(part_field, ".type=", std::string(type)));
    }
  }
  return absl::OkStatus();
}

void AddMessage(std::string_view role, Value content, Value& messages, Allocator& a) {
  Value m(kObjectType);
  Add(m, "role", Str(role, a), a);
  Add(m, "content", content, a);
  messages.PushBack(m, a);
}

// Appends `blocks` as a turn of `role`, merged into the previous turn when
// it has the same role (Anthropic's roles alternate).
void AppendTurn(std::string_view role, Value& blocks, Value& messages, Allocator& a) {
  if (blocks.Empty()) return;
  if (!messages.Empty() && StringOr(messages[messages.Size() - 1], "role") == role) {
    Value& content = messages[messages.Size() - 1]["content"];
    for (auto& b : blocks.GetArray()) content.PushBack(b, a);
    return;
  }
  AddMessage(role, std::move(blocks), messages, a);
}

absl::Status ToolUseBlocks(const Value& tool_calls, const std::string& field, Value& blocks,
                           Allocator& a) {
  if (!tool_calls.IsArray()) return Invalid(field + " must be an array");
  for (rapidjson::SizeType i = 0; i < tool_calls.Size(); ++i) {
    const Value& call = tool_calls[i];
    std::string call_field = At(field, i);
    if (StringOr(call, "type", "function") != "function") {
      return NotTranslatable(call_field + ".type");
    }
    const Value* function = Find(call, "function");
    if (function == nullptr) return Invalid(call_field + ".function is missing");
    const Value* raw_arguments = Find(*function, "arguments");
    if (raw_arguments != nullptr && raw_arguments->IsObject()) {
      // Some OpenAI-compatible clients send the object itself.
      Value block(kObjectType);
      Add(block, "type", Str("tool_use", a), a);
      Add(block, "id", Str(StringOr(call, "id"), a), a);
      Add(block, "name", Str(StringOr(*function, "name"), a), a);
      Add(block, "input", Value(*raw_arguments, a), a);
      blocks.PushBack(block, a);
      continue;
    }
    if (raw_arguments != nullptr && !raw_arguments->IsString() && !raw_arguments->IsNull()) {
      return NotTranslatable(call_field + ".function.arguments");
    }
    std::string_view arguments = StringOr(*function, "arguments");
    Document input;
    if (arguments.empty()) {
      input.SetObject();
    } else {
      if (!ParseBounded(arguments, &input) || !input.IsObject()) {
        return NotTranslatable(call_field + ".function.arguments");
      }
    }
    Value block(kObjectType);
    Add(block, "type", Str("tool_use", a), a);
    Add(block, "id", Str(StringOr(call, "id"), a), a);
    Add(block, "name", Str(StringOr(*function, "name"), a), a);
    Add(block, "input", Value(input, a), a);
    blocks.PushBack(block, a);
  }
  return absl::OkStatus();
}

absl::Status OpenAiMessages(const Value& in, Value& system, Value& messages, Allocator& a) {
  if (!in.IsArray()) return Invalid("messages must be an array");
  for (rapidjson::SizeType i = 0; i < in.Size(); ++i) {
    const Value& m = in[i];
    std::string field = At("messages", i);
    std::string_view role = StringOr(m, "role");
    const Value* content = Find(m, "content");
    Value blocks(kArrayType);
    if (role == "system" || role == "developer") {
      if (absl::Status s = ContentBlocks(content, field + ".content", false, system, a); !s.ok()) {
        return s;
      }
      continue;
    }
    if (role == "user") {
      if (absl::Status s = ContentBlocks(content, field + ".content", true, blocks, a); !s.ok()) {
        return s;
      }
      AppendTurn("user", blocks, messages, a);
    } else if (role == "assistant") {
      if (absl::Status s = ContentBlocks(content, field + ".content", false, blocks, a); !s.ok()) {
        return s;
      }
      if (const Value* calls = Find(m, "tool_calls"); !IsNull(calls)) {
        if (absl::Status s = ToolUseBlocks(*calls, field + ".tool_calls", blocks, a); !s.ok()) {
          return s;
        }
      }
      AppendTurn("assistant", blocks, messages, a);
    } else if (role == "tool") {
      Value result(kObjectType);
      Add(result, "type", Str("tool_result", a), a);
      Add(result, "tool_use_id", Str(StringOr(m, "tool_call_id"), a), a);
      Value result_content(kArrayType);
      if (absl::Status s = ContentBlocks(content, field + ".content", false, result_content, a);
          !s.ok()) {
        return s;
      }
      Add(result, "content", result_content, a);
      blocks.PushBack(result, a);
      AppendTurn("user", blocks, messages, a);
    } else {
      return NotTranslatable(absl::StrCat(field, ".role=", std::string(role)));
    }
  }
  if (!messages.Empty() && StringOr(messages[0], "role") != "user") {
    // Anthropic's first turn is the user's; inventing one would change the
    // conversation.
    return NotTranslatable("messages[0].role=assistant");
  }
  if (!messages.Empty() && StringOr(messages[messages.Size() - 1], "role") == "assistant") {
    // To Anthropic a last assistant turn is a prefill the answer continues;
    // to OpenAI it is context before a new answer.
    return NotTranslatable("messages[-1].role=assistant");
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> AnthropicTools(const Value& tools, Allocator& a,
                                     std::vector<std::string>* dropped) {
  if (!tools.IsArray()) return Invalid("tools must be an array");
  Value out(kArrayType);
  for (rapidjson::SizeType i = 0; i < tools.Size(); ++i) {
    const Value& tool = tools[i];
    std::string field = At("tools", i);
    if (StringOr(tool, "type") != "function") return NotTranslatable(field + ".type");
    const Value* function = Find(tool, "function");
    if (function == nullptr) return Invalid(field + ".function is missing");
    Value t(kObjectType);
    Add(t, "name", Str(StringOr(*function, "name"), a), a);
    if (const Value* d = Find(*function, "description"); d && d->IsString()) {
      Add(t, "description", Value(*d, a), a);
    }
    const Value* parameters = Find(*function, "parameters");
    if (parameters != nullptr && parameters->IsObject()) {
      Add(t, "input_schema", Value(*parameters, a), a);
    } else {
      Value schema(kObjectType);
      Add(schema, "type", Str("object", a), a);
      Add(t, "input_schema", schema, a);
    }
    if (!IsNull(Find(*function, "strict"))) dropped->push_back(field + ".function.strict");
    out.PushBack(t, a);
  }
  return out;
}

// Without tools there is no choice to make: Anthropic refuses a tool_choice
// then, so a bare parallel_tool_calls adds nothing.
absl::StatusOr<Value> AnthropicToolChoice(const Value* choice, const Value* parallel,
                                          bool has_tools, Allocator& a) {
  Value out(kObjectType);
  if (!IsNull(choice)) {
    if (choice->IsString()) {
      std::string_view c = View(*choice);
      if (c == "auto") {
        Add(out, "type", Str("auto", a), a);
      } else if (c == "required") {
        Add(out, "type", Str("any", a), a);
      } else if (c == "none") {
        Add(out, "type", Str("none", a), a);
      } else {
        return NotTranslatable(absl::StrCat("tool_choice=", std::string(c)));
      }
    } else if (StringOr(*choice, "type") == "function") {
      const Value* function = Find(*choice, "function");
      Add(out, "type", Str("tool", a), a);
      Add(out, "name", Str(function ? StringOr(*function, "name") : "", a), a);
    } else {
      return NotTranslatable("tool_choice");
    }
  }
  if (parallel != nullptr && parallel->IsBool() && !parallel->GetBool() && has_tools &&
      StringOr(out, "type") != "none") {
    if (!out.HasMember("type")) Add(out, "type", Str("auto", a), a);
    Add(out, "disable_parallel_tool_use", Value(true), a);
  }
  return out;
}

absl::StatusOr<TranslatedRequest> OpenAiToAnthropic(const Value& in,
                                                    const RequestOptions& options) {
  Document out(kObjectType);
  Allocator& a = out.GetAllocator();
  TranslatedRequest result;
  Add(out, "model", Str(options.target_model, a), a);
  Value system(kArrayType);
  Value messages(kArrayType);
  int64_t max_tokens = options.default_max_tokens;
  const Value* max_completion = Find(in, "max_completion_tokens");
  const Value* tool_choice = nullptr;
  const Value* parallel_tool_calls = nullptr;
  for (const auto& member : in.GetObject()) {
    const std::string key = Key(member.name);
    const Value& v = member.value;
    if (key == "model") {
      // The target's model is set above.
    } else if (key == "stream_options") {
      // Anthropic always reports usage; the answer's translator needs to
      // know whether the caller wants it in the stream.
      const Value* include = v.IsObject() ? Find(v, "include_usage") : nullptr;
      result.include_usage = include != nullptr && include->IsBool() && include->GetBool();
    } else if (key == "messages") {
      if (absl::Status s = OpenAiMessages(v, system, messages, a); !s.ok()) return s;
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      if (v.IsNull()) continue;
      if (!v.IsInt64() || v.GetInt64() <= 0) return Invalid(key + " must be a positive integer");
      // max_completion_tokens is OpenAI's current name and wins.
      if (key == "max_completion_tokens" || IsNull(max_completion)) max_tokens = v.GetInt64();
    } else if (key == "temperature") {
      if (v.IsNull()) continue;
      if (!v.IsNumber()) return Invalid("temperature must be a number");
      // OpenAI's range is 0-2, Anthropic's 0-1.
      Add(out, "temperature", Value(std::clamp(v.GetDouble(), 0.0, 1.0)), a);
    } else if (key == "top_p") {
      if (!v.IsNull()) Add(out, "top_p", Value(v, a), a);
    } else if (key == "stop") {
      if (v.IsNull()) continue;
      Value stops(kArrayType);
      if (v.IsString()) {
        stops.PushBack(Value(v, a), a);
      } else if (v.IsArray()) {
        for (const auto& s : v.GetArray()) stops.PushBack(Value(s, a), a);
      } else {
        return Invalid("stop must be a string or an array");
      }
      Add(out, "stop_sequences", stops, a);
    } else if (key == "user") {
      if (!v.IsString()) continue;
      Value metadata(kObjectType);
      Add(metadata, "user_id", Value(v, a), a);
      Add(out, "metadata", metadata, a);
    } else if (key == "stream") {
      Add(out, "stream", Value(v, a), a);
    } else if (key == "tools") {
      if (v.IsNull()) continue;
      absl::StatusOr<Value> tools = AnthropicTools(v, a, &result.dropped);
      if (!tools.ok()) return tools.status();
      Add(out, "tools", *std::move(tools), a);
    } else if (key == "tool_choice") {
      tool_choice = &v;
    } else if (key == "parallel_tool_calls") {
      parallel_tool_calls = &v;
    } else if (key == "n") {
      if (!v.IsNull() && !(v.IsInt() && v.GetInt() == 1)) return NotTranslatable("n");
    } else if (key == "logprobs") {
      if (v.IsBool() && v.GetBool()) return NotTranslatable("logprobs");
    } else if (key == "response_format") {
      if (!v.IsNull() && StringOr(v, "type") != "text") return NotTranslatable("response_format");
    } else if (key == "seed" || key == "presence_penalty" || key == "frequency_penalty" ||
               key == "logit_bias" || key == "service_tier" || key == "store" ||
               key == "metadata" || key == "prediction") {
      // Hints and bookkeeping with no Anthropic equivalent: the answer means
      // the same without them (README, translation table).
      if (!v.IsNull()) result.dropped.push_back(key);
    } else {
      // top_logprobs, audio, modalities, reasoning_effort, functions, ...
      // and anything unknown: sending the request without it could change
      // what the caller gets.
      if (!v.IsNull()) return NotTranslatable(key);
    }
  }
  if (!Find(in, "messages")) return Invalid("messages is missing");
  const Value* tools = Find(in, "tools");
  const bool has_tools = tools != nullptr && tools->IsArray() && !tools->Empty();
  absl::StatusOr<Value> choice =
      AnthropicToolChoice(has_tools ? tool_choice : nullptr, parallel_tool_calls, has_tools, a);
  if (!choice.ok()) return choice.status();
  if (choice->MemberCount() > 0) Add(out, "tool_choice", *std::move(choice), a);
  Add(out, "max_tokens", Value(static_cast<int64_t>(max_tokens)), a);
  if (!system.Empty()) Add(out, "system", system, a);
  Add(out, "messages", messages, a);
  result.body = Write(out);
  return result;
}

// --- Anthropic -> OpenAI ---------------------------------------------------------

// Text blocks (or a string) joined; other block types are refused.
absl::StatusOr<std::string> TextOf(const Value* content, const std::string& field) {
  if (IsNull(content)) return std::string();
  if (content->IsString()) return std::string(View(*content));
  if (!content->IsArray()) return Invalid(field + " must be a string or an array of blocks");
  std::vector<std::string> texts;
  for (rapidjson::SizeType i = 0; i < content->Size(); ++i) {
    const Value& block = (*content)[i];
    std::string_view type = StringOr(block, "type");
    if (type != "text") return NotTranslatable(absl::StrCat(At(field, i), ".type=", std::string(type)));
    texts.emplace_back(StringOr(block, "text"));
  }
  return absl::StrJoin(texts, "\n");
}

absl::Status AddImagePart(const Value& block, const std::string& field, Value& parts,
                          Allocator& a) {
  const Value* source = Find(block, "source");
  std::string_view type = source ? StringOr(*source, "type") : "";
  std::string url;
  if (type == "base64") {
    url = absl::StrCat("data:", std::string(StringOr(*source, "media_type")), ";base64,",
                       std::string(StringOr(*source, "data")));
  } else if (type == "url") {
    url = std::string(StringOr(*source, "url"));
  } else {
    return NotTranslatable(field + ".source.type");
  }
  Value image_url(kObjectType);
  Add(image_url, "url", Str(url, a), a);
  Value part(kObjectType);
  Add(part, "type", Str("image_url", a), a);
  Add(part, "image_url", image_url, a);
  parts.PushBack(part, a);
  return absl::OkStatus();
}

void AddTextPart(std::string_view text, Value& parts, Allocator& a) {
  Value part(kObjectType);
  Add(part, "type", Str("text", a), a);
  Add(part, "text", Str(text, a), a);
  parts.PushBack(part, a);
}


absl::Status AnthropicUserTurn(const Value& content, const std::string& field, Value& messages,
                               Allocator& a) {
  if (content.IsString()) {
    AddMessage("user", Value(content, a), messages, a);
    return absl::OkStatus();
  }
  if (!content.IsArray()) return Invalid(field + " must be a string or an array of blocks");
  Value parts(kArrayType);
  for (rapidjson::SizeType i = 0; i < content.Size(); ++i) {
    const Value& block = content[i];
    std::string block_field = At(field, i);
    std::string_view type = StringOr(block, "type");
    if (type == "text") {
      AddTextPart(StringOr(block, "text"), parts, a);
    } else if (type == "image") {
      if (absl::Status s = AddImagePart(block, block_field, parts, a); !s.ok()) return s;
    } else if (type == "tool_result") {
      // OpenAI answers a tool call with a `tool` message right after the
      // assistant's turn, so results go before the rest of this turn.
      absl::StatusOr<std::string> text = TextOf(Find(block, "content"), block_field + ".content");
      if (!text.ok()) return text.status();
      Value m(kObjectType);
      Add(m, "role", Str("tool", a), a);
      Add(m, "tool_call_id", Str(StringOr(block, "tool_use_id"), a), a);
      Add(m, "content", Str(*text, a), a);
      messages.PushBack(m, a);
    } else {
      return NotTranslatable(absl::StrCat(block_field, ".type=", std::string(type)));
    }
  }
  if (!parts.Empty()) AddMessage("user", std::move(parts), messages, a);
  return absl::OkStatus();
}

absl::Status AnthropicAssistantTurn(const Value& content, const std::string& field,
                                    Value& messages, Allocator& a) {
  Value m(kObjectType);
  Add(m, "role", Str("assistant", a), a);
  if (content.IsString()) {
    Add(m, "content", Value(content, a), a);
    messages.PushBack(m, a);
    return absl::OkStatus();
  }
  if (!content.IsArray()) return Invalid(field + " must be a string or an array of blocks");
  std::string text;
  Value calls(kArrayType);
  for (rapidjson::SizeType i = 0; i < content.Size(); ++i) {
    const Value& block = content[i];
    std::string_view type = StringOr(block, "type");
    if (type == "text") {
      text += StringOr(block, "text");
    } else if (type == "tool_use") {
      calls.PushBack(OpenAiToolCall(block, a), a);
    } else {
      // thinking, redacted_thinking, server tool blocks: OpenAI has no place
      // for them.
      return NotTranslatable(absl::StrCat(At(field, i), ".type=", std::string(type)));
    }
  }
  Add(m, "content", text.empty() && !calls.Empty() ? Value() : Str(text, a), a);
  if (!calls.Empty()) Add(m, "tool_calls", calls, a);
  messages.PushBack(m, a);
  return absl::OkStatus();
}

absl::StatusOr<TranslatedRequest> AnthropicToOpenAi(const Value& in,
                                                    const RequestOptions& options) {
  Document out(kObjectType);
  Allocator& a = out.GetAllocator();
  TranslatedRequest result;
  Add(out, "model", Str(options.target_model, a), a);
  Value messages(kArrayType);
  const Value* system = Find(in, "system");
  if (!IsNull(system)) {
    absl::StatusOr<std::string> text = TextOf(system, "system");
    if (!text.ok()) return text.status();
    AddMessage("system", Str(*text, a), messages, a);
  }
  bool stream = false;
  for (const auto& member : in.GetObject()) {
    const std::string key = Key(member.name);
    const Value& v = member.value;
    if (key == "model" || key == "system") {
    } else if (key == "messages") {
      if (!v.IsArray()) return Invalid("messages must be an array");
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        const Value& m = v[i];
        std::string field = At("messages", i);
        std::string_view role = StringOr(m, "role");
        const Value* content = Find(m, "content");
        if (content == nullptr) return Invalid(field + ".content is missing");
        absl::Status s = role == "user"        ? AnthropicUserTurn(*content, field + ".content", messages, a)
                         : role == "assistant" ? AnthropicAssistantTurn(*content, field + ".content", messages, a)
                                               : NotTranslatable(absl::StrCat(field, ".role=", std::string(role)));
        if (!s.ok()) return s;
      }
    } else if (key == "max_tokens") {
      if (!v.IsInt64() || v.GetInt64() <= 0) return Invalid("max_tokens must be a positive integer");
      Add(out, "max_tokens", Value(v, a), a);
    } else if (key == "temperature" || key == "top_p") {
      if (!v.IsNull()) Add(out, key, Value(v, a), a);
    } else if (key == "stop_sequences") {
      if (!v.IsNull()) Add(out, "stop", Value(v, a), a);
    } else if (key == "metadata") {
      if (const Value* user = Find(v, "user_id"); user && user->IsString()) {
        Add(out, "user", Value(*user, a), a);
      }
    } else if (key == "stream") {
      stream = v.IsBool() && v.GetBool();
      Add(out, "stream", Value(v, a), a);
    } else if (key == "tools") {
      if (!v.IsArray()) return Invalid("tools must be an array");
      Value tools(kArrayType);
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        const Value& tool = v[i];
        std::string_view type = StringOr(tool, "type", "custom");
        // Server tools (web search, code execution, ...) run at Anthropic.
        if (type != "custom") return NotTranslatable(absl::StrCat(At("tools", i), ".type=", std::string(type)));
        Value function(kObjectType);
        Add(function, "name", Str(StringOr(tool, "name"), a), a);
        if (const Value* d = Find(tool, "description"); d && d->IsString()) {
          Add(function, "description", Value(*d, a), a);
        }
        if (const Value* schema = Find(tool, "input_schema"); schema && schema->IsObject()) {
          Add(function, "parameters", Value(*schema, a), a);
        }
        Value t(kObjectType);
        Add(t, "type", Str("function", a), a);
        Add(t, "function", function, a);
        tools.PushBack(t, a);
      }
      Add(out, "tools", tools, a);
    } else if (key == "tool_choice") {
      if (v.IsNull()) continue;
      std::string_view type = StringOr(v, "type");
      if (type == "auto" || type == "any" || type == "none") {
        Add(out, "tool_choice", Str(type == "any" ? "required" : type, a), a);
      } else if (type == "tool") {
        Value function(kObjectType);
        Add(function, "name", Str(StringOr(v, "name"), a), a);
        Value choice(kObjectType);
        Add(choice, "type", Str("function", a), a);
        Add(choice, "function", function, a);
        Add(out, "tool_choice", choice, a);
      } else {
        return NotTranslatable("tool_choice");
      }
      if (const Value* d = Find(v, "disable_parallel_tool_use"); d && d->IsBool() && d->GetBool()) {
        Add(out, "parallel_tool_calls", Value(false), a);
      }
    } else if (key == "top_k" || key == "service_tier") {
      result.dropped.push_back(key);
    } else {
      // thinking, container, mcp_servers, ... and anything unknown.
      if (!v.IsNull()) return NotTranslatable(key);
    }
  }
  if (!Find(in, "messages")) return Invalid("messages is missing");
  if (stream) {
    // So that the Anthropic caller still gets usage in message_delta.
    Value stream_options(kObjectType);
    Add(stream_options, "include_usage", Value(true), a);
    Add(out, "stream_options", stream_options, a);
  }
  Add(out, "messages", messages, a);
  result.body = Write(out);
  return result;
}

}  // namespace

absl::StatusOr<TranslatedRequest> TranslateRequest(std::string_view body, Api from, Api to,
                                                   const RequestOptions& options) {
  if (from == to || from == Api::kOther || to == Api::kOther) {
    return absl::InvalidArgumentError(absl::StrCat("no translation from ", std::string(ToString(from)),
                                                   " to ", std::string(ToString(to))));
  }
  Document in;
  if (!ParseBounded(body, &in) || !in.IsObject()) return Invalid("the body is not a JSON object");
  return from == Api::kOpenAiChat ? OpenAiToAnthropic(in, options) : AnthropicToOpenAi(in, options);
}

}  // namespace rebound::translate
