// Anthropic Messages' request rules, in Anthropic's words: fields named in
// its dotted notation ("messages.1.content.0.type"), messages in the
// wording of its validator ("Field required", "Input should be ...") or of
// its own checks (roles, tool_use / tool_result pairing).
#include <cstddef>
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

constexpr bool kRequired = true;
constexpr bool kOptional = false;

// Content blocks a message may carry (client blocks and the server-tool
// blocks a conversation replays); a tool_result's content takes fewer.
constexpr std::string_view kBlockTypes[] = {"text",
                                            "image",
                                            "document",
                                            "search_result",
                                            "thinking",
                                            "redacted_thinking",
                                            "tool_use",
                                            "tool_result",
                                            "server_tool_use",
                                            "web_search_tool_result",
                                            "web_fetch_tool_result",
                                            "code_execution_tool_result",
                                            "mcp_tool_use",
                                            "mcp_tool_result",
                                            "container_upload"};
constexpr std::string_view kToolResultBlockTypes[] = {"text", "image", "document", "search_result"};
constexpr std::string_view kTextOnly[] = {"text"};
constexpr std::string_view kMediaTypes[] = {"image/jpeg", "image/png", "image/gif", "image/webp"};
constexpr std::string_view kImageSourceTypes[] = {"base64", "url", "file"};
constexpr std::string_view kToolChoiceTypes[] = {"auto", "any", "tool", "none"};

Check Fail(std::string field, std::string_view message) {
  return Refusal{std::move(field), std::string(message)};
}

std::string Path(std::string_view parent, std::string_view member) {
  std::string out(parent);
  if (!out.empty()) out.push_back('.');
  out.append(member);
  return out;
}

std::string Index(std::string_view parent, SizeType i) { return Path(parent, std::to_string(i)); }

bool Contains(Tags tags, std::string_view tag) {
  for (std::string_view t : tags) {
    if (t == tag) return true;
  }
  return false;
}

bool Contains(const std::vector<std::string_view>& ids, std::string_view id) {
  for (std::string_view i : ids) {
    if (i == id) return true;
  }
  return false;
}

Check TagError(std::string field, std::string_view found, Tags expected) {
  std::vector<std::string> quoted;
  for (std::string_view t : expected) quoted.push_back(absl::StrCat("'", ToAbsl(t), "'"));
  return Fail(std::move(field),
              absl::StrCat("Input tag '", ToAbsl(found),
                           "' found using 'type' does not match any of the expected tags: ",
                           absl::StrJoin(quoted, ", ")));
}

std::string_view Expected(Type type) {
  switch (type) {
    case Type::kString: return "Input should be a valid string";
    case Type::kInteger: return "Input should be a valid integer";
    case Type::kNumber: return "Input should be a valid number";
    case Type::kBool: return "Input should be a valid boolean";
    case Type::kObject: return "Input should be a valid dictionary";
    case Type::kArray: return "Input should be a valid list";
  }
  return "";
}

// `object.key` must have `type`; a missing member is refused only when
// required. On success the member is read with Find.
Check Typed(const Value& object, const char* key, std::string_view parent, Type type,
            bool required) {
  const Value* v = Find(object, key);
  if (v == nullptr) return required ? Fail(Path(parent, key), "Field required") : std::nullopt;
  if (!Is(*v, type)) return Fail(Path(parent, key), Expected(type));
  return std::nullopt;
}

// An optional number within [min, max].
Check Bounded(const Value& object, const char* key, double min, double max) {
  if (Check c = Typed(object, key, "", Type::kNumber, kOptional)) return c;
  const Value* v = Find(object, key);
  if (v == nullptr) return std::nullopt;
  if (v->GetDouble() < min) {
    return Fail(key, absl::StrCat("Input should be greater than or equal to ", min));
  }
  if (v->GetDouble() > max) {
    return Fail(key, absl::StrCat("Input should be less than or equal to ", max));
  }
  return std::nullopt;
}

Check ImageSource(const Value& block, std::string_view path) {
  if (Check c = Typed(block, "source", path, Type::kObject, kRequired)) return c;
  const Value& source = *Find(block, "source");
  std::string at = Path(path, "source");
  if (Check c = Typed(source, "type", at, Type::kString, kRequired)) return c;
  std::string_view type = View(*Find(source, "type"));
  if (type == "base64") {
    if (Check c = Typed(source, "media_type", at, Type::kString, kRequired)) return c;
    std::string_view media = View(*Find(source, "media_type"));
    if (!Contains(kMediaTypes, media)) {
      return Fail(Path(at, "media_type"),
                  "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'");
    }
    return Typed(source, "data", at, Type::kString, kRequired);
  }
  if (type == "url") return Typed(source, "url", at, Type::kString, kRequired);
  if (type == "file") return Typed(source, "file_id", at, Type::kString, kRequired);
  return TagError(Path(at, "type"), type, kImageSourceTypes);
}

Check Block(const Value& block, std::string_view path, Tags allowed) {
  if (!block.IsObject()) return Fail(std::string(path), Expected(Type::kObject));
  if (Check c = Typed(block, "type", path, Type::kString, kRequired)) return c;
  std::string_view type = View(*Find(block, "type"));
  if (!Contains(allowed, type)) return TagError(Path(path, "type"), type, allowed);
  if (type == "text") {
    if (Check c = Typed(block, "text", path, Type::kString, kRequired)) return c;
    if (Find(block, "text")->GetStringLength() == 0) {
      return Fail(Path(path, "text"), "text content blocks must be non-empty");
    }
  } else if (type == "image") {
    return ImageSource(block, path);
  } else if (type == "document") {
    return Typed(block, "source", path, Type::kObject, kRequired);
  } else if (type == "tool_use") {
    if (Check c = Typed(block, "id", path, Type::kString, kRequired)) return c;
    if (Check c = Typed(block, "name", path, Type::kString, kRequired)) return c;
    return Typed(block, "input", path, Type::kObject, kRequired);
  } else if (type == "tool_result") {
    if (Check c = Typed(block, "tool_use_id", path, Type::kString, kRequired)) return c;
    if (Check c = Typed(block, "is_error", path, Type::kBool, kOptional)) return c;
    const Value* content = Find(block, "content");
    if (content == nullptr || content->IsString()) return std::nullopt;
    if (!content->IsArray()) return Fail(Path(path, "content"), Expected(Type::kArray));
    for (SizeType i = 0; i < content->Size(); ++i) {
      if (Check c = Block((*content)[i], Index(Path(path, "content"), i), kToolResultBlockTypes)) {
        return c;
      }
    }
  } else if (type == "thinking") {
    if (Check c = Typed(block, "thinking", path, Type::kString, kRequired)) return c;
    return Typed(block, "signature", path, Type::kString, kRequired);
  } else if (type == "redacted_thinking") {
    return Typed(block, "data", path, Type::kString, kRequired);
  }
  return std::nullopt;
}

// One turn's tool ids: the tool_use ids it asks and the tool_result ids it answers.
struct ToolIds {
  std::vector<std::string_view> uses;
  std::vector<std::string_view> results;
};

// Checks message `i`'s content blocks, collecting its tool ids; each
// tool_result must answer a tool_use of the message just before
// (`asked`), as the API requires.
Check Content(const Value& content, std::string_view path,
              const std::vector<std::string_view>& asked, ToolIds& ids) {
  for (SizeType j = 0; j < content.Size(); ++j) {
    std::string at = Index(Path(path, "content"), j);
    if (Check c = Block(content[j], at, kBlockTypes)) return c;
    std::string_view type = View(*Find(content[j], "type"));
    if (type == "tool_use") ids.uses.push_back(View(*Find(content[j], "id")));
    if (type != "tool_result") continue;
    std::string_view id = View(*Find(content[j], "tool_use_id"));
    if (!Contains(asked, id)) {
      return Fail(
          at, absl::StrCat("unexpected `tool_use_id` found in `tool_result` blocks: ", ToAbsl(id),
                           ". Each `tool_result` block must have a corresponding "
                           "`tool_use` block in the previous message."));
    }
    ids.results.push_back(id);
  }
  return std::nullopt;
}

Check Messages(const Value& messages) {
  if (messages.Empty()) {
    return Fail("messages", "List should have at least 1 item after validation, not 0");
  }
  std::string_view previous_role;
  std::vector<std::string_view> asked;  // tool_use ids of the previous assistant turn
  for (SizeType i = 0; i < messages.Size(); ++i) {
    const Value& m = messages[i];
    std::string path = Index("messages", i);
    if (!m.IsObject()) return Fail(path, Expected(Type::kObject));
    if (Check c = Typed(m, "role", path, Type::kString, kRequired)) return c;
    std::string_view role = View(*Find(m, "role"));
    std::string role_path = Path(path, "role");
    if (role == "system") {
      return Fail(role_path,
                  "Unexpected role \"system\". The Messages API accepts a top-level `system` "
                  "parameter, not \"system\" as an input message role.");
    }
    if (role != "user" && role != "assistant") {
      return Fail(role_path, "Input should be 'user' or 'assistant'");
    }
    if (i == 0 && role != "user") {
      return Fail(role_path, "first message must use the \"user\" role");
    }
    // Today's API merges consecutive same-role turns; the older one refused
    // them, and so does the fake: TRANSLATION.md has the gateway merge them
    // itself, and a strict fake is what proves it does.
    if (role == previous_role) {
      return Fail(role_path,
                  absl::StrCat("roles must alternate between \"user\" and \"assistant\", but "
                               "found multiple \"",
                               ToAbsl(role), "\" roles in a row"));
    }
    const Value* found = Find(m, "content");
    if (found == nullptr) return Fail(Path(path, "content"), "Field required");
    const Value& content = *found;
    if (!content.IsString() && !content.IsArray()) {
      return Fail(Path(path, "content"), "Input should be a valid string or a list of blocks");
    }
    bool empty = content.IsString() ? content.GetStringLength() == 0 : content.Empty();
    bool may_be_empty = role == "assistant" && i + 1 == messages.Size();
    if (empty && !may_be_empty) {
      return Fail(path,
                  "all messages must have non-empty content except for the optional final "
                  "assistant message");
    }
    ToolIds ids;
    if (content.IsArray()) {
      if (Check c = Content(content, path, asked, ids)) return c;
    }
    std::vector<std::string_view> unanswered;
    for (std::string_view id : asked) {
      if (!Contains(ids.results, id)) unanswered.push_back(id);
    }
    if (!unanswered.empty()) {
      return Fail(Index("messages", i - 1),
                  absl::StrCat(
                      "`tool_use` ids were found without `tool_result` blocks "
                      "immediately after: ",
                      absl::StrJoin(unanswered, ", ",
                                    [](std::string* out, std::string_view id) { out->append(id); }),
                      ". Each `tool_use` block must have a corresponding "
                      "`tool_result` block in the next message."));
    }
    asked = role == "assistant" ? std::move(ids.uses) : std::vector<std::string_view>{};
    previous_role = role;
  }
  return std::nullopt;
}

Check System(const Value& root) {
  const Value* system = Find(root, "system");
  if (system == nullptr || system->IsString()) return std::nullopt;
  if (!system->IsArray())
    return Fail("system", "Input should be a valid string or a list of blocks");
  for (SizeType i = 0; i < system->Size(); ++i) {
    if (Check c = Block((*system)[i], Index("system", i), kTextOnly)) return c;
  }
  return std::nullopt;
}

bool IsToolName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Check Tools(const Value& root) {
  if (Check c = Typed(root, "tools", "", Type::kArray, kOptional)) return c;
  const Value* tools = Find(root, "tools");
  if (tools == nullptr) return std::nullopt;
  for (SizeType i = 0; i < tools->Size(); ++i) {
    const Value& tool = (*tools)[i];
    std::string path = Index("tools", i);
    if (!tool.IsObject()) return Fail(path, Expected(Type::kObject));
    if (Check c = Typed(tool, "name", path, Type::kString, kRequired)) return c;
    // A typed tool other than "custom" is a server tool (web_search_..., bash_...): no schema.
    const Value* type = Find(tool, "type");
    if (type != nullptr && type->IsString() && View(*type) != "custom") continue;
    if (!IsToolName(View(*Find(tool, "name")))) {
      return Fail(Path(path, "name"), "String should match pattern '^[a-zA-Z0-9_-]{1,64}$'");
    }
    if (Check c = Typed(tool, "input_schema", path, Type::kObject, kRequired)) return c;
    if (Check c = Typed(tool, "description", path, Type::kString, kOptional)) return c;
  }
  return std::nullopt;
}

Check ToolChoice(const Value& root) {
  if (Check c = Typed(root, "tool_choice", "", Type::kObject, kOptional)) return c;
  const Value* choice = Find(root, "tool_choice");
  if (choice == nullptr) return std::nullopt;
  if (Check c = Typed(*choice, "type", "tool_choice", Type::kString, kRequired)) return c;
  std::string_view type = View(*Find(*choice, "type"));
  if (!Contains(kToolChoiceTypes, type)) {
    return TagError("tool_choice.type", type, kToolChoiceTypes);
  }
  if (type == "tool") {
    if (Check c = Typed(*choice, "name", "tool_choice", Type::kString, kRequired)) return c;
  }
  return Typed(*choice, "disable_parallel_tool_use", "tool_choice", Type::kBool, kOptional);
}

Check StopSequences(const Value& root) {
  if (Check c = Typed(root, "stop_sequences", "", Type::kArray, kOptional)) return c;
  const Value* stops = Find(root, "stop_sequences");
  if (stops == nullptr) return std::nullopt;
  for (SizeType i = 0; i < stops->Size(); ++i) {
    if (!(*stops)[i].IsString()) return Fail(Index("stop_sequences", i), Expected(Type::kString));
  }
  return std::nullopt;
}

}  // namespace

std::optional<Refusal> AnthropicRefusal(const Value& root) {
  if (!root.IsObject()) return Fail("", Expected(Type::kObject));
  if (Check c = Typed(root, "model", "", Type::kString, kRequired)) return c;
  if (Check c = Typed(root, "max_tokens", "", Type::kInteger, kRequired)) return c;
  const Value& max_tokens = *Find(root, "max_tokens");
  if (max_tokens.IsInt64() && max_tokens.GetInt64() < 1) {
    return Fail("max_tokens", "Input should be greater than or equal to 1");
  }
  if (Check c = Typed(root, "messages", "", Type::kArray, kRequired)) return c;
  if (Check c = Messages(*Find(root, "messages"))) return c;
  if (Check c = System(root)) return c;
  if (Check c = Bounded(root, "temperature", 0, 1)) return c;
  if (Check c = Bounded(root, "top_p", 0, 1)) return c;
  if (Check c = Typed(root, "top_k", "", Type::kInteger, kOptional)) return c;
  if (Check c = StopSequences(root)) return c;
  if (Check c = Typed(root, "stream", "", Type::kBool, kOptional)) return c;
  if (Check c = Typed(root, "metadata", "", Type::kObject, kOptional)) return c;
  if (Check c = Tools(root)) return c;
  return ToolChoice(root);
}

}  // namespace rebound::fake
