#include "codec/model_splice.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codec/json_scan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Splice(std::string_view body, std::string_view model) {
  absl::StatusOr<std::string> out = SpliceTopLevelModel(body, model);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "<error>";
}

std::string ErrorOf(std::string_view body) {
  absl::StatusOr<std::string> out = SpliceTopLevelModel(body, "m");
  EXPECT_FALSE(out.ok()) << body;
  if (out.ok()) return "";
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(out.status().message());
}

TEST(SpliceTopLevelModelTest, ReplacesTheValueAndNothingElse) {
  EXPECT_EQ(Splice(R"({"model":"gpt-4o","messages":[]})", "gpt-4o-mini"),
            R"({"model":"gpt-4o-mini","messages":[]})");
}

TEST(SpliceTopLevelModelTest, KeepsOddWhitespaceKeyOrderAndNumberSpellings) {
  const std::string body =
      "\r\n\t{ \"temperature\" :1.0E+00 ,\n\t\"model\"\t:\n  \"a\"  ,\"n\":-0.50e-1,"
      "\"s\":\"caf\\u00e9 \\\"x\\\"\\/\"}\n  ";
  const std::string want =
      "\r\n\t{ \"temperature\" :1.0E+00 ,\n\t\"model\"\t:\n  \"claude-3-5-haiku\"  ,"
      "\"n\":-0.50e-1,\"s\":\"caf\\u00e9 \\\"x\\\"\\/\"}\n  ";
  EXPECT_EQ(Splice(body, "claude-3-5-haiku"), want);
}

TEST(SpliceTopLevelModelTest, NeverTouchesNestedModelKeys) {
  const std::string_view body =
      R"({"metadata":{"model":"keep-1"},"messages":[{"role":"user","content":"\"model\":\"keep-2\""},)"
      R"({"model":"keep-3"}],"tools":[[{"model":"keep-4"}]],"model":"old"})";
  const std::string out = Splice(body, "new");
  EXPECT_EQ(
      out,
      R"({"metadata":{"model":"keep-1"},"messages":[{"role":"user","content":"\"model\":\"keep-2\""},)"
      R"({"model":"keep-3"}],"tools":[[{"model":"keep-4"}]],"model":"new"})");
}

TEST(SpliceTopLevelModelTest, NestedModelOnlyMeansTheTopLevelMemberIsMissing) {
  EXPECT_EQ(Splice(R"({"metadata":{"model":"keep"}})", "new"),
            R"({"model":"new","metadata":{"model":"keep"}})");
}

TEST(SpliceTopLevelModelTest, MatchesKeysAfterDecodingEscapes) {
  EXPECT_EQ(Splice(R"({"mod\u0065l":"old","x":1})", "new"), R"({"mod\u0065l":"new","x":1})");
  EXPECT_EQ(Splice(R"({"\u006d\u006f\u0064\u0065\u006c":"old"})", "new"),
            R"({"\u006d\u006f\u0064\u0065\u006c":"new"})");
}

TEST(SpliceTopLevelModelTest, KeysThatOnlyLookLikeModelAreNotReplaced) {
  EXPECT_EQ(Splice(R"({"Model":"a","model ":"b","models":"c","mod\\el":"d"})", "new"),
            R"({"model":"new","Model":"a","model ":"b","models":"c","mod\\el":"d"})");
}

TEST(SpliceTopLevelModelTest, ReplacesValuesOfAnyType) {
  EXPECT_EQ(Splice(R"({"model":42})", "m"), R"({"model":"m"})");
  EXPECT_EQ(Splice(R"({"model":-1.5e3,"a":1})", "m"), R"({"model":"m","a":1})");
  EXPECT_EQ(Splice(R"({"model":null})", "m"), R"({"model":"m"})");
  EXPECT_EQ(Splice(R"({"model":true})", "m"), R"({"model":"m"})");
  EXPECT_EQ(Splice(R"({"model":false })", "m"), R"({"model":"m" })");
  EXPECT_EQ(Splice(R"({"model":["a",{"model":"x"}]})", "m"), R"({"model":"m"})");
  EXPECT_EQ(Splice(R"({"model":{"model":"x","y":[1]},"z":0})", "m"), R"({"model":"m","z":0})");
  EXPECT_EQ(Splice(R"({"model":""})", "m"), R"({"model":"m"})");
  EXPECT_EQ(Splice(R"({"model":"with \"escapes\" \u00e9"})", "m"), R"({"model":"m"})");
}

TEST(SpliceTopLevelModelTest, ReplacesEveryDuplicateTopLevelMember) {
  EXPECT_EQ(Splice(R"({"model":"a","x":{"model":"keep"},"model":1,"mod\u0065l":null})", "m"),
            R"({"model":"m","x":{"model":"keep"},"model":"m","mod\u0065l":"m"})");
}

TEST(SpliceTopLevelModelTest, InsertsAMissingMemberFirstWithAComma) {
  EXPECT_EQ(Splice(R"({"messages":[],"stream":true})", "m"),
            R"({"model":"m","messages":[],"stream":true})");
}

TEST(SpliceTopLevelModelTest, InsertsIntoAnEmptyObjectWithoutAComma) {
  EXPECT_EQ(Splice("{}", "m"), R"({"model":"m"})");
  EXPECT_EQ(Splice(" \n{ \t}\r\n", "m"), " \n{\"model\":\"m\" \t}\r\n");
}

TEST(SpliceTopLevelModelTest, InsertionKeepsWhitespaceAroundTheBraceAsItWas) {
  EXPECT_EQ(Splice("  {\n  \"a\": 1\n}", "m"), "  {\"model\":\"m\",\n  \"a\": 1\n}");
}

TEST(SpliceTopLevelModelTest, EncodesTheModelAsAJsonString) {
  EXPECT_EQ(Splice(R"({"model":"x"})", "meta-llama/llama-3"), R"({"model":"meta-llama/llama-3"})");
  EXPECT_EQ(Splice(R"({"model":"x"})", "a\"b\\c\nd"), R"({"model":"a\"b\\c\nd"})");
  EXPECT_EQ(Splice(R"({"model":"x"})", "caf\xC3\xA9"), "{\"model\":\"caf\xC3\xA9\"}");
  EXPECT_EQ(Splice(R"({"model":"x"})", ""), R"({"model":""})");
  EXPECT_EQ(Splice("{}", "a\"b"), R"({"model":"a\"b"})");
}

TEST(SpliceTopLevelModelTest, OutputIsValidAndSplicingAgainIsIdempotent) {
  constexpr std::string_view kBody =
      R"({"messages":[{"role":"user","content":"hi"}],"model":"a","metadata":{"model":"z"}})";
  const std::string once = Splice(kBody, "b");
  EXPECT_TRUE(json::Validate(once).ok());
  EXPECT_EQ(json::FindMember(once, "model"), std::optional<std::string_view>("\"b\""));
  EXPECT_EQ(Splice(once, "b"), once);
  EXPECT_EQ(Splice(Splice(once, "c"), "b"), once);
}

TEST(SpliceTopLevelModelTest, LargeBodyKeepsEveryOtherByte) {
  std::string content(1 << 20, 'x');
  const std::string body = R"({"messages":[{"role":"user","content":")" + content +
                           R"("}],"model":"old","max_tokens":5})";
  const std::string want = R"({"messages":[{"role":"user","content":")" + content +
                           R"("}],"model":"new-model","max_tokens":5})";
  EXPECT_EQ(Splice(body, "new-model"), want);
}

TEST(SpliceTopLevelModelTest, RejectsBodiesThatAreNotObjects) {
  EXPECT_EQ(ErrorOf("[1]"),
            "request body is not a JSON object: expected an object, found an array at byte 0");
  EXPECT_EQ(ErrorOf("\"model\""),
            "request body is not a JSON object: expected an object, found a string at byte 0");
  EXPECT_EQ(ErrorOf("42"),
            "request body is not a JSON object: expected an object, found a number at byte 0");
  EXPECT_EQ(ErrorOf("null"),
            "request body is not a JSON object: expected an object, found null at byte 0");
  EXPECT_EQ(ErrorOf(""),
            "request body is not a JSON object: unexpected end of input, expected an object at "
            "byte 0");
  EXPECT_EQ(ErrorOf("  \n"),
            "request body is not a JSON object: unexpected end of input, expected an object at "
            "byte 3");
  EXPECT_EQ(ErrorOf("model=gpt"),
            "request body is not a JSON object: unexpected character 'm', expected an object at "
            "byte 0");
}

TEST(SpliceTopLevelModelTest, RejectsInvalidJsonAnywhereInTheBodyWithItsOffset) {
  EXPECT_EQ(ErrorOf(R"({"model":"a",})"),
            "request body is not a JSON object: unexpected character '}', expected a string key "
            "at byte 13");
  // The error comes after the model member: the whole body is still checked.
  EXPECT_EQ(ErrorOf(R"({"model":"a","x":[1,2,]})"),
            "request body is not a JSON object: unexpected character ']', expected a value at "
            "byte 22");
  EXPECT_EQ(ErrorOf(R"({"model":"a"} trailing)"),
            "request body is not a JSON object: unexpected data after the JSON value at byte 14");
  EXPECT_EQ(ErrorOf(R"({"model":"a"}{"model":"b"})"),
            "request body is not a JSON object: unexpected data after the JSON value at byte 13");
  EXPECT_THAT(ErrorOf("{\"model\":\"a\",\"s\":\"\\ud800\"}"),
              HasSubstr("unpaired surrogate in \\u escape at byte 18"));
  EXPECT_THAT(ErrorOf("{\"model\":\"\xFF\"}"), HasSubstr("invalid UTF-8 in string at byte 10"));
  EXPECT_THAT(ErrorOf("{\"model\":'a'}"), HasSubstr("at byte 9"));
}

TEST(SpliceTopLevelModelTest, RejectsEveryTruncationOfAValidBody) {
  constexpr std::string_view kBody =
      R"({"model":"gpt-4o","messages":[{"role":"user","content":"a \"q\" \u00e9"}],"n":1.5})";
  for (size_t n = 0; n < kBody.size(); ++n) {
    EXPECT_THAT(ErrorOf(kBody.substr(0, n)), StartsWith("request body is not a JSON object: "))
        << n;
  }
}

TEST(SpliceTopLevelModelTest, RejectsNestingBombs) {
  std::string body = R"({"model":"a","x":)";
  body += std::string(100000, '[');
  EXPECT_THAT(ErrorOf(body), HasSubstr("nesting deeper than 128 levels"));
}

TEST(SpliceTopLevelModelTest, AcceptsNestingUpToTheLimit) {
  std::string body = R"({"x":)";
  body += std::string(json::kMaxDepth - 1, '[') + std::string(json::kMaxDepth - 1, ']') + "}";
  EXPECT_EQ(Splice(body, "m"), R"({"model":"m",)" + body.substr(1));
}

TEST(BodyRequestsStreamTest, TrueOnlyForTheLiteralTrueAtTopLevel) {
  EXPECT_EQ(*BodyRequestsStream(R"({"stream":true})"), true);
  EXPECT_EQ(*BodyRequestsStream(R"({ "model":"x", "stream" : true })"), true);
  EXPECT_EQ(*BodyRequestsStream(R"({"str\u0065am":true})"), true);
  EXPECT_EQ(*BodyRequestsStream(R"({"stream":false})"), false);
  EXPECT_EQ(*BodyRequestsStream(R"({"stream":"true"})"), false);
  EXPECT_EQ(*BodyRequestsStream(R"({"stream":1})"), false);
  EXPECT_EQ(*BodyRequestsStream(R"({"stream":null})"), false);
  EXPECT_EQ(*BodyRequestsStream(R"({})"), false);
  EXPECT_EQ(*BodyRequestsStream(R"({"options":{"stream":true}})"), false);
  EXPECT_EQ(*BodyRequestsStream(R"({"stream_options":{"include_usage":true}})"), false);
}

TEST(BodyRequestsStreamTest, TheLastDuplicateWins) {
  EXPECT_EQ(*BodyRequestsStream(R"({"stream":false,"stream":true})"), true);
  EXPECT_EQ(*BodyRequestsStream(R"({"stream":true,"stream":false})"), false);
}

TEST(BodyRequestsStreamTest, RejectsInvalidBodies) {
  EXPECT_EQ(BodyRequestsStream("[true]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BodyRequestsStream(R"({"stream":true,)").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(BodyRequestsStream(R"({"stream":tru})").status().message()),
              StartsWith("request body is not a JSON object: invalid literal at byte 10"));
}

}  // namespace
}  // namespace rebound
