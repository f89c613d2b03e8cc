#include "tests/fakeprovider/strict_api.h"

#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "tests/fakeprovider/json_text.h"
#include "tests/fakeprovider/strict_rules.h"

namespace rebound::fake {
namespace {

// {"type":"error","error":{"type":"invalid_request_error","message":"field: message"}}
std::string AnthropicBody(const Refusal& r) {
  std::string out = R"({"type":"error","error":{"type":"invalid_request_error","message":)";
  AppendJsonString(out, r.field.empty() ? r.message : r.field + ": " + r.message);
  out.append("}}");
  return out;
}

// {"error":{"message":...,"type":"invalid_request_error","param":...,"code":null}}
std::string OpenAiBody(const Refusal& r) {
  std::string out = R"({"error":{"message":)";
  AppendJsonString(out, r.message);
  out.append(R"(,"type":"invalid_request_error","param":)");
  if (r.field.empty()) {
    out.append("null");
  } else {
    AppendJsonString(out, r.field);
  }
  out.append(R"(,"code":null}})");
  return out;
}

}  // namespace

StrictApi StrictApiForTarget(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.ends_with("/messages")) return StrictApi::kAnthropicMessages;
  if (path.ends_with("/chat/completions")) return StrictApi::kOpenAiChat;
  return StrictApi::kNone;
}

std::optional<std::string> StrictRequestError(StrictApi api, std::string_view body) {
  if (api == StrictApi::kNone) return std::nullopt;
  // Iterative parsing keeps a hostile nesting depth off the stack; the
  // document's pool allocator frees without recursing either. Invalid
  // UTF-8 is refused as both vendors refuse it.
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                    body.size());
  std::optional<Refusal> refusal;
  if (doc.HasParseError()) {
    std::string why = rapidjson::GetParseError_En(doc.GetParseError());
    refusal = Refusal{"", api == StrictApi::kAnthropicMessages
                              ? "There was an error parsing the body of your request: " + why
                              : "We could not parse the JSON body of your request. (HINT: "
                                "This likely means you aren't using your HTTP library "
                                "correctly. The OpenAI API expects a JSON payload, but what "
                                "was sent was not valid JSON.)"};
  } else {
    refusal = api == StrictApi::kAnthropicMessages ? AnthropicRefusal(doc) : OpenAiRefusal(doc);
  }
  if (!refusal) return std::nullopt;
  return api == StrictApi::kAnthropicMessages ? AnthropicBody(*refusal) : OpenAiBody(*refusal);
}

}  // namespace rebound::fake
