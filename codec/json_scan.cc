#include "codec/json_scan.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/utf8.h"

namespace rebound::json {
namespace {

constexpr bool IsWs(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool IsDigit(int c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits at s[i..i+4) as a code unit, or -1.
int32_t Hex4(std::string_view s, size_t i) {
  if (s.size() < 4 || i > s.size() - 4) return -1;
  int32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int h = HexValue(s[i + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// Bytes that need no attention inside a string: printable ASCII other than
// '"' and '\\'.
constexpr auto kPlainStringByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c) table[c] = c != '"' && c != '\\';
  return table;
}();

// True when any of the eight bytes at p is not a plain string byte: a
// control character, '"', '\\' or a byte >= 0x80 (classic SWAR tests).
inline bool WordNeedsAttention(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  const auto has_zero = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  const uint64_t below_space = (v - kOnes * 0x20) & ~v & kHigh;
  return ((v & kHigh) | below_space | has_zero(v ^ (kOnes * '"')) | has_zero(v ^ (kOnes * '\\'))) !=
         0;
}

constexpr bool IsHighSurrogate(int32_t u) { return u >= 0xD800 && u <= 0xDBFF; }
constexpr bool IsLowSurrogate(int32_t u) { return u >= 0xDC00 && u <= 0xDFFF; }

// Decodes the \u escape at s[i] ('\\' 'u' XXXX [ '\\' 'u' XXXX ]) into a code
// point; sets *len to the bytes consumed. -1 on a malformed escape, -2 on an
// unpaired surrogate.
int32_t DecodeUnicodeEscape(std::string_view s, size_t i, size_t* len) {
  const int32_t u = Hex4(s, i + 2);
  if (u < 0) return -1;
  if (IsLowSurrogate(u)) return -2;
  if (!IsHighSurrogate(u)) {
    *len = 6;
    return u;
  }
  if (i + 7 >= s.size() || s[i + 6] != '\\' || s[i + 7] != 'u') return -2;
  const int32_t lo = Hex4(s, i + 8);
  if (lo < 0) return -1;
  if (!IsLowSurrogate(lo)) return -2;
  *len = 12;
  return 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
}

// Writes the UTF-8 encoding of `cp` (<= 0x10FFFF, not a surrogate) to buf;
// returns its length.
size_t EncodeUtf8(int32_t cp, char buf[4]) {
  if (cp < 0x80) {
    buf[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    buf[0] = static_cast<char>(0xC0 | (cp >> 6));
    buf[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    buf[0] = static_cast<char>(0xE0 | (cp >> 12));
    buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  buf[0] = static_cast<char>(0xF0 | (cp >> 18));
  buf[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  buf[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  buf[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

// Recursive-descent validator over s_ starting at pos_. No allocation on the
// success path; the first error is recorded as (reason, offset) and turned
// into a Status only when asked for.
class Scanner {
 public:
  Scanner(std::string_view text, size_t pos) : s_(text), pos_(pos) {}

  size_t pos() const { return pos_; }
  int Peek() const { return pos_ < s_.size() ? static_cast<unsigned char>(s_[pos_]) : -1; }
  void Advance() { ++pos_; }
  void SkipWs() {
    size_t i = pos_;
    while (i < s_.size() && IsWs(static_cast<unsigned char>(s_[i]))) ++i;
    pos_ = i;
  }

  bool Value(int depth) {
    switch (Peek()) {
      case '{':
        return Object(depth);
      case '[':
        return Array(depth);
      case '"':
        return String();
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9':
        return Number();
      default:
        return Unexpected("a value");
    }
  }

  bool String() {
    const size_t start = pos_;
    const char* const base = s_.data();
    const size_t n = s_.size();
    size_t i = pos_ + 1;  // after the opening quote; a local, so it stays in a register
    for (;;) {
      // Fast path: eight plain bytes at a time, then byte by byte.
      while (i + 8 <= n && !WordNeedsAttention(base + i)) i += 8;
      while (i < n && kPlainStringByte[static_cast<unsigned char>(base[i])]) ++i;
      if (i >= n) return Fail("unterminated string", start);
      const unsigned char c = static_cast<unsigned char>(base[i]);
      if (c == '"') {
        pos_ = i + 1;
        return true;
      }
      if (c == '\\') {
        if (i + 1 >= n) return Fail("unterminated string", start);
        switch (base[i + 1]) {
          case '"':
          case '\\':
          case '/':
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
            i += 2;
            continue;
          case 'u': {
            size_t len = 0;
            const int32_t cp = DecodeUnicodeEscape(s_, i, &len);
            if (cp == -1) return Fail("invalid \\u escape in string", i);
            if (cp == -2) return Fail("unpaired surrogate in \\u escape", i);
            i += len;
            continue;
          }
          default:
            return Fail("invalid escape in string", i);
        }
      }
      if (c < 0x20) return Fail("unescaped control character in string", i);
      const size_t len = Utf8SequenceLength(s_, i);
      if (len == 0) return Fail("invalid UTF-8 in string", i);
      i += len;
    }
  }

  bool Number() {
    const size_t start = pos_;
    if (Peek() == '-') ++pos_;
    if (!IsDigit(Peek())) return Fail("invalid number", start);
    if (Peek() == '0') {
      ++pos_;
      if (IsDigit(Peek())) return Fail("leading zero in number", start);
    } else {
      while (IsDigit(Peek())) ++pos_;
    }
    if (Peek() == '.') {
      ++pos_;
      if (!IsDigit(Peek())) return Fail("expected a digit after the decimal point", pos_);
      while (IsDigit(Peek())) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!IsDigit(Peek())) return Fail("expected a digit in the exponent", pos_);
      while (IsDigit(Peek())) ++pos_;
    }
    return true;
  }

  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return Fail("invalid literal", pos_);
    pos_ += word.size();
    return true;
  }

  // '{' members '}' or '[' values ']'; `item` parses one member or value.
  template <typename Item>
  bool Container(int depth, char close, const char* separator_expected, Item item) {
    if (depth > kMaxDepth) return Fail("nesting deeper than 128 levels", pos_);
    ++pos_;  // '{' or '['
    SkipWs();
    if (Peek() == close) {
      ++pos_;
      return true;
    }
    for (;;) {
      if (!item()) return false;
      SkipWs();
      const int c = Peek();
      if (c == close) {
        ++pos_;
        return true;
      }
      if (c != ',') return Unexpected(separator_expected);
      ++pos_;
      SkipWs();
    }
  }

  bool Object(int depth) {
    return Container(depth, '}', "',' or '}' in object", [&] { return Member(depth); });
  }

  // A key, ':', and a value nested at depth + 1. pos_ is at the key.
  bool Member(int depth) {
    if (Peek() != '"') return Unexpected("a string key");
    if (!String()) return false;
    SkipWs();
    if (Peek() != ':') return Unexpected("':' after object key");
    ++pos_;
    SkipWs();
    return Value(depth + 1);
  }

  bool Array(int depth) {
    return Container(depth, ']', "',' or ']' in array", [&] { return Value(depth + 1); });
  }

  // Skips whitespace and requires the end of the text.
  bool End() {
    SkipWs();
    if (pos_ < s_.size()) return Fail("unexpected data after the JSON value", pos_);
    return true;
  }

  bool Fail(const char* reason, size_t at) {
    if (reason_ == nullptr) {
      reason_ = reason;
      err_pos_ = at;
    }
    return false;
  }

  // "expected X, found <char>" or "unexpected end of input" at pos_.
  bool Unexpected(const char* expected) {
    if (reason_ == nullptr) expected_ = expected;
    return Fail(pos_ >= s_.size() ? "unexpected end of input" : "unexpected character", pos_);
  }

  absl::Status status() const {
    if (reason_ == nullptr) return absl::OkStatus();
    std::string msg = reason_;
    if (expected_ != nullptr) {
      if (err_pos_ < s_.size()) {
        const unsigned char c = static_cast<unsigned char>(s_[err_pos_]);
        if (c >= 0x20 && c < 0x7F) {
          absl::StrAppend(&msg, " '", absl::string_view(&s_[err_pos_], 1), "'");
        } else {
          absl::StrAppend(&msg, absl::StrFormat(" 0x%02X", c));
        }
      }
      absl::StrAppend(&msg, ", expected ", expected_);
    }
    absl::StrAppend(&msg, " at byte ", err_pos_);
    return absl::InvalidArgumentError(msg);
  }

 private:
  std::string_view s_;
  size_t pos_;
  const char* reason_ = nullptr;
  const char* expected_ = nullptr;
  size_t err_pos_ = 0;
};

const char* KindAt(int c) {
  switch (c) {
    case '{':
      return "an object";
    case '[':
      return "an array";
    case '"':
      return "a string";
    case 't':
    case 'f':
      return "a boolean";
    case 'n':
      return "null";
    default:
      return IsDigit(c) || c == '-' ? "a number" : nullptr;
  }
}

// Shared opening of MemberReader/ElementReader: skips whitespace and checks
// the container's opening bracket. Returns false with *status set on error.
bool OpenContainer(std::string_view text, char open, const char* what, size_t* pos,
                   absl::Status* status) {
  Scanner sc(text, 0);
  sc.SkipWs();
  *pos = sc.pos();
  if (sc.Peek() == open) return true;
  const char* kind = KindAt(sc.Peek());
  if (kind != nullptr) {
    // Report a broken value as such rather than by its first character.
    if (absl::Status valid = Validate(text); !valid.ok()) {
      *status = std::move(valid);
      return false;
    }
    *status = absl::InvalidArgumentError(
        absl::StrCat("expected ", what, ", found ", kind, " at byte ", sc.pos()));
  } else {
    sc.Unexpected(what);
    *status = sc.status();
  }
  return false;
}

}  // namespace

absl::Status Validate(std::string_view text) {
  Scanner sc(text, 0);
  sc.SkipWs();
  if (sc.Value(1)) sc.End();
  return sc.status();
}

namespace {

// One step of a reader over a container: from the start of `text` (first)
// or from just after the previous item, to the start of the next item.
// False at the container's end (status set when anything but whitespace
// follows it) or on a syntax error (status set). `open_at` gets the
// position of the opening bracket on the first step.
bool StepToNextItem(std::string_view text, bool first, char open, char close,
                    const char* container, const char* separator_expected, size_t* pos,
                    size_t* open_at, absl::Status* status) {
  if (first) {
    if (!OpenContainer(text, open, container, pos, status)) return false;
    *open_at = *pos;
  }
  Scanner sc(text, first ? *pos + 1 : *pos);
  sc.SkipWs();
  if (sc.Peek() == close) {
    sc.Advance();
    sc.End();
    *status = sc.status();
    return false;
  }
  if (!first) {
    if (sc.Peek() != ',') {
      sc.Unexpected(separator_expected);
      *status = sc.status();
      return false;
    }
    sc.Advance();
    sc.SkipWs();
  }
  *pos = sc.pos();
  return true;
}

// The member or element value that starts at `at` (nested one level below
// the container): its text in `*value`, the position after it in `*end`.
bool ScanItemValue(std::string_view text, size_t at, std::string_view* value, size_t* end,
                   absl::Status* status) {
  Scanner sc(text, at);
  if (!sc.Value(2)) {
    *status = sc.status();
    return false;
  }
  *value = text.substr(at, sc.pos() - at);
  *end = sc.pos();
  return true;
}

}  // namespace

bool MemberReader::Next() {
  if (state_ == State::kDone) return false;
  const bool first = state_ == State::kStart;
  state_ = State::kDone;
  if (!StepToNextItem(text_, first, '{', '}', "an object", "',' or '}' in object", &pos_,
                      &open_, &status_)) {
    return false;
  }
  Scanner sc(text_, pos_);
  if (sc.Peek() != '"') {
    sc.Unexpected("a string key");
    status_ = sc.status();
    return false;
  }
  const size_t key_start = sc.pos();
  if (!sc.String()) {
    status_ = sc.status();
    return false;
  }
  raw_key_ = text_.substr(key_start, sc.pos() - key_start);
  sc.SkipWs();
  if (sc.Peek() != ':') {
    sc.Unexpected("':' after object key");
    status_ = sc.status();
    return false;
  }
  sc.Advance();
  sc.SkipWs();
  if (!ScanItemValue(text_, sc.pos(), &value_, &pos_, &status_)) return false;
  state_ = State::kInside;
  return true;
}

bool ElementReader::Next() {
  if (state_ == State::kDone) return false;
  const bool first = state_ == State::kStart;
  state_ = State::kDone;
  size_t open_at = 0;
  if (!StepToNextItem(text_, first, '[', ']', "an array", "',' or ']' in array", &pos_, &open_at,
                      &status_)) {
    return false;
  }
  if (!ScanItemValue(text_, pos_, &value_, &pos_, &status_)) return false;
  state_ = State::kInside;
  return true;
}

absl::Status ForEachMember(std::string_view object_text,
                           const std::function<bool(const Member&)>& fn) {
  MemberReader reader(object_text);
  Member member;  // reused: the decoded key keeps its capacity
  while (reader.Next()) {
    member.raw_key = reader.raw_key();
    member.value = reader.value();
    member.value_offset = reader.value_offset();
    absl::StatusOr<std::string> key = DecodeString(member.raw_key);
    if (!key.ok()) return key.status();  // unreachable: the reader validated it
    member.key = *std::move(key);
    if (!fn(member)) return absl::OkStatus();
  }
  return reader.status();
}

absl::Status ForEachElement(std::string_view array_text,
                            const std::function<bool(std::string_view)>& fn) {
  ElementReader reader(array_text);
  while (reader.Next()) {
    if (!fn(reader.value())) return absl::OkStatus();
  }
  return reader.status();
}

std::optional<std::string_view> FindMember(std::string_view object_text, std::string_view key) {
  MemberReader reader(object_text);
  while (reader.Next()) {
    if (StringEquals(reader.raw_key(), key)) return reader.value();
  }
  return std::nullopt;
}

absl::StatusOr<std::string> DecodeString(std::string_view raw_string) {
  Scanner sc(raw_string, 0);
  if (sc.Peek() != '"') {
    sc.Unexpected("a string");
    return sc.status();
  }
  if (!sc.String()) return sc.status();
  if (sc.pos() != raw_string.size()) {
    sc.Fail("unexpected data after the string", sc.pos());
    return sc.status();
  }
  // Valid from here on.
  const std::string_view inner = raw_string.substr(1, raw_string.size() - 2);
  std::string out;
  out.reserve(inner.size());
  size_t i = 0;
  while (i < inner.size()) {
    const size_t backslash = inner.find('\\', i);
    if (backslash == std::string_view::npos) {
      out.append(inner.substr(i));
      break;
    }
    out.append(inner.substr(i, backslash - i));
    i = backslash;
    char c = 0;
    switch (inner[i + 1]) {
      case '"':
        c = '"';
        break;
      case '\\':
        c = '\\';
        break;
      case '/':
        c = '/';
        break;
      case 'b':
        c = '\b';
        break;
      case 'f':
        c = '\f';
        break;
      case 'n':
        c = '\n';
        break;
      case 'r':
        c = '\r';
        break;
      case 't':
        c = '\t';
        break;
      default: {  // 'u'
        size_t len = 0;
        char buf[4];
        const int32_t cp = DecodeUnicodeEscape(inner, i, &len);
        out.append(buf, EncodeUtf8(cp, buf));
        i += len;
        continue;
      }
    }
    out.push_back(c);
    i += 2;
  }
  return out;
}

bool StringEquals(std::string_view raw, std::string_view text) {
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return false;
  // Escapes only ever shrink text when decoded, so a shorter raw string
  // cannot match, and one of the same length matches only without escapes.
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  if (inner.size() < text.size()) return false;
  if (inner.size() == text.size()) {
    return inner == text && inner.find('\\') == std::string_view::npos && Validate(raw).ok();
  }
  size_t t = 0;
  size_t i = 0;
  while (i < inner.size()) {
    const char c = inner[i];
    if (c == '"') return false;
    if (c != '\\') {
      if (t >= text.size() || text[t] != c) return false;
      ++t;
      ++i;
      continue;
    }
    if (i + 1 >= inner.size()) return false;
    char decoded = 0;
    switch (inner[i + 1]) {
      case '"':
        decoded = '"';
        break;
      case '\\':
        decoded = '\\';
        break;
      case '/':
        decoded = '/';
        break;
      case 'b':
        decoded = '\b';
        break;
      case 'f':
        decoded = '\f';
        break;
      case 'n':
        decoded = '\n';
        break;
      case 'r':
        decoded = '\r';
        break;
      case 't':
        decoded = '\t';
        break;
      case 'u': {
        size_t len = 0;
        const int32_t cp = DecodeUnicodeEscape(inner, i, &len);
        if (cp < 0) return false;
        char buf[4];
        const size_t n = EncodeUtf8(cp, buf);
        if (text.substr(t, n) != std::string_view(buf, n)) return false;
        t += n;
        i += len;
        continue;
      }
      default:
        return false;
    }
    if (t >= text.size() || text[t] != decoded) return false;
    ++t;
    i += 2;
  }
  // Decoded equal; raw bytes outside escapes must still be valid string
  // content (UTF-8, no control characters).
  return t == text.size() && Validate(raw).ok();
}

namespace {

// Calls out(piece) for each piece of the encoding of `value` (without the
// quotes), so that length computation and appending share one definition.
template <typename Sink>
void EncodePieces(std::string_view value, Sink&& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t run = 0;  // start of the pending run of bytes copied verbatim
  size_t i = 0;
  while (i < value.size()) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 1;
    if (c >= 0x80) {
      len = Utf8SequenceLength(value, i);
      if (len != 0) {
        i += len;
        continue;
      }
    }
    out(value.substr(run, i - run));
    switch (c) {
      case '"':
        out("\\\"");
        break;
      case '\\':
        out("\\\\");
        break;
      case '\b':
        out("\\b");
        break;
      case '\f':
        out("\\f");
        break;
      case '\n':
        out("\\n");
        break;
      case '\r':
        out("\\r");
        break;
      case '\t':
        out("\\t");
        break;
      default:
        if (c < 0x20) {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out(std::string_view(esc, 6));
        } else {
          out("\xEF\xBF\xBD");  // U+FFFD for a byte that is not valid UTF-8
        }
    }
    ++i;
    run = i;
  }
  out(value.substr(run));
}

}  // namespace

void AppendEncodedString(std::string_view value, std::string* out) {
  out->push_back('"');
  EncodePieces(value, [out](std::string_view piece) { out->append(piece); });
  out->push_back('"');
}

size_t EncodedStringLength(std::string_view value) {
  size_t n = 2;
  EncodePieces(value, [&n](std::string_view piece) { n += piece.size(); });
  return n;
}

std::string EncodeString(std::string_view value) {
  std::string out;
  out.reserve(EncodedStringLength(value));
  AppendEncodedString(value, &out);
  return out;
}

}  // namespace rebound::json
