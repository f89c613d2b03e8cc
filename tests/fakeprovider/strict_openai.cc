// OpenAI Chat Completions' request rules, in OpenAI's words: the refused
// field as its `param` ("messages.[1].role"), messages such as "Missing
// required parameter: 'messages[1].role'." and the tool-call sequencing
// errors the API gives (its "preceeding" typo included).
#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/fakeprovider/strict_rules.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

using rapidjson::SizeType;
using rapidjson::Value;
using Check = std::optional<Refusal>;
using Tags = std::span<const std::string_view>;

constexpr std::string_view kRoles[] = {"system",   "assistant", "user",
                                       "function", "tool",      "developer"};
constexpr std::string_view kUserParts[] = {"text", "image_url", "input_audio", "file"};
constexpr std::string_view kAssistantParts[] = {"text", "refusal"};
constexpr std::string_view kTextOnly[] = {"text"};
constexpr std::string_view kFunction[] = {"function"};
constexpr std::string_view kToolChoiceModes[] = {"none", "auto", "required"};

constexpr bool kRequired = true;
constexpr bool kOptional = false;

Check Fail(std::string param, std::string_view message) {
  return Refusal{std::move(param), std::string(message)};
}

std::string Member(std::string_view parent, std::string_view member) {
  return parent.empty() ? std::string(member) : absl::StrCat(ToAbsl(parent), ".", ToAbsl(member));
}

std::string Index(std::string_view parent, SizeType i) {
  return absl::StrCat(ToAbsl(parent), ".[", i, "]");
}

// The param as the message text writes it: "messages[1].role".
std::string Text(std::string_view param) {
  std::string out;
  for (size_t i = 0; i < param.size(); ++i) {
    if (param[i] == '.' && i + 1 < param.size() && param[i + 1] == '[') continue;
    out.push_back(param[i]);
  }
  return out;
}

bool Contains(Tags tags, std::string_view tag) {
  for (std::string_view t : tags) {
    if (t == tag) return true;
  }
  return false;
}

// "'a', 'b', and 'c'", as OpenAI lists supported values.
std::string Listed(Tags tags) {
  std::vector<std::string> quoted;
  for (std::string_view t : tags) quoted.push_back(absl::StrCat("'", ToAbsl(t), "'"));
  if (quoted.size() > 1) quoted.back() = absl::StrCat("and ", quoted.back());
  return absl::StrJoin(quoted, quoted.size() > 2 ? ", " : " ");
}

Check InvalidValue(std::string param, std::string_view found, Tags supported) {
  return Fail(std::move(param), absl::StrCat("Invalid value: '", ToAbsl(found),
                                             "'. Supported values are: ", Listed(supported), "."));
}

Check Missing(std::string param) {
  std::string message = absl::StrCat("Missing required parameter: '", Text(param), "'.");
  return Fail(std::move(param), message);
}

Check WrongType(std::string param, std::string_view expected, const Value& got) {
  std::string message =
      absl::StrCat("Invalid type for '", Text(param), "': expected ", ToAbsl(expected),
                   ", but got ", ToAbsl(TypeName(got)), " instead.");
  return Fail(std::move(param), message);
}

Check EmptyArray(std::string param) {
  std::string message =
      absl::StrCat("Invalid '", Text(param),
                   "': empty array. Expected an array with minimum length 1, but got an empty "
                   "array instead.");
  return Fail(std::move(param), message);
}

std::string_view Expected(Type type) {
  switch (type) {
    case Type::kString: return "a string";
    case Type::kInteger: return "an integer";
    case Type::kNumber: return "a decimal";
    case Type::kBool: return "a boolean";
    case Type::kObject: return "an object";
    case Type::kArray: return "an array";
  }
  return "";
}

// `object.key` must have `type`; a missing member is refused only when
// required. On success the member is read with Find.
Check Typed(const Value& object, const char* key, std::string_view parent, Type type,
            bool required) {
  const Value* v = Find(object, key);
  if (v == nullptr) return required ? Missing(Member(parent, key)) : std::nullopt;
  if (!Is(*v, type)) return WrongType(Member(parent, key), Expected(type), *v);
  return std::nullopt;
}

// An optional number within [min, max]; integers say "integer" as OpenAI does.
Check Bounded(const Value& root, const char* key, Type type, double min, double max) {
  if (Check c = Typed(root, key, "", type, kOptional)) return c;
  const Value* v = Find(root, key);
  if (v == nullptr) return std::nullopt;
  double n = v->GetDouble();
  if (n >= min && n <= max) return std::nullopt;
  std::string_view kind = type == Type::kInteger ? "integer" : "decimal";
  return Fail(key, n < min ? absl::StrCat("Invalid '", key, "': ", ToAbsl(kind),
                                          " below minimum value. Expected a value >= ", min,
                                          ", but got ", n, " instead.")
                           : absl::StrCat("Invalid '", key, "': ", ToAbsl(kind),
                                          " above maximum value. Expected a value <= ", max,
                                          ", but got ", n, " instead."));
}

Check Part(const Value& part, std::string_view path, Tags allowed) {
  if (!part.IsObject()) return WrongType(std::string(path), "an object", part);
  if (Check c = Typed(part, "type", path, Type::kString, kRequired)) return c;
  std::string_view type = View(*Find(part, "type"));
  if (!Contains(allowed, type)) return InvalidValue(Member(path, "type"), type, allowed);
  if (type == "text") return Typed(part, "text", path, Type::kString, kRequired);
  if (type == "refusal") return Typed(part, "refusal", path, Type::kString, kRequired);
  if (type == "image_url") {
    if (Check c = Typed(part, "image_url", path, Type::kObject, kRequired)) return c;
    return Typed(*Find(part, "image_url"), "url", Member(path, "image_url"), Type::kString,
                 kRequired);
  }
  // input_audio, file: an object of their own, not looked into further.
  return Typed(part, type == "file" ? "file" : "input_audio", path, Type::kObject, kRequired);
}

Tags PartTypes(std::string_view role) {
  if (role == "user") return kUserParts;
  if (role == "assistant") return kAssistantParts;
  return kTextOnly;
}

// An assistant that calls tools (or a function message) may have no
// content; every other message must carry some.
Check Content(const Value& m, std::string_view path, std::string_view role, bool calls_tools) {
  std::string param = Member(path, "content");
  const Value* content = Find(m, "content");
  if (content == nullptr || content->IsNull()) {
    if (calls_tools || role == "function") return std::nullopt;
    if (content == nullptr) return Missing(param);
    return Fail(param, "Invalid value for 'content': expected a string, got null.");
  }
  if (content->IsString()) return std::nullopt;
  if (!content->IsArray()) return WrongType(param, "one of a string or array of objects", *content);
  if (content->Empty()) return EmptyArray(param);
  for (SizeType j = 0; j < content->Size(); ++j) {
    if (Check c = Part((*content)[j], Index(param, j), PartTypes(role))) return c;
  }
  return std::nullopt;
}

// An assistant's tool_calls, their ids appended to `ids`.
Check ToolCalls(const Value& m, std::string_view path, std::vector<std::string_view>& ids) {
  if (Check c = Typed(m, "tool_calls", path, Type::kArray, kOptional)) return c;
  const Value* calls = Find(m, "tool_calls");
  if (calls == nullptr) return std::nullopt;
  std::string param = Member(path, "tool_calls");
  if (calls->Empty()) return EmptyArray(param);
  for (SizeType i = 0; i < calls->Size(); ++i) {
    const Value& call = (*calls)[i];
    std::string at = Index(param, i);
    if (!call.IsObject()) return WrongType(at, "an object", call);
    if (Check c = Typed(call, "id", at, Type::kString, kRequired)) return c;
    if (Check c = Typed(call, "type", at, Type::kString, kRequired)) return c;
    std::string_view type = View(*Find(call, "type"));
    if (type != "function") return InvalidValue(Member(at, "type"), type, kFunction);
    if (Check c = Typed(call, "function", at, Type::kObject, kRequired)) return c;
    const Value& function = *Find(call, "function");
    std::string function_at = Member(at, "function");
    if (Check c = Typed(function, "name", function_at, Type::kString, kRequired)) return c;
    if (Check c = Typed(function, "arguments", function_at, Type::kString, kRequired)) return c;
    ids.push_back(View(*Find(call, "id")));
  }
  return std::nullopt;
}

Check Unanswered(SizeType asking, const std::vector<std::string_view>& pending) {
  return Fail(Member(Index("messages", asking), "role"),
              absl::StrCat("An assistant message with 'tool_calls' must be followed by tool "
                           "messages responding to each 'tool_call_id'. The following "
                           "tool_call_ids did not have response messages: ",
                           absl::StrJoin(pending, ", ", [](std::string* out, std::string_view id) {
                             out->append(id);
                           })));
}

// Roles, content and the tool-call rounds: an assistant's tool_calls must
// be answered, each exactly by the tool messages that follow it at once.
Check Messages(const Value& messages) {
  if (messages.Empty()) return EmptyArray("messages");
  std::vector<std::string_view> calls;    // ids the current round's assistant asked
  std::vector<std::string_view> pending;  // those not answered yet
  SizeType asking = 0;                    // that assistant's index
  bool in_round = false;                  // only tool messages since that assistant
  for (SizeType i = 0; i < messages.Size(); ++i) {
    const Value& m = messages[i];
    std::string path = Index("messages", i);
    if (!m.IsObject()) return WrongType(path, "an object", m);
    if (Check c = Typed(m, "role", path, Type::kString, kRequired)) return c;
    std::string_view role = View(*Find(m, "role"));
    if (!Contains(kRoles, role)) return InvalidValue(Member(path, "role"), role, kRoles);
    if (Check c = Typed(m, "name", path, Type::kString, role == "function")) return c;
    if (role == "tool") {
      if (Check c = Typed(m, "tool_call_id", path, Type::kString, kRequired)) return c;
      if (Check c = Content(m, path, role, false)) return c;
      if (!in_round) {
        return Fail(Member(path, "role"),
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.");
      }
      std::string_view id = View(*Find(m, "tool_call_id"));
      if (std::find(calls.begin(), calls.end(), id) == calls.end()) {
        return Fail(Member(path, "tool_call_id"),
                    absl::StrCat("Invalid parameter: 'tool_call_id' of '", ToAbsl(id),
                                 "' not found in 'tool_calls' of previous message."));
      }
      std::erase(pending, id);
      continue;
    }
    if (!pending.empty()) return Unanswered(asking, pending);
    in_round = false;
    std::vector<std::string_view> asked;
    if (role == "assistant") {
      if (Check c = ToolCalls(m, path, asked)) return c;
    }
    bool calls_tools = !asked.empty() || (role == "assistant" && Find(m, "function_call"));
    if (Check c = Content(m, path, role, calls_tools)) return c;
    if (!asked.empty()) {
      calls = asked;
      pending = std::move(asked);
      asking = i;
      in_round = true;
    }
  }
  if (!pending.empty()) return Unanswered(asking, pending);
  return std::nullopt;
}

Check Tools(const Value& root) {
  if (Check c = Typed(root, "tools", "", Type::kArray, kOptional)) return c;
  const Value* tools = Find(root, "tools");
  if (tools == nullptr) return std::nullopt;
  for (SizeType i = 0; i < tools->Size(); ++i) {
    const Value& tool = (*tools)[i];
    std::string at = Index("tools", i);
    if (!tool.IsObject()) return WrongType(at, "an object", tool);
    if (Check c = Typed(tool, "type", at, Type::kString, kRequired)) return c;
    std::string_view type = View(*Find(tool, "type"));
    if (type != "function") return InvalidValue(Member(at, "type"), type, kFunction);
    if (Check c = Typed(tool, "function", at, Type::kObject, kRequired)) return c;
    const Value& function = *Find(tool, "function");
    std::string function_at = Member(at, "function");
    if (Check c = Typed(function, "name", function_at, Type::kString, kRequired)) return c;
    if (Check c = Typed(function, "parameters", function_at, Type::kObject, kOptional)) return c;
  }
  return std::nullopt;
}

Check ToolChoice(const Value& root) {
  const Value* choice = Find(root, "tool_choice");
  if (choice == nullptr) return std::nullopt;
  if (choice->IsString()) {
    std::string_view mode = View(*choice);
    if (Contains(kToolChoiceModes, mode)) return std::nullopt;
    return InvalidValue("tool_choice", mode, kToolChoiceModes);
  }
  if (!choice->IsObject()) return WrongType("tool_choice", "one of a string or object", *choice);
  if (Check c = Typed(*choice, "type", "tool_choice", Type::kString, kRequired)) return c;
  std::string_view type = View(*Find(*choice, "type"));
  if (type != "function") return InvalidValue("tool_choice.type", type, kFunction);
  if (Check c = Typed(*choice, "function", "tool_choice", Type::kObject, kRequired)) return c;
  return Typed(*Find(*choice, "function"), "name", "tool_choice.function", Type::kString,
               kRequired);
}

Check Streaming(const Value& root) {
  if (Check c = Typed(root, "stream", "", Type::kBool, kOptional)) return c;
  const Value* options = Find(root, "stream_options");
  if (options == nullptr || options->IsNull()) return std::nullopt;
  if (!options->IsObject()) return WrongType("stream_options", "an object", *options);
  const Value* stream = Find(root, "stream");
  if (stream == nullptr || !stream->GetBool()) {
    return Fail("stream_options",
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
  }
  return Typed(*options, "include_usage", "stream_options", Type::kBool, kOptional);
}

}  // namespace

std::optional<Refusal> OpenAiRefusal(const Value& root) {
  if (!root.IsObject()) {
    return Fail("", absl::StrCat("Invalid type for request body: expected an object, but got ",
                                 ToAbsl(TypeName(root)), " instead."));
  }
  const Value* model = Find(root, "model");
  if (model == nullptr) return Fail("model", "you must provide a model parameter");
  if (!model->IsString()) return WrongType("model", "a string", *model);
  if (Check c = Typed(root, "messages", "", Type::kArray, kRequired)) return c;
  if (Check c = Messages(*Find(root, "messages"))) return c;
  if (Check c = Bounded(root, "temperature", Type::kNumber, 0, 2)) return c;
  if (Check c = Bounded(root, "top_p", Type::kNumber, 0, 1)) return c;
  constexpr double kNoMax = 1e18;
  if (Check c = Bounded(root, "max_tokens", Type::kInteger, 1, kNoMax)) return c;
  if (Check c = Bounded(root, "max_completion_tokens", Type::kInteger, 1, kNoMax)) return c;
  if (Check c = Streaming(root)) return c;
  if (Check c = Tools(root)) return c;
  return ToolChoice(root);
}

}  // namespace rebound::fake
