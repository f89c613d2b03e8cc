// Fuzz target: the JSON scanner (codec/json_scan.h) on arbitrary bytes.
//
// Invariants:
//   - Validate, the pull readers (MemberReader, ElementReader) and the
//     callback walkers (ForEachMember, ForEachElement) agree on validity and
//     on every member and element they report;
//   - every member value and element reported is valid JSON on its own, and
//     every key decodes, to the decoded key the walker reports, and compares
//     equal to it with StringEquals; FindMember finds the first of a name;
//   - error messages name a byte offset inside the input;
//   - EncodeString always yields a valid JSON string of EncodedStringLength
//     bytes that decodes to the input when the input is ASCII, and encoding
//     what it decodes to gives the same text again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codec/json_scan.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace json = rebound::json;

// Nested values are checked this deep; the scanner's own limit is far
// deeper, and each level re-scans its value, so the check is kept linear-ish.
constexpr int kCheckDepth = 3;

std::string_view Trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const size_t last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// "... at byte N" with N within the text.
void CheckErrorOffset(const absl::Status& status, size_t size) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  const std::string message(status.message());
  const size_t at = message.rfind(" at byte ");
  FUZZ_CHECK(at != std::string::npos);
  const std::string digits = message.substr(at + 9);
  FUZZ_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos);
  FUZZ_CHECK(std::strtoull(digits.c_str(), nullptr, 10) <= size);
}

void CheckValue(std::string_view text, int depth);

void CheckObject(std::string_view text, int depth) {
  struct Seen {
    std::string_view raw_key;
    std::string key;
    std::string_view value;
  };
  std::vector<Seen> walked;
  const absl::Status walk = json::ForEachMember(text, [&](const json::Member& m) {
    walked.push_back({m.raw_key, m.key, m.value});
    FUZZ_CHECK(text.substr(m.value_offset, m.value.size()) == m.value);
    return true;
  });
  FUZZ_CHECK(walk.ok());
  json::MemberReader reader(text);
  size_t i = 0;
  while (reader.Next()) {
    FUZZ_CHECK(i < walked.size());
    FUZZ_CHECK(reader.raw_key() == walked[i].raw_key);
    FUZZ_CHECK(reader.value() == walked[i].value);
    ++i;
  }
  FUZZ_CHECK(reader.status().ok());
  FUZZ_CHECK(i == walked.size());
  for (size_t k = 0; k < walked.size(); ++k) {
    const Seen& m = walked[k];
    const absl::StatusOr<std::string> key = json::DecodeString(m.raw_key);
    FUZZ_CHECK(key.ok() && *key == m.key);
    FUZZ_CHECK(json::StringEquals(m.raw_key, m.key));
    // FindMember returns the first member of that name.
    size_t first = 0;
    while (walked[first].key != m.key) ++first;
    const std::optional<std::string_view> found = json::FindMember(text, m.key);
    FUZZ_CHECK(found.has_value() && *found == walked[first].value);
    CheckValue(m.value, depth + 1);
  }
}

void CheckArray(std::string_view text, int depth) {
  std::vector<std::string_view> walked;
  const absl::Status walk = json::ForEachElement(text, [&](std::string_view v) {
    walked.push_back(v);
    return true;
  });
  FUZZ_CHECK(walk.ok());
  json::ElementReader reader(text);
  size_t i = 0;
  while (reader.Next()) {
    FUZZ_CHECK(i < walked.size() && reader.value() == walked[i]);
    ++i;
  }
  FUZZ_CHECK(reader.status().ok() && i == walked.size());
  for (std::string_view v : walked) CheckValue(v, depth + 1);
}

// `text` is known to be one valid JSON value.
void CheckValue(std::string_view text, int depth) {
  FUZZ_CHECK(json::Validate(text).ok());
  if (depth > kCheckDepth) return;
  const std::string_view t = Trim(text);
  FUZZ_CHECK(!t.empty());
  if (t.front() == '{') {
    CheckObject(text, depth);
  } else if (t.front() == '[') {
    CheckArray(text, depth);
  } else if (t.front() == '"') {
    const absl::StatusOr<std::string> decoded = json::DecodeString(t);
    FUZZ_CHECK(decoded.ok());
    FUZZ_CHECK(json::StringEquals(t, *decoded));
  }
}

void CheckEncode(std::string_view bytes) {
  const std::string encoded = json::EncodeString(bytes);
  FUZZ_CHECK(encoded.size() == json::EncodedStringLength(bytes));
  std::string appended = "x";
  json::AppendEncodedString(bytes, &appended);
  FUZZ_CHECK(std::string_view(appended).substr(1) == encoded);
  FUZZ_CHECK(json::Validate(encoded).ok());
  const absl::StatusOr<std::string> decoded = json::DecodeString(encoded);
  FUZZ_CHECK(decoded.ok());
  FUZZ_CHECK(json::EncodeString(*decoded) == encoded);
  bool ascii = true;
  for (char c : bytes) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) FUZZ_CHECK(*decoded == bytes);
  FUZZ_CHECK(json::StringEquals(encoded, *decoded));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::Status valid = json::Validate(text);
  const std::string_view t = Trim(text);
  const bool is_object = valid.ok() && t.front() == '{';
  const bool is_array = valid.ok() && t.front() == '[';

  json::MemberReader members(text);
  while (members.Next()) {
  }
  FUZZ_CHECK(members.status().ok() == is_object);
  if (!members.status().ok()) CheckErrorOffset(members.status(), size);
  json::ElementReader elements(text);
  while (elements.Next()) {
  }
  FUZZ_CHECK(elements.status().ok() == is_array);
  if (!elements.status().ok()) CheckErrorOffset(elements.status(), size);
  FUZZ_CHECK(json::ForEachMember(text, [](const json::Member&) { return true; }).ok() == is_object);
  FUZZ_CHECK(json::ForEachElement(text, [](std::string_view) { return true; }).ok() == is_array);

  if (valid.ok()) {
    CheckValue(text, 0);
  } else {
    CheckErrorOffset(valid, size);
    FUZZ_CHECK(!json::DecodeString(text).ok());
  }
  CheckEncode(text);
  return 0;
}
