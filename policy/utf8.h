// UTF-8 validation for configuration text.
//
// yaml-cpp passes the bytes of the text through without checking them, and
// its emitter writes any byte that is not valid UTF-8 back as U+FFFD, so a
// configuration holding such bytes would not survive a round trip through
// ToYaml (a control-plane push, `--check` output) and would send mangled
// text upstream. The loader rejects such text before parsing; escapes cannot
// add any (yaml-cpp rejects "\ud800" and values above U+10FFFF).
#ifndef REBOUND_POLICY_UTF8_H_
#define REBOUND_POLICY_UTF8_H_

#include <cstddef>
#include <string_view>

namespace rebound {

// The length of the longest prefix of `text` that is valid UTF-8 (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF): text.size()
// when all of it is, else the offset of the first byte of the first invalid
// sequence.
size_t ValidUtf8Prefix(std::string_view text);

inline bool IsValidUtf8(std::string_view text) { return ValidUtf8Prefix(text) == text.size(); }

}  // namespace rebound

#endif  // REBOUND_POLICY_UTF8_H_
