// Fuzz target: the top-level "model" splice (SpliceTopLevelModel) and
// BodyRequestsStream.
//
// Input: the model name up to the first newline, then the request body.
//
// Invariants:
//   - the splice succeeds exactly when the body is one valid JSON object;
//   - its output is a valid JSON object whose top-level "model" members all
//     hold the encoded new model (one is inserted first when none existed);
//   - every other byte is preserved: the members pairwise (raw key and raw
//     value), and the text around and between the model values;
//   - splicing the output again with the same model changes nothing;
//   - whether the body asks for a stream is unchanged.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "codec/json_scan.h"
#include "codec/model_splice.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace json = rebound::json;

struct RawMember {
  std::string_view key;
  std::string_view value;
};

struct Members {
  std::vector<RawMember> members;
  size_t open_brace = 0;
};

Members Read(std::string_view object) {
  Members out;
  json::MemberReader reader(object);
  while (reader.Next()) out.members.push_back({reader.raw_key(), reader.value()});
  FUZZ_CHECK(reader.status().ok());
  out.open_brace = reader.open_brace_offset();
  return out;
}

bool IsModelKey(std::string_view raw_key) { return json::StringEquals(raw_key, "model"); }

// `text` without the values of its top-level "model" members: the bytes a
// splice must leave alone.
std::string WithoutModelValues(std::string_view text, const Members& m) {
  std::string out;
  const char* from = text.data();
  for (const RawMember& member : m.members) {
    if (!IsModelKey(member.key)) continue;
    out.append(from, member.value.data());
    from = member.value.data() + member.value.size();
  }
  out.append(from, text.data() + text.size());
  return out;
}

bool IsJsonObject(std::string_view body) {
  if (!json::Validate(body).ok()) return false;
  const size_t first = body.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && body[first] == '{';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rebound::fuzz::FuzzInput in(data, size);
  const std::string_view model = in.Until('\n');
  const std::string_view body = in.Rest();

  const absl::StatusOr<std::string> spliced = rebound::SpliceTopLevelModel(body, model);
  const absl::StatusOr<bool> stream = rebound::BodyRequestsStream(body);
  const bool is_object = IsJsonObject(body);
  FUZZ_CHECK(spliced.ok() == is_object);
  FUZZ_CHECK(stream.ok() == is_object);
  if (!spliced.ok()) {
    FUZZ_CHECK(spliced.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  const std::string& out = *spliced;
  const std::string encoded = json::EncodeString(model);
  FUZZ_CHECK(IsJsonObject(out));

  const Members before = Read(body);
  const Members after = Read(out);
  size_t model_members = 0;
  for (const RawMember& m : before.members) model_members += IsModelKey(m.key) ? 1 : 0;
  if (model_members == 0) {
    // Inserted as the first member, right after the '{'.
    FUZZ_CHECK(after.members.size() == before.members.size() + 1);
    FUZZ_CHECK(after.members[0].key == "\"model\"");
    FUZZ_CHECK(after.members[0].value == encoded);
    for (size_t i = 0; i < before.members.size(); ++i) {
      FUZZ_CHECK(after.members[i + 1].key == before.members[i].key);
      FUZZ_CHECK(after.members[i + 1].value == before.members[i].value);
    }
    const std::string inserted = "\"model\":" + encoded + (before.members.empty() ? "" : ",");
    const size_t split = before.open_brace + 1;
    FUZZ_CHECK(out.size() == body.size() + inserted.size());
    FUZZ_CHECK(std::string_view(out).substr(0, split) == body.substr(0, split));
    FUZZ_CHECK(std::string_view(out).substr(split, inserted.size()) == inserted);
    FUZZ_CHECK(std::string_view(out).substr(split + inserted.size()) == body.substr(split));
  } else {
    FUZZ_CHECK(after.members.size() == before.members.size());
    for (size_t i = 0; i < before.members.size(); ++i) {
      FUZZ_CHECK(after.members[i].key == before.members[i].key);
      if (IsModelKey(before.members[i].key)) {
        FUZZ_CHECK(after.members[i].value == encoded);
      } else {
        FUZZ_CHECK(after.members[i].value == before.members[i].value);
      }
    }
    FUZZ_CHECK(WithoutModelValues(out, after) == WithoutModelValues(body, before));
  }
  // The value found by a reader that takes the first "model" is the new one.
  const std::optional<std::string_view> found = json::FindMember(out, "model");
  FUZZ_CHECK(found.has_value() && *found == encoded);

  const absl::StatusOr<std::string> again = rebound::SpliceTopLevelModel(out, model);
  FUZZ_CHECK(again.ok() && *again == out);
  const absl::StatusOr<bool> out_stream = rebound::BodyRequestsStream(out);
  FUZZ_CHECK(out_stream.ok() && *out_stream == *stream);
  return 0;
}
