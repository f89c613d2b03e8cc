#include "tests/fakeprovider/request_facts.h"

#include "rapidjson/document.h"

namespace rebound::fake {
namespace {

bool HasType(const rapidjson::Value& part, std::string_view type) {
  if (!part.IsObject()) return false;
  auto it = part.FindMember("type");
  return it != part.MemberEnd() && it->value.IsString() &&
         std::string_view(it->value.GetString(), it->value.GetStringLength()) == type;
}

int CountImages(const rapidjson::Value& root, std::string_view image_type) {
  auto messages = root.FindMember("messages");
  if (messages == root.MemberEnd() || !messages->value.IsArray()) return 0;
  int images = 0;
  for (const rapidjson::Value& m : messages->value.GetArray()) {
    if (!m.IsObject()) continue;
    auto content = m.FindMember("content");
    if (content == m.MemberEnd() || !content->value.IsArray()) continue;
    for (const rapidjson::Value& part : content->value.GetArray()) {
      if (HasType(part, image_type)) ++images;
    }
  }
  return images;
}

bool IncludeUsage(const rapidjson::Value& root) {
  auto options = root.FindMember("stream_options");
  if (options == root.MemberEnd() || !options->value.IsObject()) return false;
  auto include = options->value.FindMember("include_usage");
  return include != options->value.MemberEnd() && include->value.IsBool() &&
         include->value.GetBool();
}

}  // namespace

RequestFacts ReadRequestFacts(Api api, std::string_view body) {
  RequestFacts facts;
  if (api == Api::kResponses) return facts;
  rapidjson::Document doc;
  // Iterative: a hostile nesting depth must not reach the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return facts;
  facts.images = CountImages(doc, api == Api::kAnthropic ? "image" : "image_url");
  facts.include_usage = api == Api::kOpenAi && IncludeUsage(doc);
  return facts;
}

}  // namespace rebound::fake
