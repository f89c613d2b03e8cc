#include "codec/json_scan.h"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::json {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::Pair;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// ---------------------------------------------------------------- Validate

TEST(JsonValidateTest, AcceptsEveryKindOfValue) {
  for (std::string_view text : {
           "null",
           "true",
           "false",
           "0",
           "-0",
           "7",
           "-12",
           "3.25",
           "-0.5",
           "1e10",
           "1E10",
           "1e+10",
           "1e-10",
           "-1.5E-3",
           "123456789012345678901234567890",
           "\"\"",
           "\"abc\"",
           "[]",
           "{}",
           "[1,\"a\",null,true,false,{},[]]",
           "{\"a\":{\"b\":[1,{\"c\":null}]}}",
       }) {
    EXPECT_TRUE(Validate(text).ok()) << text << ": " << Validate(text);
  }
}

TEST(JsonValidateTest, AllowsTheFourWhitespaceCharactersEverywhere) {
  EXPECT_TRUE(Validate(" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ 1 , 2 ] \t\r\n} \t\r\n").ok());
}

TEST(JsonValidateTest, RejectsOtherWhitespace) {
  EXPECT_FALSE(Validate("\v1").ok());
  EXPECT_FALSE(Validate("\f1").ok());
  EXPECT_FALSE(Validate("[1,\xC2\xA0"
                        "2]")
                   .ok());  // no-break space
}

TEST(JsonValidateTest, AcceptsAllEscapes) {
  EXPECT_TRUE(Validate(R"("\" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uFFFF \ud83d\ude00")").ok());
}

TEST(JsonValidateTest, AcceptsRawUtf8OfEveryLength) {
  EXPECT_TRUE(
      Validate("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF\"").ok());
}

struct Bad {
  std::string_view text;
  std::string_view expected_message;
};

class JsonValidateRejectsTest : public ::testing::TestWithParam<Bad> {};

TEST_P(JsonValidateRejectsTest, WithReasonAndOffset) {
  const absl::Status status = Validate(GetParam().text);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << GetParam().text;
  EXPECT_EQ(Message(status), GetParam().expected_message) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, JsonValidateRejectsTest,
    ::testing::Values(
        Bad{"", "unexpected end of input, expected a value at byte 0"},
        Bad{"   ", "unexpected end of input, expected a value at byte 3"},
        Bad{"[1,]", "unexpected character ']', expected a value at byte 3"},
        Bad{"{\"a\":1,}", "unexpected character '}', expected a string key at byte 7"},
        Bad{"{\"a\" 1}", "unexpected character '1', expected ':' after object key at byte 5"},
        Bad{"{a:1}", "unexpected character 'a', expected a string key at byte 1"},
        Bad{"{'a':1}", "unexpected character ''', expected a string key at byte 1"},
        Bad{"[1 2]", "unexpected character '2', expected ',' or ']' in array at byte 3"},
        Bad{"{\"a\":1 \"b\":2}",
            "unexpected character '\"', expected ',' or '}' in object at byte 7"},
        Bad{"01", "leading zero in number at byte 0"},
        Bad{"-01", "leading zero in number at byte 0"}, Bad{"-", "invalid number at byte 0"},
        Bad{"-a", "invalid number at byte 0"},
        Bad{"1.", "expected a digit after the decimal point at byte 2"},
        Bad{"1.e5", "expected a digit after the decimal point at byte 2"},
        Bad{".5", "unexpected character '.', expected a value at byte 0"},
        Bad{"+1", "unexpected character '+', expected a value at byte 0"},
        Bad{"1e", "expected a digit in the exponent at byte 2"},
        Bad{"1e+", "expected a digit in the exponent at byte 3"},
        Bad{"NaN", "unexpected character 'N', expected a value at byte 0"},
        Bad{"Infinity", "unexpected character 'I', expected a value at byte 0"},
        Bad{"tru", "invalid literal at byte 0"}, Bad{"nul", "invalid literal at byte 0"},
        Bad{"True", "unexpected character 'T', expected a value at byte 0"},
        Bad{"[truex]", "unexpected character 'x', expected ',' or ']' in array at byte 5"},
        Bad{"{} {}", "unexpected data after the JSON value at byte 3"},
        Bad{"1 2", "unexpected data after the JSON value at byte 2"},
        Bad{"{}x", "unexpected data after the JSON value at byte 2"},
        Bad{"/* c */ 1", "unexpected character '/', expected a value at byte 0"},
        Bad{std::string_view("\0", 1), "unexpected character 0x00, expected a value at byte 0"},
        Bad{"\"abc", "unterminated string at byte 0"},
        Bad{"\"abc\\", "unterminated string at byte 0"},
        Bad{"[\"a\tb\"]", "unescaped control character in string at byte 3"},
        Bad{"\"a\nb\"", "unescaped control character in string at byte 2"},
        Bad{"\"\\q\"", "invalid escape in string at byte 1"},
        Bad{"\"\\x41\"", "invalid escape in string at byte 1"},
        Bad{"\"\\'\"", "invalid escape in string at byte 1"},
        Bad{"\"\\u12\"", "invalid \\u escape in string at byte 1"},
        Bad{"\"\\u12", "invalid \\u escape in string at byte 1"},
        Bad{"\"\\uZZZZ\"", "invalid \\u escape in string at byte 1"},
        Bad{"\"\\U0041\"", "invalid escape in string at byte 1"},
        Bad{"\"\\ud800\"", "unpaired surrogate in \\u escape at byte 1"},
        Bad{"\"\\ud800x\"", "unpaired surrogate in \\u escape at byte 1"},
        Bad{"\"\\ud800\\n\"", "unpaired surrogate in \\u escape at byte 1"},
        Bad{"\"\\ud800\\u0041\"", "unpaired surrogate in \\u escape at byte 1"},
        Bad{"\"\\ud800\\ud800\"", "unpaired surrogate in \\u escape at byte 1"},
        Bad{"\"\\ud800\\uZZZZ\"", "invalid \\u escape in string at byte 1"},
        Bad{"\"\\udc00\"", "unpaired surrogate in \\u escape at byte 1"},
        Bad{"\"\\udfff\\ud800\"", "unpaired surrogate in \\u escape at byte 1"},
        Bad{"\"\x80\"", "invalid UTF-8 in string at byte 1"},
        Bad{"\"\xC0\x80\"", "invalid UTF-8 in string at byte 1"},          // overlong NUL
        Bad{"\"\xC1\xBF\"", "invalid UTF-8 in string at byte 1"},          // overlong
        Bad{"\"\xE0\x80\x80\"", "invalid UTF-8 in string at byte 1"},      // overlong
        Bad{"\"\xED\xA0\x80\"", "invalid UTF-8 in string at byte 1"},      // U+D800
        Bad{"\"\xF0\x80\x80\x80\"", "invalid UTF-8 in string at byte 1"},  // overlong
        Bad{"\"\xF4\x90\x80\x80\"", "invalid UTF-8 in string at byte 1"},  // > U+10FFFF
        Bad{"\"\xF5\x80\x80\x80\"", "invalid UTF-8 in string at byte 1"},
        Bad{"\"\xFF\"", "invalid UTF-8 in string at byte 1"},
        Bad{"\"\xE2\x82\"", "invalid UTF-8 in string at byte 1"},  // truncated
        Bad{"\"\xE2\x82", "invalid UTF-8 in string at byte 1"},
        Bad{"\xEF\xBB\xBF{}", "unexpected character 0xEF, expected a value at byte 0"}));

// ------------------------------------------------------------------ Depth

std::string Nested(int depth, std::string_view open, std::string_view close,
                   std::string_view inner = "1") {
  std::string s;
  for (int i = 0; i < depth; ++i) s.append(open);
  s.append(inner);
  for (int i = 0; i < depth; ++i) s.append(close);
  return s;
}

TEST(JsonDepthTest, AcceptsExactlyMaxDepthArrays) {
  EXPECT_TRUE(Validate(Nested(kMaxDepth, "[", "]")).ok());
}

TEST(JsonDepthTest, RejectsOneLevelDeeperThanMaxDepth) {
  const absl::Status status = Validate(Nested(kMaxDepth + 1, "[", "]"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(status), "nesting deeper than 128 levels at byte 128");
}

TEST(JsonDepthTest, CountsObjectsAndArraysAlike) {
  EXPECT_TRUE(Validate(Nested(kMaxDepth / 2, "{\"a\":[", "]}")).ok());
  EXPECT_FALSE(Validate(Nested(kMaxDepth / 2, "{\"a\":[", "]}", "[1]")).ok());
}

TEST(JsonDepthTest, NestingBombFailsFastWithoutOverflowingTheStack) {
  const std::string bomb(10'000'000, '[');
  const absl::Status status = Validate(bomb);
  EXPECT_THAT(Message(status), HasSubstr("nesting deeper than 128 levels"));
}

TEST(JsonDepthTest, MemberReaderCountsTheObjectItselfAsLevelOne) {
  const std::string ok = "{\"a\":" + Nested(kMaxDepth - 1, "[", "]") + "}";
  const std::string deep = "{\"a\":" + Nested(kMaxDepth, "[", "]") + "}";
  MemberReader ok_reader(ok);
  EXPECT_TRUE(ok_reader.Next());
  EXPECT_FALSE(ok_reader.Next());
  EXPECT_TRUE(ok_reader.status().ok()) << ok_reader.status();
  MemberReader deep_reader(deep);
  EXPECT_FALSE(deep_reader.Next());
  EXPECT_THAT(Message(deep_reader.status()), HasSubstr("nesting deeper than 128 levels"));
}

// ------------------------------------------------------------- Truncation

constexpr std::string_view kChatBody = R"({
  "model": "gpt-4o",
  "messages": [
    {"role": "system", "content": "Be terse.\n\"Really\" \u00e9 \ud83d\ude00"},
    {"role": "user", "content": [{"type": "text", "text": "caf\u00e9"}]}
  ],
  "temperature": 0.25, "max_tokens": 1e3, "stream": true, "stop": null,
  "metadata": {"model": "nested", "tags": [-1, 0, 2.5E-3, false]}
})";

TEST(JsonTruncationTest, EveryProperPrefixOfAnObjectIsRejected) {
  ASSERT_TRUE(Validate(kChatBody).ok());
  for (size_t n = 0; n < kChatBody.size() - 1; ++n) {  // the last byte is '}'
    const absl::Status status = Validate(kChatBody.substr(0, n));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "prefix of " << n;
  }
}

TEST(JsonTruncationTest, EveryProperPrefixStopsTheMemberReaderWithAnError) {
  for (size_t n = 0; n < kChatBody.size() - 1; ++n) {
    MemberReader reader(kChatBody.substr(0, n));
    while (reader.Next()) {
    }
    EXPECT_FALSE(reader.status().ok()) << "prefix of " << n;
  }
}

// Random inputs and random mutations of a valid body: never crash, and the
// readers agree with Validate about objects.
TEST(JsonRobustnessTest, RandomBytesAndMutationsNeverCrashAndReadersAgreeWithValidate) {
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]:,\"\\u0123456789abcdefeEtrulsn.-+ \t\r\n\x80\xC3\xA9\xF0";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  int valid_objects = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    if (round % 2 == 0) {
      const size_t len = rng() % 24;
      for (size_t i = 0; i < len; ++i) text.push_back(alphabet[pick(rng)]);
    } else {
      text = std::string(kChatBody);
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) text[rng() % text.size()] = alphabet[pick(rng)];
    }
    const bool valid = Validate(text).ok();
    MemberReader reader(text);
    size_t members = 0;
    while (reader.Next()) ++members;
    const bool object_ok = reader.status().ok();
    size_t first = text.find_first_not_of(" \t\r\n");
    const bool is_object = first != std::string::npos && text[first] == '{';
    EXPECT_EQ(object_ok, valid && is_object) << text;
    if (object_ok) ++valid_objects;
    (void)DecodeString(text);
    (void)FindMember(text, "model");
  }
  EXPECT_GT(valid_objects, 0);  // the mutations do produce valid objects sometimes
}

// --------------------------------------------------------- ForEachMember

TEST(JsonForEachMemberTest, VisitsTopLevelMembersInOrderWithRawAndDecodedKeys) {
  const std::string_view text = R"( {"a" : 1, "b\u0063":{"x":[1,2]} ,"":"s", "a":null} )";
  std::vector<std::pair<std::string, std::string>> seen;
  std::vector<std::string> raw_keys;
  ASSERT_TRUE(ForEachMember(text, [&](const Member& m) {
                seen.emplace_back(m.key, std::string(m.value));
                raw_keys.emplace_back(m.raw_key);
                EXPECT_EQ(text.substr(m.value_offset, m.value.size()), m.value);
                return true;
              }).ok());
  EXPECT_THAT(seen, ElementsAre(Pair("a", "1"), Pair("bc", "{\"x\":[1,2]}"), Pair("", "\"s\""),
                                Pair("a", "null")));
  EXPECT_THAT(raw_keys, ElementsAre("\"a\"", "\"b\\u0063\"", "\"\"", "\"a\""));
}

TEST(JsonForEachMemberTest, StopsWhenTheCallbackReturnsFalse) {
  int calls = 0;
  EXPECT_TRUE(ForEachMember(R"({"a":1,"b":2,"c":3})", [&](const Member&) {
                ++calls;
                return calls < 2;
              }).ok());
  EXPECT_EQ(calls, 2);
}

TEST(JsonForEachMemberTest, EarlyStopDoesNotExamineTheRest) {
  EXPECT_TRUE(ForEachMember(R"({"a":1, garbage)", [](const Member&) { return false; }).ok());
}

TEST(JsonForEachMemberTest, EmptyObjectCallsNothing) {
  EXPECT_TRUE(ForEachMember(" { \n } ", [](const Member&) {
                ADD_FAILURE();
                return true;
              }).ok());
}

TEST(JsonForEachMemberTest, RejectsNonObjectsNamingWhatWasFound) {
  const auto no_calls = [](const Member&) { return true; };
  EXPECT_EQ(Message(ForEachMember("[1]", no_calls)),
            "expected an object, found an array at byte 0");
  EXPECT_EQ(Message(ForEachMember("  \"x\"", no_calls)),
            "expected an object, found a string at byte 2");
  EXPECT_EQ(Message(ForEachMember("12", no_calls)), "expected an object, found a number at byte 0");
  EXPECT_EQ(Message(ForEachMember("-3", no_calls)), "expected an object, found a number at byte 0");
  EXPECT_EQ(Message(ForEachMember("true", no_calls)),
            "expected an object, found a boolean at byte 0");
  EXPECT_EQ(Message(ForEachMember("null", no_calls)), "expected an object, found null at byte 0");
  EXPECT_EQ(Message(ForEachMember("", no_calls)),
            "unexpected end of input, expected an object at byte 0");
  EXPECT_EQ(Message(ForEachMember("x", no_calls)),
            "unexpected character 'x', expected an object at byte 0");
  // A broken value is reported as broken, not by its first character.
  EXPECT_EQ(Message(ForEachMember("trash", no_calls)), "invalid literal at byte 0");
}

TEST(JsonForEachMemberTest, RejectsDataAfterTheObject) {
  EXPECT_EQ(Message(ForEachMember("{\"a\":1} {}", [](const Member&) { return true; })),
            "unexpected data after the JSON value at byte 8");
}

TEST(JsonForEachMemberTest, MembersBeforeAnErrorHaveBeenSeen) {
  int calls = 0;
  const absl::Status status = ForEachMember(R"({"a":1,"b":tru})", [&](const Member&) {
    ++calls;
    return true;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Message(status), "invalid literal at byte 11");
}

// -------------------------------------------------------- ForEachElement

TEST(JsonForEachElementTest, VisitsElementsAsRawText) {
  std::vector<std::string> seen;
  ASSERT_TRUE(ForEachElement(R"([ 1 ,"a\"b", {"k":[ ]},[],null ])", [&](std::string_view v) {
                seen.emplace_back(v);
                return true;
              }).ok());
  EXPECT_THAT(seen, ElementsAre("1", "\"a\\\"b\"", "{\"k\":[ ]}", "[]", "null"));
}

TEST(JsonForEachElementTest, EmptyArrayAndEarlyStop) {
  EXPECT_TRUE(ForEachElement("[ ]", [](std::string_view) {
                ADD_FAILURE();
                return true;
              }).ok());
  int calls = 0;
  EXPECT_TRUE(ForEachElement("[1,2,3", [&](std::string_view) { return ++calls < 2; }).ok());
  EXPECT_EQ(calls, 2);
}

TEST(JsonForEachElementTest, RejectsNonArraysAndBrokenArrays) {
  const auto any = [](std::string_view) { return true; };
  EXPECT_EQ(Message(ForEachElement("{}", any)), "expected an array, found an object at byte 0");
  EXPECT_EQ(Message(ForEachElement("[1,]", any)),
            "unexpected character ']', expected a value at byte 3");
  EXPECT_EQ(Message(ForEachElement("[1", any)),
            "unexpected end of input, expected ',' or ']' in array at byte 2");
  EXPECT_EQ(Message(ForEachElement("[1] 2", any)),
            "unexpected data after the JSON value at byte 4");
}

// ------------------------------------------------------------ FindMember

TEST(JsonFindMemberTest, FindsTheFirstTopLevelMemberOnly) {
  const std::string_view text = R"({"meta":{"model":"inner"},"model":"a","model":"b"})";
  EXPECT_THAT(FindMember(text, "model"), Optional(std::string_view("\"a\"")));
  EXPECT_THAT(FindMember(text, "meta"), Optional(std::string_view("{\"model\":\"inner\"}")));
}

TEST(JsonFindMemberTest, ComparesDecodedKeys) {
  EXPECT_THAT(FindMember(R"({"mod\u0065l":1})", "model"), Optional(std::string_view("1")));
  EXPECT_THAT(FindMember(R"({"a\/b":2})", "a/b"), Optional(std::string_view("2")));
  EXPECT_THAT(FindMember(R"({"\u00e9":3})", "\xC3\xA9"), Optional(std::string_view("3")));
}

TEST(JsonFindMemberTest, NulloptWhenAbsentOrNotAnObject) {
  EXPECT_EQ(FindMember(R"({"models":1,"Model":2,"model ":3})", "model"), std::nullopt);
  EXPECT_EQ(FindMember(R"(["model"])", "model"), std::nullopt);
  EXPECT_EQ(FindMember(R"({"model")", "model"), std::nullopt);
  EXPECT_EQ(FindMember("", "model"), std::nullopt);
}

// ----------------------------------------------------------- DecodeString

TEST(JsonDecodeStringTest, DecodesEveryEscape) {
  EXPECT_THAT(DecodeString(R"("a\"b\\c\/d\be\ff\ng\rh\ti")"),
              absl::StatusOr<std::string>("a\"b\\c/d\be\ff\ng\rh\ti"));
}

TEST(JsonDecodeStringTest, DecodesUnicodeEscapesToUtf8) {
  EXPECT_EQ(*DecodeString(R"("\u0041")"), "A");
  EXPECT_EQ(*DecodeString(R"("\u00e9")"), "\xC3\xA9");
  EXPECT_EQ(*DecodeString(R"("\u20AC")"), "\xE2\x82\xAC");
  EXPECT_EQ(*DecodeString(R"("\uFFFF")"), "\xEF\xBF\xBF");
  EXPECT_EQ(*DecodeString(R"("\ud83d\ude00")"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(*DecodeString(R"("\uDBFF\uDFFF")"), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(*DecodeString(R"("\u0000")"), std::string("\0", 1));
}

TEST(JsonDecodeStringTest, KeepsRawUtf8AndPlainText) {
  EXPECT_EQ(*DecodeString("\"caf\xC3\xA9 \xF0\x9F\x98\x80\""), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(*DecodeString("\"\""), "");
  EXPECT_EQ(*DecodeString("\"x\\n\""), "x\n");
}

TEST(JsonDecodeStringTest, RejectsInvalidStrings) {
  for (std::string_view bad :
       {"", "abc", "\"abc", "\"a\"b\"", "\"a\" ", " \"a\"", "\"\\q\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\u00\"", "\"\x01\"", "\"\xC3\"", "'a'"}) {
    EXPECT_EQ(DecodeString(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// ----------------------------------------------------------- EncodeString

TEST(JsonEncodeStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(EncodeString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(EncodeString("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(EncodeString(std::string_view("\0\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
}

TEST(JsonEncodeStringTest, KeepsUtf8SlashesAndPrintableAsciiAsIs) {
  EXPECT_EQ(EncodeString("openai/gpt-4o"), "\"openai/gpt-4o\"");
  EXPECT_EQ(EncodeString("caf\xC3\xA9 \xF0\x9F\x98\x80 \x7F"),
            "\"caf\xC3\xA9 \xF0\x9F\x98\x80 \x7F\"");
  EXPECT_EQ(EncodeString(""), "\"\"");
}

TEST(JsonEncodeStringTest, ReplacesInvalidUtf8SoTheOutputIsAlwaysValidJson) {
  EXPECT_EQ(EncodeString("a\xFF"
                         "b"),
            "\"a\xEF\xBF\xBD"
            "b\"");
  EXPECT_EQ(EncodeString("\xC3"), "\"\xEF\xBF\xBD\"");
  EXPECT_EQ(EncodeString("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonEncodeStringTest, RoundTripsThroughDecodeForEveryByteAndValidSequences) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  const std::string encoded = EncodeString(all);
  EXPECT_TRUE(Validate(encoded).ok());
  EXPECT_EQ(*DecodeString(encoded), all);
  EXPECT_EQ(EncodedStringLength(all), encoded.size());
}

TEST(JsonEncodeStringTest, RandomBytesAlwaysEncodeToValidJsonOfThePredictedLength) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(rng() % 16, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const std::string encoded = EncodeString(bytes);
    EXPECT_TRUE(Validate(encoded).ok());
    EXPECT_EQ(EncodedStringLength(bytes), encoded.size());
    std::string appended = "x";
    AppendEncodedString(bytes, &appended);
    EXPECT_EQ(appended, "x" + encoded);
  }
}

// ----------------------------------------------------------- StringEquals

TEST(JsonStringEqualsTest, ComparesDecodedText) {
  EXPECT_TRUE(StringEquals("\"model\"", "model"));
  EXPECT_TRUE(StringEquals(R"("mod\u0065l")", "model"));
  EXPECT_TRUE(StringEquals(R"("\u006d\u006F\u0064\u0065\u006c")", "model"));
  EXPECT_TRUE(StringEquals(R"("a\nb")", "a\nb"));
  EXPECT_TRUE(StringEquals(R"("\ud83d\ude00")", "\xF0\x9F\x98\x80"));
  EXPECT_TRUE(StringEquals("\"\"", ""));
}

TEST(JsonStringEqualsTest, RejectsDifferentLongerShorterAndInvalid) {
  EXPECT_FALSE(StringEquals("\"model\"", "mode"));
  EXPECT_FALSE(StringEquals("\"mode\"", "model"));
  EXPECT_FALSE(StringEquals(R"("mod\u0065")", "model"));
  EXPECT_FALSE(StringEquals(R"("model\n")", "model"));
  EXPECT_FALSE(StringEquals("\"Model\"", "model"));
  EXPECT_FALSE(StringEquals("model", "model"));
  EXPECT_FALSE(StringEquals("\"model", "model"));
  EXPECT_FALSE(StringEquals("\"", ""));
  EXPECT_FALSE(StringEquals(R"("\ud83d")", "\xED\xA0\xBD"));
  EXPECT_FALSE(StringEquals(R"("a\qb")", "aqb"));
  EXPECT_FALSE(StringEquals("\"a\tb\"", "a\tb"));    // raw control character
  EXPECT_FALSE(StringEquals("\"a\xFF\"", "a\xFF"));  // invalid UTF-8
  EXPECT_FALSE(StringEquals("\"a\"b\"", "a\"b"));
}

// ----------------------------------------------------------- MemberReader

TEST(JsonMemberReaderTest, ReportsTheOpeningBraceAndValueOffsets) {
  const std::string_view text = "  {\"a\": [1]}";
  MemberReader reader(text);
  ASSERT_TRUE(reader.Next());
  EXPECT_EQ(reader.open_brace_offset(), 2u);
  EXPECT_EQ(reader.raw_key(), "\"a\"");
  EXPECT_EQ(reader.value(), "[1]");
  EXPECT_EQ(reader.value_offset(), 8u);
  EXPECT_FALSE(reader.Next());
  EXPECT_TRUE(reader.status().ok());
  EXPECT_FALSE(reader.Next());  // stays done
}

TEST(JsonMemberReaderTest, LargeObjectIsScannedInLinearTime) {
  // 200k members and a 4 MB string: a quadratic scanner would not finish.
  std::string text = "{";
  for (int i = 0; i < 200000; ++i) text += "\"k\":[1,{\"x\":null}],";
  text += "\"s\":\"" + std::string(4 << 20, 'a') + "\"}";
  MemberReader reader(text);
  int n = 0;
  while (reader.Next()) ++n;
  EXPECT_TRUE(reader.status().ok());
  EXPECT_EQ(n, 200001);
}

}  // namespace
}  // namespace rebound::json
