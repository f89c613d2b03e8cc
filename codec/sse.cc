#include "codec/sse.h"

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codec/json_scan.h"

namespace rebound {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// Finds line ends (CR or LF) in one chunk. memchr does the scanning; the
// position of the next CR and the next LF are remembered, so a chunk full of
// one kind of line ending is still searched in linear time.
class LineEndFinder {
 public:
  explicit LineEndFinder(std::string_view chunk) : s_(chunk) {}

  // Index of the first CR or LF at or after `from`, or the chunk size.
  // `from` never decreases between calls.
  size_t Next(size_t from) {
    if (next_lf_ == kUnknown || from > next_lf_) next_lf_ = Find('\n', from);
    if (next_cr_ == kUnknown || from > next_cr_) next_cr_ = Find('\r', from);
    return next_lf_ < next_cr_ ? next_lf_ : next_cr_;
  }

 private:
  static constexpr size_t kUnknown = std::string_view::npos;

  size_t Find(char c, size_t from) const {
    const void* hit = std::memchr(s_.data() + from, c, s_.size() - from);
    return hit == nullptr ? s_.size()
                          : static_cast<size_t>(static_cast<const char*>(hit) - s_.data());
  }

  std::string_view s_;
  size_t next_lf_ = kUnknown;
  size_t next_cr_ = kUnknown;
};

}  // namespace

bool SseParser::Exceeds(size_t pending_bytes) {
  if (pending_bytes <= max_event_bytes_) return false;
  error_ = absl::ResourceExhaustedError(
      absl::StrCat("SSE event larger than ", max_event_bytes_, " bytes"));
  return true;
}

absl::Status SseParser::Feed(std::string_view chunk, std::vector<SseEvent>* out) {
  if (!error_.ok()) return error_;
  if (!bom_done_) {
    // Collect up to three leading bytes; drop them if they are a BOM,
    // otherwise parse them as ordinary input.
    while (!chunk.empty() && bom_.size() < kBom.size() && chunk[0] == kBom[bom_.size()]) {
      bom_.push_back(chunk[0]);
      chunk.remove_prefix(1);
    }
    if (bom_.size() == kBom.size()) {
      bom_done_ = true;
    } else if (!chunk.empty()) {
      bom_done_ = true;  // a mismatch: what was held back is content
      std::string held = std::move(bom_);
      FeedLines(held, out);
    } else {
      return error_;  // still undecided
    }
  }
  FeedLines(chunk, out);
  return error_;
}

void SseParser::FeedLines(std::string_view chunk, std::vector<SseEvent>* out) {
  LineEndFinder line_ends(chunk);
  size_t i = 0;
  if (skip_lf_ && !chunk.empty()) {
    skip_lf_ = false;
    if (chunk[0] == '\n') i = 1;
  }
  while (i < chunk.size() && error_.ok()) {
    const size_t end = line_ends.Next(i);
    if (end == chunk.size()) {
      if (Exceeds(line_.size() + (end - i) + data_.size() + event_.size())) return;
      line_.append(chunk.substr(i));
      return;
    }
    if (line_.empty()) {
      ProcessLine(chunk.substr(i, end - i), out);
    } else {
      if (Exceeds(line_.size() + (end - i) + data_.size() + event_.size())) return;
      line_.append(chunk.substr(i, end - i));
      ProcessLine(line_, out);
      line_.clear();
    }
    i = end + 1;
    if (chunk[end] == '\r') {
      if (i == chunk.size()) {
        skip_lf_ = true;  // the LF of a CRLF may start the next chunk
      } else if (chunk[i] == '\n') {
        ++i;
      }
    }
  }
}

void SseParser::ProcessLine(std::string_view line, std::vector<SseEvent>* out) {
  if (line.empty()) {
    Dispatch(out);
    return;
  }
  if (line[0] == ':') return;  // comment
  std::string_view field = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  event_started_ = true;
  if (field == "data") {
    if (Exceeds(data_.size() + (has_data_ ? 1 : 0) + value.size() + event_.size())) return;
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    if (Exceeds(data_.size() + value.size())) return;
    event_.assign(value);
  } else if (field == "id") {
    if (Exceeds(value.size())) return;
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  }
  // "retry" and unknown fields are ignored.
}

void SseParser::Dispatch(std::vector<SseEvent>* out) {
  event_started_ = false;
  if (!has_data_) {
    event_.clear();
    return;
  }
  out->push_back(SseEvent{std::move(event_), std::move(data_), last_id_});
  event_.clear();
  data_.clear();
  has_data_ = false;
}

bool SseParser::HasPartialEvent() const {
  return event_started_ || (!line_.empty() && line_[0] != ':');
}

std::string_view ToString(StreamDialect dialect) {
  switch (dialect) {
    case StreamDialect::kChatCompletions: return "chat_completions";
    case StreamDialect::kMessages: return "messages";
    case StreamDialect::kResponses: return "responses";
    case StreamDialect::kOther: return "other";
  }
  return "other";
}

StreamDialect DialectForPath(std::string_view path) {
  path = path.substr(0, path.find('?'));
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto ends_with = [path](std::string_view suffix) {
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  };
  // "/completions" covers "/chat/completions" and the legacy text API.
  if (ends_with("/completions")) return StreamDialect::kChatCompletions;
  if (ends_with("/messages")) return StreamDialect::kMessages;
  if (ends_with("/responses")) return StreamDialect::kResponses;
  return StreamDialect::kOther;
}

EventVerdict StreamTracker::Observe(const SseEvent& event) {
  switch (dialect_) {
    case StreamDialect::kChatCompletions: return ObserveChat(event);
    case StreamDialect::kMessages: return ObserveMessages(event);
    case StreamDialect::kResponses: return ObserveResponses(event);
    case StreamDialect::kOther: break;
  }
  // Unknown APIs still must not pass malformed JSON, except the common
  // "[DONE]" sentinel.
  if (event.data != "[DONE]" && !json::Validate(event.data).ok()) return Malformed();
  return EventVerdict::kForward;
}

EventVerdict StreamTracker::Malformed() {
  ++malformed_count_;
  return EventVerdict::kDropMalformed;
}

EventVerdict StreamTracker::Failure(const SseEvent& event) {
  failed_ = true;
  failure_.assign(event.data.substr(0, kMaxFailureBytes));
  return EventVerdict::kFailure;
}

EventVerdict StreamTracker::ObserveChat(const SseEvent& event) {
  if (event.data == "[DONE]") {
    terminal_seen_ = true;
    return EventVerdict::kForward;
  }
  // Nothing is recorded until the whole event is known to be valid.
  bool finished = false;
  bool error = false;
  std::string_view usage;
  json::MemberReader reader(event.data);
  while (reader.Next()) {
    if (json::StringEquals(reader.raw_key(), "choices")) {
      json::ElementReader choices(reader.value());  // already validated
      bool any_finished = false;
      while (choices.Next()) {
        const std::optional<std::string_view> reason =
            json::FindMember(choices.value(), "finish_reason");
        if (reason.has_value() && *reason != "null") any_finished = true;
      }
      finished = any_finished;  // the last "choices" member counts
    } else if (json::StringEquals(reader.raw_key(), "usage")) {
      usage = reader.value();
    } else if (json::StringEquals(reader.raw_key(), "error")) {
      error = reader.value() != "null";
    }
  }
  if (!reader.status().ok()) {
    // Valid JSON that is not an object is forwarded; it just says nothing.
    if (!json::Validate(event.data).ok()) return Malformed();
    return EventVerdict::kForward;
  }
  if (error) return Failure(event);
  if (finished) terminal_seen_ = true;
  if (!usage.empty() && usage.front() == '{') usage_.assign(usage);
  return EventVerdict::kForward;
}

EventVerdict StreamTracker::ObserveMessages(const SseEvent& event) {
  std::string_view type;
  std::string_view message;
  std::string_view usage;
  json::MemberReader reader(event.data);
  while (reader.Next()) {
    const std::string_view key = reader.raw_key();
    if (json::StringEquals(key, "type")) {
      type = reader.value();
    } else if (json::StringEquals(key, "message")) {
      message = reader.value();
    } else if (json::StringEquals(key, "usage")) {
      usage = reader.value();
    }
  }
  if (!reader.status().ok()) {
    if (!json::Validate(event.data).ok()) return Malformed();
    if (event.event == "error") return Failure(event);
    if (event.event == "message_stop") terminal_seen_ = true;
    return EventVerdict::kForward;
  }
  if (event.event == "error" || json::StringEquals(type, "error")) return Failure(event);
  if (event.event == "message_stop" || json::StringEquals(type, "message_stop")) {
    terminal_seen_ = true;
  } else if (json::StringEquals(type, "message_start")) {
    if (!message.empty() && message.front() == '{') {
      const std::optional<std::string_view> start = json::FindMember(message, "usage");
      if (start.has_value() && start->front() == '{') start_usage_.assign(*start);
    }
  } else if (json::StringEquals(type, "message_delta")) {
    if (!usage.empty() && usage.front() == '{') usage_.assign(usage);
  }
  return EventVerdict::kForward;
}

EventVerdict StreamTracker::ObserveResponses(const SseEvent& event) {
  std::string_view type;
  std::string_view response;
  json::MemberReader reader(event.data);
  while (reader.Next()) {
    const std::string_view key = reader.raw_key();
    if (json::StringEquals(key, "type")) {
      type = reader.value();
    } else if (json::StringEquals(key, "response")) {
      response = reader.value();
    }
  }
  const bool object = reader.status().ok();
  if (!object && !json::Validate(event.data).ok()) return Malformed();
  auto is = [&](std::string_view name) {
    return event.event == name ||
           (object && json::StringEquals(type, name));
  };
  if (is("response.failed") || is("response.incomplete") || is("error")) return Failure(event);
  if (is("response.completed")) {
    terminal_seen_ = true;
    if (!response.empty() && response.front() == '{') {
      const std::optional<std::string_view> usage = json::FindMember(response, "usage");
      if (usage.has_value() && usage->front() == '{') usage_.assign(*usage);
    }
  }
  return EventVerdict::kForward;
}

namespace {

constexpr size_t kMaxMergedMembers = 64;

struct UsageMember {
  std::string_view raw_key;
  std::string key;
  std::string_view value;
};

// The members of a (valid) usage object, or false when there are too many.
bool CollectMembers(std::string_view object, absl::InlinedVector<UsageMember, 8>* members) {
  json::MemberReader reader(object);
  while (reader.Next()) {
    if (members->size() == kMaxMergedMembers) return false;
    absl::StatusOr<std::string> key = json::DecodeString(reader.raw_key());
    if (!key.ok()) return false;
    members->push_back(UsageMember{reader.raw_key(), *std::move(key), reader.value()});
  }
  return reader.status().ok();
}

}  // namespace

std::string StreamTracker::usage_json() const {
  if (start_usage_.empty()) return usage_;
  if (usage_.empty()) return start_usage_;
  absl::InlinedVector<UsageMember, 8> start;
  absl::InlinedVector<UsageMember, 8> delta;
  if (!CollectMembers(start_usage_, &start) || !CollectMembers(usage_, &delta)) return usage_;
  std::string out = "{";
  const auto emit = [&out](std::string_view raw_key, std::string_view value) {
    if (out.size() > 1) out.push_back(',');
    out.append(raw_key);
    out.push_back(':');
    out.append(value);
  };
  const auto find = [](const absl::InlinedVector<UsageMember, 8>& in,
                       const std::string& key) -> const UsageMember* {
    // The last member of that name, as a JSON parser would keep it.
    const UsageMember* found = nullptr;
    for (const UsageMember& m : in) {
      if (m.key == key) found = &m;
    }
    return found;
  };
  for (const UsageMember& m : start) {
    const UsageMember* override_member = find(delta, m.key);
    emit(m.raw_key, override_member != nullptr ? override_member->value : m.value);
  }
  for (const UsageMember& m : delta) {
    if (find(start, m.key) == nullptr) emit(m.raw_key, m.value);
  }
  out.push_back('}');
  return out;
}

}  // namespace rebound
