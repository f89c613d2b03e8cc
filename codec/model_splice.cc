#include "codec/model_splice.h"

#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "codec/json_scan.h"

namespace rebound {
namespace {

absl::Status NotAnObject(const absl::Status& scan_error) {
  return absl::InvalidArgumentError(
      absl::StrCat("request body is not a JSON object: ", scan_error.message()));
}

}  // namespace

absl::StatusOr<std::string> SpliceTopLevelModel(std::string_view body, std::string_view model) {
  json::MemberReader reader(body);
  // Offsets of the values to replace. Almost always zero or one.
  absl::InlinedVector<std::string_view, 2> spans;
  bool has_members = false;
  while (reader.Next()) {
    has_members = true;
    if (json::StringEquals(reader.raw_key(), "model")) spans.push_back(reader.value());
  }
  if (!reader.status().ok()) return NotAnObject(reader.status());

  const size_t encoded_len = json::EncodedStringLength(model);
  std::string out;
  if (spans.empty()) {
    static constexpr std::string_view kKey = "\"model\":";
    const size_t split = reader.open_brace_offset() + 1;
    out.reserve(body.size() + kKey.size() + encoded_len + (has_members ? 1 : 0));
    out.append(body.substr(0, split));
    out.append(kKey);
    json::AppendEncodedString(model, &out);
    if (has_members) out.push_back(',');
    out.append(body.substr(split));
    return out;
  }

  size_t removed = 0;
  for (std::string_view span : spans) removed += span.size();
  out.reserve(body.size() - removed + spans.size() * encoded_len);
  const char* copied_to = body.data();
  for (std::string_view span : spans) {
    out.append(copied_to, span.data());
    json::AppendEncodedString(model, &out);
    copied_to = span.data() + span.size();
  }
  out.append(copied_to, body.data() + body.size());
  return out;
}

absl::StatusOr<bool> BodyRequestsStream(std::string_view body) {
  json::MemberReader reader(body);
  bool stream = false;
  while (reader.Next()) {
    if (json::StringEquals(reader.raw_key(), "stream")) stream = reader.value() == "true";
  }
  if (!reader.status().ok()) return NotAnObject(reader.status());
  return stream;
}

}  // namespace rebound
