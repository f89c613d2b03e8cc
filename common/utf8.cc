#include "common/utf8.h"

namespace rebound {

size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) -> unsigned {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u;
  };
  const unsigned c = byte(0);
  if (c < 0x80) return 1;
  const auto cont = [](unsigned b) { return b >= 0x80 && b <= 0xBF; };
  if (c >= 0xC2 && c <= 0xDF) return cont(byte(1)) ? 2 : 0;
  // The allowed range of the second byte excludes overlong forms (E0, F0),
  // surrogates (ED) and code points above U+10FFFF (F4).
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned b1 = byte(1);
    const bool ok1 = c == 0xE0   ? (b1 >= 0xA0 && b1 <= 0xBF)
                     : c == 0xED ? (b1 >= 0x80 && b1 <= 0x9F)
                                 : cont(b1);
    return ok1 && cont(byte(2)) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned b1 = byte(1);
    const bool ok1 = c == 0xF0   ? (b1 >= 0x90 && b1 <= 0xBF)
                     : c == 0xF4 ? (b1 >= 0x80 && b1 <= 0x8F)
                                 : cont(b1);
    return ok1 && cont(byte(2)) && cont(byte(3)) ? 4 : 0;
  }
  return 0;  // a continuation byte without a lead, C0, C1 or F5-FF
}

size_t ValidUtf8Prefix(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return i;
    i += len;
  }
  return i;
}

std::string ToValidUtf8(std::string text) {
  size_t valid = ValidUtf8Prefix(text);
  if (valid == text.size()) return text;
  std::string out = text.substr(0, valid);
  size_t i = valid;
  while (i < text.size()) {
    const size_t len = Utf8SequenceLength(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text, i, len);
      i += len;
    }
  }
  return out;
}

}  // namespace rebound
