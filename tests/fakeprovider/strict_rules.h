// Inside strict_api: each vendor's rules over a parsed request, and the
// few RapidJSON lookups they share. The rules only walk the fixed shape of a
// request (messages, blocks, tools), never recursing into arbitrary JSON, so
// a deeply nested body costs no stack.
#ifndef REBOUND_TESTS_FAKEPROVIDER_STRICT_RULES_H_
#define REBOUND_TESTS_FAKEPROVIDER_STRICT_RULES_H_

#include <optional>
#include <string>
#include <string_view>

#include "rapidjson/document.h"

namespace rebound::fake {

// The first rule a request breaks: the field in the vendor's own path
// notation (empty for the body as a whole) and the vendor's wording.
struct Refusal {
  std::string field;
  std::string message;
};

std::optional<Refusal> AnthropicRefusal(const rapidjson::Value& root);
std::optional<Refusal> OpenAiRefusal(const rapidjson::Value& root);

// The member `key` of `object` (an object), or null when absent.
inline const rapidjson::Value* Find(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

inline std::string_view View(const rapidjson::Value& string) {
  return {string.GetString(), string.GetStringLength()};
}

// The JSON types the rules require of a field (each vendor words the
// refusal its own way).
enum class Type { kString, kInteger, kNumber, kBool, kObject, kArray };

inline bool Is(const rapidjson::Value& v, Type type) {
  switch (type) {
    case Type::kString: return v.IsString();
    case Type::kInteger: return v.IsInt64() || v.IsUint64();
    case Type::kNumber: return v.IsNumber();
    case Type::kBool: return v.IsBool();
    case Type::kObject: return v.IsObject();
    case Type::kArray: return v.IsArray();
  }
  return false;
}

// "an integer", "a string", ...: how both vendors name the JSON type found.
inline std::string_view TypeName(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsInt64() || v.IsUint64()) return "an integer";
  if (v.IsNumber()) return "a decimal";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an array";
  return "an object";
}

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_STRICT_RULES_H_
