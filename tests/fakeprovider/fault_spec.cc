#include "tests/fakeprovider/fault_spec.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rapidjson/document.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

// One item split on its first unescaped '=', still in raw (escaped) form so
// that trimming never eats an escaped character such as a trailing "\n".
struct RawItem {
  std::string_view key;
  std::string_view value;
  bool has_value = false;
};

// Splits on unescaped ';'. A backslash always protects the next byte here;
// whether the escape is a known one is checked when the value is decoded.
std::vector<std::string_view> SplitItems(std::string_view text) {
  std::vector<std::string_view> items;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == ';') {
      items.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  items.push_back(text.substr(start));
  return items;
}

RawItem SplitKeyValue(std::string_view item) {
  RawItem raw;
  for (size_t i = 0; i < item.size(); ++i) {
    if (item[i] == '\\') {
      ++i;
    } else if (item[i] == '=') {
      raw.key = TrimAsciiWhitespace(item.substr(0, i));
      raw.value = TrimAsciiWhitespace(item.substr(i + 1));
      raw.has_value = true;
      return raw;
    }
  }
  raw.key = TrimAsciiWhitespace(item);
  return raw;
}

absl::StatusOr<std::string> Unescape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out.push_back(raw[i]);
      continue;
    }
    if (i + 1 == raw.size()) {
      return absl::InvalidArgumentError("dangling '\\' at the end of a value");
    }
    switch (raw[++i]) {
      case ';': out.push_back(';'); break;
      case '\\': out.push_back('\\'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      default:
        return absl::InvalidArgumentError(absl::StrCat("unknown escape '\\",
                                                       absl::string_view(&raw[i], 1),
                                                       "' (known: \\; \\\\ \\n \\r \\t)"));
    }
  }
  return out;
}

absl::StatusOr<int64_t> ParseInt(std::string_view key, std::string_view value, int64_t min,
                                 int64_t max) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(ToAbsl(value), &n)) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(key), "=", ToAbsl(value), ": expected an integer"));
  }
  if (n < min || n > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(key), "=", ToAbsl(value), ": must be in [", min, ", ", max, "]"));
  }
  return n;
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// header=Name:Value. Framing headers are refused: the fake computes them, and
// a spec that overrides them would break the HTTP stream rather than test a
// provider fault.
absl::Status ParseHeader(std::string_view value, FaultSpec& spec) {
  size_t colon = value.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("header=", ToAbsl(value), ": expected Name:Value"));
  }
  std::string_view name = TrimAsciiWhitespace(value.substr(0, colon));
  std::string_view header_value = TrimAsciiWhitespace(value.substr(colon + 1));
  for (char c : name) {
    if (!IsTokenChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("header=", ToAbsl(value), ": invalid character in the header name"));
    }
  }
  for (char c : header_value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return absl::InvalidArgumentError(
          absl::StrCat("header=", ToAbsl(name), ": the value must not contain CR, LF or NUL"));
    }
  }
  for (std::string_view framing : {"content-length", "transfer-encoding", "connection"}) {
    if (EqualsIgnoreCase(name, framing)) {
      return absl::InvalidArgumentError(
          absl::StrCat("header=", ToAbsl(name), ": framing headers are set by the fake"));
    }
  }
  spec.headers.emplace_back(std::string(name), std::string(header_value));
  return absl::OkStatus();
}

bool IsToolName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// The Anthropic answer embeds the arguments verbatim as its tool_use
// `input`, which must be an object.
bool IsJsonObject(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                    text.size());
  return !doc.HasParseError() && doc.IsObject();
}

absl::Status ApplyFlag(std::string_view key, FaultSpec& spec) {
  if (key == "reset_before_headers") {
    spec.reset_before_headers = true;
  } else if (key == "close_before_headers") {
    spec.close_before_headers = true;
  } else if (key == "stall") {
    spec.stall = true;
  } else if (key == "no_done") {
    spec.no_done = true;
  } else if (key == "echo") {
    spec.echo = true;
  } else if (key == "lenient") {
    spec.lenient = true;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", ToAbsl(key), "': unknown flag (or missing '=value')"));
  }
  return absl::OkStatus();
}

bool IsFlag(std::string_view key) {
  return key == "reset_before_headers" || key == "close_before_headers" || key == "stall" ||
         key == "no_done" || key == "echo" || key == "lenient";
}

absl::Status ApplyValue(std::string_view key, std::string value, FaultSpec& spec) {
  auto set_int = [&](int64_t min, int64_t max, auto& field) -> absl::Status {
    absl::StatusOr<int64_t> n = ParseInt(key, value, min, max);
    if (!n.ok()) return n.status();
    field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
    return absl::OkStatus();
  };
  if (key == "status") {
    // 1xx are interim responses and cannot end an exchange.
    return set_int(200, 599, spec.status.emplace());
  }
  if (key == "body") {
    spec.body = std::move(value);
    return absl::OkStatus();
  }
  if (key == "body_b64") {
    std::string decoded;
    if (!absl::Base64Unescape(value, &decoded)) {
      return absl::InvalidArgumentError("body_b64: not valid base64");
    }
    spec.body = std::move(decoded);
    return absl::OkStatus();
  }
  if (key == "error_class") {
    spec.error_class = FindErrorShape(value);
    if (!spec.error_class) {
      return absl::InvalidArgumentError(absl::StrCat("error_class=", value,
                                                     ": unknown class (known: ",
                                                     ErrorShapeNames(), ")"));
    }
    return absl::OkStatus();
  }
  if (key == "retry_after") {
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return absl::InvalidArgumentError("retry_after: must not contain CR, LF or NUL");
      }
    }
    spec.retry_after = std::move(value);
    return absl::OkStatus();
  }
  if (key == "retry_after_date") {
    // "+S" reads naturally ("S seconds from now"); a bare or negative S is
    // accepted too, so a test can send a date in the past.
    std::string_view v = value;
    if (!v.empty() && v[0] == '+') v.remove_prefix(1);
    absl::StatusOr<int64_t> n = ParseInt(key, v, -kMaxDelayMs / 1000, kMaxDelayMs / 1000);
    if (!n.ok()) return n.status();
    spec.retry_after_date_s = *n;
    return absl::OkStatus();
  }
  if (key == "retry_after_ms") return set_int(0, kMaxDelayMs, spec.retry_after_ms.emplace());
  if (key == "header") return ParseHeader(value, spec);
  if (key == "delay_headers_ms") return set_int(0, kMaxDelayMs, spec.delay_headers_ms);
  if (key == "delay_first_token_ms") return set_int(0, kMaxDelayMs, spec.delay_first_token_ms);
  if (key == "token_interval_ms") return set_int(0, kMaxDelayMs, spec.token_interval_ms);
  if (key == "tail_percent") return set_int(0, 100, spec.tail_percent);
  if (key == "tail_delay_ms") return set_int(0, kMaxDelayMs, spec.tail_delay_ms);
  if (key == "tokens") return set_int(0, kMaxTokens, spec.tokens);
  if (key == "response_bytes") return set_int(0, kMaxResponseBytes, spec.response_bytes);
  if (key == "stall_after_events") {
    return set_int(0, kMaxTokens, spec.stall_after_events.emplace());
  }
  if (key == "cut_after_events") return set_int(0, kMaxTokens, spec.cut_after_events.emplace());
  if (key == "malformed_event_at") {
    return set_int(1, kMaxTokens, spec.malformed_event_at.emplace());
  }
  if (key == "error_event_at") return set_int(1, kMaxTokens, spec.error_event_at.emplace());
  if (key == "tool_call") {
    if (!IsToolName(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tool_call=", value, ": a tool name is 1-64 of [a-zA-Z0-9_-]"));
    }
    spec.tool_call = std::move(value);
    return absl::OkStatus();
  }
  if (key == "tool_args") {
    if (!IsJsonObject(value)) {
      return absl::InvalidArgumentError("tool_args: must be a JSON object");
    }
    spec.tool_args = std::move(value);
    return absl::OkStatus();
  }
  if (key == "stop") {
    if (std::find(std::begin(kStopReasons), std::end(kStopReasons), value) ==
        std::end(kStopReasons)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stop=", value, ": unknown reason (known: ", absl::StrJoin(kStopReasons, ", ",
          [](std::string* out, std::string_view r) { out->append(r); }), ")"));
    }
    spec.stop = std::move(value);
    return absl::OkStatus();
  }
  if (key == "cache_read") return set_int(0, kMaxTokens, spec.cache_read);
  if (key == "cache_write") return set_int(0, kMaxTokens, spec.cache_write);
  if (IsFlag(key)) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(key), " is a flag and takes no value"));
  }
  return absl::InvalidArgumentError(absl::StrCat("'", ToAbsl(key), "': unknown key"));
}

}  // namespace

absl::StatusOr<FaultSpec> ParseFaultSpec(std::string_view text) {
  FaultSpec spec;
  for (std::string_view item : SplitItems(text)) {
    RawItem raw = SplitKeyValue(item);
    if (!raw.has_value && raw.key.empty()) continue;  // "a;;b" or a trailing ';'
    if (raw.key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", ToAbsl(TrimAsciiWhitespace(item)), "': missing key before '='"));
    }
    if (!raw.has_value) {
      if (absl::Status s = ApplyFlag(raw.key, spec); !s.ok()) return s;
      continue;
    }
    absl::StatusOr<std::string> value = Unescape(raw.value);
    if (!value.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ToAbsl(raw.key), ": ", value.status().message()));
    }
    if (absl::Status s = ApplyValue(raw.key, *std::move(value), spec); !s.ok()) return s;
  }
  if (spec.stall_after_events && spec.cut_after_events) {
    return absl::InvalidArgumentError("stall_after_events and cut_after_events exclude each other");
  }
  return spec;
}

}  // namespace rebound::fake
