#include "common/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace rebound {
namespace {

TEST(Utf8Test, SequenceLengthsFollowRfc3629) {
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA9", 0), 2u);              // é
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82\xAC", 0), 3u);          // €
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80", 0), 4u);      // 😀
  EXPECT_EQ(Utf8SequenceLength("\xC0\xAF", 0), 0u);              // overlong
  EXPECT_EQ(Utf8SequenceLength("\xE0\x80\xAF", 0), 0u);          // overlong
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80", 0), 0u);          // surrogate
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80", 0), 0u);      // above U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\x80", 0), 0u);                  // lone continuation
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82", 0), 0u);              // cut short
}

TEST(Utf8Test, ValidPrefixStopsAtTheFirstBadSequence) {
  EXPECT_EQ(ValidUtf8Prefix("abc"), 3u);
  EXPECT_EQ(ValidUtf8Prefix("ab\xC3\xA9z\xFF"), 5u);
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_FALSE(IsValidUtf8("\xC3"));
}

TEST(Utf8Test, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(ToValidUtf8("plain"), "plain");
  EXPECT_EQ(ToValidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ToValidUtf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  // Each byte of a broken sequence is replaced on its own.
  EXPECT_EQ(ToValidUtf8("\xE2\x82z"), "\xEF\xBF\xBD\xEF\xBF\xBDz");
  EXPECT_EQ(ToValidUtf8(std::string("\0x", 2)), std::string("\0x", 2)) << "NUL is valid UTF-8";
}

}  // namespace
}  // namespace rebound
