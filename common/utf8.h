// UTF-8 checks, the one implementation in rebound (RFC 3629 / Unicode table
// 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
//
// Users: the config loader rejects text that is not UTF-8 (yaml-cpp passes
// such bytes through and its emitter writes them back as U+FFFD, so the
// config would not survive a round trip through ToYaml); the JSON scanner
// validates strings; the Gateway makes provider text fit proto3 `string`
// fields, which must hold UTF-8.
#ifndef REBOUND_COMMON_UTF8_H_
#define REBOUND_COMMON_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace rebound {

// The length of the well-formed UTF-8 sequence that starts at text[i]
// (1 for ASCII), or 0 when the bytes there are not one. i < text.size().
size_t Utf8SequenceLength(std::string_view text, size_t i);

// The length of the longest prefix of `text` that is valid UTF-8:
// text.size() when all of it is, else the offset of the first byte of the
// first invalid sequence.
size_t ValidUtf8Prefix(std::string_view text);

inline bool IsValidUtf8(std::string_view text) { return ValidUtf8Prefix(text) == text.size(); }

// `text` with each byte that does not start a valid sequence replaced by
// U+FFFD. Valid text, the normal case, is returned unchanged without a copy.
std::string ToValidUtf8(std::string text);

}  // namespace rebound

#endif  // REBOUND_COMMON_UTF8_H_
