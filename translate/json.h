// The small RapidJSON vocabulary the translators share: lookups that
// tolerate a missing or mistyped member, copies, and writing a document out.
#ifndef REBOUND_TRANSLATE_JSON_H_
#define REBOUND_TRANSLATE_JSON_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codec/json_scan.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace rebound::translate {

using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

namespace internal {
struct SmallPool {
  Allocator pool{8 << 10};
};
}  // namespace internal

// A rapidjson::Document whose pool grows in 8 KiB chunks. RapidJSON's
// default is 64 KiB: the two or three documents of one translation took
// glibc's heap past its trim threshold, so every call grew and shrank the
// heap with brk, and 70% of translating a 2 KiB answer was spent in the
// kernel (perf, rebound-core-bench BM_TranslateAnswerToOpenAi). Smaller
// chunks are reused from malloc's free lists. Not movable: the document
// points at its own pool.
class Document : private internal::SmallPool, public rapidjson::Document {
 public:
  explicit Document(rapidjson::Type type = rapidjson::kNullType)
      : rapidjson::Document(type, &pool) {}
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;
};

// Parses `text` into `doc` only after json_scan validated it (at most 128
// levels deep): RapidJSON's parser, copy and writer recurse, and a caller's
// or provider's deeply nested text must not exhaust the stack. False when
// the text is not valid JSON.
inline bool ParseBounded(std::string_view text, rapidjson::Document* doc) {
  if (!json::Validate(text).ok()) return false;
  doc->Parse(text.data(), text.size());
  return !doc->HasParseError();
}

// The member `key` of `object`, or null when `object` is not an object or
// lacks it.
inline const Value* Find(const Value& object, const char* key) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

// The string member `key`, or `fallback` when absent or not a string.
inline std::string_view StringOr(const Value& object, const char* key,
                                 std::string_view fallback = "") {
  const Value* v = Find(object, key);
  if (v == nullptr || !v->IsString()) return fallback;
  return std::string_view(v->GetString(), v->GetStringLength());
}

// The token count `key` of `object` (which may be null): 0 when absent,
// negative or not an integer, at most 2^40 so that sums cannot overflow.
inline int64_t IntOr(const Value* object, const char* key) {
  if (object == nullptr) return 0;
  const Value* v = Find(*object, key);
  if (v == nullptr || !v->IsInt64() || v->GetInt64() < 0) return 0;
  return std::min<int64_t>(v->GetInt64(), int64_t{1} << 40);
}

inline std::string_view View(const Value& string) {
  return std::string_view(string.GetString(), string.GetStringLength());
}

inline Value Str(std::string_view s, Allocator& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// Adds `key` (copied) with `value` (moved: RapidJSON leaves it null) to
// `object`.
inline void Add(Value& object, std::string_view key, Value& value, Allocator& a) {
  Value name = Str(key, a);
  object.AddMember(name, value, a);
}
inline void Add(Value& object, std::string_view key, Value&& value, Allocator& a) {
  Add(object, key, value, a);
}

inline std::string Write(const Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

inline absl::Status NotTranslatable(const std::string& field) {
  return absl::InvalidArgumentError(absl::StrCat("not_translatable: ", field));
}
inline absl::Status Invalid(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid request: ", what));
}

}  // namespace rebound::translate

#endif  // REBOUND_TRANSLATE_JSON_H_
