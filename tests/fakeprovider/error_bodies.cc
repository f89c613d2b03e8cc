#include "tests/fakeprovider/error_bodies.h"

#include "absl/strings/str_cat.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

// As the providers write them; ids, keys and token counts are examples.
// Where a class has more than one real form, the comment says which one
// this is.
constexpr ErrorShape kErrorShapes[] = {
    {"context_length_exceeded",
     400,
     R"({"message":"This model's maximum context length is 128000 tokens. However, your )"
     R"(messages resulted in 130536 tokens. Please reduce the length of the messages.",)"
     R"("type":"invalid_request_error","param":"messages","code":"context_length_exceeded"})",
     400,
     R"({"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > )"
     R"(200000 maximum"})"},

    // OpenAI: Azure OpenAI's prompt filter (OpenAI itself refuses a prompt
    // with code invalid_prompt, and cuts an answer with finish_reason
    // content_filter: stop=content_filter). Anthropic really answers this
    // 400 (also as a stream error event) when its filter blocks the output;
    // a model that declines answers 200 with stop_reason refusal instead
    // (stop=refusal).
    {"content_filter",
     400,
     R"({"message":"The response was filtered due to the prompt triggering Azure OpenAI's )"
     R"(content management policy. Please modify your prompt and retry. To learn more about )"
     R"(our content filtering policies please read our documentation: )"
     R"(https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt",)"
     R"("code":"content_filter","status":400,"innererror":{"code":)"
     R"("ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,)"
     R"("severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":)"
     R"({"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},)"
     R"("violence":{"filtered":true,"severity":"medium"}}}})",
     400,
     R"({"type":"invalid_request_error","message":"Output blocked by content filtering )"
     R"(policy"})"},

    // Anthropic documents 402 billing_error, but an empty balance comes as
    // this 400 in practice; only the message tells it from a bad request.
    {"quota_exhausted",
     429,
     R"({"message":"You exceeded your current quota, please check your plan and billing )"
     R"(details. For more information on this error, read the docs: )"
     R"(https://platform.openai.com/docs/guides/error-codes/api-errors.",)"
     R"("type":"insufficient_quota","param":null,"code":"insufficient_quota"})",
     400,
     R"({"type":"invalid_request_error","message":"Your credit balance is too low to access )"
     R"(the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."})"},

    {"rate_limited",
     429,
     R"({"message":"Rate limit reached for gpt-4o in organization org-fakeprovider on )"
     R"(requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in )"
     R"(120ms. Visit https://platform.openai.com/account/rate-limits to learn more.",)"
     R"("type":"requests","param":null,"code":"rate_limit_exceeded"})",
     429,
     R"({"type":"rate_limit_error","message":"This request would exceed your account's rate )"
     R"(limit. Please try again later."})"},

    // OpenAI's own overload text ("The engine is currently overloaded" is
    // Moonshot's, an OpenAI-compatible provider, with its own type).
    {"overloaded",
     503,
     R"({"message":"That model is currently overloaded with other requests. You can retry )"
     R"(your request, or contact us through our help center at help.openai.com if the )"
     R"(error persists. (Please include the request ID 500d9fff2057e4af93a280f67002c342 )"
     R"j(in your message.)","type":"server_error","param":null,"code":null})j",
     529,
     R"({"type":"overloaded_error","message":"Overloaded"})"},

    {"server_error",
     500,
     R"({"message":"The server had an error while processing your request. Sorry about )"
     R"(that!","type":"server_error","param":null,"code":null})",
     500,
     R"({"type":"api_error","message":"Internal server error"})"},

    {"invalid_request",
     400,
     R"({"message":"Invalid 'temperature': decimal above maximum value. Expected a value )"
     R"(<= 2, but got 3 instead.","type":"invalid_request_error","param":"temperature",)"
     R"("code":"decimal_above_max_value"})",
     400,
     R"({"type":"invalid_request_error","message":"max_tokens: Field required"})"},

    {"authentication",
     401,
     R"({"message":"Incorrect API key provided: sk-fake**************************abcd. You )"
     R"(can find your API key at https://platform.openai.com/account/api-keys.",)"
     R"("type":"invalid_request_error","param":null,"code":"invalid_api_key"})",
     401,
     R"({"type":"authentication_error","message":"invalid x-api-key"})"},

    {"not_found",
     404,
     R"({"message":"The model `gpt-fake` does not exist or you do not have access to it.",)"
     R"("type":"invalid_request_error","param":null,"code":"model_not_found"})",
     404,
     R"({"type":"not_found_error","message":"model: claude-fake"})"},
};

// Anthropic answers carry one; the fake's is fixed.
constexpr std::string_view kRequestId = "req_011CFakeProviderError";

}  // namespace

std::span<const ErrorShape> ErrorShapes() { return kErrorShapes; }

std::optional<ErrorShape> FindErrorShape(std::string_view name) {
  for (const ErrorShape& shape : kErrorShapes) {
    if (shape.name == name) return shape;
  }
  return std::nullopt;
}

std::string ErrorShapeNames() {
  std::string names;
  for (const ErrorShape& shape : kErrorShapes) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", ToAbsl(shape.name));
  }
  return names;
}

int ErrorAnswerStatus(const ErrorShape& shape, Api api) {
  return api == Api::kAnthropic ? shape.anthropic_status : shape.openai_status;
}

std::string ErrorAnswerBody(const ErrorShape& shape, Api api) {
  if (api == Api::kAnthropic) {
    return absl::StrCat(R"({"type":"error","error":)", ToAbsl(shape.anthropic_error),
                        R"(,"request_id":")", ToAbsl(kRequestId), R"("})");
  }
  return absl::StrCat(R"({"error":)", ToAbsl(shape.openai_error), "}");
}

std::string ErrorEventOf(const ErrorShape& shape, Api api) {
  switch (api) {
    case Api::kAnthropic:
      return absl::StrCat("event: error\n", R"(data: {"type":"error","error":)",
                          ToAbsl(shape.anthropic_error), "}\n\n");
    case Api::kResponses:
      return absl::StrCat("event: response.failed\n",
                          R"(data: {"type":"response.failed","response":{"status":"failed",)",
                          R"("error":)", ToAbsl(shape.openai_error), "}}\n\n");
    case Api::kOpenAi: break;
  }
  return absl::StrCat(R"(data: {"error":)", ToAbsl(shape.openai_error), "}\n\n");
}

}  // namespace rebound::fake
