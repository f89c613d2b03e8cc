// The provider error classifier (translate/provider_error.h) on the bodies
// real providers send: every rule in the OpenAI and the Anthropic shape,
// the status fallbacks, bodies that are cut, not JSON or deeply nested, and
// content-filter refusals in 2xx answers. The texts are as the providers
// wrote them (request ids and organisation ids shortened).
#include "translate/provider_error.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/provider_error_print.h"

namespace rebound {
namespace {

using C = ProviderErrorClass;

// ---------------------------------------------------------------- context length

TEST(ClassifyErrorAnswerTest, OpenAiContextLengthByCode) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          400, R"({"error":{"message":"This model's maximum context length is 128000 tokens. )"
               R"(However, your messages resulted in 130536 tokens. Please reduce the length of )"
               R"(the messages.","type":"invalid_request_error","param":"messages",)"
               R"("code":"context_length_exceeded"}})"),
      C::kContextLengthExceeded);
}

// DeepSeek (OpenAI-compatible) names no specific code: the message tells.
TEST(ClassifyErrorAnswerTest, OpenAiCompatibleContextLengthByMessage) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          400, R"({"error":{"message":"This model's maximum context length is 131072 tokens. )"
               R"(However, you requested 131134 tokens (122942 in the messages, 8192 in the )"
               R"(completion). Please reduce the length of the messages or completion.",)"
               R"("type":"invalid_request_error","param":null,"code":"invalid_request_error"}})"),
      C::kContextLengthExceeded);
}

TEST(ClassifyErrorAnswerTest, AnthropicPromptIsTooLong) {
  EXPECT_EQ(
      ClassifyErrorAnswer(400, R"({"type":"error","error":{"type":"invalid_request_error",)"
                               R"("message":"prompt is too long: 208310 tokens > 200000 maximum"},)"
                               R"("request_id":"req_011CVQe1dLrGNMJyE1ghG1av"})"),
      C::kContextLengthExceeded);
}

TEST(ClassifyErrorAnswerTest, AnthropicInputPlusMaxTokensExceedContextLimit) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          400, R"({"type":"error","error":{"type":"invalid_request_error","message":"input length )"
               R"(and `max_tokens` exceed context limit: 197681 + 21333 > 200000, decrease input )"
               R"(length or `max_tokens` and try again"}})"),
      C::kContextLengthExceeded);
}

TEST(ClassifyErrorAnswerTest, CodesAndMessagesIgnoreAsciiCase) {
  EXPECT_EQ(ClassifyErrorAnswer(
                400, R"({"error":{"message":"x","type":"x","code":"Context_Length_Exceeded"}})"),
            C::kContextLengthExceeded);
  EXPECT_EQ(ClassifyErrorAnswer(400, R"({"type":"error","error":{"type":"invalid_request_error",)"
                                     R"("message":"Prompt Is Too Long"}})"),
            C::kContextLengthExceeded);
}

// One string over OpenAI's 10 MiB limit fails on every model: no larger
// context window helps, so it is no context-length error.
TEST(ClassifyErrorAnswerTest, StringAboveMaxLengthIsAnInvalidRequest) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          400, R"({"error":{"message":"Invalid 'messages[1].content': string too long. Expected )"
               R"(a string with maximum length 10485760, but got a string with length 12000000 )"
               R"(instead.","type":"invalid_request_error","param":"messages[1].content",)"
               R"("code":"string_above_max_length"}})"),
      C::kInvalidRequest);
}

// ---------------------------------------------------------------- content filter

TEST(ClassifyErrorAnswerTest, AzureContentFilter) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          400,
          R"({"error":{"message":"The response was filtered due to the prompt triggering Azure )"
          R"(OpenAI's content management policy. Please modify your prompt and retry. To learn )"
          R"(more about our content filtering policies please read our documentation: )"
          R"(https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt",)"
          R"("code":"content_filter","status":400,"innererror":{"code":)"
          R"("ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,)"
          R"("severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}})"),
      C::kContentFilter);
}

TEST(ClassifyErrorAnswerTest, AzureInnerErrorAloneIsAContentFilter) {
  EXPECT_EQ(ClassifyErrorAnswer(400, R"({"error":{"message":"blocked","code":"400",)"
                                     R"("innererror":{"code":"ResponsibleAIPolicyViolation"}}})"),
            C::kContentFilter);
}

TEST(ClassifyErrorAnswerTest, OpenAiInvalidPromptAndContentPolicyViolation) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          400, R"({"error":{"message":"Invalid prompt: your prompt was flagged as potentially )"
               R"(violating our usage policy. Please try again with a different prompt: )"
               R"(https://platform.openai.com/docs/guides/reasoning#advice-on-prompting",)"
               R"("type":"invalid_request_error","param":null,"code":"invalid_prompt"}})"),
      C::kContentFilter);
  EXPECT_EQ(ClassifyErrorAnswer(
                400, R"({"error":{"code":"content_policy_violation","message":"Your request was )"
                     R"(rejected as a result of our safety system.","param":null,)"
                     R"("type":"invalid_request_error"}})"),
            C::kContentFilter);
}

TEST(ClassifyErrorAnswerTest, AnthropicOutputBlockedByContentFiltering) {
  EXPECT_EQ(ClassifyErrorAnswer(400, R"({"type":"error","error":{"type":"invalid_request_error",)"
                                     R"("message":"Output blocked by content filtering policy"},)"
                                     R"("request_id":"req_011CaxpBxEpLvE6AvvuDD5BW"})"),
            C::kContentFilter);
}

// ---------------------------------------------------------------- quota

TEST(ClassifyErrorAnswerTest, OpenAiInsufficientQuotaOn429IsQuotaNotRateLimit) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          429, R"({"error":{"message":"You exceeded your current quota, please check your plan )"
               R"(and billing details. For more information on this error, read the docs: )"
               R"(https://platform.openai.com/docs/guides/error-codes/api-errors.",)"
               R"("type":"insufficient_quota","param":null,"code":"insufficient_quota"}})"),
      C::kQuotaExhausted);
}

TEST(ClassifyErrorAnswerTest, OpenAiBillingHardLimit) {
  EXPECT_EQ(ClassifyErrorAnswer(
                400, R"({"error":{"code":"billing_hard_limit_reached","message":"Billing hard )"
                     R"(limit has been reached","param":null,"type":"invalid_request_error"}})"),
            C::kQuotaExhausted);
}

// Anthropic reports an empty balance as a 400 invalid_request_error; only
// the message tells.
TEST(ClassifyErrorAnswerTest, AnthropicCreditBalanceTooLow) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          400, R"({"type":"error","error":{"type":"invalid_request_error","message":"Your credit )"
               R"(balance is too low to access the Anthropic API. Please go to Plans & Billing to )"
               R"(upgrade or purchase credits."},"request_id":"req_011CbrFTcXhtiMzr3s6EocF7"})"),
      C::kQuotaExhausted);
}

TEST(ClassifyErrorAnswerTest, AnthropicBillingErrorAndSpendLimits) {
  EXPECT_EQ(ClassifyErrorAnswer(402, R"({"type":"error","error":{"type":"billing_error",)"
                                     R"("message":"Billing issue"}})"),
            C::kQuotaExhausted);
  EXPECT_EQ(
      ClassifyErrorAnswer(
          400, R"({"type":"error","error":{"type":"invalid_request_error","message":"You have )"
               R"(reached your specified API usage limits. You will regain access on 2026-04-01 )"
               R"(at 00:00 UTC."}})"),
      C::kQuotaExhausted);
  // A monthly spend limit comes as a 429 rate_limit_error: only the detail
  // says waiting a minute will not help.
  EXPECT_EQ(ClassifyErrorAnswer(
                429, R"({"type":"error","error":{"type":"rate_limit_error","message":"limit",)"
                     R"("details":{"error_code":"enforced_spend_limit_reached"}}})"),
            C::kQuotaExhausted);
}

TEST(ClassifyErrorAnswerTest, Status402IsQuotaWhateverTheBody) {
  EXPECT_EQ(ClassifyErrorAnswer(402, "Payment Required"), C::kQuotaExhausted);
  EXPECT_EQ(ClassifyErrorAnswer(402, R"({"error":{"type":"invalid_request_error"}})"),
            C::kQuotaExhausted);
}

// ---------------------------------------------------------------- rate limits

TEST(ClassifyErrorAnswerTest, OpenAiRequestsAndTokensPerMinute) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          429, R"({"error":{"message":"Rate limit reached for gpt-4o-mini in organization )"
               R"(org-OOhF on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try )"
               R"(again in 20s. Visit https://platform.openai.com/account/rate-limits to learn )"
               R"(more.","type":"requests","param":null,"code":"rate_limit_exceeded"}})"),
      C::kRateLimited);
  // The type alone says so too, whatever the status.
  EXPECT_EQ(ClassifyErrorAnswer(
                400, R"({"error":{"message":"Rate limit reached for gpt-4 in organization org-x )"
                     R"(on tokens per min. Limit: 10000 / min. Please try again in 6ms.",)"
                     R"("type":"tokens","param":null,"code":null}})"),
            C::kRateLimited);
}

TEST(ClassifyErrorAnswerTest, AnthropicRateLimitError) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          429, R"({"type":"error","error":{"type":"rate_limit_error","message":"This request )"
               R"(would exceed your account's rate limit. Please try again later."},)"
               R"("request_id":"req_011CcR9mkMvXdaiWP4739PSN"})"),
      C::kRateLimited);
}

// Azure's 429 says "current ... pricing tier", not "current quota": a rate
// limit, known from the status (its code is the string "429").
TEST(ClassifyErrorAnswerTest, AzureTokenRateLimitIsNotAQuota) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          429, R"({"error":{"code":"429","message":"Requests to the ChatCompletions_Create )"
               R"(Operation under Azure OpenAI API version 2024-02-01 have exceeded token rate )"
               R"(limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds."}})"),
      C::kRateLimited);
}

TEST(ClassifyErrorAnswerTest, Any429WithoutAnotherClassIsRateLimited) {
  EXPECT_EQ(ClassifyErrorAnswer(429, ""), C::kRateLimited);
  EXPECT_EQ(ClassifyErrorAnswer(429, "Too Many Requests"), C::kRateLimited);
  EXPECT_EQ(ClassifyErrorAnswer(429, R"({"error":{"message":"slow down","type":"server_error"}})"),
            C::kRateLimited);
}

// ---------------------------------------------------------------- overloaded

TEST(ClassifyErrorAnswerTest, AnthropicOverloaded) {
  EXPECT_EQ(ClassifyErrorAnswer(529, R"({"type":"error","error":{"type":"overloaded_error",)"
                                     R"("message":"Overloaded"},"request_id":null})"),
            C::kOverloaded);
  EXPECT_EQ(ClassifyErrorAnswer(529, "{}"), C::kOverloaded);
}

TEST(ClassifyErrorAnswerTest, OpenAiOverloadedByMessage) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          503, R"({"error":{"message":"That model is currently overloaded with other requests. )"
               R"(You can retry your request, or contact us through our help center at )"
               R"(help.openai.com if the error persists. (Please include the request ID )"
               R"j(500d9fff2057e4af93a280f67002c342 in your message.)","type":"server_error",)j"
               R"("param":null,"code":null}})"),
      C::kOverloaded);
  // On a 500 the message is what says more than the status.
  EXPECT_EQ(
      ClassifyErrorAnswer(
          500, R"({"error":{"message":"The server is currently overloaded with other requests. )"
               R"(Sorry about that!","type":"server_error","param":null,"code":null}})"),
      C::kOverloaded);
}

// Moonshot (OpenAI-compatible) answers its overload with a 429.
TEST(ClassifyErrorAnswerTest, OverloadedBodyBeats429) {
  EXPECT_EQ(ClassifyErrorAnswer(429, R"({"error":{"message":"The engine is currently )"
                                     R"(overloaded, please try again later",)"
                                     R"("type":"engine_overloaded_error"}})"),
            C::kOverloaded);
}

TEST(ClassifyErrorAnswerTest, Status503WithoutAnotherClassIsOverloaded) {
  EXPECT_EQ(ClassifyErrorAnswer(503, "upstream connect error or disconnect/reset before headers"),
            C::kOverloaded);
  EXPECT_EQ(ClassifyErrorAnswer(503, R"({"type":"error","error":{"type":"api_error",)"
                                     R"("message":"Internal server error"}})"),
            C::kOverloaded);
}

// ---------------------------------------------------------------- server errors

TEST(ClassifyErrorAnswerTest, ServerErrorsInBothShapes) {
  EXPECT_EQ(ClassifyErrorAnswer(500, R"({"type":"error","error":{"type":"api_error",)"
                                     R"("message":"Internal server error"},)"
                                     R"("request_id":"req_011CXoMnK8nB1ma1gUBcmgVG"})"),
            C::kServerError);
  EXPECT_EQ(
      ClassifyErrorAnswer(
          500, R"({"error":{"message":"The server had an error processing your request. Sorry )"
               R"(about that! You can retry your request, or contact us through our help center )"
               R"(at help.openai.com if you keep seeing this error.","type":"server_error",)"
               R"("param":null,"code":null}})"),
      C::kServerError);
  EXPECT_EQ(ClassifyErrorAnswer(502, "<html><body>502 Bad Gateway</body></html>"), C::kServerError);
  EXPECT_EQ(ClassifyErrorAnswer(504, ""), C::kServerError);
  EXPECT_EQ(ClassifyErrorAnswer(599, "x"), C::kServerError);
  EXPECT_EQ(ClassifyErrorAnswer(600, "x"), C::kServerError);
}

// ---------------------------------------------------------------- authentication

TEST(ClassifyErrorAnswerTest, AuthenticationInBothShapes) {
  EXPECT_EQ(
      ClassifyErrorAnswer(
          401, R"({"error":{"message":"Incorrect API key provided: sk-proj-****SJh4. You can )"
               R"(find your API key at https://platform.openai.com/account/api-keys.",)"
               R"("type":"invalid_request_error","param":null,"code":"invalid_api_key"}})"),
      C::kAuthentication);
  EXPECT_EQ(ClassifyErrorAnswer(401, R"({"type":"error","error":{"type":"authentication_error",)"
                                     R"("message":"invalid x-api-key"},)"
                                     R"("request_id":"req_011CXw8h8A796q3f74Ezmhav"})"),
            C::kAuthentication);
  EXPECT_EQ(ClassifyErrorAnswer(
                403, R"({"type":"error","error":{"type":"permission_error","message":"Your API )"
                     R"(key does not have permission to use the specified resource."}})"),
            C::kAuthentication);
}

// OpenAI answers a missing key with the generic invalid_request_error: the
// 401 says more.
TEST(ClassifyErrorAnswerTest, StatusBeatsAGenericBody) {
  EXPECT_EQ(
      ClassifyErrorAnswer(401, R"({"error":{"message":"You didn't provide an API key.",)"
                               R"("type":"invalid_request_error","param":null,"code":null}})"),
      C::kAuthentication);
  EXPECT_EQ(ClassifyErrorAnswer(403, "Forbidden"), C::kAuthentication);
}

// ---------------------------------------------------------------- not found

TEST(ClassifyErrorAnswerTest, NotFoundInBothShapes) {
  EXPECT_EQ(ClassifyErrorAnswer(
                404, R"({"error":{"message":"The model `gpt-4o` does not exist or you do not )"
                     R"(have access to it.","type":"invalid_request_error","param":null,)"
                     R"("code":"model_not_found"}})"),
            C::kNotFound);
  EXPECT_EQ(ClassifyErrorAnswer(404, R"({"type":"error","error":{"type":"not_found_error",)"
                                     R"("message":"model: claude-3-opus-2025"}})"),
            C::kNotFound);
  EXPECT_EQ(ClassifyErrorAnswer(404, "404 page not found"), C::kNotFound);
}

// ---------------------------------------------------------------- invalid request

TEST(ClassifyErrorAnswerTest, InvalidRequestInBothShapes) {
  EXPECT_EQ(
      ClassifyErrorAnswer(400, R"({"type":"error","error":{"type":"invalid_request_error",)"
                               R"("message":"messages: text content blocks must be non-empty"}})"),
      C::kInvalidRequest);
  EXPECT_EQ(ClassifyErrorAnswer(413, R"({"type":"error","error":{"type":"request_too_large",)"
                                     R"("message":"Request exceeds the maximum allowed number )"
                                     R"(of bytes."}})"),
            C::kInvalidRequest);
  EXPECT_EQ(ClassifyErrorAnswer(
                400, R"({"error":{"message":"Invalid 'temperature': decimal above maximum )"
                     R"(value. Expected a value <= 2, but got 3 instead.",)"
                     R"("type":"invalid_request_error","param":"temperature",)"
                     R"("code":"decimal_above_max_value"}})"),
            C::kInvalidRequest);
  EXPECT_EQ(ClassifyErrorAnswer(422, ""), C::kInvalidRequest);
  EXPECT_EQ(ClassifyErrorAnswer(409, "conflict"), C::kInvalidRequest);
}

// ---------------------------------------------------------------- statuses below 400

TEST(ClassifyErrorAnswerTest, NoErrorStatusHasOnlyTheBodysClass) {
  EXPECT_EQ(ClassifyErrorAnswer(200, R"({"id":"chatcmpl-1","object":"chat.completion"})"),
            C::kNone);
  EXPECT_EQ(ClassifyErrorAnswer(302, ""), C::kNone);
  EXPECT_EQ(ClassifyErrorAnswer(100, "x"), C::kNone);
  EXPECT_EQ(ClassifyErrorAnswer(0, "x"), C::kNone);
  EXPECT_EQ(ClassifyErrorAnswer(-1, ""), C::kNone);
  // A provider that answers an error with 200 still says what it was.
  EXPECT_EQ(ClassifyErrorAnswer(200, R"({"type":"error","error":{"type":"overloaded_error",)"
                                     R"("message":"Overloaded"}})"),
            C::kOverloaded);
  EXPECT_EQ(ClassifyErrorAnswer(200, R"({"error":{"message":"boom","type":"server_error"}})"),
            C::kServerError);
  EXPECT_EQ(
      ClassifyErrorAnswer(200, R"({"error":{"message":"bad","type":"invalid_request_error"}})"),
      C::kInvalidRequest);
}

// ---------------------------------------------------------------- bodies that say nothing

TEST(ClassifyErrorAnswerTest, ACutBodyFallsBackToTheStatus) {
  const std::string quota =
      R"({"error":{"message":"You exceeded your current quota, please check your plan and )"
      R"(billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})";
  ASSERT_EQ(ClassifyErrorAnswer(429, quota), C::kQuotaExhausted);
  for (size_t n = 0; n < quota.size(); ++n) {
    EXPECT_EQ(ClassifyErrorAnswer(429, quota.substr(0, n)), C::kRateLimited) << n;
  }
  EXPECT_EQ(ClassifyErrorAnswer(400, R"({"type":"error","error":{"type":"invalid_request_error",)"
                                     R"("message":"prompt is too long: 208310 tok)"),
            C::kInvalidRequest);
}

TEST(ClassifyErrorAnswerTest, GarbageFallsBackToTheStatus) {
  const std::string not_utf8 =
      "{\"error\":{\"message\":\"\xff\xfe prompt is too "
      "long\",\"type\":\"invalid_request_error\"}}";
  EXPECT_EQ(ClassifyErrorAnswer(400, not_utf8), C::kInvalidRequest);
  EXPECT_EQ(ClassifyErrorAnswer(500, std::string("\0\0\0", 3)), C::kServerError);
  for (std::string_view body : {"null", "[]", "\"error\"", "42", R"({"error":null})",
                                R"({"error":[{"code":"insufficient_quota"}]})",
                                R"({"error":{"code":{"code":"insufficient_quota"}}})",
                                R"({"message":"You exceeded your current quota"})",
                                R"({"type":"error"})", R"({"error":{}})"}) {
    EXPECT_EQ(ClassifyErrorAnswer(429, body), C::kRateLimited) << body;
    EXPECT_EQ(ClassifyErrorAnswer(200, body), C::kNone) << body;
  }
}

TEST(ClassifyErrorAnswerTest, NonStringCodesSayNothing) {
  EXPECT_EQ(ClassifyErrorAnswer(503, R"({"error":{"message":"fake 503","type":"fake_error",)"
                                     R"("code":503}})"),
            C::kOverloaded);
  EXPECT_EQ(ClassifyErrorAnswer(400, R"({"error":{"message":1,"type":null,"code":true,)"
                                     R"("details":"insufficient_quota","innererror":7}})"),
            C::kInvalidRequest);
}

// Some OpenAI-compatible servers send {"error":"..."}.
TEST(ClassifyErrorAnswerTest, AStringErrorIsTheMessage) {
  EXPECT_EQ(ClassifyErrorAnswer(400, R"({"error":"This model's maximum context length is 4096 )"
                                     R"(tokens. However, you requested 4203 tokens."})"),
            C::kContextLengthExceeded);
  EXPECT_EQ(ClassifyErrorAnswer(404, R"({"error":"model 'llama3' not found"})"), C::kNotFound);
}

TEST(ClassifyErrorAnswerTest, DeepNestingIsRefusedNotRecursedInto) {
  // Within the bound the body is read...
  std::string shallow = R"({"error":{"code":"insufficient_quota","param":)";
  shallow += std::string(100, '[') + std::string(100, ']') + "}}";
  EXPECT_EQ(ClassifyErrorAnswer(429, shallow), C::kQuotaExhausted);
  // ...past it the body says nothing, and nothing recursed 100000 deep.
  std::string deep = R"({"error":{"code":"insufficient_quota","param":)";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}}";
  EXPECT_EQ(ClassifyErrorAnswer(429, deep), C::kRateLimited);
  EXPECT_EQ(ClassifyErrorAnswer(400, std::string(100000, '{')), C::kInvalidRequest);
}

// ---------------------------------------------------------------- stream errors

TEST(ClassifyStreamErrorTest, AnthropicErrorEvents) {
  EXPECT_EQ(ClassifyStreamError(R"({"type":"error","error":{"type":"overloaded_error",)"
                                R"("message":"Overloaded"}})"),
            C::kOverloaded);
  EXPECT_EQ(ClassifyStreamError(R"({"type":"error","error":{"details":null,)"
                                R"("type":"invalid_request_error","message":"Output blocked by )"
                                R"(content filtering policy"},"request_id":"req_011CbJJYbhxm"})"),
            C::kContentFilter);
  EXPECT_EQ(ClassifyStreamError(R"({"type":"error","error":{"type":"api_error",)"
                                R"("message":"Internal server error"}})"),
            C::kServerError);
  EXPECT_EQ(ClassifyStreamError(R"({"type":"error","error":{"type":"rate_limit_error",)"
                                R"("message":"Rate limited"}})"),
            C::kRateLimited);
}

TEST(ClassifyStreamErrorTest, OpenAiErrorChunks) {
  EXPECT_EQ(ClassifyStreamError(R"({"error":{"message":"The server had an error while )"
                                R"(processing your request. Sorry about that!",)"
                                R"("type":"server_error","param":null,"code":null}})"),
            C::kServerError);
  EXPECT_EQ(ClassifyStreamError(R"({"error":{"message":"Rate limit reached for gpt-4o",)"
                                R"("type":"tokens","param":null,"code":"rate_limit_exceeded"}})"),
            C::kRateLimited);
  // Without a status the generic code counts as it is.
  EXPECT_EQ(ClassifyStreamError(R"({"error":{"message":"bad","type":"invalid_request_error"}})"),
            C::kInvalidRequest);
}

TEST(ClassifyStreamErrorTest, ResponsesFailureEvents) {
  EXPECT_EQ(ClassifyStreamError(R"({"type":"error","code":"server_is_overloaded","message":"Our )"
                                R"(servers are currently overloaded. Please try again later.",)"
                                R"("param":null,"sequence_number":2})"),
            C::kOverloaded);
  EXPECT_EQ(ClassifyStreamError(R"({"type":"response.failed","sequence_number":4,"response":)"
                                R"({"id":"resp_07b2","status":"failed","error":{"code":)"
                                R"("context_length_exceeded","message":"Your input exceeds the )"
                                R"(context window of this model."}}})"),
            C::kContextLengthExceeded);
  EXPECT_EQ(ClassifyStreamError(R"({"type":"response.failed","response":{"error":)"
                                R"({"code":"server_error","message":"fake failure"}}})"),
            C::kServerError);
}

TEST(ClassifyStreamErrorTest, AnUnrecognisableStreamErrorIsAServerError) {
  for (std::string_view data : {"", "{not json", "null", R"({"type":"error"})",
                                R"({"error":{"message":"something odd","code":42}})",
                                R"({"type":"ping"})", R"({"response":{"error":null}})"}) {
    EXPECT_EQ(ClassifyStreamError(data), C::kServerError) << data;
  }
  EXPECT_EQ(ClassifyStreamError(std::string(100000, '[')), C::kServerError);
}

// ---------------------------------------------------------------- refusals

TEST(ClassifyRefusalTest, OpenAiContentFilterFinishReason) {
  EXPECT_EQ(ClassifyRefusal(R"({"id":"chatcmpl-9","object":"chat.completion","choices":[)"
                            R"({"index":0,"message":{"role":"assistant","content":null},)"
                            R"("finish_reason":"content_filter","content_filter_results":{}}]})"),
            C::kContentFilter);
  // Any choice counts (n > 1).
  EXPECT_EQ(ClassifyRefusal(R"({"choices":[{"index":0,"finish_reason":"stop"},)"
                            R"({"index":1,"finish_reason":"content_filter"}]})"),
            C::kContentFilter);
}

TEST(ClassifyRefusalTest, AnthropicRefusalStopReason) {
  EXPECT_EQ(ClassifyRefusal(R"({"id":"msg_1","type":"message","role":"assistant","content":[],)"
                            R"("stop_reason":"refusal","stop_sequence":null,)"
                            R"("usage":{"input_tokens":10,"output_tokens":0}})"),
            C::kContentFilter);
}

TEST(ClassifyRefusalTest, OrdinaryAnswersAreNoRefusal) {
  EXPECT_EQ(ClassifyRefusal(R"({"choices":[{"index":0,"message":{"role":"assistant",)"
                            R"("content":"hi"},"finish_reason":"stop"}]})"),
            C::kNone);
  EXPECT_EQ(ClassifyRefusal(R"({"choices":[{"index":0,"finish_reason":null}]})"), C::kNone);
  EXPECT_EQ(ClassifyRefusal(R"({"type":"message","content":[{"type":"text","text":"refusal"}],)"
                            R"("stop_reason":"end_turn"})"),
            C::kNone);
  // Only the answer's own reasons count, not text that looks like them.
  EXPECT_EQ(ClassifyRefusal(R"({"content":[{"type":"text","stop_reason":"refusal"}],)"
                            R"("stop_reason":"end_turn","choices":"content_filter"})"),
            C::kNone);
  EXPECT_EQ(ClassifyRefusal(R"({"choices":[{"message":{"finish_reason":"content_filter"}}]})"),
            C::kNone);
}

TEST(ClassifyRefusalTest, InvalidJsonIsNoRefusal) {
  for (std::string_view body : {"", "{not json", R"({"stop_reason":"refusal")", "[]",
                                R"(["stop_reason","refusal"])", "\"refusal\""}) {
    EXPECT_EQ(ClassifyRefusal(body), C::kNone) << body;
  }
  EXPECT_EQ(ClassifyRefusal(std::string(100000, '[')), C::kNone);
}

}  // namespace
}  // namespace rebound
