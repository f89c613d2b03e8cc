// A small, allocation-light JSON scanner: validation and navigation over raw
// JSON text without building a DOM. Values are returned as views into the
// input, so callers can splice bytes without re-serialising anything.
//
// Strictness (RFC 8259, plus what every strict parser the providers run
// enforces): whitespace is only space, tab, LF and CR; strings must be valid
// UTF-8 with no raw control characters; escapes are the eight short forms and
// \uXXXX, where a \u escape of a surrogate must be a high surrogate followed
// directly by a low one (lone surrogates are rejected, as serde_json does);
// numbers follow the RFC grammar (no leading zeros, no "+", no ".5", no
// NaN/Infinity); nesting deeper than kMaxDepth is rejected. Every function is
// linear in the input and recurses at most kMaxDepth levels, whatever the
// input.
//
// Errors are INVALID_ARGUMENT with a message "<what> at byte <offset>", the
// offset counted from the start of the text handed in.
#ifndef REBOUND_CODEC_JSON_SCAN_H_
#define REBOUND_CODEC_JSON_SCAN_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rebound::json {

// Nesting deeper than this is rejected (protects the stack and the CPU).
// The outermost array or object is level 1.
inline constexpr int kMaxDepth = 128;

// OK when `text` is exactly one JSON value (RFC 8259) with optional
// surrounding whitespace. The error says what and at which byte offset.
absl::Status Validate(std::string_view text);

// One member of an object, as raw text.
struct Member {
  std::string_view raw_key;  // including the quotes, escapes not decoded
  std::string key;           // decoded
  std::string_view value;    // the raw value text (string with quotes, object, ...)
  size_t value_offset = 0;   // offset of `value` within the scanned object text
};

// Calls `fn` for each member of the object `object_text` (leading/trailing
// whitespace allowed) in order; stops early when `fn` returns false.
// Errors when `object_text` is not a valid JSON object. Each member is fully
// validated before `fn` sees it, but members seen before a later error have
// already been passed to `fn`; after an early stop the rest of the text is
// not examined.
absl::Status ForEachMember(std::string_view object_text,
                           const std::function<bool(const Member&)>& fn);

// Calls `fn` for each element (raw text) of the array `array_text`.
// Same validation rules as ForEachMember.
absl::Status ForEachElement(std::string_view array_text,
                            const std::function<bool(std::string_view)>& fn);

// The raw value of the first member named `key` (compared after decoding
// escapes) of the object, or nullopt when the text is not an object or has no
// such member. The text after the member found is not examined; call
// Validate first when the whole text must be valid.
std::optional<std::string_view> FindMember(std::string_view object_text, std::string_view key);

// Decodes a raw JSON string value (with quotes, nothing around them) into
// UTF-8. Errors when it is not exactly one valid JSON string.
absl::StatusOr<std::string> DecodeString(std::string_view raw_string);

// Encodes `value` as a JSON string literal, quotes included: `"` and `\` and
// control characters are escaped, other valid UTF-8 is kept as is. Bytes that
// are not valid UTF-8 become U+FFFD (one per byte), so the result is always
// valid JSON.
std::string EncodeString(std::string_view value);

// Appends EncodeString(value) to `*out` without a temporary.
void AppendEncodedString(std::string_view value, std::string* out);

// EncodeString(value).size(), computed without building the string.
size_t EncodedStringLength(std::string_view value);

// True when the raw JSON string `raw_string` (quotes included) decodes to
// exactly `text`. Compares while decoding: no allocation. False when
// `raw_string` is not a valid JSON string.
bool StringEquals(std::string_view raw_string, std::string_view text);

// Pull-style iteration over the members of one object: no callbacks, no
// allocation. The hot paths (model splice, stream tracking) use this.
//
//   MemberReader reader(text);
//   while (reader.Next()) Use(reader.raw_key(), reader.value());
//   if (!reader.status().ok()) ...
//
// Next() validates each member (its key and its whole value) before
// returning it. It returns false at the end of the object or on the first
// error; status() is then OK only when the text was one valid object with
// nothing but whitespace around it. A reader abandoned early has examined
// only the members it returned.
class MemberReader {
 public:
  explicit MemberReader(std::string_view object_text) : text_(object_text) {}

  bool Next();

  std::string_view raw_key() const { return raw_key_; }
  std::string_view value() const { return value_; }
  size_t value_offset() const { return static_cast<size_t>(value_.data() - text_.data()); }
  // Offset of the opening '{' (valid once Next() has been called).
  size_t open_brace_offset() const { return open_; }
  const absl::Status& status() const { return status_; }

 private:
  enum class State { kStart, kInside, kDone };
  std::string_view text_;
  size_t pos_ = 0;
  size_t open_ = 0;
  State state_ = State::kStart;
  std::string_view raw_key_;
  std::string_view value_;
  absl::Status status_;
};

// Pull-style iteration over the elements of one array; same contract as
// MemberReader.
class ElementReader {
 public:
  explicit ElementReader(std::string_view array_text) : text_(array_text) {}

  bool Next();

  std::string_view value() const { return value_; }
  const absl::Status& status() const { return status_; }

 private:
  enum class State { kStart, kInside, kDone };
  std::string_view text_;
  size_t pos_ = 0;
  State state_ = State::kStart;
  std::string_view value_;
  absl::Status status_;
};

}  // namespace rebound::json

#endif  // REBOUND_CODEC_JSON_SCAN_H_
